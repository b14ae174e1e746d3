/**
 * The newest points of the time-series store, before they settle into `points`.
 *
 * `points` is clustered by series: a round of collector points (one per series) lands on a page
 * per series once each series' rows fill a page, and a commit writes every page it touched to the
 * WAL. So new points (from `flush()` and from the rollup pass) are appended to `fresh`, a rowid
 * table that a round fills a page or two of, and kept here in memory by series for the readers.
 * `settle()` (ts_settle.ts) moves them into `points` a few minutes' worth at a time, sorted by
 * series: a series' rows of those minutes share a page, written once.
 *
 * Of two points of one bucket, the later written wins, here as in `points` (`fresh` is replayed
 * in rowid order at start). A row here is newer than any row of its bucket in `points`.
 *
 * ```ts
 * const f = new FreshRows(3);
 * f.put(7, 0, 1000, 1.5);
 * f.rows(7, 0, 990, 1010); // [[1000, 1.5]]
 * ```
 */

interface Series {
  ts: number[];
  v: number[];
}

export class FreshRows {
  /** Per level: series id → its rows in time order. */
  #levels: Array<Map<number, Series>>;
  /** Rows held. */
  count = 0;
  /** Per level, a lower bound of the times held (Infinity: none). */
  minTs: number[];

  constructor(levels: number) {
    this.#levels = Array.from({ length: levels }, () => new Map());
    this.minTs = new Array(levels).fill(Infinity);
  }

  /** Holds a row (replacing the row of the same bucket). */
  put(id: number, level: number, ts: number, value: number): void {
    const m = this.#levels[level];
    let s = m.get(id);
    if (!s) m.set(id, s = { ts: [], v: [] });
    if (ts < this.minTs[level]) this.minTs[level] = ts;
    const n = s.ts.length;
    if (n === 0 || ts > s.ts[n - 1]) { // the common case: the newest bucket
      s.ts.push(ts);
      s.v.push(value);
      this.count++;
      return;
    }
    const i = lowerBound(s.ts, ts);
    if (s.ts[i] === ts) {
      s.v[i] = value;
      return;
    }
    s.ts.splice(i, 0, ts);
    s.v.splice(i, 0, value);
    this.count++;
  }

  /** `[ts, value]` rows of one series and level in [start, end), in time order; null when none. */
  rows(id: number, level: number, start: number, end: number): Array<[number, number]> | null {
    const s = this.#levels[level]?.get(id);
    if (!s) return null;
    let i = start <= s.ts[0] ? 0 : lowerBound(s.ts, start);
    if (i >= s.ts.length || s.ts[i] >= end) return null;
    const out: Array<[number, number]> = [];
    for (; i < s.ts.length && s.ts[i] < end; i++) out.push([s.ts[i], s.v[i]]);
    return out;
  }

  /** The oldest time held for one series and level (Infinity: none). */
  first(id: number, level: number): number {
    const s = this.#levels[level]?.get(id);
    return s && s.ts.length > 0 ? s.ts[0] : Infinity;
  }

  /** True when some row of the series is held, at any level. */
  holds(id: number): boolean {
    for (const m of this.#levels) if ((m.get(id)?.ts.length ?? 0) > 0) return true;
    return false;
  }

  /** Drops the rows of a level older than `cutoff`; returns how many. */
  dropBefore(level: number, cutoff: number): number {
    if (this.minTs[level] >= cutoff) return 0;
    let dropped = 0;
    for (const [id, s] of this.#levels[level]) {
      const i = lowerBound(s.ts, cutoff);
      if (i === 0) continue;
      s.ts.splice(0, i);
      s.v.splice(0, i);
      dropped += i;
      if (s.ts.length === 0) this.#levels[level].delete(id);
    }
    this.count -= dropped;
    this.minTs[level] = cutoff;
    return dropped;
  }

  /**
   * Takes the rows of each level older than its `before` time out (all of them without `before`),
   * as (series, level, ts, value) quadruples sorted by series, level and time (the order `points` is
   * clustered in), with the newest time taken of each level (-Infinity: none).
   */
  drain(before?: number[]): { rows: Float64Array; newest: number[] } {
    const n = this.#levels.length;
    const cut = before ?? new Array(n).fill(Infinity);
    // (series * levels + level, rows taken) of each series and level with something to take
    const taken: Array<[number, number]> = [];
    let total = 0;
    this.#levels.forEach((m, lv) => {
      for (const [id, s] of m) {
        const i = cut[lv] === Infinity ? s.ts.length : lowerBound(s.ts, cut[lv]);
        if (i === 0) continue;
        taken.push([id * n + lv, i]);
        total += i;
      }
    });
    taken.sort((a, b) => a[0] - b[0]);
    const rows = new Float64Array(total * 4);
    const newest = new Array(n).fill(-Infinity);
    let k = 0;
    for (const [key, i] of taken) {
      const lv = key % n, id = (key - lv) / n;
      const m = this.#levels[lv];
      const s = m.get(id)!;
      for (let j = 0; j < i; j++, k += 4) {
        rows[k] = id;
        rows[k + 1] = lv;
        rows[k + 2] = s.ts[j];
        rows[k + 3] = s.v[j];
      }
      if (s.ts[i - 1] > newest[lv]) newest[lv] = s.ts[i - 1];
      if (i === s.ts.length) m.delete(id);
      else {
        s.ts.splice(0, i);
        s.v.splice(0, i);
      }
    }
    this.count -= total;
    this.#levels.forEach((m, lv) => {
      let min = Infinity;
      for (const s of m.values()) if (s.ts[0] < min) min = s.ts[0];
      this.minTs[lv] = min;
    });
    return { rows, newest };
  }
}

/** The first index whose time is ≥ `ts` (the length when none). */
function lowerBound(a: number[], ts: number): number {
  let lo = 0, hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (a[mid] < ts) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
