/**
 * What render functions do to series (pure): normalisation to a common step, consolidation, the
 * aggregation functions, and a series' nodes and tags as graphite-web names them.
 */
import { type Expr, parseTarget } from "./target_parser.ts";
import { seriesTags } from "./tag_names.ts";
import { type ConsolidationFunc, FunctionError, type Series } from "./render_core.ts";

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
      return v.reduce((m, x) => Math.min(m, x), Infinity);
    case "max":
      return v.reduce((m, x) => Math.max(m, x), -Infinity);
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
  const len = list.reduce((m, s) => Math.max(m, s.values.length), -Infinity);
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
  const start = list.reduce((m, s) => Math.min(m, s.start), Infinity);
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
