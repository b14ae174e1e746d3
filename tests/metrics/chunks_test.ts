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

Deno.test("a database of schema 4 keeps its chunks when they move out of the WITHOUT ROWID table; reads see them", () => {
  const dir = Deno.makeTempDirSync({ prefix: "chunks-v5-" });
  try {
    const path = `${dir}/metrics.db`;
    const old = openDatabase(path, METRICS_MIGRATIONS.slice(0, 4));
    const id = old.run("INSERT INTO series (name, created) VALUES ('cpu', 0)").lastInsertRowid;
    const t0 = 1_700_006_400;
    const blob = (h: number) =>
      encodeChunk(t0 + h * 3600, 10, [[t0 + h * 3600, h], [t0 + h * 3600 + 10, h + 0.5]]);
    old.run("INSERT INTO compact_state (level, done_until) VALUES (0, ?)", t0 + 3 * 3600);
    for (const h of [2, 0, 1]) {
      old.run(
        "INSERT INTO chunks (series, level, start, step, data) VALUES (?, 0, ?, 10, ?)",
        id,
        t0 + h * 3600,
        blob(h),
      );
    }
    old.close();
    const db = openDatabase(path, METRICS_MIGRATIONS);
    try {
      const sql = db.get<{ sql: string }>("SELECT sql FROM sqlite_schema WHERE name = 'chunks'")!.sql;
      assert.doesNotMatch(
        sql,
        /WITHOUT ROWID/i,
        "a rowid table: a chunk no longer spills into the key's b-tree",
      );
      assert.deepEqual(
        db.all<{ start: number; data: Uint8Array }>("SELECT start, data FROM chunks ORDER BY start").map((
          r,
        ) => [
          r.start,
          [...decodeChunk(r.start, 10, r.data)],
        ]),
        [0, 1, 2].map((h) => [t0 + h * 3600, [[t0 + h * 3600, h], [t0 + h * 3600 + 10, h + 0.5]]]),
      );
      // the key is still unique: a chunk written again replaces the old one
      db.run(
        "INSERT OR REPLACE INTO chunks (series, level, start, step, data) VALUES (?, 0, ?, 10, ?)",
        id,
        t0,
        blob(7),
      );
      assert.equal(db.get<{ n: number }>("SELECT COUNT(*) AS n FROM chunks")!.n, 3);
      assert.throws(
        () =>
          db.run(
            "INSERT INTO chunks (series, level, start, step, data) VALUES (?, 0, ?, 10, ?)",
            id,
            t0,
            blob(8),
          ),
        /UNIQUE/,
      );
      const s = new TimeSeriesStore(db, {
        levels: parseRetentions("10s:1d,1m:31d,1h:1y"),
        rules: compileRules([]),
        now: () => (t0 + 3 * 3600) * 1000,
        maxPending: 1000,
      });
      const got = s.fetch("cpu", t0 - 10, t0 + 3 * 3600); // from is exclusive
      const at = (t: number) => got.values[(t - got.start) / got.step];
      assert.equal(at(t0), 7);
      assert.equal(at(t0 + 3600 + 10), 1.5);
      assert.equal(at(t0 + 7200), 2);
    } finally {
      db.close();
    }
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
