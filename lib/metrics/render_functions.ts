/**
 * Graphite render functions (pure): every function kunai implements, declared with graphite-web's
 * own group and parameters (what `/functions` lists) and applied to evaluated arguments. Nulls are
 * gaps: combining functions ignore them and give null only when every input is null at that point.
 * The shared machinery is in render_core.ts; the functions are grouped as graphite-web groups them.
 */
import {
  type Arg,
  bindArgs,
  type FnContext,
  type FunctionDef,
  FunctionError,
  type Series,
} from "./render_core.ts";
import { BASIC_FUNCTIONS } from "./render_fn_basic.ts";
import { COMBINE_FUNCTIONS } from "./render_fn_combine.ts";
import { TRANSFORM_FUNCTIONS } from "./render_fn_transform.ts";
import { FILTER_FUNCTIONS } from "./render_fn_filter.ts";
import { ALIAS_FUNCTIONS } from "./render_fn_alias.ts";

export {
  type Arg,
  consolidate,
  type ConsolidationFunc,
  type FnContext,
  formatPathExpressions,
  FunctionError,
  MAX_BUCKETS,
  MAX_RENDER_POINTS,
  normalize,
  parseTimeOffset,
  type Series,
} from "./render_core.ts";
export { movingAverage, movingAveragePreview } from "./render_fn_basic.ts";

const FUNCTIONS: Record<string, FunctionDef> = {
  ...BASIC_FUNCTIONS,
  ...COMBINE_FUNCTIONS,
  ...TRANSFORM_FUNCTIONS,
  ...FILTER_FUNCTIONS,
  ...ALIAS_FUNCTIONS,
};

/** Names of the supported functions, sorted. */
export const FUNCTION_NAMES = Object.keys(FUNCTIONS).sort();

/** The declaration of function `name` (its group and parameters), or undefined. */
export function functionDef(name: string): FunctionDef | undefined {
  return Object.hasOwn(FUNCTIONS, name) ? FUNCTIONS[name] : undefined;
}

/** Applies function `name`; unknown names and bad arguments throw FunctionError. */
export function applyFunction(
  name: string,
  args: Arg[],
  kwargs: Record<string, Arg>,
  ctx: FnContext,
): Series[] {
  const f = functionDef(name);
  if (!f) throw new FunctionError(name, `unknown function (supported: ${FUNCTION_NAMES.join(", ")})`);
  return f.apply(name, bindArgs(name, f.params, args, kwargs), ctx);
}
