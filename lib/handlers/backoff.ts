/**
 * The arithmetic of mail delivery: retry delays and the per-check rate limit. Pure functions of
 * their arguments (times in ms), so tests call them without timers.
 */

/** Wait before retry number `attempt` (1 = first retry): `initial * 2^(attempt-1)`, capped at `max`. */
export function retryDelay(attempt: number, initial: number, max: number): number {
  const exp = Math.min(30, Math.max(0, attempt - 1));
  return Math.min(max, initial * 2 ** exp);
}

/**
 * Sliding one-hour window per key (check id or node uuid): `allow` records and returns true while
 * fewer than `perHour` sends happened in the last hour. `perHour` 0 means no limit.
 */
export class HourlyLimiter {
  /** Send times per key, oldest first; trimmed on each call. */
  #sent = new Map<string, number[]>();
  /** Keys held when the quiet ones are next forgotten (a key per check or node: members come and go). */
  #pruneAt = 1024;

  /** Keys held (a test watches it stay bounded). */
  get size(): number {
    return this.#sent.size;
  }

  allow(key: string, now: number, perHour: number): boolean {
    if (perHour <= 0) return true;
    if (this.#sent.size >= this.#pruneAt) {
      for (const [k, times] of this.#sent) {
        const last = times.at(-1);
        if (last === undefined || now - last >= 3_600_000 || last > now) this.#sent.delete(k);
      }
      this.#pruneAt = Math.max(1024, 2 * this.#sent.size);
    }
    // a send "in the future" (the clock stepped back) no longer counts: a step must not silence alerts
    const times = (this.#sent.get(key) ?? []).filter((t) => now - t < 3_600_000 && t <= now);
    if (times.length >= perHour) {
      this.#sent.set(key, times);
      return false;
    }
    times.push(now);
    this.#sent.set(key, times);
    return true;
  }
}
