/**
 * Back-off of a refused service precheck (issue 12, idle CPU). On a host without redis, MySQL or
 * MongoDB, probing each every 10 s round was three refused TCP connects a round (~0.2-0.4 ms of CPU
 * each, and the event-loop turns around them). After the k-th refusal in a row, the next
 * 2^(k-1) - 1 scheduled runs reuse the refusal without connecting (the entry stays inactive with
 * the same reason, `last_check` still moves on): probes at rounds 0, 1, 3, 7, 15..., never more than
 * `maxMs` apart, so a service that appears later is collected within that time. A probe that
 * answers ends the back-off; explicit runs (`kunai collectors run`) always probe.
 *
 * ```ts
 * const b = new PrecheckBackoff(120_000);
 * b.held("redis");                          // null: ask the precheck
 * b.refused("redis", reply, 10_000);        // next scheduled run probes again, then 1, 3, 7... skipped
 * ```
 */
import type { RunReply } from "./protocol.ts";

/** Longest time between two probes of a refused service (ms). */
export const PRECHECK_BACKOFF_MAX_MS = 120_000;

interface Held {
  /** refusals in a row */
  streak: number;
  /** scheduled runs left that reuse `reply` */
  skip: number;
  reply: RunReply;
}

export class PrecheckBackoff {
  #held = new Map<string, Held>();
  #maxMs: number;

  constructor(maxMs = PRECHECK_BACKOFF_MAX_MS) {
    this.#maxMs = maxMs;
  }

  /** The refusal a scheduled run of `name` reuses now (one skip used), or null to probe. */
  held(name: string): RunReply | null {
    const h = this.#held.get(name);
    if (!h || h.skip <= 0) return null;
    h.skip--;
    return h.reply;
  }

  /** A probe of `name` (run every `intervalMs`) was refused with `reply`. */
  refused(name: string, reply: RunReply, intervalMs: number): void {
    const h = this.#held.get(name) ?? { streak: 0, skip: 0, reply };
    h.streak++;
    h.reply = reply;
    h.skip = skipsAfter(h.streak, intervalMs, this.#maxMs);
    this.#held.set(name, h);
  }

  /** A probe of `name` answered (or its Worker runs it): no back-off. */
  answered(name: string): void {
    this.#held.delete(name);
  }

  /** New configuration: every service is probed at its next run. */
  clear(): void {
    this.#held.clear();
  }

  /** Refusals in a row for `name` (0 = not held), for tests and info. */
  streak(name: string): number {
    return this.#held.get(name)?.streak ?? 0;
  }
}

/**
 * Scheduled runs skipped after the `streak`-th refusal in a row: 2^(streak-1) - 1, at most so many
 * that two probes stay within `maxMs` (none when the interval itself is that long).
 */
export function skipsAfter(streak: number, intervalMs: number, maxMs: number): number {
  const cap = Math.max(0, Math.floor(maxMs / Math.max(1, intervalMs)) - 1);
  return Math.min(cap, 2 ** Math.min(30, Math.max(0, streak - 1)) - 1);
}
