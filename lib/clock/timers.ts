/**
 * Timers that wake the process only when there is work: an idle agent's CPU is mostly the cost of
 * waking up (~0.2 ms of CPU per timer that fires, measured on a 2-core VM, whatever the callback
 * does), so periodic jobs share a timer (`DueTimer`) or sleep until poked (`LazyInterval`).
 */
import type { Clock, TimerId } from "./mod.ts";

/**
 * The next multiple of `every` ms after `t` (ms since the epoch): periodic jobs that share an
 * interval and plan on this grid fire in the same wake-up, whenever each of them started.
 */
export function nextOnGrid(t: number, every: number): number {
  const e = Math.max(1, every);
  return (Math.floor(t / e) + 1) * e;
}

/** The epoch grid (ms) the agent's default jobs wake on: collectors, checks, statsd and detectors at 10 s. */
export const WAKE_GRID_MS = 10_000;

/**
 * The delay for a limit that is nearly always cleared before it fires (a collector run's time limit):
 * `ms`, or a little more, up to the next tick of the epoch grid of `grid` ms at or after `now + ms`,
 * when `ms` is half a grid step or longer. A cleared timer still wakes Deno's event loop at its due
 * time (its timer lists are cleaned up lazily: a 3 s timer set and cleared every 10 s wakes the
 * thread 3 s after each set, measured with `strace` on Deno 2.9), so an idle agent paid one wake-up
 * of its own for its collectors' 8 s limits, 8 s after each round, and one for the batch's 16 s limit
 * every other round; on the grid they land in the wake-up of a later round. Shorter limits (a
 * test's, a TCP connect's) stay exact. A limit is late by less than one grid step.
 */
export function gridDelay(now: number, ms: number, grid = WAKE_GRID_MS): number {
  if (ms < grid / 2) return Math.max(0, ms);
  return nextOnGrid(now + ms - 1, grid) - now;
}

/**
 * Many jobs, one timer: each job has a due time, the timer waits for the earliest, and a wake-up
 * hands `onDue` every job due by then (taken off the plan: plan each again with `set`). Jobs that
 * share an interval and started together stay together, one wake-up for all. Nothing is armed
 * before `start()`; `stop()` forgets the plan. Due times are given on the wall clock (the epoch grid)
 * and waited for on the clock that never steps: a wall clock stepped back an hour does not hold the
 * plan for an hour (what was due in 10 s still runs in 10 s), one stepped forward does not run it early.
 *
 * ```ts
 * const due = new DueTimer<string>(clock, (ids, now) => ids.forEach((id) => run(id, now)));
 * due.set("cpu", clock.now()); due.start();
 * ```
 */
export class DueTimer<K> {
  /** Planned jobs: the wall-clock time asked for, and the same moment on `clock.elapsed()`. */
  #due = new Map<K, { at: number; e: number }>();
  #timer: TimerId | null = null;
  #timerAt = Infinity;
  #running = false;

  constructor(private readonly clock: Clock, private readonly onDue: (ids: K[], now: number) => void) {}

  /** Plans `id` at `at` (clock ms), replacing its planned time. */
  set(id: K, at: number): void {
    this.#due.set(id, { at, e: this.clock.elapsed() + (at - this.clock.now()) });
    this.#arm();
  }

  delete(id: K): void {
    this.#due.delete(id);
    this.#arm();
  }

  has(id: K): boolean {
    return this.#due.has(id);
  }

  /** The planned jobs with their due times (a copy). */
  plan(): Map<K, number> {
    return new Map([...this.#due].map(([id, d]) => [id, d.at]));
  }

  start(): void {
    this.#running = true;
    this.#arm();
  }

  stop(): void {
    this.#running = false;
    this.#due.clear();
    this.#arm();
  }

  /** Points the one timer at the earliest due time (nothing to do when it already waits for it). */
  #arm(): void {
    let next = Infinity;
    if (this.#running) { for (const { e } of this.#due.values()) if (e < next) next = e; }
    if (this.#timer !== null && next === this.#timerAt) return;
    if (this.#timer !== null) this.clock.clearTimeout(this.#timer);
    this.#timer = null;
    this.#timerAt = next;
    if (next === Infinity) return;
    this.#timer = this.clock.setTimeout(() => this.#fire(), Math.max(0, next - this.clock.elapsed()));
  }

  #fire(): void {
    this.#timer = null;
    this.#timerAt = Infinity;
    const now = this.clock.now();
    const t = this.clock.elapsed();
    const ids: K[] = [];
    for (const [id, { e }] of this.#due) {
      if (e > t) continue;
      this.#due.delete(id);
      ids.push(id);
    }
    try {
      this.onDue(ids, now);
    } finally {
      this.#arm();
    }
  }
}

/**
 * A periodic job that sleeps while it has nothing to do. `poke()` arms it for the next tick of the
 * grid a plain `setInterval` started by `start()` would follow (so the job runs exactly when it did
 * with a free-running interval); the job returns true to tick again, anything else to sleep until
 * the next poke. Pokes while armed cost nothing.
 *
 * With `leading`, a poke that comes a whole period or more after the last tick runs the job at once
 * instead (in a 0 ms timeout: after the work of the current wake-up, in the same wake-up), and only
 * the pokes that follow within the period wait for the grid: a write batched "within a second of the
 * first point" costs an idle agent no wake-up of its own when its points come once every 10 s.
 * With `burst` (ms) too, pokes within that long of such a leading tick also run in a 0 ms timeout:
 * results that come in a few turns apart in one wake-up (checks due together on the collectors'
 * grid) are handled in it, not at the next grid tick; at most one burst per period.
 *
 * ```ts
 * const flush = new LazyInterval(clock, 1000, () => store.flush() > 0);
 * flush.start(); onWrite(() => flush.poke());
 * ```
 */
export class LazyInterval {
  #timer: TimerId | null = null;
  #origin = 0;
  #running = false;
  #lastTick = -Infinity;
  /** When the last leading tick (one a period after the one before) was asked for. */
  #burstFrom = -Infinity;
  /** Ticks that ran (a test and `info()` can tell an idle job from a busy one). */
  ticks = 0;

  constructor(
    private readonly clock: Clock,
    private readonly every: number,
    private readonly job: () => boolean | void,
    private readonly opts: { leading?: boolean; burst?: number } = {},
  ) {}

  /**
   * The grid starts now (or at `origin`: 0 puts the ticks on the epoch grid of `nextOnGrid`, shared
   * with every job of the same interval); `armed` also pokes it once (a job that starts with work).
   */
  start(armed = false, origin = this.clock.now()): void {
    this.#running = true;
    this.#origin = origin;
    if (armed) this.poke();
  }

  stop(): void {
    this.#running = false;
    if (this.#timer !== null) this.clock.clearTimeout(this.#timer);
    this.#timer = null;
  }

  get armed(): boolean {
    return this.#timer !== null;
  }

  poke(): void {
    if (!this.#running || this.#timer !== null) return;
    const now = this.clock.now();
    const every = Math.max(1, this.every);
    // how long since the last tick counts on the clock that never steps; the grid is the wall clock's
    const t = this.clock.elapsed();
    if (this.opts.leading && t - this.#lastTick >= every) {
      this.#burstFrom = t;
      this.#timer = this.clock.setTimeout(() => this.#fire(), 0);
      return;
    }
    if (this.opts.leading && t - this.#burstFrom < (this.opts.burst ?? 0)) {
      this.#timer = this.clock.setTimeout(() => this.#fire(), 0);
      return;
    }
    const next = this.#origin + (Math.floor((now - this.#origin) / every) + 1) * every;
    this.#timer = this.clock.setTimeout(() => this.#fire(), next - now);
  }

  #fire(): void {
    this.#timer = null;
    if (!this.#running) return;
    this.ticks++;
    this.#lastTick = this.clock.elapsed();
    let again = false;
    try {
      again = this.job() === true;
    } catch (err) {
      // a job that throws (a bug) keeps its interval: it was stopped for good (the gossip reaper
      // with it) while the log said the agent went on; the error still reaches the global handler
      again = true;
      throw err;
    } finally {
      if (again) this.poke();
    }
  }
}
