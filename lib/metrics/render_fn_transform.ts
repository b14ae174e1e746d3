/**
 * Point-wise and time-wise transforms (pure), as graphite-web computes and names them: absolute,
 * integral, transformNull, isNonNull, changed, invert, pow, squareRoot, log, delay,
 * removeAboveValue, removeBelowValue, nPercentile, consolidateBy, cumulative, hitcount, timeShift.
 */
import {
  type ConsolidationFunc,
  type FunctionDef,
  FunctionError,
  MAX_BUCKETS,
  MAX_RENDER_POINTS,
  parseTimeOffset,
  type Series,
} from "./render_core.ts";
import { mapValues, SERIES } from "./render_fn_basic.ts";
import { percentArg, percentile } from "./render_fn_combine.ts";
import { pyG } from "../py_number.ts";

/** graphite-web's safePow: null where Python's math.pow fails (a domain error or an overflow). */
function safePow(v: number, e: number): number | null {
  const r = Math.pow(v, e);
  return Number.isFinite(r) ? r : null;
}

function transformNull(list: Series[], dflt: number, reference: Series[] | null): Series[] {
  let defaults: Array<number | null> | null = null;
  if (reference && reference.length) {
    const len = reference.reduce((m, r) => Math.max(m, r.values.length), -Infinity);
    defaults = Array.from(
      { length: len },
      (_, i) => reference.some((r) => (r.values[i] ?? null) !== null) ? dflt : null,
    );
  }
  return list.map((s) => {
    const name = defaults
      ? `transformNull(${s.name},${pyG(dflt)},referenceSeries)`
      : `transformNull(${s.name},${pyG(dflt)})`;
    const d = defaults;
    // graphite-web pairs the points by index (izip_longest), then keeps as many as the series
    // had, the last ones (extend, then del series[:len(values)]): a finer referenceSeries never
    // lengthens the series past its range
    const len = Math.max(s.values.length, d?.length ?? 0);
    const values = d
      ? Array.from({ length: len }, (_, i) => s.values[i] ?? d[i] ?? null).slice(len - s.values.length)
      : s.values.map((v) => v ?? dflt);
    return { ...s, name, pathExpression: name, values };
  });
}

function changed(s: Series): Series {
  const name = `changed(${s.name})`;
  let previous: number | null = null;
  const values = s.values.map((v) => {
    if (previous === null) {
      previous = v;
      return 0;
    }
    if (v !== null && previous !== v) {
      previous = v;
      return 1;
    }
    return 0;
  });
  return { ...s, name, pathExpression: name, values };
}

function delay(s: Series, steps: number): Series {
  const n = s.values.length;
  // Python slices: with 0 steps graphite-web's series[:-0] keeps nothing at all
  const values = steps < 0 ? [...s.values.slice(-steps), ...new Array(Math.min(-steps, n)).fill(null)] : [
    ...new Array(Math.min(steps, n)).fill(null),
    ...(steps === 0 ? [] : s.values.slice(0, Math.max(0, n - steps))),
  ];
  const name = `delay(${s.name},${steps})`;
  return { ...s, name, pathExpression: name, values };
}

function nPercentile(fn: string, list: Series[], n: number): Series[] {
  percentArg(fn, n);
  return list.flatMap((s) => {
    const p = percentile(s.values, n, false);
    if (p === null) return [];
    const name = `nPercentile(${s.name}, ${pyG(n)})`;
    const count = Math.max(0, Math.trunc((s.end - s.start) / s.step));
    return [{ ...s, name, pathExpression: name, values: new Array(count).fill(p) }];
  });
}

const CONSOLIDATIONS: Record<string, ConsolidationFunc> = {
  sum: "sum",
  average: "average",
  avg: "average",
  avg_zero: "avg_zero",
  min: "min",
  max: "max",
  first: "first",
  last: "last",
};

function consolidateBy(list: Series[], how: string): Series[] {
  return list.map((s) => {
    const name = `consolidateBy(${s.name},"${how}")`;
    return { ...s, name, pathExpression: name, consolidationFunc: CONSOLIDATIONS[how] };
  });
}

/** A positive interval in seconds, or a FunctionError naming it. */
export function positiveInterval(fn: string, text: string): number {
  const n = parseTimeOffset(fn, text);
  if (n <= 0) throw new FunctionError(fn, `interval '${text}' must be more than 0`);
  return n;
}

/**
 * The start hitcount(…, alignToInterval=true) fetches from: `from` truncated to the day, hour or
 * minute when the interval is at least that long (UTC).
 */
export function hitcountAlignedFrom(from: number, interval: number): number {
  const unit = interval >= 86400 ? 86400 : interval >= 3600 ? 3600 : interval >= 60 ? 60 : 1;
  return from - (((from % unit) + unit) % unit);
}

/**
 * graphite-web's hitcount: each point's value is a rate over its step, spread over the buckets of
 * `interval` seconds it overlaps (value × seconds of overlap), buckets ending at the series' end.
 */
export function hitcount(fn: string, list: Series[], text: string, aligned: boolean): Series[] {
  const interval = positiveInterval(fn, text);
  let total = 0;
  return list.map((input) => {
    const s = aligned
      ? {
        ...input,
        end: input.start + Math.floor((input.end - input.start) / interval) * interval + interval,
      }
      : input;
    const count = Math.max(0, Math.ceil((s.end - s.start) / interval));
    total += count;
    if (count > MAX_BUCKETS || total > MAX_RENDER_POINTS) {
      throw new FunctionError(
        fn,
        `'${text}' makes ${count} buckets over this range (at most ${MAX_BUCKETS})`,
      );
    }
    const acc = new Float64Array(count);
    const has = new Uint8Array(count);
    const add = (b: number, v: number) => {
      acc[b] += v;
      has[b] = 1;
    };
    const newStart = s.end - count * interval;
    s.values.forEach((v, i) => {
      if (v === null) return;
      const startTime = s.start + i * s.step;
      const startBucket = Math.floor((startTime - newStart) / interval);
      const startMod = startTime - newStart - startBucket * interval;
      let endBucket = Math.floor((startTime + s.step - newStart) / interval);
      let endMod = startTime + s.step - newStart - endBucket * interval;
      if (endBucket >= count) {
        endBucket = count - 1;
        endMod = interval;
      }
      if (startBucket === endBucket) {
        if (startBucket >= 0) add(startBucket, v * (endMod - startMod));
        return;
      }
      if (startBucket >= 0) add(startBucket, v * (interval - startMod));
      for (let j = startBucket + 1; j < endBucket; j++) add(j, v * interval);
      if (endMod > 0) add(endBucket, v * endMod);
    });
    const name = `hitcount(${s.name}, "${text}"${aligned ? ", true" : ""})`;
    const values = Array.from(acc, (x, b) => has[b] ? x : null);
    return { ...s, name, pathExpression: name, start: newStart, step: interval, values };
  });
}

/** The shift timeShift applies, in seconds (a bare "1d" means one day back), and its label. */
export function timeShiftOffset(fn: string, text: string): { seconds: number; label: string } {
  const label = /^\d/.test(text) ? `-${text}` : text;
  return { seconds: parseTimeOffset(fn, label), label };
}

/**
 * graphite-web's timeShift: the series fetched over the shifted range, relabelled to start where
 * the unshifted first series starts (and end where it ends, unless resetEnd is false).
 */
export function timeShift(plain: Series[], shifted: Series[], label: string, resetEnd: boolean): Series[] {
  if (plain.length === 0) return [];
  const first = plain[0];
  return shifted.map((s) => {
    const name = `timeShift(${s.name}, "${label}")`;
    const end = resetEnd ? first.end : s.end - s.start + first.start;
    return { ...s, name, start: first.start, end }; // graphite-web keeps the path expression
  });
}

const evaluatedByRender = (fn: string): never => {
  throw new FunctionError(fn, "is evaluated by the render request (internal error)");
};

const each = (name: string, f: (v: number) => number | null): FunctionDef["apply"] => (_fn, p) =>
  p.list("seriesList").map((s) => mapValues(s, `${name}(${s.name})`, f));

export const TRANSFORM_FUNCTIONS: Record<string, FunctionDef> = {
  absolute: {
    group: "Transform",
    description: "The absolute value of every point.",
    params: [SERIES],
    apply: each("absolute", Math.abs),
  },
  integral: {
    group: "Transform",
    description: "The running total of the points (nulls stay null and add nothing).",
    params: [SERIES],
    apply: (_fn, p) =>
      p.list("seriesList").map((s) => {
        let current = 0;
        return mapValues(s, `integral(${s.name})`, (v) => current += v);
      }),
  },
  transformNull: {
    group: "Transform",
    description: "Replaces nulls with default (only where referenceSeries has a value, if given).",
    params: [SERIES, { name: "default", type: "float", default: 0 }, {
      name: "referenceSeries",
      type: "seriesList",
    }],
    apply: (_fn, p) =>
      transformNull(
        p.list("seriesList"),
        p.num("default"),
        p.has("referenceSeries") ? p.list("referenceSeries") : null,
      ),
  },
  isNonNull: {
    group: "Transform",
    description: "1 where the series has a value, 0 where it is null.",
    params: [SERIES],
    apply: (_fn, p) =>
      p.list("seriesList").map((s) => {
        const name = `isNonNull(${s.name})`;
        return { ...s, name, pathExpression: name, values: s.values.map((v) => v === null ? 0 : 1) };
      }),
  },
  changed: {
    group: "Special",
    description: "1 where the value differs from the last non-null one, else 0.",
    params: [SERIES],
    apply: (_fn, p) => p.list("seriesList").map(changed),
  },
  invert: {
    group: "Transform",
    description: "1/x of every point (null for 0).",
    params: [SERIES],
    apply: each("invert", (v) => safePow(v, -1)),
  },
  pow: {
    group: "Transform",
    description: "Every point raised to the power factor (null where undefined).",
    params: [SERIES, { name: "factor", type: "float", required: true }],
    apply: (_fn, p) =>
      p.list("seriesList").map((s) =>
        mapValues(s, `pow(${s.name},${pyG(p.num("factor"))})`, (v) => safePow(v, p.num("factor")))
      ),
  },
  squareRoot: {
    group: "Transform",
    description: "The square root of every point (null for a negative one).",
    params: [SERIES],
    apply: each("squareRoot", (v) => safePow(v, 0.5)),
  },
  log: {
    group: "Transform",
    description: "The logarithm of every point in base (10 by default); null for 0 or less.",
    params: [SERIES, { name: "base", type: "integer", default: 10 }],
    apply: (fn, p) => {
      const base = p.num("base");
      if (base <= 0 || base === 1) {
        throw new FunctionError(fn, `base must be more than 0 and not 1, not ${base}`);
      }
      return p.list("seriesList").map((s) =>
        mapValues(s, `log(${s.name}, ${base})`, (v) => v <= 0 ? null : Math.log(v) / Math.log(base))
      );
    },
  },
  delay: {
    group: "Transform",
    description: "Shifts the points later by steps (earlier when negative), padding with nulls.",
    params: [SERIES, { name: "steps", type: "integer", required: true }],
    apply: (_fn, p) => p.list("seriesList").map((s) => delay(s, p.num("steps"))),
  },
  removeAboveValue: {
    group: "Filter Data",
    description: "Nulls every point above n.",
    params: [SERIES, { name: "n", type: "float", required: true }],
    apply: (_fn, p) => {
      const n = p.num("n");
      return p.list("seriesList").map((s) =>
        mapValues(s, `removeAboveValue(${s.name}, ${pyG(n)})`, (v) => v > n ? null : v)
      );
    },
  },
  removeBelowValue: {
    group: "Filter Data",
    description: "Nulls every point below n.",
    params: [SERIES, { name: "n", type: "float", required: true }],
    apply: (_fn, p) => {
      const n = p.num("n");
      return p.list("seriesList").map((s) =>
        mapValues(s, `removeBelowValue(${s.name}, ${pyG(n)})`, (v) => v < n ? null : v)
      );
    },
  },
  nPercentile: {
    group: "Calculate",
    description: "A flat line at the n-th percentile of each series' points.",
    params: [SERIES, { name: "n", type: "float", required: true }],
    apply: (fn, p) => nPercentile(fn, p.list("seriesList"), p.num("n")),
  },
  consolidateBy: {
    group: "Special",
    description: "How points are merged when the series is consolidated (maxDataPoints, a coarser step).",
    params: [SERIES, {
      name: "consolidationFunc",
      type: "string",
      required: true,
      options: Object.keys(CONSOLIDATIONS).sort(),
    }],
    apply: (_fn, p) => consolidateBy(p.list("seriesList"), p.str("consolidationFunc")),
  },
  cumulative: {
    group: "Special",
    description: "consolidateBy(seriesList, 'sum').",
    params: [SERIES],
    apply: (_fn, p) => consolidateBy(p.list("seriesList"), "sum"),
  },
  // both fetch their argument again over another range: evaluated by render.ts
  hitcount: {
    group: "Transform",
    description: "The points as hits per interval bucket (value × seconds of the step in the bucket).",
    params: [
      SERIES,
      { name: "intervalString", type: "interval", required: true, suggestions: ["10min", "1h", "1d"] },
      { name: "alignToInterval", type: "boolean", default: false },
    ],
    apply: (fn, p) => hitcount(fn, p.list("seriesList"), p.str("intervalString"), false),
  },
  timeShift: {
    group: "Transform",
    description: 'The series over a range shifted back by timeShift ("1d", "-1w", "+1h"), drawn now.',
    params: [
      SERIES,
      {
        name: "timeShift",
        type: "interval",
        required: true,
        suggestions: ["1h", "6h", "12h", "1d", "2d", "7d", "14d", "30d"],
      },
      { name: "resetEnd", type: "boolean", default: true },
    ],
    apply: (fn) => evaluatedByRender(fn),
  },
};
