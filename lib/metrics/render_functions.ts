/**
 * Graphite render functions (pure): each takes evaluated arguments (series lists, numbers,
 * strings) and returns a series list. Nulls are gaps: combining functions ignore them and give
 * null only when every input is null at that point.
 */

/** A series as `/render` returns it: `values[i]` is the point at `start + i * step`. */
export interface Series {
  name: string;
  start: number;
  end: number;
  step: number;
  values: Array<number | null>;
  /** The path expression the series came from (aliasByNode, sumSeries naming). */
  pathExpression: string;
}

export type Arg = Series[] | number | string | boolean;

/** A wrong argument: `/render` answers 400 naming the function. */
export class FunctionError extends Error {
  constructor(readonly fn: string, message: string) {
    super(`${fn}: ${message}`);
    this.name = "FunctionError";
  }
}

type Fn = (fn: string, args: Arg[], kwargs: Record<string, Arg>, label: string) => Series[];

function seriesArg(fn: string, a: Arg | undefined, i: number): Series[] {
  if (!Array.isArray(a)) throw new FunctionError(fn, `argument ${i + 1} must be a series list`);
  return a;
}
function numArg(fn: string, a: Arg | undefined, i: number, def?: number): number {
  if (a === undefined && def !== undefined) return def;
  if (typeof a !== "number") throw new FunctionError(fn, `argument ${i + 1} must be a number`);
  return a;
}
function strArg(fn: string, a: Arg | undefined, i: number, def?: string): string {
  if (a === undefined && def !== undefined) return def;
  if (typeof a !== "string") throw new FunctionError(fn, `argument ${i + 1} must be a string`);
  return a;
}

/** Series of different steps brought to their least common multiple step (averaging). */
export function normalize(list: Series[]): Series[] {
  if (list.length < 2) return list;
  const gcd = (a: number, b: number): number => b ? gcd(b, a % b) : a;
  const step = list.reduce((acc, s) => acc / gcd(acc, s.step) * s.step, list[0].step);
  return list.map((s) => s.step === step ? s : consolidate(s, step / s.step, "average"));
}

/** Groups every `n` points into one (Graphite's consolidateBy), step × n. */
export function consolidate(s: Series, n: number, how: "average" | "sum" | "min" | "max" | "last"): Series {
  if (n <= 1) return s;
  const values: Array<number | null> = [];
  for (let i = 0; i < s.values.length; i += n) {
    const chunk = s.values.slice(i, i + n).filter((v): v is number => v !== null);
    values.push(chunk.length ? reduceValues(how, chunk) : null);
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

/** Point-wise combination of a series list (sumSeries and friends). */

function combine(fn: string, how: string, args: Arg[]): Series[] {
  const inputs = args.flatMap((a, i) => seriesArg(fn, a, i));
  const label = formatPathExpressions(inputs);
  const list = normalize(inputs);
  if (list.length === 0) return [];
  const len = Math.max(...list.map((s) => s.values.length));
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
  const start = Math.min(...list.map((s) => s.start));
  const step = list[0].step;
  return [{
    name: `${fn}(${label})`,
    start,
    step,
    end: start + len * step,
    values,
    pathExpression: `${fn}(${label})`,
  }];
}

// A transformed series is its own path expression from then on, as in graphite-web (what an
// aggregate of it is named after); alias, aliasByNode and highestCurrent keep their input's.
function mapValues(s: Series, name: string, f: (v: number, i: number) => number | null): Series {
  return { ...s, name, pathExpression: name, values: s.values.map((v, i) => v === null ? null : f(v, i)) };
}

/** The first path of a (possibly wrapped) series name: `scale(a.b.c,2)` → `a.b.c`. */
function firstPath(name: string): string {
  const inner = name.slice(name.lastIndexOf("(") + 1);
  return inner.split(/[,)]/)[0].trim();
}

/** `"1h"`, `"5min"`, `"30s"`, `"1d"` → seconds. */
export function intervalSeconds(fn: string, text: string): number {
  const m = /^(\d+)\s*(s|sec|secs|seconds?|min|mins|minutes?|h|hours?|d|days?|w|weeks?|mon|months?|y|years?)$/
    .exec(text.trim());
  if (!m) throw new FunctionError(fn, `'${text}' is not an interval like 30s, 5min, 1h, 1d`);
  const unit = m[2];
  const mult = unit.startsWith("mon")
    ? 30 * 86400
    : unit.startsWith("mi")
    ? 60
    : unit.startsWith("s")
    ? 1
    : unit.startsWith("h")
    ? 3600
    : unit.startsWith("d")
    ? 86400
    : unit.startsWith("w")
    ? 7 * 86400
    : 365 * 86400;
  const n = Number(m[1]) * mult;
  if (n <= 0) throw new FunctionError(fn, `interval '${text}' must be more than 0`);
  return n;
}

function derive(
  s: Series,
  name: string,
  maxValue: number | null,
  nonNegative: boolean,
  perSecond: boolean,
): Series {
  const values: Array<number | null> = [];
  let prev: number | null = null;
  for (const v of s.values) {
    if (v === null || prev === null) {
      values.push(null);
      prev = v;
      continue;
    }
    let d = v - prev;
    if (d < 0 && nonNegative) d = maxValue !== null ? maxValue - prev + v + 1 : NaN;
    values.push(Number.isNaN(d) ? null : perSecond ? d / s.step : d);
    prev = v;
  }
  return { ...s, name, pathExpression: name, values };
}

/** The look-back `movingAverage(list, window)` needs before `from`, in seconds (graphite-web's previewSeconds). */
export function movingAveragePreview(fn: string, list: Series[], window: Arg | undefined): number {
  if (typeof window === "string") return intervalSeconds(fn, window);
  const n = numArg(fn, window, 1);
  if (!(n >= 1) || !Number.isInteger(n)) {
    throw new FunctionError(fn, "window must be a whole number of points (at least 1)");
  }
  return Math.max(0, ...list.map((s) => s.step)) * n;
}

/**
 * graphite-web's movingAverage over series fetched `preview` seconds before `from`: the value at
 * each point is the average of the non-null points of the window before it (the point itself
 * excluded), and the output starts `preview` seconds after the fetched series.
 */
export function movingAverage(
  fn: string,
  list: Series[],
  window: Arg | undefined,
  preview: number,
): Series[] {
  const label = typeof window === "string" ? `"${window}"` : String(window);
  return list.map((s) => {
    const points = typeof window === "string" ? Math.floor(preview / s.step) : numArg(fn, window, 1);
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

/** Most buckets summarize makes of one series (a year in 30 s buckets): a render stays bounded. */
const MAX_BUCKETS = 1_100_000;

/**
 * Most points one render reads, and most it answers (~160 MB of values at worst): a day of 10 s
 * points for 2 300 series. Past it the request is refused (400) rather than the agent's memory spent.
 */
export const MAX_RENDER_POINTS = 20_000_000;

const FUNCTIONS: Record<string, Fn> = {
  sumSeries: (fn, a) => combine(fn, "sum", a),
  averageSeries: (fn, a) => combine(fn, "average", a),
  maxSeries: (fn, a) => combine(fn, "max", a),
  minSeries: (fn, a) => combine(fn, "min", a),
  scale: (fn, a) => {
    const f = numArg(fn, a[1], 1);
    return seriesArg(fn, a[0], 0).map((s) => mapValues(s, `scale(${s.name},${f})`, (v) => v * f));
  },
  offset: (fn, a) => {
    const f = numArg(fn, a[1], 1);
    return seriesArg(fn, a[0], 0).map((s) => mapValues(s, `offset(${s.name},${f})`, (v) => v + f));
  },
  alias: (fn, a) => {
    const name = strArg(fn, a[1], 1);
    return seriesArg(fn, a[0], 0).map((s) => ({ ...s, name }));
  },
  aliasByNode: (fn, a) => {
    const nodes = a.slice(1).map((n, i) => numArg(fn, n, i + 1));
    if (nodes.length === 0) throw new FunctionError(fn, "needs at least one node index");
    return seriesArg(fn, a[0], 0).map((s) => {
      const parts = firstPath(s.name).split(".");
      const name = nodes.map((n) => parts[n < 0 ? parts.length + n : n] ?? "").join(".");
      return { ...s, name };
    });
  },
  summarize: (fn, a, k) => {
    const interval = intervalSeconds(fn, strArg(fn, a[1], 1));
    const how = strArg(fn, a[2] ?? k.func, 2, "sum");
    const method = how === "avg" ? "average" : how;
    if (!["sum", "average", "max", "min", "last"].includes(method)) {
      throw new FunctionError(fn, `unknown summary function '${how}' (sum, avg, max, min, last)`);
    }
    const alignToFrom = (a[3] ?? k.alignToFrom) === true;
    const list = seriesArg(fn, a[0], 0);
    return list.map((s) => {
      const first = alignToFrom ? s.start : s.start - (s.start % interval);
      // graphite-web: up to the series' end, or (aligned) to the interval after it
      const last = alignToFrom ? s.end : s.end - (s.end % interval) + interval;
      const n = Math.max(1, Math.ceil((last - first) / interval));
      if (n > MAX_BUCKETS) {
        throw new FunctionError(fn, `'${a[1]}' makes ${n} buckets over this range (at most ${MAX_BUCKETS})`);
      }
      if (n * list.length > MAX_RENDER_POINTS) {
        throw new FunctionError(
          fn,
          `'${a[1]}' makes ${
            n * list.length
          } points for ${list.length} series (at most ${MAX_RENDER_POINTS})`,
        );
      }
      // one accumulator per bucket, in time order (the same arithmetic as reduceValues)
      const acc = new Float64Array(n);
      const count = new Uint32Array(n);
      s.values.forEach((v, i) => {
        if (v === null) return;
        const b = Math.floor((s.start + i * s.step - first) / interval);
        if (b < 0 || b >= n) return;
        if (count[b] === 0 || method === "last") acc[b] = v;
        else if (method === "max") acc[b] = Math.max(acc[b], v);
        else if (method === "min") acc[b] = Math.min(acc[b], v);
        else acc[b] += v;
        count[b]++;
      });
      const values = Array.from(
        acc,
        (x, b) => count[b] === 0 ? null : method === "average" ? x / count[b] : x,
      );
      const label = `summarize(${s.name}, "${strArg(fn, a[1], 1)}", "${how}"${alignToFrom ? ", true" : ""})`;
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
  },
  derivative: (fn, a) =>
    seriesArg(fn, a[0], 0).map((s) => derive(s, `derivative(${s.name})`, null, false, false)),
  nonNegativeDerivative: (fn, a, k) => {
    const max = a[1] ?? k.maxValue;
    const m = max === undefined ? null : numArg(fn, max, 1);
    return seriesArg(fn, a[0], 0).map((s) => derive(s, `nonNegativeDerivative(${s.name})`, m, true, false));
  },
  perSecond: (fn, a, k) => {
    const max = a[1] ?? k.maxValue;
    const m = max === undefined ? null : numArg(fn, max, 1);
    return seriesArg(fn, a[0], 0).map((s) => derive(s, `perSecond(${s.name})`, m, true, true));
  },
  // the bootstrapped form (earlier data fetched for the first points) is evaluated by render.ts
  movingAverage: (fn, a) => movingAverage(fn, seriesArg(fn, a[0], 0), a[1], 0),
  asPercent: (fn, a) => {
    const total = a[1];
    const percent = (x: Series, totals: Array<number | null>, label: string): Series => {
      const name = `asPercent(${x.name},${label})`;
      return {
        ...x,
        name,
        pathExpression: name,
        values: x.values.map((v, i) => {
          const t = totals[i];
          return v === null || t === null || t === undefined || t === 0 ? null : (v / t) * 100;
        }),
      };
    };
    const inputs = seriesArg(fn, a[0], 0);
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
      return list.map((x) => percent(x, x.values.map(() => total), String(total)));
    }
    if (total !== undefined) throw new FunctionError(fn, "argument 2 must be a number or a series");
    const sum = combine("sumSeries", "sum", [list])[0]?.values ?? [];
    return list.map((x) => percent(x, sum, `sumSeries(${formatPathExpressions(inputs)})`));
  },
  highestCurrent: (fn, a) => {
    const n = numArg(fn, a[1], 1, 1);
    const last = (s: Series) => s.values.findLast((v) => v !== null) ?? -Infinity;
    return [...seriesArg(fn, a[0], 0)].sort((x, y) => last(y) - last(x)).slice(0, Math.max(0, n));
  },
  keepLastValue: (fn, a) => {
    const limit = numArg(fn, a[1], 1, Infinity);
    return seriesArg(fn, a[0], 0).map((s) => {
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
  },
};

/** Names of the supported functions, sorted. */
export const FUNCTION_NAMES = Object.keys(FUNCTIONS).sort();

/** Applies function `name`; unknown names and bad arguments throw FunctionError. */
export function applyFunction(
  name: string,
  args: Arg[],
  kwargs: Record<string, Arg>,
  label: string,
): Series[] {
  const f = Object.hasOwn(FUNCTIONS, name) ? FUNCTIONS[name] : undefined;
  if (!f) throw new FunctionError(name, `unknown function (supported: ${FUNCTION_NAMES.join(", ")})`);
  return f(name, args, kwargs, label);
}
