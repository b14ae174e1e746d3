/**
 * Evaluated checks (reference §6.3, DECISIONS "Evaluator"): critical_if → warning_if → ok, each
 * with its output expression; any error makes the result UNKNOWN with the error text, naming the
 * file and the field. Expressions are syntax-checked when the check is loaded.
 */
import {
  CollectorPending,
  type EvalEnv,
  EvalError,
  evaluateBool,
  evaluateToString,
  parseExpression,
} from "../evaluator/mod.ts";
import type { CheckDef } from "./check_def.ts";

export const EXPRESSION_FIELDS = [
  "critical_if",
  "warning_if",
  "ok_output",
  "critical_output",
  "warning_output",
] as const;

/** A raw (pre flap-protection) result of one run. */
export interface RawResult {
  state: "ok" | "warning" | "critical" | "unknown";
  output: string;
  /** UNKNOWN because this collector has no results yet (the caller may wait for it). */
  pendingCollector?: string;
}

/** A field's evaluation failed: the message names the file and field. */
class FieldError extends Error {
  constructor(message: string, readonly pendingCollector?: string) {
    super(message);
  }
}

/**
 * Syntax errors of the check's expressions, as `file: field: message (column N)`. `{…}` parts are
 * blanked to a same-width number first, so columns point into the text as written.
 */
export function expressionProblems(def: CheckDef): string[] {
  const out: string[] = [];
  for (const field of EXPRESSION_FIELDS) {
    const text = def.value[field];
    if (typeof text !== "string" || !text.trim()) continue;
    const blanked = text.replace(/\{[^{}]*\}/g, (m) => "0".padEnd(m.length, " "));
    try {
      parseExpression(blanked);
    } catch (err) {
      const msg = err instanceof EvalError ? err.message : String(err);
      out.push(`${where(def)}${field}: ${msg}`);
    }
  }
  return out;
}

function where(def: CheckDef): string {
  return def.file ? `${def.file}: ` : `${def.id}: `;
}

async function field(def: CheckDef, name: string, env: EvalEnv, asBool: true): Promise<boolean>;
async function field(def: CheckDef, name: string, env: EvalEnv, asBool: false): Promise<string>;
async function field(def: CheckDef, name: string, env: EvalEnv, asBool: boolean): Promise<boolean | string> {
  const text = def.value[name];
  if (typeof text !== "string" || !text.trim()) return asBool ? false : "";
  try {
    return asBool ? await evaluateBool(text, env) : await evaluateToString(text, env);
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    let hint = "";
    if (err instanceof EvalError && err.kind === "missing" && !env.collectors && /collector/.test(msg)) {
      hint = "no collector results (collectors are not running): ";
    }
    throw new FieldError(
      `${where(def)}${name}: ${hint}${msg}`,
      err instanceof CollectorPending ? err.collector : undefined,
    );
  }
}

/** Runs an evaluated check once. Never throws. */
export async function runEvaluated(def: CheckDef, env: EvalEnv): Promise<RawResult> {
  try {
    if (await field(def, "critical_if", env, true)) {
      return { state: "critical", output: await field(def, "critical_output", env, false) };
    }
    if (await field(def, "warning_if", env, true)) {
      return { state: "warning", output: await field(def, "warning_output", env, false) };
    }
    return { state: "ok", output: await field(def, "ok_output", env, false) };
  } catch (err) {
    const out: RawResult = { state: "unknown", output: (err as Error).message };
    if (err instanceof FieldError && err.pendingCollector) out.pendingCollector = err.pendingCollector;
    return out;
  }
}
