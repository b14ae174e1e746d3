/**
 * Graphite render functions (pure): every function kunai implements, declared with graphite-web's
 * own group and parameters (what `/functions` lists) and applied to evaluated arguments. Nulls are
 * gaps: combining functions ignore them and give null only when every input is null at that point.
 * The shared machinery is in render_core.ts and render_series.ts; the functions are grouped as
 * graphite-web groups them.
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
  type ConsolidationFunc,
  type FnContext,
  FunctionError,
  MAX_BUCKETS,
  MAX_RENDER_POINTS,
  parseTimeOffset,
  type Series,
} from "./render_core.ts";
export { consolidate, formatPathExpressions, normalize } from "./render_series.ts";
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

/** The graphite-web version whose function library kunai follows (what `/version` answers). */
export const GRAPHITE_VERSION = "1.1.8";

/** One function as graphite-web's `/functions` describes it (what Grafana builds its editor from). */
export interface FunctionInfo {
  name: string;
  function: string;
  description: string;
  module: string;
  group: string;
  params: Array<Record<string, unknown>>;
}

/** graphite-web's functionInfo for a function kunai implements, or undefined. */
export function functionInfo(name: string): FunctionInfo | undefined {
  const def = functionDef(name);
  if (!def) return undefined;
  const signature = def.params.map((p) =>
    p.multiple ? `*${p.name}` : p.default !== undefined ? `${p.name}=${pyLiteral(p.default)}` : p.name
  );
  return {
    name,
    function: `${name}(${signature.join(", ")})`,
    description: def.description,
    module: "graphite.render.functions",
    group: def.group,
    params: def.params.map((p) => ({
      name: p.name,
      type: p.type,
      ...(p.required ? { required: true } : {}),
      ...(p.default !== undefined ? { default: p.default } : {}),
      ...(p.multiple ? { multiple: true } : {}),
      ...(p.options?.length ? { options: [...p.options].sort() } : {}),
      ...(p.suggestions?.length ? { suggestions: p.suggestions } : {}),
    })),
  };
}

function pyLiteral(v: string | number | boolean): string {
  if (typeof v === "boolean") return v ? "True" : "False";
  if (typeof v === "string") return `'${v}'`;
  return v === Infinity ? "inf" : String(v);
}

/**
 * graphite-web's `/functions` answer as JSON text: every function by name, or by group when
 * `grouped`, or only those of `group`. An infinite default is written `1e9999`, as graphite-web's
 * encoder means to (JSON has no Infinity; a JSON reader reads 1e9999 as Infinity).
 */
export function functionListJson(opts: { grouped?: boolean; group?: string | null }): string {
  const out: Record<string, unknown> = {};
  for (const name of FUNCTION_NAMES) {
    const info = functionInfo(name)!;
    if (opts.group != null && opts.group !== info.group) continue;
    if (opts.grouped) ((out[info.group] ??= {}) as Record<string, unknown>)[name] = info;
    else out[name] = info;
  }
  return infinityJson(out);
}

/** JSON text with Infinity written as 1e9999. */
export function infinityJson(v: unknown): string {
  const marker = "\u0000inf\u0000";
  return JSON.stringify(v, (_k, x) => x === Infinity ? marker : x).replaceAll(
    `"${JSON.stringify(marker).slice(1, -1)}"`,
    "1e9999",
  );
}
