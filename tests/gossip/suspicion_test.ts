import assert from "node:assert/strict";
import { VirtualClock } from "../../lib/clock/mod.ts";
import { steppedClock } from "../clock_step.ts";
import {
  expectedConfirmations,
  Suspicion,
  suspicionBounds,
  suspicionTimeout,
} from "../../lib/gossip/suspicion.ts";
import { Awareness, scaleByHealth } from "../../lib/gossip/awareness.ts";

Deno.test("suspicion timeout starts at max and shrinks logarithmically to min with confirmations", () => {
  assert.equal(suspicionTimeout(0, 3, 4000, 24000), 24000);
  assert.equal(suspicionTimeout(1, 3, 4000, 24000), 14000); // log(2)/log(4) = 0.5
  const two = suspicionTimeout(2, 3, 4000, 24000);
  assert.ok(two < 14000 && two > 4000);
  assert.equal(suspicionTimeout(3, 3, 4000, 24000), 4000);
  assert.equal(suspicionTimeout(10, 3, 4000, 24000), 4000);
});

Deno.test("suspicion timeout is min when no confirmations are expected", () => {
  assert.equal(suspicionTimeout(0, 0, 4000, 24000), 4000);
});

Deno.test("suspicion bounds scale with log10 of the cluster size", () => {
  assert.deepEqual(suspicionBounds(5, 4, 6, 1000), { min: 4000, max: 24000 });
  assert.deepEqual(suspicionBounds(100, 4, 6, 1000), { min: 8000, max: 48000 });
  assert.deepEqual(suspicionBounds(1000, 4, 6, 1000), { min: 12000, max: 72000 });
  assert.equal(expectedConfirmations(4, 3), 0);
  assert.equal(expectedConfirmations(4, 10), 2);
});

Deno.test("a suspicion fires at max without confirmations and earlier with them", async () => {
  const clock = new VirtualClock(0);
  let firedA = -1;
  new Suspicion({ clock, from: "x", k: 2, minMs: 1000, maxMs: 6000, onTimeout: () => firedA = clock.now() });
  let firedB = -1;
  const b = new Suspicion({
    clock,
    from: "x",
    k: 2,
    minMs: 1000,
    maxMs: 6000,
    onTimeout: () => firedB = clock.now(),
  });
  await clock.advance(500);
  assert.equal(b.confirm("x"), false, "the first suspecter is not a confirmation");
  assert.equal(b.confirm("y"), true);
  assert.equal(b.confirm("y"), false, "duplicates do not count");
  assert.equal(b.confirm("z"), true);
  assert.equal(b.confirm("w"), false, "no more than k confirmations count");
  await clock.advance(10_000);
  assert.equal(firedA, 6000);
  assert.equal(firedB, 1000);
});

Deno.test("a cancelled suspicion never fires", async () => {
  const clock = new VirtualClock(0);
  let fired = false;
  const s = new Suspicion({ clock, from: "x", k: 0, minMs: 100, maxMs: 100, onTimeout: () => fired = true });
  s.cancel();
  await clock.advance(1000);
  assert.equal(fired, false);
});

Deno.test("awareness score is clamped and stretches timeouts", () => {
  const a = new Awareness(8);
  assert.equal(a.scale(500), 500);
  a.apply(3);
  assert.equal(a.scale(500), 2000);
  a.apply(100);
  assert.equal(a.score, 7);
  a.apply(-100);
  assert.equal(a.score, 0);
  assert.equal(scaleByHealth(100, 2), 300);
});

Deno.test("suspicion: a confirmation after the wall clock stepped back an hour does not stretch the timeout by the step", async () => {
  const base = new VirtualClock();
  const clock = steppedClock(base);
  let fired = -1;
  const start = base.now();
  const s = new Suspicion({
    clock,
    from: "x",
    k: 2,
    minMs: 1000,
    maxMs: 6000,
    onTimeout: () => fired = base.now(),
  });
  await base.advance(1000);
  clock.step(-3_600_000);
  assert.ok(s.confirm("y")); // re-armed from the stepped wall clock
  await base.advance(10_000);
  assert.ok(fired >= 0, "the suspicion did not time out within 11 s");
  assert.ok(fired - start <= 1000 + s.timeoutMs, `timed out ${fired - start} ms after it started`);
});
