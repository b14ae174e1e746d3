/**
 * Retention levels and rollup math (pure): carbon's `step:keep` lists, the aggregation method of a
 * metric by name pattern, and the aggregate of a bucket.
 *
 * ```ts
 * parseRetentions("10s:1d,1m:31d,1h:1y"); // [{step:10, keep:86400}, {step:60, ...}, {step:3600, ...}]
 * aggregate("average", [1, 2, 3]); // 2
 * ```
 */

export interface Level {
  /** Seconds per point. */
  step: number;
  /** Seconds of history kept at this step. */
  keep: number;
}

export type AggregationMethod = "average" | "sum" | "min" | "max" | "last";

/** A configuration error naming the field and what is wrong. */
export class RetentionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "RetentionError";
  }
}

const UNIT: Record<string, number> = {
  s: 1,
  sec: 1,
  m: 60,
  min: 60,
  h: 3600,
  d: 86400,
  w: 7 * 86400,
  y: 365 * 86400,
};

function seconds(text: string, where: string): number {
  const m = /^(\d+)(s|sec|m|min|h|d|w|y)?$/.exec(text.trim());
  if (!m) throw new RetentionError(`${where}: '${text}' is not a duration like 10s, 1m, 31d, 1y`);
  const n = Number(m[1]) * UNIT[m[2] ?? "s"];
  if (n <= 0) throw new RetentionError(`${where}: '${text}' must be more than 0`);
  return n;
}

/**
 * Parses `10s:1d,1m:31d,1h:1y` (finest first). Each step must be a multiple of the previous one
 * and keep more history, as carbon requires, so coarser levels roll up from finer ones.
 */
export function parseRetentions(text: string, field = "metrics.retentions"): Level[] {
  const parts = text.split(",").map((s) => s.trim()).filter(Boolean);
  if (parts.length === 0) throw new RetentionError(`${field}: no level given`);
  const levels = parts.map((p, i) => {
    const [step, keep, extra] = p.split(":");
    const where = `${field} level ${i + 1} ('${p}')`;
    if (keep === undefined || extra !== undefined) throw new RetentionError(`${where}: expected step:keep`);
    const l = { step: seconds(step, where), keep: seconds(keep, where) };
    if (l.keep < l.step) throw new RetentionError(`${where}: keeps less than one step`);
    return l;
  });
  for (let i = 1; i < levels.length; i++) {
    const [a, b] = [levels[i - 1], levels[i]];
    const where = `${field} level ${i + 1} ('${parts[i]}')`;
    if (b.step <= a.step || b.step % a.step !== 0) {
      throw new RetentionError(`${where}: step must be a multiple of the previous level's ${a.step}s`);
    }
    if (b.keep <= a.keep) throw new RetentionError(`${where}: must keep more than the previous level`);
  }
  return levels;
}

/** A rule of `metrics.aggregation`. */
export interface AggregationRule {
  pattern: RegExp;
  method: AggregationMethod;
}

/** Used after the configured rules: carbon's usual storage-aggregation defaults. */
export const DEFAULT_AGGREGATION: AggregationRule[] = [
  { pattern: /\.(count|sum)(_[0-9_]+)?$/, method: "sum" },
  { pattern: /\.(min|lower)$/, method: "min" },
  { pattern: /\.(max|upper)(_[0-9_]+)?$/, method: "max" },
];

/** Compiles configured `{pattern, method}` rules (regular expressions), naming a bad one. */
export function compileRules(
  rules: Array<{ pattern: string; method: AggregationMethod }>,
  field = "metrics.aggregation",
): AggregationRule[] {
  return rules.map((r, i) => {
    try {
      return { pattern: new RegExp(r.pattern), method: r.method };
    } catch (err) {
      throw new RetentionError(`${field}[${i}].pattern: ${(err as Error).message}`);
    }
  });
}

/** The method for a metric name: first matching configured rule, then the defaults, else average. */
export function methodFor(name: string, rules: AggregationRule[]): AggregationMethod {
  for (const r of rules) if (r.pattern.test(name)) return r.method;
  for (const r of DEFAULT_AGGREGATION) if (r.pattern.test(name)) return r.method;
  return "average";
}

/** The aggregate of one bucket's values, in time order (`last` takes the latest). */
export function aggregate(method: AggregationMethod, values: number[]): number {
  switch (method) {
    case "sum":
      return values.reduce((a, b) => a + b, 0);
    case "min":
      return Math.min(...values);
    case "max":
      return Math.max(...values);
    case "last":
      return values[values.length - 1];
    default:
      return values.reduce((a, b) => a + b, 0) / values.length;
  }
}

/** Start of the bucket holding `ts` at `step`. */
export function bucketOf(ts: number, step: number): number {
  return ts - (((ts % step) + step) % step);
}

/** The finest level whose history reaches back to `fromSeconds` (else the coarsest). */
export function levelFor(levels: Level[], nowSeconds: number, fromSeconds: number): number {
  for (let i = 0; i < levels.length; i++) if (nowSeconds - levels[i].keep <= fromSeconds) return i;
  return levels.length - 1;
}

/**
 * Groups time-ordered `[ts, value]` rows into buckets of `step` and aggregates each:
 * returns `[bucketStart, value]` pairs.
 */
export function rollupRows(
  rows: Array<[number, number]>,
  step: number,
  method: AggregationMethod,
): Array<[number, number]> {
  // one pass, no array per bucket: the rollup pass runs this for every series each minute.
  // Same arithmetic as `aggregate` (a sum from 0 in time order, Math.min/Math.max, the latest)
  const out: Array<[number, number]> = [];
  let cur = NaN, n = 0, acc = 0;
  const close = () => {
    if (n) out.push([cur, method === "average" ? acc / n : acc]);
  };
  for (let i = 0; i < rows.length; i++) {
    const b = bucketOf(rows[i][0], step), v = rows[i][1];
    if (b !== cur) {
      close();
      cur = b;
      n = 0;
      acc = method === "min" ? Infinity : method === "max" ? -Infinity : 0;
    }
    n++;
    if (method === "min") acc = Math.min(acc, v);
    else if (method === "max") acc = Math.max(acc, v);
    else if (method === "last") acc = v;
    else acc = acc + v;
  }
  close();
  return out;
}
