/** Deadlines: one timer for every io call in flight, each call still expired at its own deadline. */
import assert from "node:assert/strict";
import { Deadlines } from "../../lib/evaluator/deadlines.ts";
import { VirtualClock } from "../../lib/clock/mod.ts";

function counting(clock: VirtualClock) {
  const c = { armed: 0, clock };
  const set = clock.setTimeout.bind(clock);
  clock.setTimeout = (fn, ms) => (c.armed++, set(fn, ms));
  return c;
}

Deno.test("deadlines: calls in flight together share one timer, cleared when the last ends", async () => {
  const clock = new VirtualClock(0);
  const c = counting(clock);
  const d = new Deadlines(clock);
  const expired: string[] = [];
  const done = ["a", "b", "c"].map((n) => d.watch(5000, () => expired.push(n)));
  assert.equal(c.armed, 1, "one timer for three calls");
  done.forEach((f) => f());
  assert.equal(d.armed, false);
  await clock.advance(0);
  assert.equal(c.armed, 1, "ended within the task: no deadline timer was armed at all");
  await clock.advance(10_000);
  assert.equal(expired.length, 0, "finished calls never expire");
  // the next round arms it again
  d.watch(5000, () => expired.push("d"))();
  assert.equal(c.armed, 2);
});

Deno.test("deadlines: a call still in flight expires at its own deadline; the others keep theirs", async () => {
  const clock = new VirtualClock(0);
  const c = counting(clock);
  const d = new Deadlines(clock);
  const expired: Array<[string, number]> = [];
  const slow = d.watch(5000, () => expired.push(["slow", clock.now()]));
  await clock.advance(1000);
  const later = d.watch(5000, () => expired.push(["later", clock.now()]));
  const quick = d.watch(2000, () => expired.push(["quick", clock.now()])); // earlier than the armed one
  assert.equal(c.armed, 3, "the 0 ms check, the deadline of `slow`, then the earlier one of `quick`");
  quick();
  await clock.advance(4000);
  assert.deepEqual(expired, [["slow", 5000]]);
  await clock.advance(1000);
  assert.deepEqual(expired, [["slow", 5000], ["later", 6000]]);
  slow(); // after it expired: nothing
  later();
  assert.equal(d.size, 0);
  assert.equal(d.armed, false);
});

Deno.test("deadlines: a call still in flight after its task gets its deadline timer (armed by a 0 ms check)", async () => {
  const clock = new VirtualClock(0);
  const d = new Deadlines(clock);
  const expired: number[] = [];
  const done = d.watch(5000, () => expired.push(clock.now()));
  assert.equal(d.armed, false, "not armed within the task");
  await clock.advance(0);
  assert.equal(d.armed, true, "armed once the task is over");
  await clock.advance(5000);
  assert.deepEqual(expired, [5000], "expired at its own deadline");
  done();
  assert.equal(d.armed, false);
});
