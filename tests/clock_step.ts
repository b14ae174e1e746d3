/**
 * A clock for tests of a wall clock that steps (an NTP step, a VM resumed): `now()` is the base
 * clock's plus an offset that `step()` moves, while timers, sleeps and `elapsed()` stay on the base.
 */
import type { Clock } from "../lib/clock/mod.ts";

export function steppedClock(base: Clock): Clock & { step(ms: number): void } {
  let offset = 0;
  return {
    now: () => base.now() + offset,
    elapsed: () => base.elapsed(),
    setTimeout: (fn, ms) => base.setTimeout(fn, ms),
    clearTimeout: (id) => base.clearTimeout(id),
    setInterval: (fn, ms) => base.setInterval(fn, ms),
    clearInterval: (id) => base.clearInterval(id),
    sleep: (ms, signal) => base.sleep(ms, signal),
    step(ms: number) {
      offset += ms;
    },
  };
}
