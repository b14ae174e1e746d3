import assert from "node:assert/strict";
import { openDatabase } from "../../lib/store/mod.ts";
import { compileRules, METRICS_MIGRATIONS, parseRetentions, TimeSeriesStore } from "../../lib/metrics/mod.ts";
import { CHUNK_POINTS, decodeChunk, encodeChunk, mergeRows } from "../../lib/metrics/chunks.ts";

Deno.test("chunk blobs round-trip, keep gaps, merge with a base; rows merge with the newer winning", () => {
  const blob = encodeChunk(3600, 10, [[3600, 1], [3620, 3], [3600 + 10 * (CHUNK_POINTS - 1), 9]]);
  assert.equal(blob.length, CHUNK_POINTS * 8);
  assert.deepEqual(decodeChunk(3600, 10, blob), [[3600, 1], [3620, 3], [3600 + 10 * (CHUNK_POINTS - 1), 9]]);
  assert.deepEqual(decodeChunk(3600, 10, blob, 3610, 3700), [[3620, 3]]);
  const merged = encodeChunk(3600, 10, [[3610, 2], [3620, 30]], blob);
  assert.deepEqual(decodeChunk(3600, 10, merged).slice(0, 3), [[3600, 1], [3610, 2], [3620, 30]]);
  assert.deepEqual(mergeRows([[1, 1], [2, 2], [4, 4]], [[2, 20], [3, 30]]), [[1, 1], [2, 20], [3, 30], [
    4,
    4,
  ]]);
});

Deno.test("complete hours move into chunks; reads, rollups and late points are unchanged by it", () => {
  const now = { t: 1_700_006_400 }; // an hour boundary
  const t0 = now.t;
  const db = openDatabase(":memory:", METRICS_MIGRATIONS);
  const s = new TimeSeriesStore(db, {
    levels: parseRetentions("10s:1d,1m:31d,1h:1y"),
    rules: compileRules([]),
    now: () => now.t * 1000,
    maxPending: 1_000_000,
  });
  // 3 hours at 10 s
  for (let i = 0; i < 3 * 360; i++) {
    now.t = t0 + i * 10;
    assert.ok(s.add("cpu", i % 60, now.t));
  }
  now.t = t0 + 3 * 3600 + 30;
  s.flush();
  const before = s.fetch("cpu", t0 - 1, now.t);
  s.rollup();
  assert.equal(s.stats.points_compacted, 3 * 360, "three complete hours compacted");
  assert.equal(db.get<{ n: number }>("SELECT COUNT(*) AS n FROM points WHERE level = 0")!.n, 0);
  assert.equal(db.get<{ n: number }>("SELECT COUNT(*) AS n FROM chunks WHERE level = 0")!.n, 3);
  assert.deepEqual(s.fetch("cpu", t0 - 1, now.t), before, "same answer from chunks");
  // minute averages still right (rolled up from the merged level 0)
  const m = s.fetch("cpu", now.t - 20 * 86400, now.t);
  assert.equal(m.step, 60);
  const mins = m.values.filter((v) => v !== null);
  assert.equal(mins.length, 180);
  assert.ok(
    mins.every((v) =>
      v === 2.5 || v === 8.5 || v === 14.5 || v === 20.5 || v === 26.5 || v === 32.5 || v === 38.5 ||
      v === 44.5 || v === 50.5 || v === 56.5
    ),
    String(mins.slice(0, 12)),
  );
  // a late point into a compacted hour is seen at once and wins
  s.add("cpu", 1000, t0 + 50);
  s.flush();
  assert.equal(s.fetch("cpu", t0 - 1, t0 + 3600).values[5], 1000);
  now.t += 3600;
  s.rollup(); // the late row is folded into its chunk on a later pass? it stays a row until expiry: still seen
  assert.equal(s.fetch("cpu", t0 - 1, t0 + 3600).values[5], 1000);
  // a day and an hour later the compacted hours expire
  now.t = t0 + 86400 + 5 * 3600;
  s.rollup();
  assert.equal(db.get<{ n: number }>("SELECT COUNT(*) AS n FROM chunks WHERE level = 0")!.n, 0);
  const later = s.fetch("cpu", now.t - 20 * 86400, now.t);
  assert.equal(
    later.values.filter((v) => v !== null).length,
    180,
    "the minutes stay (in level-1 chunks now)",
  );
  assert.ok(db.get<{ n: number }>("SELECT COUNT(*) AS n FROM chunks WHERE level = 1")!.n >= 1);
  db.close();
});
