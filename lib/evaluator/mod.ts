/**
 * The safe expression evaluator (reference §6.6, DECISIONS "Evaluator"): `{…}` substitution, then a
 * tokenizer + parser + tree-walking interpreter for a Python-like expression language. Never `eval`.
 * The language itself is floor 0 (pure, synchronous, no subsystem imported): the machine-facing
 * functions (grep, fileexists, has_package, check_tcp) run through `env.io`, which the agent builds
 * with `machineIo(ctx)` (a sandboxed Worker under a deadline, io_host.ts). `createEvaluator` wraps
 * the two HTTP routes as a tiny subsystem for lib/agent.ts.
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
export type { Ast, BinaryOp, CompareOp } from "./ast.ts";
export { DEFAULT_LIMITS, EvalError, type EvalErrorKind, type EvalLimits } from "./errors.ts";
/** Python's `fmt % args` (the templates' `format` filter uses it too). */
export { formatPercent } from "./format.ts";
export type { EvalIo, IoFunction } from "./machine.ts";
export { localIo } from "./io.ts";
export { agentSecretPaths, IO_DEADLINE_MS, sandboxedIo } from "./io_host.ts";
export { CollectorPending, walkPath } from "./substitute.ts";
export { createEvaluator, machineIo, publicLookup } from "./subsystem.ts";
export {
  type EvalEnv,
  evaluate,
  evaluateBool,
  evaluateRaw,
  evaluateToString,
  functionNames,
  isTruthy,
  parseExpression,
  substitute,
  toPythonString,
} from "./evaluate.ts";
export { evaluatorRoutes } from "./routes.ts";
export { floatRepr, pyStr, strRepr } from "./pystr.ts";
/** Python's round() (ties to even on the exact value; the templates' `round` filter uses it too). */
export { pyRound } from "./builtins.ts";
