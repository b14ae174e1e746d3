/**
 * Blocking reads: waiters on a key or a prefix, woken when a change to a matching key is applied
 * locally (written, replicated, repaired or expired).
 */
import type { Clock } from "../clock/mod.ts";

interface Waiter {
  target: string;
  /** Exact key, or every key starting with `target`. */
  exact: boolean;
  wake: () => void;
}

export class Watchers {
  #waiters = new Set<Waiter>();

  get size(): number {
    return this.#waiters.size;
  }

  /** Wakes every waiter whose key or prefix matches `key`. */
  notify(key: string): void {
    for (const w of this.#waiters) {
      if (w.exact ? w.target === key : key.startsWith(w.target)) w.wake();
    }
  }

  /** Resolves true on a matching change, false at `timeoutMs` or when `signal` aborts. */
  wait(
    clock: Clock,
    target: string,
    exact: boolean,
    timeoutMs: number,
    signal?: AbortSignal,
  ): Promise<boolean> {
    return new Promise((resolve) => {
      if (signal?.aborted || timeoutMs <= 0) return resolve(false);
      const finish = (changed: boolean) => {
        if (!this.#waiters.delete(w)) return;
        clock.clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
        resolve(changed);
      };
      const onAbort = () => finish(false);
      const w: Waiter = { target, exact, wake: () => finish(true) };
      this.#waiters.add(w);
      const timer = clock.setTimeout(() => finish(false), timeoutMs);
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  /** Releases every waiter (stop). */
  clear(): void {
    for (const w of [...this.#waiters]) w.wake();
  }
}

/** Serialises async work per key (the coordinator's writes to one key never interleave). */
export class KeyLocks {
  #tails = new Map<string, Promise<unknown>>();

  run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.#tails.get(key) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    const tail = next.catch(() => {});
    this.#tails.set(key, tail);
    tail.then(() => {
      if (this.#tails.get(key) === tail) this.#tails.delete(key);
    });
    return next;
  }
}
