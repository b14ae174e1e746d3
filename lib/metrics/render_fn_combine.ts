/**
 * Combining render functions (pure), as graphite-web computes them: aggregate and its aliases
 * (diffSeries, multiplySeries, stddevSeries, rangeOfSeries), countSeries, percentileOfSeries,
 * divideSeries, the *WithWildcards forms and groupByNode/groupByNodes.
 */
import { type FunctionDef, FunctionError, type ParamDef, type Series } from "./render_core.ts";
import {
  AGG_FUNC_NAMES,
  aggFunc,
  aggregateRows,
  firstPath,
  formatPathExpressions,
  nodesKey,
  normalize,
  tagsOf,
} from "./render_series.ts";
import { codePointCompare, parseTaggedName, TagError } from "./tags.ts";
import { combine, SERIES, SERIES_LISTS } from "./render_fn_basic.ts";
import { pyG } from "../py_number.ts";

/** graphite-web's aggregate(list, func): `func` stripped of a trailing "Series" names the result. */
export function aggregate(fn: string, func: string, inputs: Series[]): Series[] {
  const f = aggFunc(fn, func);
  const base = func.endsWith("Series") ? func.slice(0, -6) : func;
  return aggregateRows(`${base}Series`, inputs, f);
}

function countSeries(inputs: Series[]): Series[] {
  if (inputs.length === 0) return [];
  const label = `countSeries(${formatPathExpressions(inputs)})`;
  const list = normalize(inputs);
  const len = list.reduce((m, s) => Math.max(m, s.values.length), -Infinity);
  const start = list.reduce((m, s) => Math.min(m, s.start), Infinity);
  const step = list[0].step;
  const values = new Array<number | null>(len).fill(list.length);
  return [{ name: label, pathExpression: label, start, step, end: start + len * step, values }];
}

function multiplySeries(lists: Series[][]): Series[] {
  // graphite-web's legacy case: one series alone is returned as it is
  if (lists.length === 1 && lists[0].length === 1) return lists[0];
  return aggregate("multiplySeries", "multiply", lists.flat());
}

/** graphite-web's _getPercentile: the nearest-rank percentile of the non-null points (interpolated). */
export function percentile(points: Array<number | null>, n: number, interpolate: boolean): number | null {
  const sorted = points.filter((p): p is number => p !== null && p !== undefined).sort((a, b) => a - b);
  if (sorted.length === 0) return null;
  const fractionalRank = (n / 100) * (sorted.length + 1);
  let rank = Math.trunc(fractionalRank);
  const rankFraction = fractionalRank - rank;
  if (!interpolate) rank += Math.ceil(rankFraction);
  let p = rank === 0 ? sorted[0] : rank - 1 === sorted.length ? sorted[sorted.length - 1] : sorted[rank - 1];
  // at n = 100 the rank is past the last point, where graphite-web's interpolation reads past
  // its list (an IndexError, a 500): the last point is the answer, never NaN
  if (interpolate && rank < sorted.length) p = p + rankFraction * (sorted[rank] - p);
  return p;
}

/** A percentile argument: graphite-web fails past 100 (an index error) and refuses 0 or less. */
export function percentArg(fn: string, n: number): number {
  if (!(n > 0 && n <= 100)) {
    throw new FunctionError(fn, `the percentile n must be more than 0 and at most 100, not ${n}`);
  }
  return n;
}

function percentileOfSeries(fn: string, list: Series[], n: number, interpolate: boolean): Series[] {
  percentArg(fn, n);
  if (list.length === 0) return [];
  const name = `percentileOfSeries(${list[0].pathExpression},${pyG(n)})`;
  const norm = normalize(list);
  const len = norm.reduce((m, s) => Math.max(m, s.values.length), -Infinity);
  const values: Array<number | null> = [];
  for (let i = 0; i < len; i++) values.push(percentile(norm.map((s) => s.values[i] ?? null), n, interpolate));
  const start = norm.reduce((m, s) => Math.min(m, s.start), Infinity);
  const step = norm[0].step;
  return [{ name, pathExpression: name, start, step, end: start + len * step, values }];
}

function divideSeries(fn: string, dividends: Series[], divisors: Series[]): Series[] {
  if (divisors.length === 0) {
    return dividends.map((s) => {
      const name = `divideSeries(${s.name},MISSING)`;
      return { ...s, name, pathExpression: name, values: s.values.map(() => null) };
    });
  }
  if (divisors.length > 1) {
    throw new FunctionError(
      fn,
      `argument 2 (divisorSeries) must be exactly one series (got ${divisors.length})`,
    );
  }
  return dividends.map((d) => {
    const name = `divideSeries(${d.name},${divisors[0].name})`;
    const [a, b] = normalize([d, divisors[0]]);
    const len = Math.max(a.values.length, b.values.length);
    const values: Array<number | null> = [];
    for (let i = 0; i < len; i++) {
      const x = a.values[i] ?? null;
      const y = b.values[i] ?? null;
      values.push(x === null || y === null || y === 0 ? null : x / y);
    }
    const start = Math.min(a.start, b.start);
    return { name, pathExpression: name, start, step: a.step, end: start + len * a.step, values };
  });
}

/** Groups series by a key, keeping the order in which keys first appear. */
function groupBy(list: Series[], key: (s: Series) => string): Map<string, Series[]> {
  const groups = new Map<string, Series[]>();
  for (const s of list) {
    const k = key(s);
    const g = groups.get(k);
    if (g) g.push(s);
    else groups.set(k, [s]);
  }
  return groups;
}

function withWildcards(fn: string, func: string, list: Series[], positions: number[]): Series[] {
  const groups = groupBy(
    list,
    (s) => s.name.split(".").filter((_, i) => !positions.includes(i)).join("."),
  );
  return [...groups].map(([key, g]) => ({ ...aggregate(fn, func, g)[0], name: key }));
}

/** The series functions groupByNode(s) may call by name, as graphite-web looks them up first. */
const SERIES_CALLBACKS: Record<string, (g: Series[]) => Series[]> = {
  sum: (g) => combine("sumSeries", "sum", g),
  sumSeries: (g) => combine("sumSeries", "sum", g),
  avg: (g) => combine("averageSeries", "average", g),
  averageSeries: (g) => combine("averageSeries", "average", g),
  maxSeries: (g) => combine("maxSeries", "max", g),
  minSeries: (g) => combine("minSeries", "min", g),
  diffSeries: (g) => aggregate("diffSeries", "diff", g),
  stddevSeries: (g) => aggregate("stddevSeries", "stddev", g),
  rangeOfSeries: (g) => aggregate("rangeOfSeries", "rangeOf", g),
  multiplySeries: (g) => multiplySeries([g]),
  countSeries: (g) => countSeries(g),
};

const CALLBACKS = [
  ...AGG_FUNC_NAMES,
  ...Object.keys(SERIES_CALLBACKS).filter((n) => !AGG_FUNC_NAMES.includes(n)),
].sort();

/** A groupBy* callback: a series function by name, else an aggregation (refused when unknown, before any work). */
function groupCallback(fn: string, callback: string): (g: Series[]) => Series {
  const cb = Object.hasOwn(SERIES_CALLBACKS, callback) ? SERIES_CALLBACKS[callback] : undefined;
  if (!cb) aggFunc(fn, callback);
  return (g) => (cb ? cb(g) : aggregate(fn, callback, g))[0];
}

function groupByNodes(fn: string, list: Series[], callback: string, nodes: Array<number | string>): Series[] {
  const cb = groupCallback(fn, callback);
  const groups = groupBy(list, (s) => nodesKey(s, firstPath(s.name), nodes));
  return [...groups].map(([key, g]) => ({ ...cb(g), name: key }));
}

/**
 * graphite-web's groupByTags: groups keyed `name;tag=value;...` (the tags sorted, "" for a
 * series without one; `name` is the series' common name, else the callback's), each aggregated
 * by the callback and named, path-expressed and tagged by its key.
 */
function groupByTags(fn: string, list: Series[], callback: string, tags: string[]): Series[] {
  const cb = groupCallback(fn, callback);
  const byName = tags.includes("name");
  let common = callback;
  if (!byName) {
    const names = new Set(list.map((s) => tagsOf(s).name));
    if (names.size === 1) common = [...names][0];
  }
  const groups = groupBy(list, (s) => {
    const t = tagsOf(s);
    const pairs = tags.filter((tag) => !byName || tag !== "name")
      .map((tag) => `${tag}=${Object.hasOwn(t, tag) ? t[tag] : ""}`).sort(codePointCompare);
    return [byName ? t.name : common, ...pairs].join(";");
  });
  return [...groups].map(([key, g]) => {
    let parsed;
    try {
      parsed = parseTaggedName(key).tags;
    } catch (err) {
      if (err instanceof TagError) throw new FunctionError(fn, `group '${key}': ${err.message}`);
      throw err;
    }
    return { ...cb(g), name: key, pathExpression: key, tags: { ...parsed } };
  });
}

const aggDef = (func: string, description: string): FunctionDef => ({
  group: "Combine",
  description,
  params: [SERIES_LISTS],
  apply: (fn, p) => aggregate(fn, func, p.lists("seriesLists")),
});
const positions: ParamDef = { name: "position", type: "node", multiple: true };
const callbackParam = (required: boolean): ParamDef => ({
  name: "callback",
  type: "aggOrSeriesFunc",
  ...(required ? { required: true } : { default: "average" }),
  options: CALLBACKS,
});

export const COMBINE_FUNCTIONS: Record<string, FunctionDef> = {
  aggregate: {
    group: "Combine",
    description: "Aggregates the series point by point with func (sum, average, median, max, ...).",
    params: [SERIES, { name: "func", type: "aggFunc", required: true, options: AGG_FUNC_NAMES }],
    apply: (fn, p) => aggregate(fn, p.str("func"), p.list("seriesList")),
  },
  diffSeries: aggDef("diff", "Subtracts series 2 through n from series 1."),
  stddevSeries: aggDef("stddev", "The standard deviation of the series at each point."),
  rangeOfSeries: aggDef("rangeOf", "The highest minus the lowest value of the series at each point."),
  multiplySeries: {
    group: "Combine",
    description: "The product of the series at each point (null where any is null).",
    params: [SERIES_LISTS],
    apply: (_fn, p) => multiplySeries(p.rawAll("seriesLists") as Series[][]),
  },
  countSeries: {
    group: "Combine",
    description: "The number of series, at each point.",
    params: [{ name: "seriesLists", type: "seriesList", multiple: true }],
    apply: (fn, p) => {
      if (!p.has("seriesLists")) throw new FunctionError(fn, "needs a series list");
      return countSeries(p.lists("seriesLists"));
    },
  },
  percentileOfSeries: {
    group: "Combine",
    description: "The n-th percentile of the series' values at each point.",
    params: [SERIES, { name: "n", type: "float", required: true }, {
      name: "interpolate",
      type: "boolean",
      default: false,
    }],
    apply: (fn, p) => percentileOfSeries(fn, p.list("seriesList"), p.num("n"), p.bool("interpolate")),
  },
  divideSeries: {
    group: "Combine",
    description: "Each series divided by one divisor series (null where it is 0 or null).",
    params: [
      { name: "dividendSeriesList", type: "seriesList", required: true },
      { name: "divisorSeries", type: "seriesList", required: true },
    ],
    apply: (fn, p) => divideSeries(fn, p.list("dividendSeriesList"), p.list("divisorSeries")),
  },
  sumSeriesWithWildcards: {
    group: "Combine",
    description: "sumSeries of the series grouped by their names without the given nodes.",
    params: [SERIES, positions],
    apply: (fn, p) => withWildcards(fn, "sum", p.list("seriesList"), p.nums("position")),
  },
  averageSeriesWithWildcards: {
    group: "Combine",
    description: "averageSeries of the series grouped by their names without the given nodes.",
    params: [SERIES, positions],
    apply: (fn, p) => withWildcards(fn, "average", p.list("seriesList"), p.nums("position")),
  },
  groupByNode: {
    group: "Combine",
    description: "Groups the series by one node of their path and aggregates each group with callback.",
    params: [SERIES, { name: "nodeNum", type: "nodeOrTag", required: true }, callbackParam(false)],
    apply: (fn, p) =>
      groupByNodes(fn, p.list("seriesList"), p.str("callback"), [p.raw("nodeNum") as number | string]),
  },
  groupByNodes: {
    group: "Combine",
    description: "Groups the series by nodes of their path and aggregates each group with callback.",
    params: [SERIES, callbackParam(true), { name: "nodes", type: "nodeOrTag", multiple: true }],
    apply: (fn, p) =>
      groupByNodes(fn, p.list("seriesList"), p.str("callback"), p.rawAll("nodes") as Array<number | string>),
  },
  groupByTags: {
    group: "Combine",
    description:
      "Groups the series by tags and aggregates each group with callback (named name;tag=value...).",
    params: [SERIES, callbackParam(true), { name: "tags", type: "tag", required: true, multiple: true }],
    apply: (fn, p) => groupByTags(fn, p.list("seriesList"), p.str("callback"), p.rawAll("tags") as string[]),
  },
};
