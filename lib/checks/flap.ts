/**
 * Flap protection (floor 0, pure): a check leaves OK only after `failures_before_critical`
 * consecutive non-OK results and comes back only after `successes_before_ok` consecutive OK ones.
 * Moves between non-OK states (warning → critical) are immediate.
 *
 * ```ts
 * let s = initialFlap("ok");
 * s = applyResult(s, "critical", { failuresBeforeCritical: 3, successesBeforeOk: 1 }); // still ok, soft 1/3
 * ```
 */
import type { CheckStateName } from "../types.ts";

export interface FlapState {
  /** The state shown to users (the "hard" state). */
  state: CheckStateName;
  /** Consecutive non-OK results seen. */
  failures: number;
  /** Consecutive OK results seen. */
  successes: number;
}

export interface FlapOptions {
  failuresBeforeCritical: number;
  successesBeforeOk: number;
}

export interface FlapDecision extends FlapState {
  /** False when the result was held back (a "soft" state); `note` says why. */
  applied: boolean;
  note: string;
}

export function initialFlap(state: CheckStateName = "pending"): FlapState {
  return { state, failures: 0, successes: 0 };
}

/** Folds one raw result into the flap state. */
export function applyResult(
  prev: FlapState,
  result: Exclude<CheckStateName, "pending">,
  opts: FlapOptions,
): FlapDecision {
  if (result === "ok") {
    const successes = prev.successes + 1;
    const healthy = prev.state === "ok" || prev.state === "pending";
    if (healthy || successes >= opts.successesBeforeOk) {
      return { state: "ok", failures: 0, successes, applied: true, note: "" };
    }
    return {
      state: prev.state,
      failures: 0,
      successes,
      applied: false,
      note: `soft OK: ${successes} of ${opts.successesBeforeOk} successes before OK`,
    };
  }
  const failures = prev.failures + 1;
  const healthy = prev.state === "ok" || prev.state === "pending";
  if (!healthy || failures >= opts.failuresBeforeCritical) {
    return { state: result, failures, successes: 0, applied: true, note: "" };
  }
  return {
    state: prev.state,
    failures,
    successes: 0,
    applied: false,
    note:
      `soft ${result.toUpperCase()}: ${failures} of ${opts.failuresBeforeCritical} failures before ${result.toUpperCase()}`,
  };
}
