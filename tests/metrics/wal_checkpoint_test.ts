import assert from "node:assert/strict";
import { join } from "node:path";
import { VirtualClock } from "../../lib/clock/mod.ts";
import { createMetrics } from "../../lib/metrics/mod.ts";
import { METRICS_WAL_AUTOCHECKPOINT } from "../../lib/metrics/service.ts";
import { makeTestCtx } from "../helpers.ts";

Deno.test("metrics.db: the WAL is copied back only past METRICS_WAL_AUTOCHECKPOINT frames, not SQLite's 1 000", async () => {
  assert.ok(METRICS_WAL_AUTOCHECKPOINT > 1000);
  const clock = new VirtualClock(1_700_000_000_000);
  using ctx = makeTestCtx({ clock });
  const m = createMetrics(ctx);
  await m.start();
  try {
    const wal = join(ctx.config.params.data, "metrics.db-wal");
    const store = m.service.store;
    // one point for each of 400 series every 10 s, each round settled at once: every write
    // dirties every page of the points table (clustered by series)
    for (let round = 0; round < 60; round++) {
      await clock.advance(10_000);
      const now = Math.floor(clock.now() / 1000);
      for (let s = 0; s < 400; s++) store.add(`wal.test.series${s}`, round, now);
      store.flush();
      store.settle();
    }
    const pageSize = 4096;
    const frames = (Deno.statSync(wal).size - 32) / (24 + pageSize);
    // with SQLite's default the WAL restarts after each commit past 1 000 frames: never much longer
    assert.ok(frames > 1500, `the WAL holds ${frames} frames`);
    assert.ok(frames <= METRICS_WAL_AUTOCHECKPOINT + 500, `and was copied back at the threshold (${frames})`);
    assert.equal(
      store.fetch("wal.test.series399", clock.now() / 1000 - 30, clock.now() / 1000).values.at(-1),
      59,
    );
  } finally {
    await m.stop();
  }
});
