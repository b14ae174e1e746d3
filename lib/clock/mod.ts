/**
 * Injected time. Subsystems never call Date.now()/setTimeout directly, so the simulated
 * network can run hundreds of nodes on a virtual clock faster than real time.
 *
 * ```ts
 * const clock = new VirtualClock();
 * clock.setTimeout(() => console.log("fired"), 1000);
 * await clock.advance(1000); // prints "fired"
 * ```
 */
export type TimerId = number;

export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /**
   * Milliseconds on a clock that never steps (NTP, an admin's `date -s`): for durations within this
   * process only, never shown or sent.
   */
  elapsed(): number;
  setTimeout(fn: () => void, ms: number): TimerId;
  clearTimeout(id: TimerId): void;
  setInterval(fn: () => void, ms: number): TimerId;
  clearInterval(id: TimerId): void;
  /** Resolves after `ms` (virtual ms on a virtual clock). */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

/**
 * Wall-clock time backed by the runtime's timers. It also measures how late its timeouts fire (the
 * event-loop lag of the process metrics), so no timer has to wake the agent only to measure it.
 */
export class RealClock implements Clock {
  /** Lateness of the last timeout that fired, and the largest seen (ms). */
  readonly lag = { lastMs: 0, maxMs: 0 };
  now(): number {
    return Date.now();
  }
  elapsed(): number {
    return performance.now();
  }
  setTimeout(fn: () => void, ms: number): TimerId {
    const due = performance.now() + Math.max(0, ms);
    return setTimeout(() => {
      const late = Math.max(0, performance.now() - due);
      this.lag.lastMs = late;
      if (late > this.lag.maxMs) this.lag.maxMs = late;
      fn();
    }, ms) as unknown as TimerId;
  }
  clearTimeout(id: TimerId): void {
    clearTimeout(id as unknown as Parameters<typeof clearTimeout>[0]);
  }
  setInterval(fn: () => void, ms: number): TimerId {
    return setInterval(fn, ms) as unknown as TimerId;
  }
  clearInterval(id: TimerId): void {
    clearInterval(id as unknown as Parameters<typeof clearInterval>[0]);
  }
  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      if (signal?.aborted) return resolve();
      const t = setTimeout(done, ms);
      function done() {
        signal?.removeEventListener("abort", done);
        clearTimeout(t);
        resolve();
      }
      signal?.addEventListener("abort", done, { once: true });
    });
  }
}

interface VirtualTimer {
  id: number;
  at: number;
  seq: number;
  fn: () => void;
  every: number | null;
}

/**
 * A deterministic clock: time moves only through `advance()`. Timers fire in (time, creation)
 * order; microtasks queued by a timer settle before the next timer fires.
 */
export class VirtualClock implements Clock {
  #now: number;
  #seq = 0;
  #nextId = 1;
  #timers = new Map<number, VirtualTimer>();
  // binary heap ordered by (at, seq)
  #heap: VirtualTimer[] = [];

  constructor(start = 1_700_000_000_000) {
    this.#now = start;
  }
  now(): number {
    return this.#now;
  }
  elapsed(): number {
    return this.#now;
  }
  setTimeout(fn: () => void, ms: number): TimerId {
    return this.#add(fn, ms, null);
  }
  clearTimeout(id: TimerId): void {
    this.#timers.delete(id);
  }
  setInterval(fn: () => void, ms: number): TimerId {
    return this.#add(fn, ms, Math.max(1, ms));
  }
  clearInterval(id: TimerId): void {
    this.#timers.delete(id);
  }
  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      if (signal?.aborted) return resolve();
      const id = this.setTimeout(done, ms);
      const clear = () => this.clearTimeout(id);
      function done() {
        signal?.removeEventListener("abort", onAbort);
        resolve();
      }
      function onAbort() {
        clear();
        resolve();
      }
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }
  /** Number of pending timers. */
  get pending(): number {
    return this.#timers.size;
  }

  /** Moves time forward by `ms`, firing every timer due on the way. */
  async advance(ms: number): Promise<void> {
    const end = this.#now + ms;
    while (true) {
      const t = this.#peek();
      if (!t || t.at > end) break;
      this.#pop();
      if (this.#timers.get(t.id) !== t) continue; // cleared
      this.#now = Math.max(this.#now, t.at);
      if (t.every !== null) {
        t.at += t.every;
        t.seq = this.#seq++;
        this.#push(t);
      } else {
        this.#timers.delete(t.id);
      }
      t.fn();
      // let promise chains started by the timer run before the next one
      await flushMicrotasks();
    }
    this.#now = end;
    await flushMicrotasks();
  }

  #add(fn: () => void, ms: number, every: number | null): number {
    const id = this.#nextId++;
    const t: VirtualTimer = { id, at: this.#now + Math.max(0, ms), seq: this.#seq++, fn, every };
    this.#timers.set(id, t);
    this.#push(t);
    return id;
  }
  #less(a: VirtualTimer, b: VirtualTimer): boolean {
    return a.at < b.at || (a.at === b.at && a.seq < b.seq);
  }
  #push(t: VirtualTimer): void {
    const h = this.#heap;
    h.push(t);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.#less(h[i], h[p])) break;
      [h[i], h[p]] = [h[p], h[i]];
      i = p;
    }
  }
  #peek(): VirtualTimer | undefined {
    while (this.#heap.length && this.#timers.get(this.#heap[0].id) !== this.#heap[0]) this.#pop();
    return this.#heap[0];
  }
  #pop(): VirtualTimer | undefined {
    const h = this.#heap;
    const top = h[0];
    const last = h.pop()!;
    if (h.length) {
      h[0] = last;
      let i = 0;
      while (true) {
        const l = 2 * i + 1, r = l + 1;
        let m = i;
        if (l < h.length && this.#less(h[l], h[m])) m = l;
        if (r < h.length && this.#less(h[r], h[m])) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m], h[i]];
        i = m;
      }
    }
    return top;
  }
}

async function flushMicrotasks(): Promise<void> {
  for (let i = 0; i < 5; i++) await Promise.resolve();
}

/** Parses "10s", "500ms", "2m", "1h", "1d" or a number of seconds into milliseconds; null if invalid. */
export function parseDuration(v: unknown): number | null {
  if (typeof v === "number") return Number.isFinite(v) && v >= 0 ? v * 1000 : null;
  if (typeof v !== "string") return null;
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/.exec(v);
  if (!m) return null;
  const n = Number(m[1]);
  const unit = m[2] ?? "s";
  const mult = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[unit]!;
  return n * mult;
}

export { DueTimer, gridDelay, LazyInterval, nextOnGrid, WAKE_GRID_MS } from "./timers.ts";
