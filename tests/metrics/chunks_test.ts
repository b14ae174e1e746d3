import assert from "node:assert/strict";
import { openDatabase } from "../../lib/store/mod.ts";
import { compileRules, METRICS_MIGRATIONS, parseRetentions, TimeSeriesStore } from "../../lib/metrics/mod.ts";
import {
  CHUNK_POINTS,
  chunkValues,
  decodeChunk,
  encodeChunk,
  mergeRows,
  packChunk,
  PACKED_MAGIC,
  RAW_BYTES,
} from "../../lib/metrics/chunks.ts";
import { LATE_MAX_PASSES } from "../../lib/metrics/ts_late.ts";
import { REPACK_PER_PASS } from "../../lib/metrics/ts_repack.ts";
import { COMPACT_SLICE } from "../../lib/metrics/ts_store.ts";

/** A store's options on the clock `now` (seconds), with `retentions`. */
function storeOpts(now: { t: number }, retentions = "10s:1d,1m:31d") {
  return {
    levels: parseRetentions(retentions),
    rules: compileRules([]),
    now: () => now.t * 1000,
    maxPending: 1_000_000,
  };
}

/** Rows of a level not in a chunk: settled or fresh. */
function rowsAt(db: ReturnType<typeof openDatabase>, lv: number): number {
  return db.get<{ n: number }>(
    "SELECT (SELECT COUNT(*) FROM points WHERE level = ?) + (SELECT COUNT(*) FROM fresh WHERE level = ?) AS n",
    lv,
    lv,
  )!.n;
}

Deno.test("chunk blobs round-trip, keep gaps, merge with a base; rows merge with the newer winning", () => {
  const blob = encodeChunk(3600, 10, [[3600, 1], [3620, 3], [3600 + 10 * (CHUNK_POINTS - 1), 9]]);
  assert.equal(blob[0], PACKED_MAGIC);
  assert.ok(blob.length < 60, `three integers and a bitmap: ${blob.length} bytes`);
  assert.deepEqual(decodeChunk(3600, 10, blob), [[3600, 1], [3620, 3], [3600 + 10 * (CHUNK_POINTS - 1), 9]]);
  assert.deepEqual(decodeChunk(3600, 10, blob, 3610, 3700), [[3620, 3]]);
  const merged = encodeChunk(3600, 10, [[3610, 2], [3620, 30]], blob);
  assert.deepEqual(decodeChunk(3600, 10, merged).slice(0, 3), [[3600, 1], [3610, 2], [3620, 30]]);
  assert.deepEqual(mergeRows([[1, 1], [2, 2], [4, 4]], [[2, 20], [3, 30]]), [[1, 1], [2, 20], [3, 30], [
    4,
    4,
  ]]);
});

Deno.test("a pass that compacts takes COMPACT_SLICE series per transaction, yielding between them; same result as one pass", async () => {
  const now = { t: 1_700_006_400 }; // an hour boundary
  const t0 = now.t;
  const series = 3 * COMPACT_SLICE + 5;
  const made = [0, 1].map(() => {
    const db = openDatabase(":memory:", METRICS_MIGRATIONS);
    return { db, s: new TimeSeriesStore(db, storeOpts(now, "10s:1d,1m:31d,1h:1y")) };
  });
  const [one, sliced] = made;
  for (let i = 0; i < 360; i++) {
    now.t = t0 + i * 10;
    for (let k = 0; k < series; k++) for (const { s } of made) assert.ok(s.add(`m${k}`, (i * k) % 97, now.t));
  }
  now.t = t0 + 3600 + 30; // the hour is complete: the pass compacts it
  for (const { s } of made) s.flush();
  const whole = one.s.rollup();
  let turns = 0; // stop() is asked after each slice of the series
  const parts = await sliced.s.rollupInSlices(500, () => (turns++, false));
  assert.deepEqual(parts, whole);
  assert.equal(sliced.s.stats.points_compacted, series * 360);
  assert.ok(turns >= Math.ceil(series / COMPACT_SLICE), `${turns} slices for ${series} series`);
  const dump = (db: typeof one.db) =>
    db.all("SELECT series, level, start, step, data FROM chunks ORDER BY 1, 2, 3");
  assert.equal(dump(sliced.db).length, series);
  assert.deepEqual(dump(sliced.db), dump(one.db));
  // the next pass compacts nothing: slices of 500 again
  now.t += 60;
  turns = 0;
  await sliced.s.rollupInSlices(500, () => (turns++, false));
  assert.ok(turns < Math.ceil(series / COMPACT_SLICE), `${turns} slices without a compaction`);
  for (const { db } of made) db.close();
});

Deno.test("points written into the windows of a sliced pass after their series was done are late: a later pass rolls and compacts them", async () => {
  const now = { t: 1_700_006_400 }; // an hour boundary
  const t0 = now.t;
  const db = openDatabase(":memory:", METRICS_MIGRATIONS);
  const s = new TimeSeriesStore(db, storeOpts(now, "10s:1d,1m:31d,1h:1y"));
  const series = 2 * COMPACT_SLICE;
  for (let i = 0; i < 366; i++) { // the hour and the minute after it
    now.t = t0 + i * 10;
    for (let k = 0; k < series; k++) s.add(`m${k}`, 1, now.t);
  }
  now.t = t0 + 3600 + 130; // compacts the hour, rolls the minutes up to the one after it
  s.flush();
  let wrote = false;
  await s.rollupInSlices(500, () => {
    if (!wrote) { // after the first slice (m0 done): backfilled points of m0
      wrote = true;
      assert.ok(s.add("m0", 42, t0 + 600)); // in the compacted hour
      assert.ok(s.add("m0", 100, t0 + 3610)); // in the minute rolled up, after the hour
      s.flush();
    }
    return false;
  });
  assert.ok(wrote);
  assert.equal(s.stats.points_late, 2, "the points came after their series was rolled up and compacted");
  now.t += 60;
  s.rollup(); // the late points may still be arriving: they wait a pass
  now.t += 60;
  s.rollup(); // the late rows' pass
  assert.equal(rowsAt(db, 0) - 6 * series, 0, "no row of the hour left outside the chunks");
  const f = s.fetch("m0", t0 - 1, t0 + 3590);
  assert.equal(f.values[(t0 + 600 - f.start) / f.step], 42);
  assert.equal(f.values.filter((v) => v !== null).length, 360, "the rest of the hour unchanged");
  const m = s.fetch("m0", now.t - 2 * 86_400, now.t);
  assert.equal(m.step, 60);
  assert.equal(
    m.values[(t0 + 3600 - m.start) / 60],
    105 / 6,
    "the minute rolled up again with the late point",
  );
  assert.equal(m.values[(t0 + 600 - m.start) / 60], 47 / 6);
  db.close();
});

Deno.test("with one level (nothing rolled up), a point written into a sliced pass's compacted window is late too", async () => {
  const now = { t: 1_700_006_400 };
  const t0 = now.t;
  const db = openDatabase(":memory:", METRICS_MIGRATIONS);
  const s = new TimeSeriesStore(db, storeOpts(now, "10s:1d"));
  for (let i = 0; i < 360; i++) {
    now.t = t0 + i * 10;
    for (let k = 0; k < 2 * COMPACT_SLICE; k++) s.add(`m${k}`, 1, now.t);
  }
  now.t = t0 + 3600 + 30;
  s.flush();
  let wrote = false;
  await s.rollupInSlices(500, () => {
    if (!wrote) {
      wrote = true;
      assert.ok(s.add("m0", 42, t0 + 600));
      s.flush();
    }
    return false;
  });
  assert.equal(s.stats.points_late, 1);
  for (let i = 0; i < 2; i++) {
    now.t += 60;
    s.rollup();
  }
  assert.equal(rowsAt(db, 0), 0, "no row left outside the chunks");
  const f = s.fetch("m0", t0 - 1, t0 + 3590);
  assert.equal(f.values[(t0 + 600 - f.start) / f.step], 42);
  db.close();
});

Deno.test("complete hours move into chunks; reads, rollups and late points are unchanged by it", () => {
  const now = { t: 1_700_006_400 }; // an hour boundary
  const t0 = now.t;
  const db = openDatabase(":memory:", METRICS_MIGRATIONS);
  const s = new TimeSeriesStore(db, storeOpts(now, "10s:1d,1m:31d,1h:1y"));
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
  assert.equal(s.stats.points_late, 0, "points as they come are not late");
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

/** A seeded generator (mulberry32), so a failure names the case that made it. */
function rng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function sameBits(a: Float64Array, b: Float64Array, what: string): void {
  assert.equal(a.length, b.length);
  for (let i = 0; i < a.length; i++) {
    if (Number.isNaN(a[i]) && Number.isNaN(b[i])) continue;
    assert.ok(Object.is(a[i], b[i]), `${what}: slot ${i} was ${a[i]}, came back ${b[i]}`);
  }
}

Deno.test("packed chunks give back every value with its bits, whatever the values and gaps", () => {
  const odd = [
    0,
    -0,
    1,
    -1,
    0.1,
    0.3,
    1e-7,
    123456.789,
    2 ** 50,
    2 ** 53,
    -(2 ** 60),
    1e300,
    5e-324,
    Infinity,
    -Infinity,
  ];
  const kinds: Array<(r: () => number, i: number) => number> = [
    (r) => Math.floor(r() * 1000), // counts
    (_r, i) => 1_000_000 + i * 7, // a growing counter
    (r) => Math.round(r() * 1e4) / 10, // rates of counts (one decimal)
    (r) => Math.round(r() * 1e9) / 1e6, // six decimals
    (r) => Math.round(r() * 1e9) / 1e7, // seven: not decimal
    (r) => r() * 100, // arbitrary doubles
    () => 42.5, // a constant gauge
    (r) => odd[Math.floor(r() * odd.length)],
    (r) => (r() - 0.5) * 2 ** 52, // large integers and halves
  ];
  const forms = { raw: 0, decimal: 0, xor: 0 };
  for (let seed = 1; seed <= 300; seed++) {
    const r = rng(seed);
    const kind = kinds[seed % kinds.length];
    const density = [1, 1, 0.9, 0.5, 0.02, 0][seed % 6];
    const values = new Float64Array(CHUNK_POINTS).fill(NaN);
    for (let i = 0; i < CHUNK_POINTS; i++) if (r() < density) values[i] = kind(r, i);
    const blob = packChunk(values);
    assert.ok(blob.length <= RAW_BYTES, `seed ${seed}: ${blob.length} bytes`);
    forms[blob.length === RAW_BYTES ? "raw" : blob[1] >> 4 === 0 ? "decimal" : "xor"]++;
    sameBits(chunkValues(blob), values, `seed ${seed} (${blob.length} bytes)`);
    // a blob read back at an odd offset in a larger buffer (as SQLite may hand it over)
    const shifted = new Uint8Array(blob.length + 1);
    shifted.set(blob, 1);
    sameBits(chunkValues(shifted.subarray(1)), values, `seed ${seed}, unaligned`);
  }
  assert.ok(forms.raw > 10 && forms.decimal > 10 && forms.xor > 10, JSON.stringify(forms));
});

Deno.test("packed chunks are small where metrics repeat or count, and never larger than raw", () => {
  const full = (f: (i: number) => number) => Float64Array.from({ length: CHUNK_POINTS }, (_, i) => f(i));
  const sizes = {
    counts: packChunk(full((i) => (i * 37) % 200)).length,
    counter: packChunk(full((i) => 5_000_000 + i * 13)).length,
    rate: packChunk(full((i) => ((i * 7) % 50) / 10)).length,
    gauge: packChunk(full(() => 17.25)).length,
    doubles: packChunk(full((i) => Math.sin(i) * 1e3)).length,
  };
  assert.ok(sizes.counts <= 3 + 2 * CHUNK_POINTS, JSON.stringify(sizes));
  // header, the first value (4 bytes of varint), then one byte a step
  assert.equal(sizes.counter, 3 + 4 + (CHUNK_POINTS - 1), JSON.stringify(sizes));
  assert.ok(sizes.rate <= 3 + CHUNK_POINTS, JSON.stringify(sizes));
  // 17.25 is 1725 hundredths (two bytes), then a zero difference a point
  assert.equal(sizes.gauge, 3 + 2 + (CHUNK_POINTS - 1), JSON.stringify(sizes));
  assert.equal(sizes.doubles, RAW_BYTES, "noise is kept raw, not grown");
  // slowly moving doubles XOR to ~85 % of raw: not worth unpacking at every read, kept raw too
  assert.equal(packChunk(full((i) => 3 + Math.sin(i / 60))).length, RAW_BYTES);
  // a sparse chunk of doubles is worth it
  const sparse = new Float64Array(CHUNK_POINTS).fill(NaN);
  for (let i = 0; i < CHUNK_POINTS; i += 10) sparse[i] = 3 + Math.sin(i / 60);
  assert.ok(packChunk(sparse).length < 400);
  sameBits(chunkValues(packChunk(sparse)), sparse, "sparse doubles");
  // minus zero among integers keeps its sign
  const zeros = full((i) => i % 3 === 0 ? -0 : i);
  sameBits(chunkValues(packChunk(zeros)), zeros, "minus zero");
  sameBits(chunkValues(packChunk(full((i) => Math.sin(i) * 1e3))), full((i) => Math.sin(i) * 1e3), "raw");
});

Deno.test("a raw chunk of an earlier version still reads, and merges into a packed one", () => {
  const raw = new Float64Array(CHUNK_POINTS).fill(NaN);
  raw[0] = 1.5;
  raw[7] = 3;
  const blob = new Uint8Array(raw.buffer);
  assert.deepEqual(decodeChunk(0, 10, blob), [[0, 1.5], [70, 3]]);
  const merged = encodeChunk(0, 10, [[70, 4], [80, 5]], blob);
  assert.equal(merged[0], PACKED_MAGIC);
  assert.deepEqual(decodeChunk(0, 10, merged), [[0, 1.5], [70, 4], [80, 5]]);
});

Deno.test("a damaged packed chunk reads as what it holds up to the damage, without throwing", () => {
  const values = Float64Array.from({ length: CHUNK_POINTS }, (_, i) => i * 3);
  const xorValues = Float64Array.from({ length: CHUNK_POINTS }, (_, i) => i + 0.123456789);
  for (const blob of [packChunk(values), packChunk(xorValues)]) {
    assert.equal(blob[0], PACKED_MAGIC);
    for (const cut of [3, 4, 20, blob.length - 1]) {
      const got = chunkValues(blob.subarray(0, cut));
      assert.equal(got.length, CHUNK_POINTS);
      const n = got.filter((v) => !Number.isNaN(v)).length;
      assert.ok(n < CHUNK_POINTS, `cut at ${cut}: ${n} points`);
    }
    const bad = blob.slice();
    bad[1] = 0xf0; // an unknown mode
    assert.ok(chunkValues(bad).every((v) => Number.isNaN(v)));
  }
});

Deno.test("rows written after their span was compacted (a backfill) are compacted by a later pass, at every level", () => {
  const now = { t: 1_700_006_400 + 7 * 86_400 }; // an hour boundary
  const db = openDatabase(":memory:", METRICS_MIGRATIONS);
  const s = new TimeSeriesStore(db, storeOpts(now));
  s.add("old", 1, now.t - 5 * 3600 + 10); // a chunk already there for the backfill to merge with
  s.flush();
  s.rollup();
  assert.equal(rowsAt(db, 0), 0);
  // two hours of 20 s points from 6 h ago, and two days ago at 1 min (level 0 keeps one day)
  const t0 = now.t - 6 * 3600, d0 = now.t - 2 * 86_400 - 6 * 3600;
  for (let i = 0; i < 360; i++) s.add("old", i % 97, t0 + i * 20);
  for (let i = 0; i < 360; i++) s.add("older", (i % 13) / 4, d0 + i * 60);
  s.flush();
  const before = s.fetch("old", t0 - 1, t0 + 7200);
  const beforeOlder = s.fetch("older", d0 - 1, d0 + 6 * 3600);
  assert.equal(rowsAt(db, 0), 360);
  assert.equal(s.stats.points_late, 360 + 360, "both backfills counted");
  const lv1 = rowsAt(db, 1); // the backfill's 360, and the first pass's rollup of "old"
  assert.ok(lv1 >= 360);
  s.rollup(); // the backfill may still be arriving: it waits a pass
  assert.equal(rowsAt(db, 0), 360);
  s.rollup();
  assert.equal(rowsAt(db, 0), 0, "level 0's late rows are in chunks");
  // the older series' rows are in chunks; the backfill's minutes were rolled up again (rows until
  // their 6 h span is complete)
  assert.equal(rowsAt(db, 1), lv1 - 360 + 120, "level 1's late rows are in chunks; 120 minutes rolled again");
  const week = s.fetch("old", now.t - 2 * 86_400, now.t);
  assert.equal(week.step, 60);
  const minute = (ts: number) => week.values[(ts - week.start) / 60];
  assert.equal(minute(t0), (0 + 1 + 2) / 3, "a minute of the backfill, rolled up");
  assert.equal(minute(t0 + 119 * 60), ((357 % 97) + (358 % 97) + (359 % 97)) / 3);
  assert.equal(minute(t0 + 3600), (83 + 1 + 84 + 85) / 4, "the minute the first pass rolled from one point");
  assert.deepEqual(s.fetch("old", t0 - 1, t0 + 7200), before);
  assert.deepEqual(s.fetch("older", d0 - 1, d0 + 6 * 3600), beforeOlder);
  // the chunk's point at +10 s between two of the backfill's (i = 180 and 181)
  assert.deepEqual(
    s.fetch("old", now.t - 5 * 3600 - 1, now.t - 5 * 3600 + 20).values,
    [83, 1, 84],
    "merged with the chunk",
  );
});

Deno.test("a sender that is always late has its rows compacted every LATE_MAX_PASSES passes, not never", () => {
  const now = { t: 1_700_006_400 };
  const db = openDatabase(":memory:", METRICS_MIGRATIONS);
  const s = new TimeSeriesStore(db, storeOpts(now));
  s.rollup();
  let seen0 = -1;
  for (let pass = 0; pass < LATE_MAX_PASSES + 1; pass++) {
    now.t += 60;
    s.add("late", pass, now.t - 3 * 3600); // three hours behind, every minute
    s.flush();
    s.rollup();
    if (rowsAt(db, 0) === 0 && seen0 < 0) seen0 = pass;
  }
  assert.equal(seen0, LATE_MAX_PASSES - 1, "compacted at the tenth pass");
});

Deno.test("a point minutes late is rolled into its minute again; a minute half past the finer level's retention is not", () => {
  const now = { t: 1_700_006_400 };
  const T = now.t;
  const db = openDatabase(":memory:", METRICS_MIGRATIONS);
  const s = new TimeSeriesStore(db, storeOpts(now, "10s:30m,1m:1d")); // level 0 stays rows (its spans are too long to compact)
  const minuteOf = (ts: number) => {
    const f = s.fetch("x", now.t - 3600, now.t);
    assert.equal(f.step, 60);
    return f.values[(ts - f.start) / 60];
  };
  // a minute 29 min back, six points; and the minute before now-5min, one point
  const M = T - 29 * 60;
  for (let k = 0; k < 6; k++) s.add("x", k, M + k * 10);
  s.add("x", 10, T - 300);
  s.flush();
  s.rollup();
  assert.equal(minuteOf(M), 2.5);
  assert.equal(minuteOf(T - 300), 10);
  // a minute later: half of M is past level 0's 30 minutes, and a point of T-300's minute comes late
  now.t = T + 90;
  s.rollup(); // expires M's first three points at level 0
  s.add("x", 20, T - 300 + 30);
  s.add("x", 30, M + 55); // into M, half of which level 0 no longer holds
  s.flush();
  s.rollup();
  s.rollup();
  assert.equal(minuteOf(T - 300), 15, "the late point counted in its minute");
  assert.equal(minuteOf(M), 2.5, "not rolled again from the three points left of it and the late one");
});

Deno.test("late rows are still rolled up and compacted after a restart between their write and the pass", () => {
  const now = { t: 1_700_006_400 + 7 * 86_400 };
  const db = openDatabase(":memory:", METRICS_MIGRATIONS);
  const opts = storeOpts(now);
  const first = new TimeSeriesStore(db, opts);
  first.rollup();
  const t0 = now.t - 6 * 3600;
  for (let i = 0; i < 360; i++) first.add("bf", i % 7, t0 + i * 10);
  first.flush();
  assert.deepEqual({
    ...db.get<Record<string, unknown>>("SELECT level, series, name, first_ts, last_ts FROM late"),
  }, {
    level: 0,
    series: 1,
    name: "bf",
    first_ts: t0,
    last_ts: t0 + 3590,
  });
  // the agent restarts before any pass: a new store on the same file
  const second = new TimeSeriesStore(db, opts);
  second.rollup();
  assert.equal(rowsAt(db, 0), 0, "compacted at the first pass after the restart");
  const week = second.fetch("bf", now.t - 2 * 86_400, now.t);
  assert.equal(
    week.values[(t0 - week.start) / 60],
    (0 + 1 + 2 + 3 + 4 + 5) / 6,
    "its first minute rolled up",
  );
  assert.equal(db.get<{ n: number }>("SELECT COUNT(*) AS n FROM late")!.n, 0, "done: forgotten");
});

Deno.test("raw chunks of an older agent are packed in the background, REPACK_PER_PASS a pass, reads unchanged", () => {
  const now = { t: 1_700_006_400 + 7 * 86_400 };
  const db = openDatabase(":memory:", METRICS_MIGRATIONS);
  const opts = storeOpts(now);
  // as an older agent left them: 50 series of 50 raw chunks of 6 h at 1 min (every tenth slot empty)
  const n = 50 * 50;
  assert.ok(n > REPACK_PER_PASS);
  const first = now.t - 20 * 86_400 - ((now.t - 20 * 86_400) % 21_600);
  for (let s = 0; s < 50; s++) db.run("INSERT INTO series (name, created) VALUES (?, ?)", `old.s${s}`, first);
  for (let c = 0; c < n; c++) {
    // one of them noise, which stays raw
    const value = (i: number) => c === 7 ? Math.sin(i) * 1e3 : ((c * 7 + i) % 100) / 4;
    const raw = Float64Array.from({ length: CHUNK_POINTS }, (_, i) => i % 10 === 0 ? NaN : value(i));
    db.run(
      "INSERT INTO chunks (series, level, start, step, data) VALUES (?, 1, ?, 60, ?)",
      (c % 50) + 1,
      first + Math.floor(c / 50) * 21_600,
      new Uint8Array(raw.buffer),
    );
  }
  // and where its passes had compacted up to
  db.run("INSERT INTO compact_state (level, done_until) VALUES (0, ?), (1, ?)", now.t - 3600, now.t - 21_600);
  const bytes = () => db.get<{ b: number }>("SELECT SUM(length(data)) AS b FROM chunks")!.b;
  const rawBytes = bytes();
  assert.equal(rawBytes, n * RAW_BYTES);
  const store = new TimeSeriesStore(db, opts);
  const before = store.fetch("old.s3", now.t - 25 * 86_400, now.t);
  assert.equal(before.values.filter((v) => v !== null).length, 50 * 324);
  store.rollup();
  assert.equal(store.stats.chunks_repacked, REPACK_PER_PASS - 1);
  store.rollup();
  assert.equal(store.stats.chunks_repacked, n - 1);
  assert.ok(bytes() < rawBytes / 3, `${bytes()} bytes`);
  assert.equal(
    db.get<{ n: number }>("SELECT COUNT(*) AS n FROM chunks WHERE length(data) = ?", RAW_BYTES)!.n,
    1,
  );
  assert.deepEqual(store.fetch("old.s3", now.t - 25 * 86_400, now.t), before);
  assert.equal(db.get<{ value: string }>("SELECT value FROM meta WHERE key = 'repack_after'")!.value, "done");
  // once read to its end, the table is not read again (a raw chunk now is one packing would not pay for)
  const late = Float64Array.from({ length: CHUNK_POINTS }, (_, i) => i);
  db.run(
    "INSERT INTO chunks (series, level, start, step, data) VALUES (1, 1, ?, 60, ?)",
    first - 21_600,
    new Uint8Array(late.buffer),
  );
  store.rollup();
  assert.equal(store.stats.chunks_repacked, n - 1);
  assert.equal(
    db.get<{ n: number }>("SELECT length(data) AS n FROM chunks WHERE start = ?", first - 21_600)!.n,
    RAW_BYTES,
  );
});
