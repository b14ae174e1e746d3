/**
 * The safe expression evaluator (reference §6.6, DECISIONS "Evaluator"): `{…}` substitution, then a
 * tokenizer + parser + tree-walking interpreter for a Python-like expression language. Never `eval`.
 * The language itself is floor 0 (pure, no subsystem imported); `createEvaluator` wraps its two HTTP
 * routes as a tiny subsystem for lib/agent.ts (type-only use of lib/subsystem.ts).
 *
 * ```ts
 * const env: EvalEnv = { collectors, lookup: (p) => config.get(p) };
 * await evaluate("{collector.cpustats.cpuall.%idle} < {configuration.thresholds.cpuidle.critical}", env);
 * // -> false
 * await evaluate("'OK: cpu is great: %s%%' % (100-{collector.cpustats.cpuall.%idle})", env);
 * // -> "OK: cpu is great: 2.5%"
 * ```
 *
 * Values crossing this door are plain JS: numbers (ints and floats), strings, booleans, `null` for None,
 * arrays for tuples. `evaluateRaw` keeps Python types (ints as `bigint`) for exact `str()` rendering.
 */
import type { Hono } from "hono";
import type { ApiEnv } from "../routing/mod.ts";
import type { CollectorResultsView } from "../types.ts";
import type { Ast } from "./ast.ts";
import { EvalError, type EvalLimits, resolveLimits } from "./errors.ts";
import { parse } from "./parser.ts";
import { interpret } from "./interpreter.ts";
import { FUNCTIONS } from "./functions.ts";
import { pyStr } from "./pystr.ts";
import { substituteText, substituteWithMap } from "./substitute.ts";
import { toPlain, truthy } from "./values.ts";
import { evaluatorRoutes } from "./routes.ts";
import { dataLookup, makeEvaluatorSubsystem } from "./subsystem.ts";
import type { Ctx, Subsystem } from "../subsystem.ts";

export type { Ast, BinaryOp, CompareOp } from "./ast.ts";
export { DEFAULT_LIMITS, EvalError, type EvalErrorKind, type EvalLimits } from "./errors.ts";
/** Python's `fmt % args` (the templates' `format` filter uses it too). */
export { formatPercent } from "./format.ts";

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

/** Substitutes, parses and interprets; returns the value with Python types (ints as bigint). */
export async function evaluateRaw(expr: string, env: EvalEnv = {}): Promise<unknown> {
  const limits = resolveLimits(env.limits);
  checkLength(expr, limits);
  const { text, toOriginal } = substituteWithMap(expr, env);
  try {
    return await interpret(parse(text, limits), limits);
  } catch (err) {
    if (err instanceof EvalError) throw err.remap(toOriginal);
    throw err;
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

/** `GET /agent/evaluator/list`, `POST /agent/evaluator/eval` (form `expr=<base64>` or JSON `{"expr"}`). */
export function routes(env: () => EvalEnv): Hono<ApiEnv> {
  return evaluatorRoutes(env, { evaluateRaw, functionNames });
}

/**
 * The evaluator's subsystem for lib/agent.ts: serves the two routes above with the node's collector
 * results (`ctx.views.collectors`) and global configuration data.
 */
export function createEvaluator(ctx: Ctx): Subsystem {
  const env = (): EvalEnv => ({ collectors: ctx.views.collectors, lookup: dataLookup(ctx.config.data) });
  return makeEvaluatorSubsystem(ctx, { evaluateRaw, functionNames }, env);
}
