/**
 * ProbeTracker (lib/gossip/probe.ts): a probe's wait for its ack, with an optional check part-way
 * (the prober's port check, a relay's nack) that runs only when the ack has not come by then,
 * and one timer armed at a time.
 */
import assert from "node:assert/strict";
import { VirtualClock } from "../../lib/clock/mod.ts";
import { steppedClock } from "../clock_step.ts";
import { ProbeTracker } from "../../lib/gossip/probe.ts";

/** A virtual clock that counts the timers armed on it. */
function countingClock(): { clock: VirtualClock; armed: number[] } {
  const clock = new VirtualClock(0);
  const armed: number[] = [];
  const set = clock.setTimeout.bind(clock);
  clock.setTimeout = (fn, ms) => {
    armed.push(ms);
    return set(fn, ms);
  };
  return { clock, armed };
}

Deno.test("probe tracker: an ack before the check skips it, and only the check's timer was armed", async () => {
  const { clock, armed } = countingClock();
  const t = new ProbeTracker(clock);
  let ran = 0;
  const w = t.expect(t.nextSeq(), 500, { atMs: 100, run: () => ran++ });
  await clock.advance(1);
  t.ack(w.seq);
  assert.deepEqual(await w.result, { acked: true, nacks: 0 });
  await clock.advance(1000);
  assert.equal(ran, 0);
  assert.deepEqual(armed, [100], "one timer, the check's (the timeout is armed only by the check)");
});

Deno.test("probe tracker: unanswered, the check runs once at its time and the wait ends at the timeout", async () => {
  const { clock, armed } = countingClock();
  const t = new ProbeTracker(clock);
  const ranAt: number[] = [];
  let endedAt = -1;
  const w = t.expect(t.nextSeq(), 500, { atMs: 100, run: () => ranAt.push(clock.now()) });
  w.result.then(() => endedAt = clock.now());
  await clock.advance(99);
  assert.deepEqual(ranAt, []);
  await clock.advance(1);
  assert.deepEqual(ranAt, [100]);
  t.nack(w.seq);
  await clock.advance(399);
  assert.equal(endedAt, -1, "still waiting before the timeout");
  await clock.advance(1);
  assert.equal(endedAt, 500, "the timeout counts from the ping, not from the check");
  assert.deepEqual(await w.result, { acked: false, nacks: 1 });
  assert.deepEqual(armed, [100, 400]);
  assert.equal(t.waiting(w.seq), false);
});

Deno.test("probe tracker: an ack after the check ends the wait acked; a late check keeps the deadline", async () => {
  const { clock } = countingClock();
  const t = new ProbeTracker(clock);
  let ran = 0;
  const w = t.expect(t.nextSeq(), 500, { atMs: 100, run: () => ran++ });
  await clock.advance(250);
  t.ack(w.seq);
  assert.deepEqual(await w.result, { acked: true, nacks: 0 });
  assert.equal(ran, 1);
  assert.equal(t.isAcked(w.seq), true);
  // a check at or past the timeout is no check: the plain timeout
  const late = t.expect(t.nextSeq(), 200, { atMs: 200, run: () => ran++ });
  await clock.advance(200);
  assert.deepEqual(await late.result, { acked: false, nacks: 0 });
  assert.equal(ran, 1);
});

Deno.test("probe tracker: cancelAll ends every wait unacked, before its check, and disarms its timer", async () => {
  const { clock } = countingClock();
  const t = new ProbeTracker(clock);
  let ran = 0;
  const a = t.expect(t.nextSeq(), 500, { atMs: 100, run: () => ran++ });
  const b = t.expect(t.nextSeq(), 500);
  t.cancelAll();
  assert.deepEqual(await a.result, { acked: false, nacks: 0 });
  assert.deepEqual(await b.result, { acked: false, nacks: 0 });
  await clock.advance(1000);
  assert.equal(ran, 0);
});

Deno.test("probe tracker: a wall clock stepped back an hour during the wait does not stretch it", async () => {
  const base = new VirtualClock(0);
  const stepped = steppedClock(base);
  const t = new ProbeTracker(stepped);
  let endedAt = -1;
  const w = t.expect(t.nextSeq(), 500, {
    atMs: 100,
    run: () => {},
  });
  w.result.then(() => endedAt = base.now());
  await base.advance(50);
  stepped.step(-3_600_000); // the step comes between the probe's start and its check
  await base.advance(1000);
  assert.equal(endedAt, 500);
});
