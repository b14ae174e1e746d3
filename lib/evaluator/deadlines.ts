/**
 * One timer for the deadlines of every call in flight: armed for the earliest deadline, cleared when
 * the last call ends. The in-thread io calls of a detector round (a dozen at once, each answered
 * within the round) cost one timer instead of one each: creating a timer costs this runtime ~0.1 ms
 * of interpreted code.
 *
 * The deadline timer is armed only for calls still in flight after the current task (a 0 ms check
 * first): a cleared timer still wakes Deno's event loop at its deadline (its timer lists are
 * cleaned up lazily; measured: a 5 s timer set and cleared every 10 s wakes the thread at +5 s,
 * with tokio's wheel wake-up before it), and the io of a detector or check round on `/etc`, `/proc`
 * and the like completes synchronously, within the task that started it.
 *
 * ```ts
 * const deadlines = new Deadlines();
 * const done = deadlines.watch(5000, () => reject(new Error("too slow")));
 * try { await work(); } finally { done(); }
 * ```
 */
import type { Clock, TimerId } from "../clock/mod.ts";

/** The clock it needs: monotonic milliseconds and one-shot timers. */
export type DeadlineClock = Pick<Clock, "now" | "setTimeout" | "clearTimeout">;

const MONOTONIC: DeadlineClock = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms) as unknown as TimerId,
  clearTimeout: (id) => clearTimeout(id as unknown as Parameters<typeof clearTimeout>[0]),
};

export class Deadlines {
  #pending = new Map<number, { at: number; expire: () => void }>();
  #ids = 0;
  #timer: TimerId | null = null;
  #timerAt = Infinity;
  /** A 0 ms check is pending: it arms the deadline timer if calls are still in flight. */
  #soon = false;

  constructor(private readonly clock: DeadlineClock = MONOTONIC) {}

  /** Watches a call: `expire` runs if it is still in flight `ms` from now. Returns its `done()`. */
  watch(ms: number, expire: () => void): () => void {
    const id = this.#ids++;
    const at = this.clock.now() + Math.max(0, ms);
    this.#pending.set(id, { at, expire });
    if (this.#timer !== null) {
      if (at < this.#timerAt) this.#arm(at);
    } else if (!this.#soon) {
      this.#soon = true;
      this.clock.setTimeout(() => {
        this.#soon = false;
        if (this.#timer === null) this.#armEarliest();
      }, 0);
    }
    return () => {
      if (this.#pending.delete(id) && this.#pending.size === 0) this.#disarm();
    };
  }

  /** Calls in flight. */
  get size(): number {
    return this.#pending.size;
  }

  /** True while a timer is armed. */
  get armed(): boolean {
    return this.#timer !== null;
  }

  #arm(at: number): void {
    this.#disarm();
    this.#timerAt = at;
    this.#timer = this.clock.setTimeout(() => this.#fire(), Math.max(0, at - this.clock.now()));
  }

  #disarm(): void {
    if (this.#timer !== null) this.clock.clearTimeout(this.#timer);
    this.#timer = null;
    this.#timerAt = Infinity;
  }

  #fire(): void {
    this.#timer = null;
    this.#timerAt = Infinity;
    const now = this.clock.now();
    for (const [id, p] of this.#pending) {
      if (p.at > now) continue;
      this.#pending.delete(id);
      p.expire();
    }
    this.#armEarliest();
  }

  /** Arms the timer for the earliest deadline in flight (none: nothing). */
  #armEarliest(): void {
    let next = Infinity;
    for (const p of this.#pending.values()) next = Math.min(next, p.at);
    if (next < this.#timerAt) this.#arm(next);
  }
}
