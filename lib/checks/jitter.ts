/**
 * Scheduling math (floor 0, pure): the ±10 % jittered interval of reference §6.2, the first-run
 * delay after a restart, and a percentile for the scheduling-delay statistics.
 */

/** `interval` drawn uniformly in [0.9·interval, 1.1·interval]; `rand` in [0, 1). */
export function jitteredInterval(intervalMs: number, rand: number): number {
  return intervalMs * (0.9 + 0.2 * rand);
}

/**
 * The next run of a check that started at `started` (ms since the epoch), on the agent's wake-up
 * grid (multiples of `gridMs` since the epoch: the collectors' rounds): of the grid instants within
 * the ±10 % window around `started + interval`, the one nearest the jittered time; when the window
 * holds none, the end of the window nearest a grid instant, so the next runs drift onto the grid
 * (a tenth of the interval per run). Always within the window of `jitteredInterval`.
 */
export function jitteredOnGrid(started: number, intervalMs: number, rand: number, gridMs: number): number {
  const lo = started + intervalMs * 0.9, hi = started + intervalMs * 1.1;
  const due = started + jitteredInterval(intervalMs, rand);
  if (!(gridMs > 0)) return due;
  const first = Math.ceil(lo / gridMs) * gridMs, last = Math.floor(hi / gridMs) * gridMs;
  if (first <= last) {
    const near = Math.round(due / gridMs) * gridMs;
    return Math.min(last, Math.max(first, near));
  }
  // no grid instant in the window: `first` is after `hi`, `last` before `lo`
  return first - hi <= lo - last ? hi : lo;
}

/**
 * Delay before the first run: when the restored `lastCheckMs` is recent, wait out the rest of the
 * (jittered) interval; otherwise start within the first 10 % of the interval to spread the load.
 */
export function firstDelay(nowMs: number, lastCheckMs: number, intervalMs: number, rand: number): number {
  const due = lastCheckMs + jitteredInterval(intervalMs, rand);
  if (lastCheckMs > 0 && due > nowMs) return Math.min(due - nowMs, intervalMs * 1.1);
  return Math.min(intervalMs * 0.1, 1000) * rand;
}

/** Nearest-rank percentile of an unsorted sample (0 when empty). */
export function percentile(sample: number[], p: number): number {
  if (sample.length === 0) return 0;
  const s = [...sample].sort((a, b) => a - b);
  const rank = Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1));
  return s[rank];
}
