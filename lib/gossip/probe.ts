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

  /** Waits for an ack of `seq` for at most `timeoutMs`. */
  expect(seq: number, timeoutMs: number): { seq: number; result: Promise<ProbeResult> } {
    const result = new Promise<ProbeResult>((resolve) => {
      const timer = this.#clock.setTimeout(() => {
        const p = this.#pending.get(seq);
        this.#pending.delete(seq);
        resolve({ acked: false, nacks: p?.nacks ?? 0 });
      }, timeoutMs);
      this.#pending.set(seq, { resolve, timer, nacks: 0 });
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
