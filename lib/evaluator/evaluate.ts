/**
 * Substitution, parsing and interpretation with the machine io loop (floor 0): the body of mod.ts.
 */
import type { CollectorResultsView } from "../types.ts";
import type { Ast } from "./ast.ts";
import { EvalError, type EvalLimits, resolveLimits } from "./errors.ts";
import { parse } from "./parser.ts";
import { interpret, type IoMemo, IoPending } from "./interpreter.ts";
import { FUNCTIONS } from "./functions.ts";
import { localIo } from "./io.ts";
import type { EvalIo, IoFunction } from "./machine.ts";
import { pyStr } from "./pystr.ts";
import { substituteText, substituteWithMap } from "./substitute.ts";
import { type PyValue, toPlain, truthy } from "./values.ts";

/** What an evaluation may read. */
export interface EvalEnv {
  /** Latest collector results: `{collector.<name>.<path>}`. */
  collectors?: CollectorResultsView;
  /**
   * Configuration lookup for `{configuration.a.b|c.d}` and `$macro$`: returns undefined when missing.
   * Called once per `|` alternative, with a single dotted path.
   */
  lookup?: (path: string) => unknown;
  /** Limits override. */
  limits?: Partial<EvalLimits>;
  /**
   * Runs grep/fileexists/has_package/check_tcp. The agent passes `machineIo(ctx)` (a sandboxed
   * Worker with a deadline); without one, they run in-process (`localIo`: tests and tools only).
   */
  io?: EvalIo;
}

/** The `{…}` substitution of §6.6; throws EvalError `missing` (absent value) or `name` (unknown scope). */
export function substitute(expr: string, env: EvalEnv): string {
  checkLength(expr, resolveLimits(env.limits));
  return substituteText(expr, env);
}

function checkLength(expr: string, limits: EvalLimits): void {
  if (expr.length > limits.maxLength) {
    throw new EvalError(
      "limit",
      `expression is ${expr.length} characters long; the limit is ${limits.maxLength}`,
    );
  }
}

/** Parses an expression (no substitution); throws EvalError `syntax` / `limit` with the column. */
export function parseExpression(text: string, limits?: Partial<EvalLimits>): Ast {
  return parse(text, resolveLimits(limits));
}

/** Parsed expressions by limits and text (the interpreter never changes an Ast). */
const parsedCache = new Map<string, Ast>();
/** Distinct texts kept: a detector's or service's rule is the same text at every run. */
export const PARSED_CACHE_SIZE = 256;

/**
 * `parse` through a small cache: the expressions an agent evaluates every 10 s (detectors, the
 * conditions of checks whose values did not change) were parsed again at every run. Errors are
 * not cached (the next call throws the same one).
 */
export function parseCached(text: string, limits: EvalLimits): Ast {
  const key = `${limits.maxLength}:${limits.maxDepth}:${text}`;
  let ast = parsedCache.get(key);
  if (ast) {
    parsedCache.delete(key); // most recently used goes last
  } else {
    ast = parse(text, limits);
    if (parsedCache.size >= PARSED_CACHE_SIZE) parsedCache.delete(parsedCache.keys().next().value!);
  }
  parsedCache.set(key, ast);
  return ast;
}

/**
 * Substitutes, parses and interprets; returns the value with Python types (ints as bigint).
 * The interpreter is synchronous: each machine-facing call it meets is run through `env.io` (off
 * the main thread in the agent) and the walk is replayed with the answer (at most 16 calls).
 */
export async function evaluateRaw(expr: string, env: EvalEnv = {}): Promise<unknown> {
  const limits = resolveLimits(env.limits);
  checkLength(expr, limits);
  const { text, toOriginal } = substituteWithMap(expr, env);
  const io = env.io ?? localIo;
  const memo: IoMemo = new Map();
  try {
    const ast = parseCached(text, limits);
    while (true) {
      try {
        return interpret(ast, limits, memo);
      } catch (err) {
        if (!(err instanceof IoPending)) throw err;
        memo.set(err.key, await ioAnswer(io, err));
      }
    }
  } catch (err) {
    if (err instanceof EvalError) throw err.remap(toOriginal);
    throw err;
  }
}

async function ioAnswer(io: EvalIo, call: IoPending): Promise<PyValue | EvalError> {
  try {
    return await io.call(call.name as IoFunction, call.args);
  } catch (err) {
    if (err instanceof EvalError) return err;
    return new EvalError("runtime", `${call.name}() failed: ${(err as Error)?.message ?? String(err)}`);
  }
}

/**
 * Substitutes, parses and interprets `expr`. Resolves to a plain JS value; rejects only with EvalError.
 */
export async function evaluate(expr: string, env: EvalEnv = {}): Promise<unknown> {
  return toPlain(await evaluateRaw(expr, env));
}

/** Evaluates and renders the result with Python's `str()` (exact int/float rendering: `1.0`, `2`). */
export async function evaluateToString(expr: string, env: EvalEnv = {}): Promise<string> {
  return pyStr(await evaluateRaw(expr, env));
}

/** Evaluates and applies Python truthiness (for `critical_if`, `apply_if`...). */
export async function evaluateBool(expr: string, env: EvalEnv = {}): Promise<boolean> {
  return truthy(await evaluateRaw(expr, env));
}

/** Sorted whitelist of callable functions. */
export function functionNames(): string[] {
  return Object.keys(FUNCTIONS).sort();
}

/**
 * Python `str()` of a value: `True`/`False`/`None`, tuples as `(1, 2)`, ints as digits, floats as
 * Python prints them (`2.5`, `1e+20`). A plain JS number that is integral prints like an int (a float
 * `1.0` from `evaluate` is indistinguishable from `1`; use `evaluateToString` for exactness).
 */
export function toPythonString(v: unknown): string {
  return pyStr(fromPlain(v));
}

/** Plain JS back to Python types, integral numbers becoming ints. */
function fromPlain(v: unknown): unknown {
  if (typeof v === "number" && Number.isInteger(v) && Math.abs(v) < 1e16) return BigInt(v);
  if (Array.isArray(v)) return v.map(fromPlain);
  return v;
}

/** Python truthiness of a value (plain or raw). */
export function isTruthy(v: unknown): boolean {
  return truthy(v);
}
