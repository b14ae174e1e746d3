/**
 * Lifeguard suspicion: a suspect is declared dead after a timeout that starts at `max` and
 * shrinks towards `min` (logarithmically) as independent peers confirm the suspicion, so a
 * really dead node is declared quickly while a lone slow observer cannot kill a healthy one.
 */
import type { Clock, TimerId } from "../clock/mod.ts";

/**
 * The timeout in ms after `confirmations` independent confirmations out of `k` expected:
 * `max - (max - min) * log(c + 1) / log(k + 1)`, never below `min`.
 *
 * ```ts
 * suspicionTimeout(0, 3, 4000, 24000); // 24000
 * suspicionTimeout(3, 3, 4000, 24000); // 4000
 * ```
 */
export function suspicionTimeout(confirmations: number, k: number, minMs: number, maxMs: number): number {
  if (k < 1 || maxMs <= minMs) return minMs;
  const frac = Math.log(confirmations + 1) / Math.log(k + 1);
  const raw = Math.floor(maxMs - frac * (maxMs - minMs));
  return Math.max(minMs, raw);
}

/** `min = mult * max(1, log10(N)) * probeInterval`, `max = maxMult * min` (memberlist's scaling). */
export function suspicionBounds(
  nodes: number,
  mult: number,
  maxMult: number,
  probeIntervalMs: number,
): { min: number; max: number } {
  const scale = Math.max(1, Math.log10(Math.max(1, nodes)));
  const min = Math.floor(mult * scale * probeIntervalMs);
  return { min, max: maxMult * min };
}

/** Confirmations expected before the timeout reaches its minimum: `mult - 2`, 0 in tiny clusters. */
export function expectedConfirmations(mult: number, nodes: number): number {
  const k = mult - 2;
  return nodes - 2 < k ? 0 : Math.max(0, k);
}

/** One running suspicion of one node. */
export class Suspicion {
  /** Peers that independently suspected the node (the first suspecter excluded). */
  readonly confirmations = new Set<string>();
  readonly startedAt: number;
  #clock: Clock;
  #timer: TimerId | null = null;
  #k: number;
  #min: number;
  #max: number;
  #onTimeout: (lateMs: number) => void;

  constructor(
    opts: {
      clock: Clock;
      from: string;
      k: number;
      minMs: number;
      maxMs: number;
      /** `lateMs`: how long after its due time the timer actually fired (a loaded event loop). */
      onTimeout: (lateMs: number) => void;
    },
  ) {
    this.#clock = opts.clock;
    this.#k = opts.k;
    this.#min = opts.minMs;
    this.#max = opts.maxMs;
    this.#onTimeout = opts.onTimeout;
    this.startedAt = opts.clock.elapsed();
    this.#from = opts.from;
    this.#arm();
  }
  #from: string;

  /** Current total timeout. */
  get timeoutMs(): number {
    return suspicionTimeout(this.confirmations.size, this.#k, this.#min, this.#max);
  }

  /** Records a confirmation; true if it was new (then the timer is shortened). */
  confirm(from: string): boolean {
    if (from === this.#from || this.confirmations.has(from) || this.confirmations.size >= this.#k) {
      return false;
    }
    this.confirmations.add(from);
    this.#arm();
    return true;
  }

  #arm(): void {
    if (this.#timer !== null) this.#clock.clearTimeout(this.#timer);
    // at most the whole timeout: a wall clock that stepped back must not stretch a suspicion by the step
    const remaining = Math.min(this.timeoutMs, this.startedAt + this.timeoutMs - this.#clock.elapsed());
    this.#timer = this.#clock.setTimeout(() => {
      this.#timer = null;
      this.#onTimeout(Math.max(0, this.#clock.elapsed() - (this.startedAt + this.timeoutMs)));
    }, Math.max(0, remaining));
  }

  cancel(): void {
    if (this.#timer !== null) this.#clock.clearTimeout(this.#timer);
    this.#timer = null;
  }
}
