/**
 * Timer values of one flush interval in bounded memory, and the etsy statistics computed from
 * them (pure math beside the small stateful reservoir).
 *
 * count, sum, sum of squares, lower and upper are exact whatever the volume; up to `cap` values
 * are kept exactly, beyond that a uniform reservoir of `cap` values (Algorithm R) stands in for
 * the percentiles and the median (rank error ≈ 1/√cap: 1 % at the default 10 000).
 */

/** A deterministic xorshift for the reservoir, so tests are repeatable. */
function xorshift(seed: number): () => number {
  let x = seed | 0 || 0x9e3779b9;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 4294967296;
  };
}

/** A timer's values and exact sums as plain data (`TimerValues.state()`). */
export interface TimerState {
  seen: number;
  sum: number;
  sumSquares: number;
  lower: number;
  upper: number;
  weightedCount: number;
  /** At most `cap` of the `seen` values (all of them while they fit). */
  values: number[];
}

export class TimerValues {
  /** Values seen (exact); the reservoir holds min(seen, cap) of them. */
  seen = 0;
  sum = 0;
  sumSquares = 0;
  lower = Infinity;
  upper = -Infinity;
  /** Σ 1/rate: the count etsy reports (sampled timers count for more). */
  weightedCount = 0;
  readonly values: number[] = [];
  #rand: () => number;

  constructor(readonly cap: number, seed = 1) {
    this.#rand = xorshift(seed);
  }

  add(v: number, rate: number): void {
    this.seen++;
    this.sum += v;
    this.sumSquares += v * v;
    if (v < this.lower) this.lower = v;
    if (v > this.upper) this.upper = v;
    this.weightedCount += 1 / rate;
    if (this.values.length < this.cap) this.values.push(v);
    else {
      const j = Math.floor(this.#rand() * this.seen);
      if (j < this.cap) this.values[j] = v;
    }
  }

  /** What this timer holds, as plain data (values copied): what a restart carries over. */
  state(): TimerState {
    const { seen, sum, sumSquares, lower, upper, weightedCount } = this;
    return { seen, sum, sumSquares, lower, upper, weightedCount, values: this.values.slice() };
  }

  /**
   * Adds the values another timer of the same interval saw (`state()` of it): the exact sums add
   * up; the values are put together while they fit in `cap`, else a reservoir of `cap` is drawn from
   * both, each side in proportion to how many values it stands for.
   */
  merge(s: TimerState): void {
    const mine = this.values.length, theirs = s.values.length;
    if (mine + theirs <= this.cap) {
      for (let i = 0; i < theirs; i++) this.values.push(s.values[i]);
    } else {
      const a = this.values.slice(), b = s.values.slice();
      this.values.length = 0;
      const wa = this.seen, wb = s.seen;
      while (this.values.length < this.cap && (a.length || b.length)) {
        const src = !b.length || (a.length && this.#rand() * (wa + wb) < wa) ? a : b;
        // without replacement: the drawn value leaves its side
        const j = Math.floor(this.#rand() * src.length);
        this.values.push(src[j]);
        src[j] = src[src.length - 1];
        src.pop();
      }
    }
    this.seen += s.seen;
    this.sum += s.sum;
    this.sumSquares += s.sumSquares;
    if (s.lower < this.lower) this.lower = s.lower;
    if (s.upper > this.upper) this.upper = s.upper;
    this.weightedCount += s.weightedCount;
  }

  /** Whether every value is held (statistics are exact). */
  get exact(): boolean {
    return this.seen === this.values.length;
  }
}

/** `percent` → the suffix etsy uses: 90 → "90", 99.9 → "99_9". */
export function percentileSuffix(percent: number): string {
  return String(percent).replace(".", "_");
}

/**
 * The etsy statistics of one timer for one flush interval, keyed by the suffix under
 * `stats.timers.<name>.`: mean, median, upper, lower, sum, std, count, count_ps, and for each
 * percentile p: upper_p, mean_p, sum_p (over the lowest p % of the values).
 */
export function timerStatistics(
  t: TimerValues,
  percentiles: number[],
  intervalSeconds: number,
): Array<[suffix: string, value: number]> {
  const n = t.seen;
  if (n === 0) return [];
  const sorted = Float64Array.from(t.values).sort();
  const k = sorted.length;
  const mean = t.sum / n;
  const variance = Math.max(0, t.sumSquares / n - mean * mean);
  const mid = Math.floor(k / 2);
  const median = k % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  const out: Array<[string, number]> = [
    ["count", t.weightedCount],
    ["count_ps", t.weightedCount / intervalSeconds],
    ["lower", t.lower],
    ["upper", t.upper],
    ["sum", t.sum],
    ["mean", mean],
    ["median", median],
    ["std", Math.sqrt(variance)],
  ];
  // a sampled reservoir stands for all n values: its sums scale by n / k
  const scale = n / k;
  for (const p of percentiles) {
    const sfx = percentileSuffix(p);
    if (k === 1) {
      // etsy with one value: every percentile statistic is that value
      out.push([`upper_${sfx}`, sorted[0]], [`sum_${sfx}`, sorted[0] * scale], [`mean_${sfx}`, sorted[0]]);
      continue;
    }
    const inThreshold = Math.round((p / 100) * k);
    if (inThreshold < 1) continue;
    let sum = 0;
    for (let i = 0; i < inThreshold; i++) sum += sorted[i];
    out.push([`upper_${sfx}`, sorted[inThreshold - 1]]);
    out.push([`sum_${sfx}`, sum * scale]);
    out.push([`mean_${sfx}`, sum / inThreshold]);
  }
  return out;
}
