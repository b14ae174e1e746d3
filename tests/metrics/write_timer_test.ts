import assert from "node:assert/strict";
import { VirtualClock } from "../../lib/clock/mod.ts";
import { createMetrics } from "../../lib/metrics/mod.ts";
import { makeTestCtx } from "../helpers.ts";

Deno.test("metrics: the write timer sleeps while nothing is pending; a point wakes it and lands within flush_interval", async () => {
  const clock = new VirtualClock(1_700_000_000_000);
  const ctx = makeTestCtx({ clock });
  const m = createMetrics(ctx);
  await m.start();
  try {
    const store = m.service.store;
    const ticks = () => m.service.info().write_ticks as number;
    await clock.advance(30_000);
    assert.equal(store.stats.writes, 0, "no points, no write");
    assert.equal(ticks(), 0, "and no wake-up");
    const now = Math.floor(clock.now() / 1000);
    ctx.bus.emit("metrics.points", { points: [["idle.test.a", 1, now], ["idle.test.b", 2, now]] });
    assert.equal(store.pending, 2);
    // the first points after a quiet interval are written in the same instant (no wake-up of their own)
    await clock.advance(0);
    assert.equal(store.pending, 0);
    assert.equal(store.stats.writes, 1, "both points in one write");
    assert.equal(ticks(), 1, "one tick: nothing was left after it");
    // more within the interval wait for its grid: one write for them together
    m.service.ingest("idle.test.a", 5, now);
    await clock.advance(100);
    m.service.ingest("idle.test.b", 6, now);
    assert.equal(store.pending, 2);
    await clock.advance(1000); // the default flush_interval
    assert.equal(store.pending, 0);
    assert.equal(store.stats.writes, 2);
    assert.equal(ticks(), 2);
    assert.ok(store.has("idle.test.a") && store.has("idle.test.b"));
    // points a few seconds apart each land within a flush interval; none waits for a later one
    for (let i = 1; i <= 3; i++) {
      await clock.advance(4000);
      m.service.ingest("idle.test.a", i, Math.floor(clock.now() / 1000));
      await clock.advance(1000);
      assert.equal(store.pending, 0, `point ${i} written`);
    }
    const after = ticks();
    await clock.advance(60_000);
    assert.equal(ticks(), after, "asleep again");
  } finally {
    await m.stop();
    ctx.cleanup();
  }
});

Deno.test("metrics: the rollup pass runs every rollup_interval on the epoch grid of that interval", async () => {
  const clock = new VirtualClock(1_700_000_012_345); // 12.345 s past a whole minute
  const ctx = makeTestCtx({ clock });
  const m = createMetrics(ctx);
  await m.start();
  try {
    const passes: number[] = [];
    const store = m.service.store;
    const real = store.rollupInSlices.bind(store);
    store.rollupInSlices = (slice?: number, stop?: () => boolean) => {
      passes.push(clock.now());
      return real(slice, stop);
    };
    await clock.advance(180_000);
    // the default rollup_interval (60 s), at whole minutes of the epoch: with the agent's 10 s jobs
    assert.deepEqual(passes, [1_700_000_040_000, 1_700_000_100_000, 1_700_000_160_000]);
  } finally {
    await m.stop();
    ctx.cleanup();
  }
});

Deno.test("metrics: stop waits for a rollup pass in progress, which gives up at its next slice", async () => {
  const clock = new VirtualClock(1_700_000_012_345);
  const ctx = makeTestCtx({ clock });
  const m = createMetrics(ctx);
  await m.start();
  const store = m.service.store;
  const now = Math.floor(clock.now() / 1000);
  for (let i = 0; i < 1200; i++) m.service.ingest(`roll.s${i}`, i, now); // three slices of 500
  await clock.advance(1000);
  assert.equal(store.pending, 0);
  let slicesSeen = 0;
  let ended = false;
  const real = store.rollupInSlices.bind(store);
  store.rollupInSlices = (slice?: number, stop?: () => boolean) =>
    real(slice, () => {
      slicesSeen++;
      return stop?.() ?? false;
    }).finally(() => ended = true);
  await clock.advance(60_000); // the pass starts: its first slice, then a turn of the event loop
  const stopping = m.stop();
  assert.equal(ended, false, "the pass is still in progress when stop begins");
  await stopping;
  assert.equal(ended, true, "stop returned after the pass ended");
  assert.equal(slicesSeen, 1, "it gave up after its first slice");
  assert.equal(ctx.counters.get("metrics_errors_total", { what: "rollup" }), 0);
  ctx.cleanup();
});
