/**
 * Pending probes: sequence numbers waiting for an ack (or nacks from relays) with a deadline.
 */
import type { Clock, TimerId } from "../clock/mod.ts";

/** Outcome of one probe wait. */
export interface ProbeResult {
  acked: boolean;
  /** Nacks received from relays before the deadline. */
  nacks: number;
}

interface Pending {
  resolve: (r: ProbeResult) => void;
  timer: TimerId;
  nacks: number;
}

export class ProbeTracker {
  #clock: Clock;
  #seq = 0;
  #pending = new Map<number, Pending>();

  constructor(clock: Clock) {
    this.#clock = clock;
  }

  nextSeq(): number {
    this.#seq = (this.#seq + 1) % 2 ** 32;
    return this.#seq;
  }

  /**
   * Waits for an ack of `seq` for at most `timeoutMs`. With `check`, `check.run` is called once at
   * `check.atMs` if the ack has not come by then, and the timeout is only armed at that moment:
   * one timer at a time per probe. (Deno's timers wake the process at the expiry of a cleared
   * timer too; a healthy probe, acked within a millisecond, then costs one wake-up, not two.)
   */
  expect(
    seq: number,
    timeoutMs: number,
    check?: { atMs: number; run: () => void },
  ): { seq: number; result: Promise<ProbeResult> } {
    const clock = this.#clock;
    const result = new Promise<ProbeResult>((resolve) => {
      const p: Pending = { resolve, timer: 0, nacks: 0 };
      const expire = () => {
        if (this.#pending.get(seq) === p) this.#pending.delete(seq);
        resolve({ acked: false, nacks: p.nacks });
      };
      if (check && check.atMs < timeoutMs) {
        const due = clock.now() + timeoutMs;
        p.timer = clock.setTimeout(() => {
          if (this.#pending.get(seq) !== p) return;
          // never longer than what was left of the timeout (a wall clock that stepped back meanwhile)
          p.timer = clock.setTimeout(
            expire,
            Math.max(0, Math.min(timeoutMs - check.atMs, due - clock.now())),
          );
          check.run();
        }, check.atMs);
      } else {
        p.timer = clock.setTimeout(expire, timeoutMs);
      }
      this.#pending.set(seq, p);
    });
    return { seq, result };
  }

  /** True while `seq` waits for its ack (neither acked nor timed out). */
  waiting(seq: number): boolean {
    return this.#pending.has(seq);
  }

  /** Recently acked sequence numbers (a relay checks before sending a nack). */
  #acked = new Set<number>();

  /** True when `seq` was acked (remembered for the last 1024 acks). */
  isAcked(seq: number): boolean {
    return this.#acked.has(seq);
  }

  ack(seq: number): void {
    const p = this.#pending.get(seq);
    if (!p) return;
    this.#acked.add(seq);
    if (this.#acked.size > 1024) this.#acked.delete(this.#acked.values().next().value!);
    this.#pending.delete(seq);
    this.#clock.clearTimeout(p.timer);
    p.resolve({ acked: true, nacks: p.nacks });
  }

  nack(seq: number): void {
    const p = this.#pending.get(seq);
    if (p) p.nacks++;
  }

  /** Resolves every pending wait as failed (stop). */
  cancelAll(): void {
    for (const p of this.#pending.values()) {
      this.#clock.clearTimeout(p.timer);
      p.resolve({ acked: false, nacks: p.nacks });
    }
    this.#pending.clear();
  }
}
