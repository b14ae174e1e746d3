/**
 * The first render functions kunai had (pure): sumSeries/averageSeries/maxSeries/minSeries, scale,
 * offset, alias, aliasByNode, summarize, derivative, nonNegativeDerivative, perSecond,
 * movingAverage, asPercent, highestCurrent, keepLastValue. Names follow graphite-web's exactly.
 */
import {
  type Arg,
  type FunctionDef,
  FunctionError,
  MAX_BUCKETS,
  MAX_RENDER_POINTS,
  type ParamDef,
  parseTimeOffset,
  type Series,
} from "./render_core.ts";
import {
  aggFunc,
  aggregateTags,
  firstPath,
  formatPathExpressions,
  nodesKey,
  normalize,
} from "./render_series.ts";
import { pyFloat, pyG, pyRound } from "../py_number.ts";

export const SERIES: ParamDef = { name: "seriesList", type: "seriesList", required: true };
export const SERIES_LISTS: ParamDef = {
  name: "seriesLists",
  type: "seriesList",
  required: true,
  multiple: true,
};

/** Point-wise sum/average/max/min of series lists (graphite-web's aggregate), typed accumulators. */
export function combine(fn: string, how: string, inputs: Series[]): Series[] {
  const label = formatPathExpressions(inputs);
  const list = normalize(inputs);
  if (list.length === 0) return [];
  const len = list.reduce((m, s) => Math.max(m, s.values.length), -Infinity);
  // series-major over typed accumulators: no array per point
  const acc = new Float64Array(len).fill(how === "min" ? Infinity : how === "max" ? -Infinity : 0);
  const count = new Uint32Array(len);
  for (const s of list) {
    const vs = s.values;
    for (let i = 0; i < vs.length; i++) {
      const v = vs[i];
      if (v === null || v === undefined) continue;
      count[i]++;
      if (how === "min") acc[i] = v < acc[i] ? v : acc[i];
      else if (how === "max") acc[i] = v > acc[i] ? v : acc[i];
      else acc[i] += v;
    }
  }
  const values: Array<number | null> = new Array(len);
  for (let i = 0; i < len; i++) {
    values[i] = count[i] === 0 ? null : how === "average" ? acc[i] / count[i] : acc[i];
  }
  // graphite-web's normalize: the earliest start (values stay aligned by index), the common step
  const start = list.reduce((m, s) => Math.min(m, s.start), Infinity);
  const step = list[0].step;
  return [{
    name: `${fn}(${label})`,
    start,
    step,
    end: start + len * step,
    values,
    pathExpression: `${fn}(${label})`,
    tags: aggregateTags(list, `${fn}(${label})`, how),
  }];
}

// A transformed series is its own path expression from then on, as in graphite-web (what an
// aggregate of it is named after); alias, aliasByNode and highestCurrent keep their input's.
export function mapValues(s: Series, name: string, f: (v: number, i: number) => number | null): Series {
  return { ...s, name, pathExpression: name, values: s.values.map((v, i) => v === null ? null : f(v, i)) };
}

/** graphite-web's _nonNegativeDelta: the increase, or across a wrap with maxValue/minValue. */
function derive(
  s: Series,
  name: string,
  maxValue: number | null,
  minValue: number | null,
  nonNegative: boolean,
  perSecond: boolean,
): Series {
  const values: Array<number | null> = [];
  let prev: number | null = null;
  for (const v of s.values) {
    if (
      nonNegative && v !== null &&
      ((maxValue !== null && v > maxValue) || (minValue !== null && v < minValue))
    ) {
      values.push(null);
      prev = null;
      continue;
    }
    if (v === null || prev === null) {
      values.push(null);
      prev = v;
      continue;
    }
    let d: number | null = v - prev;
    if (d < 0 && nonNegative) {
      d = maxValue !== null
        ? maxValue + 1 + v - prev - (minValue ?? 0)
        : minValue !== null
        ? v - minValue
        : null;
    }
    values.push(d === null ? null : perSecond ? pyRound(d / s.step, 6) : d);
    prev = v;
  }
  return { ...s, name, pathExpression: name, values };
}

/** The look-back `movingAverage(list, window)` needs before `from`, in seconds (graphite-web's previewSeconds). */
export function movingAveragePreview(fn: string, list: Series[], window: Arg | undefined): number {
  if (typeof window === "string") return Math.abs(parseTimeOffset(fn, window));
  if (typeof window !== "number") throw new FunctionError(fn, "argument 2 (windowSize) must be a number");
  if (!(window >= 1) || !Number.isInteger(window)) {
    throw new FunctionError(fn, "window must be a whole number of points (at least 1)");
  }
  return Math.max(0, ...list.map((s) => s.step)) * window;
}

/**
 * graphite-web's movingAverage over series fetched `preview` seconds before `from`: the value at
 * each point is the average of the non-null points of the window before it (the point itself
 * excluded), and the output starts `preview` seconds after the fetched series.
 */
export function movingAverage(
  _fn: string,
  list: Series[],
  window: Arg | undefined,
  preview: number,
): Series[] {
  const label = typeof window === "string" ? `"${window}"` : String(window);
  return list.map((s) => {
    const points = typeof window === "string" ? Math.floor(preview / s.step) : window as number;
    const values: Array<number | null> = [];
    for (let i = points; i < s.values.length; i++) {
      let sum = 0;
      let count = 0;
      for (let j = i - points; j < i; j++) {
        const v = s.values[j];
        if (v !== null && v !== undefined) {
          sum += v;
          count++;
        }
      }
      values.push(count ? sum / count : null);
    }
    const name = `movingAverage(${s.name},${label})`;
    return { ...s, name, pathExpression: name, start: s.start + preview, values };
  });
}

const SUMMARIZE_FUNCS = ["sum", "avg", "average", "max", "min", "last"];

function summarize(fn: string, list: Series[], text: string, how: string, alignToFrom: boolean): Series[] {
  const interval = parseTimeOffset(fn, text);
  if (interval <= 0) throw new FunctionError(fn, `interval '${text}' must be more than 0`);
  const method = how === "avg" ? "average" : how;
  return list.map((s) => {
    const first = alignToFrom ? s.start : s.start - (s.start % interval);
    // graphite-web: up to the series' end, or (aligned) to the interval after it
    const last = alignToFrom ? s.end : s.end - (s.end % interval) + interval;
    const n = Math.max(1, Math.ceil((last - first) / interval));
    if (n > MAX_BUCKETS) {
      throw new FunctionError(fn, `'${text}' makes ${n} buckets over this range (at most ${MAX_BUCKETS})`);
    }
    if (n * list.length > MAX_RENDER_POINTS) {
      throw new FunctionError(
        fn,
        `'${text}' makes ${n * list.length} points for ${list.length} series (at most ${MAX_RENDER_POINTS})`,
      );
    }
    // one accumulator per bucket, in time order
    const acc = new Float64Array(n);
    const count = new Uint32Array(n);
    s.values.forEach((v, i) => {
      // graphite-web takes the points of range(start, end, step) only: constantLine's third
      // point, at the end itself, is left out
      if (v === null || s.start + i * s.step >= s.end) return;
      const b = Math.floor((s.start + i * s.step - first) / interval);
      if (b < 0 || b >= n) return;
      if (count[b] === 0 || method === "last") acc[b] = v;
      else if (method === "max") acc[b] = Math.max(acc[b], v);
      else if (method === "min") acc[b] = Math.min(acc[b], v);
      else acc[b] += v;
      count[b]++;
    });
    const values = Array.from(acc, (x, b) => count[b] === 0 ? null : method === "average" ? x / count[b] : x);
    const label = `summarize(${s.name}, "${text}", "${how}"${alignToFrom ? ", true" : ""})`;
    return {
      ...s,
      name: label,
      pathExpression: label,
      start: first,
      step: interval,
      end: first + n * interval,
      values,
    };
  });
}

function asPercent(fn: string, inputs: Series[], total: Arg | undefined): Series[] {
  const percent = (x: Series, totals: Array<number | null>, label: string): Series => {
    const name = `asPercent(${x.name},${label})`;
    return {
      ...x,
      name,
      pathExpression: name,
      tags: { name }, // a new series in graphite-web: its input's tags are not kept
      values: x.values.map((v, i) => {
        const t = totals[i];
        return v === null || t === null || t === undefined || t === 0 ? null : (v / t) * 100;
      }),
    };
  };
  // graphite-web normalizes the series first, and an empty list ends the call there with no
  // series, whatever the total (errors.* matching nothing yet is no 400 with requests.* as total)
  if (inputs.length === 0) return [];
  if (Array.isArray(total)) {
    if (total.length !== 1 && total.length !== inputs.length) {
      throw new FunctionError(fn, "the total must be one series, or as many as argument 1");
    }
    if (total.length === 1) {
      const all = normalize([...inputs, total[0]]);
      const t = all[all.length - 1];
      return all.slice(0, -1).map((x) => percent(x, t.values, total[0].name));
    }
    // one total per series, paired by name (graphite-web's matchSeries)
    const byName = (x: Series, y: Series) => x.name < y.name ? -1 : x.name > y.name ? 1 : 0;
    const totals = [...total].sort(byName);
    return [...inputs].sort(byName).map((x, i) => {
      const [n1, n2] = normalize([x, totals[i]]);
      return { ...percent(n1, n2.values, totals[i].name), start: Math.min(n1.start, n2.start) };
    });
  }
  const list = normalize(inputs);
  if (typeof total === "number") {
    // graphite-web writes the total with str(): a value that is not whole is a Python float,
    // written as repr writes it (1e-07, inf); a whole one is written as its digits
    const label = Number.isInteger(total) ? String(total) : pyFloat(total);
    return list.map((x) => percent(x, x.values.map(() => total), label));
  }
  if (total !== undefined) {
    throw new FunctionError(fn, "argument 2 (total) must be a number or a series list");
  }
  const sum = combine("sumSeries", "sum", list)[0]?.values ?? [];
  return list.map((x) => percent(x, sum, `sumSeries(${formatPathExpressions(inputs)})`));
}

function keepLastValue(list: Series[], limit: number): Series[] {
  return list.map((s) => {
    const values = [...s.values];
    let last: number | null = null;
    let gapStart = -1;
    for (let i = 0; i <= values.length; i++) {
      const v = values[i];
      if (i < values.length && v === null) {
        if (gapStart < 0) gapStart = i;
        continue;
      }
      if (gapStart >= 0 && last !== null && i - gapStart <= limit) values.fill(last, gapStart, i);
      gapStart = -1;
      if (i < values.length) last = v;
    }
    const name = `keepLastValue(${s.name})`;
    return { ...s, name, pathExpression: name, values };
  });
}

/** Sorts by one value per series, highest first (stable, a null value counts as -∞). */
export function highest(list: Series[], n: number, how: string, lowest = false): Series[] {
  const f = aggFunc("highest", how);
  const key = list.map((s) => ({ s, v: f(s.values) ?? -Infinity }));
  key.sort((a, b) => lowest ? (a.v < b.v ? -1 : a.v > b.v ? 1 : 0) : (a.v > b.v ? -1 : a.v < b.v ? 1 : 0));
  // a Python slice: a negative n drops that many from the end
  return key.map((k) => k.s).slice(0, n);
}

const combineDef = (how: string, description: string): FunctionDef => ({
  group: "Combine",
  description,
  params: [SERIES_LISTS],
  apply: (fn, p) => combine(fn, how, p.lists("seriesLists")),
});

const windowDef: ParamDef = {
  name: "windowSize",
  type: "intOrInterval",
  required: true,
  suggestions: [5, 7, 10, "1min", "5min", "10min", "30min", "1hour"],
};
const maxMin: ParamDef[] = [{ name: "maxValue", type: "float" }, { name: "minValue", type: "float" }];
const opt = (p: { has(n: string): boolean; num(n: string): number }, name: string) =>
  p.has(name) ? p.num(name) : null;

export const BASIC_FUNCTIONS: Record<string, FunctionDef> = {
  sumSeries: combineDef("sum", "The sum of the series at each point."),
  averageSeries: combineDef("average", "The average of the series at each point."),
  maxSeries: combineDef("max", "The highest value of the series at each point."),
  minSeries: combineDef("min", "The lowest value of the series at each point."),
  scale: {
    group: "Transform",
    description: "Multiplies every value by a constant.",
    params: [SERIES, { name: "factor", type: "float", required: true }],
    apply: (_fn, p) => {
      const f = p.num("factor");
      return p.list("seriesList").map((s) => mapValues(s, `scale(${s.name},${pyG(f)})`, (v) => v * f));
    },
  },
  offset: {
    group: "Transform",
    description: "Adds a constant to every value.",
    params: [SERIES, { name: "factor", type: "float", required: true }],
    apply: (_fn, p) => {
      const f = p.num("factor");
      return p.list("seriesList").map((s) => mapValues(s, `offset(${s.name},${pyG(f)})`, (v) => v + f));
    },
  },
  alias: {
    group: "Alias",
    description: "Names every series of the list newName.",
    params: [SERIES, { name: "newName", type: "string", required: true }],
    apply: (_fn, p) => p.list("seriesList").map((s) => ({ ...s, name: p.str("newName") })),
  },
  aliasByNode: {
    group: "Alias",
    description: "Names each series after nodes of its path (0 is the first, -1 the last).",
    params: [SERIES, { name: "nodes", type: "nodeOrTag", required: true, multiple: true }],
    apply: (_fn, p) =>
      p.list("seriesList").map((s) => {
        const path = firstPath(s.name);
        return { ...s, name: nodesKey(s, path, p.rawAll("nodes") as Array<number | string>) };
      }),
  },
  aliasByTags: {
    group: "Alias",
    description: "Names each series after tags and/or nodes of its path (aliasByNode).",
    params: [SERIES, { name: "tags", type: "nodeOrTag", required: true, multiple: true }],
    apply: (_fn, p) =>
      p.list("seriesList").map((s) => ({
        ...s,
        name: nodesKey(s, firstPath(s.name), p.rawAll("tags") as Array<number | string>),
      })),
  },
  seriesByTag: {
    group: "Special",
    description: "The series whose tags match every expression (tag=v, tag!=v, tag=~regex, tag!=~regex).",
    params: [{ name: "tagExpressions", type: "string", required: true, multiple: true }],
    apply: (fn) => {
      // render.ts fetches seriesByTag itself, as graphite-web's store does
      throw new FunctionError(fn, "is evaluated by /render only");
    },
  },
  summarize: {
    group: "Transform",
    description: "Summarizes the points into buckets of an interval (sum by default).",
    params: [
      SERIES,
      { name: "intervalString", type: "interval", required: true, suggestions: ["10min", "1h", "1d"] },
      { name: "func", type: "aggFunc", default: "sum", options: SUMMARIZE_FUNCS },
      { name: "alignToFrom", type: "boolean", default: false },
    ],
    apply: (fn, p) =>
      summarize(fn, p.list("seriesList"), p.str("intervalString"), p.str("func"), p.bool("alignToFrom")),
  },
  derivative: {
    group: "Transform",
    description: "The difference between each point and the one before.",
    params: [SERIES],
    apply: (_fn, p) =>
      p.list("seriesList").map((s) => derive(s, `derivative(${s.name})`, null, null, false, false)),
  },
  nonNegativeDerivative: {
    group: "Transform",
    description: "derivative of a counter: a decrease is a wrap (with maxValue) or a gap.",
    params: [SERIES, ...maxMin],
    apply: (_fn, p) =>
      p.list("seriesList").map((s) =>
        derive(s, `nonNegativeDerivative(${s.name})`, opt(p, "maxValue"), opt(p, "minValue"), true, false)
      ),
  },
  perSecond: {
    group: "Transform",
    description: "nonNegativeDerivative divided by the step: a rate per second.",
    params: [SERIES, ...maxMin],
    apply: (_fn, p) =>
      p.list("seriesList").map((s) =>
        derive(s, `perSecond(${s.name})`, opt(p, "maxValue"), opt(p, "minValue"), true, true)
      ),
  },
  // the bootstrapped form (earlier data fetched for the first points) is evaluated by render.ts
  movingAverage: {
    group: "Calculate",
    description: "The average of the window of points before each point (a count or an interval).",
    params: [SERIES, windowDef],
    apply: (fn, p) => movingAverage(fn, p.list("seriesList"), p.raw("windowSize"), 0),
  },
  asPercent: {
    group: "Combine",
    description:
      "Each series as a percentage of a total: a number, one series, one per series, or their sum.",
    params: [SERIES, { name: "total", type: "any" }],
    apply: (fn, p) => asPercent(fn, p.list("seriesList"), p.raw("total")),
  },
  highestCurrent: {
    group: "Filter Series",
    description: "The n series whose last value is highest.",
    params: [SERIES, { name: "n", type: "integer", required: true }],
    apply: (_fn, p) => highest(p.list("seriesList"), p.num("n"), "current"),
  },
  keepLastValue: {
    group: "Transform",
    description: "Fills gaps of at most limit points with the value before them.",
    params: [SERIES, { name: "limit", type: "intOrInf", default: Infinity }],
    apply: (_fn, p) => keepLastValue(p.list("seriesList"), p.num("limit")),
  },
};
