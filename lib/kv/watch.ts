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

/**
 * Serialises async work per key (the coordinator's writes to one key never interleave). A key with
 * nothing running starts its work at once; a busy key's work waits for the previous one to settle.
 */
export class KeyLocks {
  #tails = new Map<string, Promise<unknown>>();

  /** Keys with work running or waiting (tests). */
  get busy(): number {
    return this.#tails.size;
  }

  run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.#tails.get(key);
    let next: Promise<T>;
    if (prev) next = prev.then(fn, fn);
    else {
      // uncontended (the usual case): no chain to wait on, one promise less per write
      try {
        next = fn();
      } catch (err) {
        next = Promise.reject(err);
      }
    }
    const settled = (): void => {
      if (this.#tails.get(key) === tail) this.#tails.delete(key);
    };
    const tail: Promise<unknown> = next.then(settled, settled);
    this.#tails.set(key, tail);
    return next;
  }
}
