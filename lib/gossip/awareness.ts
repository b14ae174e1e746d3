/**
 * Lifeguard local health awareness: a score that rises when we miss acks and nacks (a sign that
 * *we* are slow or overloaded) and falls on successful probes. Our probe timeouts and interval
 * are stretched by `score + 1` so a struggling node stops accusing healthy ones.
 */
export class Awareness {
  #score = 0;
  /** Scores range over 0..max-1. */
  readonly max: number;

  constructor(max: number) {
    this.max = Math.max(1, max);
  }

  get score(): number {
    return this.#score;
  }

  /** Adds `delta` (negative to improve), clamped to the range. */
  apply(delta: number): void {
    this.#score = Math.min(this.max - 1, Math.max(0, this.#score + delta));
  }

  /** Stretches a timeout by the current health. */
  scale(ms: number): number {
    return scaleByHealth(ms, this.#score);
  }
}

/** `ms * (score + 1)`. */
export function scaleByHealth(ms: number, score: number): number {
  return ms * (score + 1);
}
