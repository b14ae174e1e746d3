import assert from "node:assert/strict";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { VirtualClock } from "../../lib/clock/mod.ts";
import { createMetrics } from "../../lib/metrics/mod.ts";
import { METRICS_WAL_AUTOCHECKPOINT, METRICS_WAL_SIZE_LIMIT } from "../../lib/metrics/service.ts";
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

Deno.test("metrics.db: a -wal file grown past METRICS_WAL_SIZE_LIMIT (a reader held the checkpoint back) is cut back when the WAL restarts", async () => {
  const clock = new VirtualClock(1_700_000_000_000);
  using ctx = makeTestCtx({ clock });
  const m = createMetrics(ctx);
  await m.start();
  const wal = join(ctx.config.params.data, "metrics.db-wal");
  const store = m.service.store;
  let round = 0;
  const writeRound = async () => {
    await clock.advance(10_000);
    const now = Math.floor(clock.now() / 1000);
    for (let s = 0; s < 4000; s++) store.add(`wal.limit.series${s}`, round, now);
    store.flush();
    store.settle();
    round++;
  };
  const reader = new DatabaseSync(join(ctx.config.params.data, "metrics.db"));
  try {
    // a second connection in a read transaction: no checkpoint can reach past its snapshot
    reader.exec("BEGIN");
    reader.prepare("SELECT count(*) AS n FROM points").get();
    while (Deno.statSync(wal).size <= METRICS_WAL_SIZE_LIMIT + 4 * 1024 * 1024 && round < 400) {
      await writeRound();
    }
    const grown = Deno.statSync(wal).size;
    assert.ok(grown > METRICS_WAL_SIZE_LIMIT, `the held-back WAL grew to ${grown} bytes`);
    reader.exec("COMMIT");
    reader.close();
    // the next commits copy the WAL back (it is past the threshold), then restart it from the top
    for (let i = 0; i < 3; i++) await writeRound();
    const after = Deno.statSync(wal).size;
    assert.ok(
      after <= METRICS_WAL_SIZE_LIMIT,
      `the -wal file is ${after} bytes after the restart (was ${grown})`,
    );
    assert.equal(
      store.fetch("wal.limit.series3999", clock.now() / 1000 - 30, clock.now() / 1000).values.at(-1),
      round - 1,
    );
  } finally {
    if (reader.isOpen) reader.close();
    await m.stop();
  }
});
