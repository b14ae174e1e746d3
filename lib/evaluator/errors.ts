/**
 * The evaluator's typed error and its limits (floor 0, pure).
 */

/** What went wrong, so callers can tell a bad rule from a missing collector value. */
export type EvalErrorKind = "syntax" | "name" | "type" | "missing" | "limit" | "runtime";

/**
 * An error of the expression language. `position` is the 0-based offset in the expression as written
 * (`evaluate` maps offsets in the substituted text back over the `{…}` parts), `column` the same,
 * 1-based, for humans; `reason` is the message without the column.
 *
 * ```ts
 * try { parseExpression("1 +"); } catch (e) { if (e instanceof EvalError) console.log(e.kind, e.column); }
 * ```
 */
export class EvalError extends Error {
  /** 0-based offset in the parsed text, when the error points at one. */
  position?: number;
  /** 1-based column (position + 1). */
  column?: number;

  /** The message without the column suffix. */
  readonly reason: string;

  constructor(readonly kind: EvalErrorKind, message: string, position?: number) {
    super(message);
    this.name = "EvalError";
    this.reason = message;
    if (position !== undefined) this.#place(position);
  }

  #place(position: number): void {
    this.position = position;
    this.column = position + 1;
    this.message = `${this.reason} (column ${position + 1})`;
  }

  /** Attaches a position when the error has none yet (operators throw without one). */
  at(position: number): this {
    if (this.position === undefined) this.#place(position);
    return this;
  }

  /** Moves the position through `map` (substituted text → expression as written). */
  remap(map: (position: number) => number): this {
    if (this.position !== undefined) this.#place(map(this.position));
    return this;
  }
}

/** Bounds that keep one evaluation small: text length, nesting depth and interpreter steps. */
export interface EvalLimits {
  /** Longest expression text accepted (before and after substitution). */
  maxLength: number;
  /** Deepest nesting of parentheses/operators/calls. */
  maxDepth: number;
  /** Interpreter steps (node visits plus weighted costs of big operations). */
  maxSteps: number;
}

export const DEFAULT_LIMITS: EvalLimits = { maxLength: 4096, maxDepth: 100, maxSteps: 100_000 };

/** Fills missing limits with the defaults. */
export function resolveLimits(l?: Partial<EvalLimits>): EvalLimits {
  return { ...DEFAULT_LIMITS, ...(l ?? {}) };
}
