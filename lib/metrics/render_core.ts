/**
 * What every Graphite render function shares (pure): the series type, the parameter declarations
 * (graphite-web's own `Param` lists, also what `/functions` lists) and their binding with type
 * checks, normalisation to a common step, consolidation and the aggregation functions.
 */
import { type Expr, parseTarget } from "./target_parser.ts";
import { seriesTags } from "./tag_names.ts";

/** How points are merged when a series is brought to a coarser step (Graphite's consolidateBy). */
export type ConsolidationFunc = "average" | "avg_zero" | "sum" | "min" | "max" | "first" | "last";

/** A series as `/render` returns it: `values[i]` is the point at `start + i * step`. */
export interface Series {
  name: string;
  start: number;
  end: number;
  step: number;
  values: Array<number | null>;
  /** The path expression the series came from (aliasByNode, sumSeries naming). */
  pathExpression: string;
  /** Set by consolidateBy: used by normalisation and maxDataPoints (average when absent). */
  consolidationFunc?: ConsolidationFunc;
  /** graphite's series tags (a tag name as a node): parsed from the stored name, kept through functions. */
  tags?: Record<string, string>;
}

export type Arg = Series[] | number | string | boolean;

/** A wrong argument: `/render` answers 400 naming the function. */
export class FunctionError extends Error {
  constructor(readonly fn: string, message: string) {
    super(`${fn}: ${message}`);
    this.name = "FunctionError";
  }
}

/** The request a function runs in. */
export interface FnContext {
  /** The requested range (constantLine draws over it). */
  from: number;
  until: number;
  /** stacked()'s running totals by stack name, shared by every target of the request as in graphite-web. */
  stacks: Map<string, number[]>;
  /** The steps grep, exclude and aliasSub's regular expressions have taken in this request. */
  regex: { steps: number };
}

/** graphite-web's parameter types (the names `/functions` gives Grafana). */
export type ParamType =
  | "seriesList"
  | "float"
  | "integer"
  | "node"
  | "nodeOrTag"
  | "boolean"
  | "string"
  | "interval"
  | "intOrInterval"
  | "intOrInf"
  | "aggFunc"
  | "aggOrSeriesFunc"
  | "tag"
  | "any";

export interface ParamDef {
  name: string;
  type: ParamType;
  required?: boolean;
  default?: string | number | boolean;
  multiple?: boolean;
  options?: string[];
  suggestions?: Array<string | number>;
}

/** One render function: graphite-web's group and parameters, and what it does. */
export interface FunctionDef {
  group: string;
  description: string;
  params: ParamDef[];
  apply(fn: string, p: Bound, ctx: FnContext): Series[];
}

/** Most points one render reads or answers (~160 MB of values at worst); past it a 400. */
export const MAX_RENDER_POINTS = 20_000_000;

/** Most buckets one series may be cut into (summarize, hitcount): a year in 30 s buckets. */
export const MAX_BUCKETS = 1_100_000;

/** The arguments of one call, bound to its parameters by name and checked against their types. */
export class Bound {
  constructor(readonly fn: string, private readonly values: Map<string, Arg | Arg[]>) {}
  has(name: string): boolean {
    return this.values.get(name) !== undefined;
  }
  list(name: string): Series[] {
    return (this.values.get(name) ?? []) as Series[];
  }
  /** A `multiple` series-list parameter, all its lists joined. */
  lists(name: string): Series[] {
    return ((this.values.get(name) ?? []) as Series[][]).flat();
  }
  num(name: string): number {
    return this.values.get(name) as number;
  }
  nums(name: string): number[] {
    return (this.values.get(name) ?? []) as number[];
  }
  str(name: string): string {
    return this.values.get(name) as string;
  }
  bool(name: string): boolean {
    return this.values.get(name) as boolean;
  }
  raw(name: string): Arg | undefined {
    return this.values.get(name) as Arg | undefined;
  }
  rawAll(name: string): Arg[] {
    return (this.values.get(name) ?? []) as Arg[];
  }
}

/**
 * Binds positional and keyword arguments to `params` as graphite-web's validateParams does:
 * extra positionals go to a final `multiple` parameter, a keyword names a parameter after the
 * positional ones, and every value is checked against its type (a FunctionError naming it).
 */
export function bindArgs(fn: string, params: ParamDef[], args: Arg[], kwargs: Record<string, Arg>): Bound {
  const last = params[params.length - 1];
  const nkw = Object.keys(kwargs).length;
  if (args.length + nkw > params.length && !last?.multiple) {
    throw new FunctionError(fn, `too many arguments (at most ${params.length})`);
  }
  const out = new Map<string, Arg | Arg[]>();
  args.forEach((a, i) => {
    const p = params[Math.min(i, params.length - 1)];
    const v = checkValue(fn, p, a, i + 1);
    if (p.multiple) out.set(p.name, [...(out.get(p.name) as Arg[] ?? []), v]);
    else out.set(p.name, v);
  });
  const rest = args.length >= params.length ? [] : params.slice(args.length);
  for (const name of Object.keys(kwargs)) {
    if (!rest.some((p) => p.name === name)) {
      const known = params.some((p) => p.name === name);
      throw new FunctionError(
        fn,
        known
          ? `argument '${name}' is given twice`
          : `unexpected keyword argument '${name}' (parameters: ${params.map((p) => p.name).join(", ")})`,
      );
    }
  }
  for (const p of rest) {
    const a = Object.hasOwn(kwargs, p.name) ? kwargs[p.name] : undefined;
    if (a === undefined) {
      if (p.required && !(p.multiple && out.has(p.name))) {
        throw new FunctionError(fn, `missing required argument '${p.name}'`);
      }
      if (p.default !== undefined) out.set(p.name, p.multiple ? [p.default] : p.default);
      continue;
    }
    const v = checkValue(fn, p, a, p.name);
    out.set(p.name, p.multiple ? [v] : v);
  }
  return new Bound(fn, out);
}

function checkValue(fn: string, p: ParamDef, a: Arg, where: number | string): Arg {
  const what = typeof where === "number" ? `argument ${where} (${p.name})` : `argument '${where}'`;
  const bad = (expected: string): never => {
    throw new FunctionError(fn, `${what} must be ${expected}, not ${describe(a)}`);
  };
  let v: Arg = a;
  switch (p.type) {
    case "seriesList":
      if (!Array.isArray(a)) bad("a series list");
      break;
    case "float":
      if (typeof a !== "number") bad("a number");
      break;
    case "integer":
    case "node":
      if (typeof a !== "number" || !Number.isInteger(a)) bad("a whole number");
      break;
    case "nodeOrTag":
      if (typeof a !== "string" && (typeof a !== "number" || !Number.isInteger(a))) {
        bad("a node index (a whole number) or a tag name");
      }
      break;
    case "tag":
      if (typeof a !== "string") bad("a tag name (a string)");
      break;
    case "intOrInf":
      if (typeof a !== "number" || !(Number.isInteger(a) || a === Infinity)) bad("a whole number");
      break;
    case "boolean":
      v = toBoolean(a) ?? bad("true or false");
      break;
    case "string":
    case "aggFunc":
    case "aggOrSeriesFunc":
      if (typeof a !== "string") bad("a string");
      break;
    case "interval":
      if (typeof a !== "string") bad('an interval string like "1h"');
      parseTimeOffset(fn, a as string);
      break;
    case "intOrInterval":
      if (typeof a === "string") parseTimeOffset(fn, a);
      else if (typeof a !== "number" || !Number.isInteger(a)) bad("a whole number or an interval string");
      break;
    case "any":
      break;
  }
  if (p.options && !p.options.includes(v as string)) {
    throw new FunctionError(fn, `${what}: '${String(v)}' is not one of ${p.options.join(", ")}`);
  }
  return v;
}

function describe(a: Arg): string {
  return Array.isArray(a) ? "a series list" : typeof a === "string" ? `'${a}'` : String(a);
}

/** graphite-web's validateBoolean: true/false, 1/0, or those words in any case. */
function toBoolean(a: Arg): boolean | undefined {
  if (typeof a === "boolean") return a;
  if (typeof a === "number") return a === 1 ? true : a === 0 ? false : undefined;
  if (typeof a === "string") {
    const l = a.toLowerCase();
    return l === "true" ? true : l === "false" ? false : undefined;
  }
  return undefined;
}

/**
 * graphite-web's parseTimeOffset in seconds: an optional sign, then number-unit pairs (`1h30min`);
 * a unit is known by its first letters (s, min, h, d, w, mon = 30 d, y = 365 d).
 */
export function parseTimeOffset(fn: string, text: string): number {
  const m = /^([-+]?)((?:\d+[A-Za-z]+)+)$/.exec(text);
  if (!m) throw new FunctionError(fn, `'${text}' is not an interval like 30s, 5min, 1h, 1d, 1h30min`);
  let total = 0;
  for (const [, num, unit] of m[2].matchAll(/(\d+)([A-Za-z]+)/g)) {
    const mult = unit.startsWith("s")
      ? 1
      : unit.startsWith("min")
      ? 60
      : unit.startsWith("h")
      ? 3600
      : unit.startsWith("d")
      ? 86400
      : unit.startsWith("w")
      ? 7 * 86400
      : unit.startsWith("mon")
      ? 30 * 86400
      : unit.startsWith("y")
      ? 365 * 86400
      : NaN;
    if (Number.isNaN(mult)) throw new FunctionError(fn, `'${text}': unknown time unit '${unit}'`);
    total += Number(num) * mult;
  }
  if (!Number.isSafeInteger(total)) throw new FunctionError(fn, `'${text}' is too long an interval`);
  return m[1] === "-" ? -total : total;
}

/** Series of different steps brought to their least common multiple step (graphite-web's normalize). */
export function normalize(list: Series[]): Series[] {
  if (list.length < 2) return list;
  const gcd = (a: number, b: number): number => b ? gcd(b, a % b) : a;
  const step = list.reduce((acc, s) => acc / gcd(acc, s.step) * s.step, list[0].step);
  return list.map((s) =>
    s.step === step ? s : consolidate(s, step / s.step, s.consolidationFunc ?? "average")
  );
}

/** Groups every `n` points into one (Graphite's consolidation), step × n. */
export function consolidate(s: Series, n: number, how: ConsolidationFunc): Series {
  if (n <= 1) return s;
  const values: Array<number | null> = [];
  for (let i = 0; i < s.values.length; i += n) {
    const chunk = s.values.slice(i, i + n);
    const nonNull = chunk.filter((v): v is number => v !== null);
    if (nonNull.length === 0) values.push(null);
    else if (how === "avg_zero") values.push(nonNull.reduce((a, b) => a + b, 0) / chunk.length);
    else values.push(reduceValues(how, nonNull));
  }
  return { ...s, step: s.step * n, end: s.start + values.length * s.step * n, values };
}

function reduceValues(how: string, v: number[]): number {
  switch (how) {
    case "sum":
      return v.reduce((a, b) => a + b, 0);
    case "min":
      return Math.min(...v);
    case "max":
      return Math.max(...v);
    case "first":
      return v[0];
    case "last":
      return v[v.length - 1];
    default:
      return v.reduce((a, b) => a + b, 0) / v.length;
  }
}

/** Graphite's `formatPathExpressions`: the inputs' path expressions, each once, in order, joined by ",". */
export function formatPathExpressions(list: Series[]): string {
  return [...new Set(list.map((s) => s.pathExpression ?? s.name))].join(",");
}

/** A row of values (one point of every series) → one value; graphite-web's safe* functions. */
type RowFunc = (row: Array<number | null>) => number | null;

const nonNull = (row: Array<number | null>) => row.filter((v): v is number => v !== null && v !== undefined);
const sum = (v: number[]) => v.reduce((a, b) => a + b, 0);

const AGG_FUNCS: Record<string, RowFunc> = {
  average: (r) => {
    const v = nonNull(r);
    return v.length ? sum(v) / v.length : null;
  },
  avg_zero: (r) => r.length ? sum(r.map((v) => v ?? 0)) / r.length : null,
  median: (r) => {
    const v = nonNull(r).sort((a, b) => a - b);
    if (!v.length) return null;
    const mid = Math.floor(v.length / 2);
    return v.length % 2 === 0 ? (v[mid - 1] + v[mid]) / 2 : v[mid];
  },
  sum: (r) => {
    const v = nonNull(r);
    return v.length ? sum(v) : null;
  },
  min: (r) => {
    const v = nonNull(r);
    return v.length ? v.reduce((a, b) => b < a ? b : a) : null;
  },
  max: (r) => {
    const v = nonNull(r);
    return v.length ? v.reduce((a, b) => b > a ? b : a) : null;
  },
  diff: (r) => {
    const v = nonNull(r);
    return v.length ? sum([v[0], ...v.slice(1).map((x) => -x)]) : null;
  },
  stddev: (r) => {
    const v = nonNull(r);
    if (!v.length) return null;
    const avg = sum(v) / v.length;
    let s = 0;
    for (const x of v) s = s + (x - avg) * (x - avg);
    return Math.sqrt(s / v.length);
  },
  count: (r) => nonNull(r).length,
  range: (r) => {
    const v = nonNull(r);
    return v.length ? v.reduce((a, b) => b > a ? b : a) - v.reduce((a, b) => b < a ? b : a) : null;
  },
  multiply: (r) =>
    r.some((v) => v === null || v === undefined) ? null : (r as number[]).reduce((a, b) => a * b),
  last: (r) => {
    for (let i = r.length - 1; i >= 0; i--) if (r[i] !== null && r[i] !== undefined) return r[i];
    return null;
  },
};
const AGG_ALIASES: Record<string, string> = {
  rangeOf: "range",
  avg: "average",
  total: "sum",
  current: "last",
};

/** Every aggregation name graphite-web accepts (`aggFunc` parameters), aliases included. */
export const AGG_FUNC_NAMES = [...Object.keys(AGG_FUNCS), ...Object.keys(AGG_ALIASES)];

/** The row function of an aggregation name (`avg`, `sum`, `sumSeries`...); FunctionError when unknown. */
export function aggFunc(fn: string, name: string): RowFunc {
  const base = name.endsWith("Series") ? name.slice(0, -6) : name;
  const key = AGG_ALIASES[base] ?? base;
  const f = Object.hasOwn(AGG_FUNCS, key) ? AGG_FUNCS[key] : undefined;
  if (!f) throw new FunctionError(fn, `unknown aggregation '${name}' (${AGG_FUNC_NAMES.join(", ")})`);
  return f;
}

/** One value per series (highest*, filters): the aggregation over its points, nulls skipped. */
export function seriesValue(f: RowFunc, s: Series): number | null {
  return f(s.values);
}

/**
 * graphite-web's aggregate(): the lists normalised to a common step, then `f` over each row of
 * points that has at least one value; named `<name>(<path expressions>)`.
 */
export function aggregateRows(name: string, inputs: Series[], f: RowFunc): Series[] {
  if (inputs.length === 0) return [];
  const label = `${name}(${formatPathExpressions(inputs)})`;
  const list = normalize(inputs);
  const len = Math.max(...list.map((s) => s.values.length));
  const values: Array<number | null> = new Array(len);
  const row: Array<number | null> = new Array(list.length);
  for (let i = 0; i < len; i++) {
    let any = false;
    for (let j = 0; j < list.length; j++) {
      const v = list[j].values[i];
      row[j] = v === undefined ? null : v;
      if (row[j] !== null) any = true;
    }
    values[i] = any ? f(row) : null;
  }
  const start = Math.min(...list.map((s) => s.start));
  const step = list[0].step;
  const tags = aggregateTags(inputs, label, name.slice(0, -6));
  return [{ name: label, start, step, end: start + len * step, values, pathExpression: label, tags }];
}

/** The tags of a series (parsed from its name when a function made it without any). */
export function tagsOf(s: Series): Record<string, string> {
  return s.tags ?? seriesTags(s.name);
}

/** graphite-web's aggregate() tags: those every input shares, `name` (else the label), `aggregatedBy`. */
export function aggregateTags(inputs: Series[], label: string, func: string): Record<string, string> {
  const tags: Record<string, string> = { ...tagsOf(inputs[0]) };
  for (const s of inputs.slice(1)) {
    const t = tagsOf(s);
    for (const k of Object.keys(tags)) if (!Object.hasOwn(t, k) || t[k] !== tags[k]) delete tags[k];
  }
  if (!Object.hasOwn(tags, "name")) tags.name = label;
  tags.aggregatedBy = func;
  return tags;
}

/**
 * The first path of a (possibly wrapped) series name, as graphite-web's aggKey reads it:
 * `scale(a.b.c,2)` → `a.b.c`; a name without parentheses is itself.
 */
export function firstPath(name: string): string {
  if (!name.endsWith(")")) return name;
  let e: Expr;
  try {
    e = parseTarget(name);
  } catch {
    return name; // not an expression after all (an alias ending in ')')
  }
  while (e.kind === "call" && e.args.length) e = e.args[0];
  return e.kind === "path" ? e.path : name;
}

/** graphite-web's getNodeOrTag over a name: node `n` (negative from the end), "" past either end. */
export function nodeOf(name: string, n: number): string {
  const parts = name.split(";")[0].split(".");
  const i = n < 0 ? parts.length + n : n;
  return parts[i] ?? "";
}

/**
 * graphite-web's aggKey: nodes and tags joined by dots. Its getNodeOrTag: a whole number is a
 * node of `path` (the tags cut off); a string, or a node past either end, is a tag of the
 * series ("" when it has none).
 */
export function nodesKey(s: Series, path: string, nodes: Array<number | string>): string {
  return nodes.map((n) => nodeOrTag(s, n, path)).join(".");
}

/** One node or tag of a series (see nodesKey). */
export function nodeOrTag(s: Series, n: number | string, path: string): string {
  if (typeof n === "number") {
    const parts = path.split(";")[0].split(".");
    const i = n < 0 ? parts.length + n : n;
    if (i >= 0 && i < parts.length) return parts[i];
  }
  const tags = tagsOf(s);
  const key = String(n);
  return Object.hasOwn(tags, key) ? tags[key] : "";
}
