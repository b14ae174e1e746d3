/**
 * The check scheduler: one timer per active check on the injected clock, ±10 % jitter, a check
 * never overlaps itself (its next run is planned when the current one ends), and at most
 * `maxConcurrency` runs at once (the rest wait in a FIFO queue).
 *
 * ```ts
 * const s = new Scheduler(clock, 16, (id) => runCheck(id));
 * s.set("linux/cpu", 10_000, lastCheckMs);
 * ```
 */
import type { Clock, TimerId } from "../clock/mod.ts";
import { firstDelay, jitteredInterval, jitteredOnGrid, percentile } from "./jitter.ts";

interface Entry {
  id: string;
  intervalMs: number;
  /** The wake-up grid its runs move onto (ms; 0: plain jitter). */
  gridMs: number;
  timer: TimerId | null;
  running: boolean;
  queued: boolean;
  /** When the current/next run was due (wall clock, shown), and the same on `clock.elapsed()` (its delay). */
  dueAt: number;
  dueE: number;
}

/** Scheduling delays kept for the percentile (a ring). */
const DELAY_SAMPLE = 2048;

export class Scheduler {
  #clock: Clock;
  #max: number;
  /** Runs a check; a number returned asks for the next run that many ms from now (retry sooner). */
  #run: (id: string) => Promise<void | number>;
  #rand: () => number;
  #entries = new Map<string, Entry>();
  #queue: Entry[] = [];
  #active = 0;
  #delays: number[] = [];
  #delayPos = 0;
  #stopped = false;
  /** Told about a run that threw (a bug in the run function: it should never throw). */
  #onError: (id: string, err: unknown) => void;
  /** Runs started since creation. */
  runs = 0;
  /** Runs that threw. */
  failures = 0;

  constructor(
    clock: Clock,
    maxConcurrency: number,
    run: (id: string) => Promise<void | number>,
    rand: () => number = Math.random,
    onError: (id: string, err: unknown) => void = (id, err) => console.error(`check ${id}: run failed:`, err),
  ) {
    this.#clock = clock;
    this.#max = Math.max(1, maxConcurrency);
    this.#run = run;
    this.#rand = rand;
    this.#onError = onError;
  }

  /**
   * Adds or updates a check; its first run honours the restored `lastCheckMs`. With `gridMs`, its
   * runs move onto that grid of the epoch within their ±10 % jitter (see jitteredOnGrid): checks
   * that run in the agent's collector wake-up instead of waking it at a phase of their own.
   */
  set(id: string, intervalMs: number, lastCheckMs: number, gridMs = 0): void {
    const e = this.#entries.get(id);
    if (e) {
      e.gridMs = gridMs;
      if (e.intervalMs === intervalMs) return;
      e.intervalMs = intervalMs;
      if (e.timer !== null && !e.running && !e.queued) {
        this.#clock.clearTimeout(e.timer);
        this.#plan(
          e,
          Math.min(jitteredInterval(intervalMs, this.#rand()), Math.max(0, e.dueAt - this.#clock.now())),
        );
      }
      return;
    }
    const entry: Entry = {
      id,
      intervalMs,
      gridMs,
      timer: null,
      running: false,
      queued: false,
      dueAt: 0,
      dueE: 0,
    };
    this.#entries.set(id, entry);
    this.#plan(entry, firstDelay(this.#clock.now(), lastCheckMs, intervalMs, this.#rand()));
  }

  /** Stops scheduling a check (a run in flight finishes but is not re-planned). */
  remove(id: string): void {
    const e = this.#entries.get(id);
    if (!e) return;
    if (e.timer !== null) this.#clock.clearTimeout(e.timer);
    this.#entries.delete(id);
    if (e.queued) this.#queue = this.#queue.filter((q) => q !== e);
  }

  has(id: string): boolean {
    return this.#entries.has(id);
  }

  ids(): string[] {
    return [...this.#entries.keys()];
  }

  /** Next due time (ms) of a check, if scheduled. */
  nextRun(id: string): number | undefined {
    const e = this.#entries.get(id);
    return e && !e.running ? e.dueAt : undefined;
  }

  #plan(e: Entry, delayMs: number): void {
    if (this.#stopped) return;
    e.dueAt = this.#clock.now() + delayMs;
    e.dueE = this.#clock.elapsed() + delayMs;
    e.timer = this.#clock.setTimeout(() => this.#fire(e), delayMs);
  }

  #fire(e: Entry): void {
    e.timer = null;
    if (this.#entries.get(e.id) !== e || e.running || e.queued) return;
    if (this.#active >= this.#max) {
      e.queued = true;
      this.#queue.push(e);
      return;
    }
    this.#start(e);
  }

  #start(e: Entry): void {
    e.running = true;
    this.#active++;
    this.runs++;
    const started = this.#clock.now();
    this.#recordDelay(this.#clock.elapsed() - e.dueE);
    let p: Promise<void | number>;
    try {
      p = this.#run(e.id);
    } catch (err) {
      p = Promise.reject(err);
    }
    let retryMs: number | null = null;
    p.then((r) => {
      if (typeof r === "number") retryMs = r;
    }).catch((err) => {
      this.failures++;
      try {
        this.#onError(e.id, err);
      } catch { /* a failing reporter must not stop the schedule */ }
    }).finally(() => {
      e.running = false;
      this.#active--;
      if (this.#entries.get(e.id) === e) {
        // (a wall clock stepped back during the run: from now, not from a start an hour ahead)
        const next = retryMs !== null
          ? this.#clock.now() + retryMs
          : jitteredOnGrid(Math.min(started, this.#clock.now()), e.intervalMs, this.#rand(), e.gridMs);
        this.#plan(e, Math.max(0, next - this.#clock.now()));
      }
      this.#drain();
    });
  }

  #drain(): void {
    while (this.#active < this.#max && this.#queue.length && !this.#stopped) {
      const e = this.#queue.shift()!;
      e.queued = false;
      if (this.#entries.get(e.id) === e) this.#start(e);
    }
  }

  #recordDelay(ms: number): void {
    if (this.#delays.length < DELAY_SAMPLE) this.#delays.push(ms);
    else this.#delays[this.#delayPos++ % DELAY_SAMPLE] = ms;
  }

  /** Scheduling delay statistics (ms) over the last runs. */
  delayStats(): { p50: number; p99: number; max: number; samples: number } {
    const d = this.#delays;
    return {
      p50: percentile(d, 50),
      p99: percentile(d, 99),
      max: d.length ? Math.max(...d) : 0,
      samples: d.length,
    };
  }

  get running(): number {
    return this.#active;
  }
  get queued(): number {
    return this.#queue.length;
  }

  stop(): void {
    this.#stopped = true;
    for (const e of this.#entries.values()) if (e.timer !== null) this.#clock.clearTimeout(e.timer);
    this.#entries.clear();
    this.#queue = [];
  }
}
