import assert from "node:assert/strict";
import { VirtualClock } from "../../lib/clock/mod.ts";
import { KvUpkeep, PURGE_MS, TICK_MS, type UpkeepSource } from "../../lib/kv/upkeep.ts";
import { steppedClock } from "../clock_step.ts";

Deno.test("KV upkeep: wakes only when hints wait, a TTL is due or the purge is; at most once a second", async () => {
  const clock = new VirtualClock(0);
  let hints = false;
  let nextExpiry = Infinity;
  const source: UpkeepSource = { nextWorkAt: (now) => hints ? now : nextExpiry, onWork: null };
  const ticks: Array<[number, boolean]> = [];
  const upkeep = new KvUpkeep(clock, source, (purge) => ticks.push([clock.now(), purge]));
  upkeep.start();
  await clock.advance(TICK_MS);
  assert.deepEqual(ticks, [[TICK_MS, false]], "a first tick asks what is pending");
  // nothing pending: asleep until the purge
  await clock.advance(30_000);
  assert.equal(ticks.length, 1);
  assert.equal(upkeep.nextAt, PURGE_MS);
  // a TTL write: woken at the expiry
  nextExpiry = 40_000;
  source.onWork!(40_000);
  await clock.advance(9_000); // t = 40 000
  assert.deepEqual(ticks.at(-1), [40_000, false]);
  nextExpiry = Infinity;
  // a hint: delivered at the next tick (no sooner than a second after the last), then every second while it waits
  hints = true;
  source.onWork!(0);
  assert.equal(upkeep.nextAt, 40_000 + TICK_MS);
  await clock.advance(3_000); // t = 43 000
  assert.deepEqual(ticks.slice(-3).map(([t]) => t), [41_000, 42_000, 43_000]);
  hints = false;
  await clock.advance(1_000); // the tick at 44 000 finds no hint
  await clock.advance(15_000); // t = 59 000: asleep
  assert.equal(ticks.at(-1)![0], 44_000);
  await clock.advance(1_000);
  assert.deepEqual(ticks.at(-1), [PURGE_MS, true], "the purge, once a minute");
  upkeep.stop();
  const n = ticks.length;
  source.onWork?.(0);
  await clock.advance(5 * PURGE_MS);
  assert.equal(ticks.length, n, "stopped: no more ticks");
  assert.equal(clock.pending, 0);
});

Deno.test("KV upkeep: the purge runs on the epoch minute grid (the other minute jobs' wake-up), once a minute", async () => {
  const clock = new VirtualClock(1_800_000_012_345);
  const source: UpkeepSource = { nextWorkAt: () => Infinity, onWork: null };
  const ticks: Array<[number, boolean]> = [];
  const upkeep = new KvUpkeep(clock, source, (purge) => ticks.push([clock.now(), purge]));
  upkeep.start();
  await clock.advance(4 * PURGE_MS);
  upkeep.stop();
  const purges = ticks.filter(([, p]) => p).map(([t]) => t);
  assert.equal(purges.length, 4);
  assert.ok(purges.every((t) => t % PURGE_MS === 0), `purges at ${purges}`);
  assert.deepEqual(purges.slice(1).map((t, i) => t - purges[i]), [PURGE_MS, PURGE_MS, PURGE_MS]);
  assert.ok(purges[0] - 1_800_000_012_345 <= PURGE_MS, "the first within a minute of the start");
  assert.equal(ticks.length, 5, "besides the first tick, nothing but the purges");
});

Deno.test("KV upkeep: after the wall clock steps back an hour, a hint is still delivered within a second and the purge comes within a minute", async () => {
  const base = new VirtualClock(1_800_000_000_000);
  const clock = steppedClock(base);
  let hints = false;
  const source: UpkeepSource = { nextWorkAt: (now) => hints ? now : Infinity, onWork: null };
  const ticks: Array<[number, boolean]> = [];
  const upkeep = new KvUpkeep(clock, source, (purge) => {
    ticks.push([base.now(), purge]);
    hints = false; // delivered
  });
  upkeep.start();
  await base.advance(2 * TICK_MS);
  clock.step(-3_600_000);
  const n = ticks.length;
  hints = true;
  source.onWork!(clock.now());
  await base.advance(TICK_MS + 1);
  assert.equal(ticks.length, n + 1, "the hint waited for the step");
  await base.advance(PURGE_MS);
  assert.ok(ticks.slice(n).some(([, purge]) => purge), "no purge within a minute of the step");
  upkeep.stop();
});
