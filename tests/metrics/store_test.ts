import assert from "node:assert/strict";
import { openDatabase } from "../../lib/store/mod.ts";
import {
  aggregate,
  compileRules,
  methodFor,
  METRICS_MIGRATIONS,
  parseRetentions,
  RetentionError,
  rollupRows,
  TimeSeriesStore,
} from "../../lib/metrics/mod.ts";
import { tempDir } from "../helpers.ts";
import { bucketOf } from "../../lib/metrics/retention.ts";

Deno.test("retention lists parse like carbon's and bad ones name the level", () => {
  assert.deepEqual(parseRetentions("10s:1d,1m:31d,1h:1y"), [
    { step: 10, keep: 86400 },
    { step: 60, keep: 31 * 86400 },
    { step: 3600, keep: 365 * 86400 },
  ]);
  assert.throws(() => parseRetentions("10s:1d,15s:2d"), /level 2 .*multiple/);
  assert.throws(() => parseRetentions("10s:1d,1m:1h"), /level 2 .*keep more/);
  assert.throws(() => parseRetentions("1m:30s"), /level 1 \('1m:30s'\): keeps less than one step/);
  assert.deepEqual(parseRetentions("1m:1m"), [{ step: 60, keep: 60 }], "one step is enough");
  assert.throws(() => parseRetentions("10s"), RetentionError);
  assert.throws(() => parseRetentions("10x:1d"), /level 1/);
  assert.throws(() => compileRules([{ pattern: "(", method: "sum" }]), /aggregation\[0\]\.pattern/);
});

Deno.test("aggregation methods and name rules", () => {
  assert.equal(aggregate("average", [1, 2, 6]), 3);
  assert.equal(aggregate("sum", [1, 2, 6]), 9);
  assert.equal(aggregate("min", [4, 2, 6]), 2);
  assert.equal(aggregate("max", [4, 2, 6]), 6);
  assert.equal(aggregate("last", [4, 2, 6]), 6);
  const rules = compileRules([{ pattern: "^keep\\.", method: "last" }]);
  assert.equal(methodFor("keep.x.count", rules), "last");
  assert.equal(methodFor("stats.gauges.x.count", rules), "sum");
  assert.equal(methodFor("stats.timers.x.upper_90", rules), "max");
  assert.equal(methodFor("stats.timers.x.lower", rules), "min");
  assert.equal(methodFor("cpu.idle", rules), "average");
  assert.deepEqual(rollupRows([[0, 1], [10, 3], [60, 5], [70, 7], [130, 1]], 60, "average"), [
    [0, 2],
    [60, 6],
    [120, 1],
  ]);
});

/** Every stored row, settled (`points`) or fresh, as one table (FROM-clause text). */
const ALL_ROWS =
  "(SELECT series, level, ts, value FROM points UNION ALL SELECT series, level, ts, value FROM fresh)";

function store(now: { t: number }, path = ":memory:", retentions = "10s:2m,1m:10m,5m:1h") {
  const db = openDatabase(path, METRICS_MIGRATIONS);
  const s = new TimeSeriesStore(db, {
    levels: parseRetentions(retentions),
    rules: compileRules([]),
    now: () => now.t * 1000,
    maxPending: 100_000,
  });
  return { db, s };
}

Deno.test("retention: raw points roll up per level with their method and expire past each level (virtual clock)", () => {
  const now = { t: 1_700_000_000 - (1_700_000_000 % 3600) };
  const t0 = now.t;
  const { db, s } = store(now);
  // 20 minutes of points every 10 s: value = minute index; counters count 1 per point
  for (let i = 0; i < 120; i++) {
    now.t = t0 + i * 10;
    s.add("load", Math.floor(i / 6), now.t);
    s.add("hits.count", 1, now.t);
    if (i % 6 === 5) s.rollup();
  }
  now.t = t0 + 1200;
  s.rollup();
  const raw = db.all<{ n: number; lo: number }>(
    `SELECT COUNT(*) AS n, MIN(ts) AS lo FROM ${ALL_ROWS} WHERE level = 0 AND series = 1`,
  )[0];
  assert.ok(raw.lo >= now.t - 120, `level 0 keeps 2 minutes (oldest ${now.t - raw.lo}s ago)`);
  assert.ok(raw.n <= 13);
  // level 1: minute averages over the last 10 minutes
  const f = s.fetch("load", now.t - 9 * 60, now.t);
  assert.equal(f.step, 60);
  const vals = f.values.filter((v) => v !== null);
  assert.ok(vals.length >= 8, JSON.stringify(f.values));
  assert.ok(vals.every((v, i) => i === 0 || v! === vals[i - 1]! + 1), "consecutive minute averages");
  const counts = s.fetch("hits.count", now.t - 9 * 60, now.t).values.filter((v) => v !== null);
  assert.ok(counts.slice(0, -1).every((v) => v === 6), `sum of 6 points per minute: ${counts}`);
  // level 2 (5 min) has the older history; nothing older than 10 minutes at level 1
  const lvl1Oldest = db.get<{ lo: number }>(`SELECT MIN(ts) AS lo FROM ${ALL_ROWS} WHERE level = 1`)!.lo;
  assert.ok(lvl1Oldest >= now.t - 600);
  const five = s.fetch("load", now.t - 30 * 60, now.t);
  assert.equal(five.step, 300);
  assert.deepEqual(five.values.filter((v) => v !== null).slice(0, 3), [2, 7, 12]);
  db.close();
});

Deno.test("a coarse read reaches up to now by rolling the not-yet-rolled buckets on the fly", () => {
  const now = { t: 1_700_006_400 };
  const { db, s } = store(now);
  for (let i = 0; i < 6; i++) s.add("x", 10 * i, now.t - 60 + i * 10);
  s.flush();
  const f = s.fetch("x", now.t - 9 * 60, now.t); // level 1: nothing rolled yet
  assert.equal(f.step, 60);
  assert.equal(f.values.filter((v) => v !== null).length, 1);
  assert.equal(f.values.filter((v) => v !== null)[0], 25);
  db.close();
});

Deno.test("a read is bounded like whisper's: nothing after now, nothing before the oldest level's keep", () => {
  const now = { t: 1_700_006_400 };
  const { db, s } = store(now, ":memory:", "10s:1d,1m:31d,1h:1y");
  s.add("x", 5, now.t - 30);
  s.flush();
  // was: (99999999999 - now) / 10 s slots, ~10^10 (an Invalid array length, or gigabytes), from a read route
  const future = s.fetch("x", now.t - 3600, 99_999_999_999);
  assert.equal(future.step, 10);
  assert.ok(future.end <= now.t + 10 && future.values.length <= 361, `${future.values.length} slots`);
  assert.ok(future.values.includes(5));
  // from=0: a year at the coarsest step, not 56 years of it
  const all = s.fetch("x", 0, now.t);
  assert.equal(all.step, 3600);
  assert.ok(all.values.length <= 8761, `${all.values.length} slots`);
  assert.ok(all.start >= now.t - 365 * 86400);
  // a range wholly in the future is empty, not an error
  const later = s.fetch("x", now.t + 3600, now.t + 7200);
  assert.equal(later.values.filter((v) => v !== null).length, 0);
  assert.ok(later.values.length <= 1);
  db.close();
});

Deno.test("points out of range or with bad names are counted and skipped; last point of a bucket wins", () => {
  const now = { t: 1_700_000_000 };
  const { db, s } = store(now);
  assert.equal(s.add("old", 1, now.t - 7200), false);
  assert.equal(s.add("future", 1, now.t + 3600), false);
  assert.equal(s.add("bad name", 1, now.t), false);
  assert.equal(s.add("x".repeat(1025), 1, now.t), false, "longer than a stored name may be");
  assert.equal(s.add("x".repeat(1024), 1, now.t), true);
  assert.equal(s.add("nan", NaN, now.t), false);
  assert.equal(s.add("ok", 1, now.t - 5), true);
  assert.equal(s.add("ok", 2, now.t - 4), true);
  s.flush();
  assert.equal(s.stats.points_out_of_range, 3);
  assert.equal(s.stats.bad_names, 2);
  assert.deepEqual(s.fetch("ok", now.t - 60, now.t).values.filter((v) => v !== null), [2]);
  assert.deepEqual(s.names(), ["ok", "x".repeat(1024)]);
  // an hour-old point goes straight to the level that still covers it
  assert.equal(s.add("ok", 9, now.t - 1800), true);
  s.flush();
  assert.equal(db.get<{ level: number }>(`SELECT level FROM ${ALL_ROWS} WHERE value = 9`)!.level, 2);
  db.close();
});

Deno.test("the store reopens with its series and data (written by flush)", () => {
  const { dir, cleanup } = tempDir();
  const now = { t: 1_700_000_000 };
  const a = store(now, `${dir}/metrics.db`);
  a.s.add("p.q", 42, now.t);
  a.s.flush();
  a.db.close();
  const b = store(now, `${dir}/metrics.db`);
  assert.deepEqual(b.s.names(), ["p.q"]);
  assert.deepEqual(b.s.fetch("p.q", now.t - 60, now.t).values.filter((v) => v !== null), [42]);
  b.db.close();
  cleanup();
});

Deno.test("rollup in slices gives the same result as one pass; so do writes in slices", async () => {
  const now = { t: 1_700_000_000 - (1_700_000_000 % 3600) };
  const t0 = now.t;
  const a = store(now), b = store(now);
  for (let i = 0; i < 60; i++) {
    for (const s of [a.s, b.s]) for (let k = 0; k < 7; k++) s.add(`m${k}`, i * k, t0 + i * 10);
  }
  now.t = t0 + 600;
  const one = a.s.rollup();
  assert.ok(one.rolled > 0);
  b.s.flush(100);
  assert.equal(b.s.pending, 60 * 7 - 100);
  b.s.flush();
  const sliced = await b.s.rollupInSlices(2);
  assert.deepEqual(sliced, one);
  // the same rows once settled, and nothing left fresh
  a.s.settle();
  b.s.settle();
  const dump = (db: typeof a.db) => db.all("SELECT series, level, ts, value FROM points ORDER BY 1, 2, 3");
  assert.ok(dump(a.db).length > 0);
  assert.deepEqual(dump(b.db), dump(a.db));
  for (const { db } of [a, b]) assert.equal(db.get<{ n: number }>("SELECT COUNT(*) AS n FROM fresh")!.n, 0);
  a.db.close();
  b.db.close();
});

Deno.test("flush(limit) writes the batch pending at its first call sorted by series, a slice at a time, the later point of a bucket winning", () => {
  const now = { t: 1_700_000_000 - (1_700_000_000 % 3600) };
  const t0 = now.t - 60;
  const { db, s } = store(now);
  // arrivals interleave three series; b's bucket t0 gets three points: 1, 2, 3
  for (
    const [name, v] of [["b", 1], ["a", 10], ["c", 100], ["b", 2], ["a", 11], ["c", 101], ["b", 3]] as const
  ) {
    s.add(name, v, name === "b" ? t0 : t0 + (v % 10) * 10);
  }
  // what a read sees, by name then time
  const rows = () =>
    ["a", "b", "c"].flatMap((name) =>
      s.fetch(name, t0 - 10, now.t).values.filter((v) => v !== null).map((value) => ({ name, value }))
    );
  // series ids follow first arrival (b, a, c): the first slice holds b's three points only
  assert.equal(s.flush(2), 2);
  assert.deepEqual(rows(), [{ name: "b", value: 2 }]);
  s.add("b", 9, t0); // arrives while the batch is being written: goes after it, and wins
  assert.equal(s.pending, 6);
  assert.equal(s.flush(2), 2);
  assert.deepEqual(rows(), [{ name: "a", value: 10 }, { name: "b", value: 3 }]);
  assert.equal(s.flush(100), 3, "the rest of the batch, not the point that came later");
  assert.deepEqual(rows().map((r) => r.value), [10, 11, 3, 100, 101]);
  assert.equal(s.pending, 1);
  assert.equal(s.flush(), 1);
  assert.deepEqual(rows().map((r) => r.value), [10, 11, 9, 100, 101]);
  assert.equal(s.pending, 0);
  assert.equal(s.stats.points_written, 8);
  // settled: one row per bucket, the later point's
  assert.equal(s.settle(), 5);
  assert.deepEqual(
    db.all<{ value: number }>("SELECT value FROM points ORDER BY series, ts").map((r) => r.value),
    [9, 10, 11, 100, 101], // series ids follow first arrival: b, a, c,
  );
  db.close();
});

Deno.test("expiry runs only on levels that may hold something past retention; late points and restarts still expire", async () => {
  const now = { t: 1_700_000_000 - (1_700_000_000 % 3600) };
  const t0 = now.t;
  const t = tempDir("ts-expiry-");
  try {
    const path = `${t.dir}/metrics.db`;
    let { db, s } = store(now, path);
    let deletes = 0;
    const spy = () => {
      const statement = db.statement.bind(db);
      db.statement = (sql: string) => {
        const st = statement(sql);
        if (!sql.startsWith("DELETE FROM points WHERE series")) return st;
        return { run: (...a: Parameters<typeof st.run>) => (deletes++, st.run(...a)) } as typeof st;
      };
    };
    spy();
    s.add("x", 1, t0);
    s.rollup(); // first pass: bounds unknown, so every level is expired (and measured)
    assert.equal(deletes, 3);
    deletes = 0;
    now.t = t0 + 60;
    s.rollup();
    assert.equal(deletes, 0, "nothing can be past any retention yet");
    // a late point 60 s in the past lowers level 0's bound: it expires on time
    s.add("x", 2, t0 - 60);
    s.flush();
    now.t = t0 + 70;
    s.rollup();
    assert.equal(deletes, 1, "level 0 may now hold a point past its 2 minutes");
    assert.equal(
      db.get<{ n: number }>(`SELECT COUNT(*) AS n FROM ${ALL_ROWS} WHERE level = 0 AND ts < ?`, t0)!.n,
      0,
    );
    now.t = t0 + 121;
    s.rollup();
    assert.equal(deletes, 2);
    assert.equal(
      db.get<{ n: number }>(`SELECT COUNT(*) AS n FROM ${ALL_ROWS} WHERE level = 0`)!.n,
      0,
      "t0 expired",
    );
    // a restart forgets the bounds: the first pass looks again
    db.close();
    ({ db, s } = store(now, path));
    deletes = 0;
    spy();
    await s.rollupInSlices();
    assert.equal(deletes, 3);
    deletes = 0;
    await s.rollupInSlices();
    assert.equal(deletes, 0);
    db.close();
  } finally {
    t.cleanup();
  }
});

Deno.test("rollupRows: each bucket's value is aggregate() of its rows, for every method", () => {
  let seed = 11;
  const rand = () => (seed = (seed * 16807) % 2147483647) / 2147483647;
  const rows: Array<[number, number]> = [];
  for (let ts = 1000; ts < 4000; ts += 10) if (rand() < 0.7) rows.push([ts, (rand() - 0.4) * 1e3]);
  rows.push([4200, 7]); // a bucket of one
  for (const method of ["average", "sum", "min", "max", "last"] as const) {
    const want: Array<[number, number]> = [];
    for (const b of [...new Set(rows.map(([ts]) => bucketOf(ts, 60)))]) {
      want.push([b, aggregate(method, rows.filter(([ts]) => bucketOf(ts, 60) === b).map(([, v]) => v))]);
    }
    assert.deepEqual(rollupRows(rows, 60, method), want, method);
  }
  assert.deepEqual(rollupRows([], 60, "sum"), []);
});

Deno.test("max_series: points of new names beyond it are refused and told; known names go on, pending new ones count", () => {
  const now = { t: 1_700_000_000 };
  const db = openDatabase(":memory:", METRICS_MIGRATIONS);
  const told: string[] = [];
  const s = new TimeSeriesStore(db, {
    levels: parseRetentions("10s:2m"),
    rules: compileRules([]),
    now: () => now.t * 1000,
    maxPending: 100_000,
    maxSeries: 3,
    onSeriesRefused: (name) => told.push(name),
  });
  assert.ok(s.add("a", 1, now.t) && s.add("b", 1, now.t));
  s.flush();
  assert.ok(s.add("c", 1, now.t), "the third name: pending, not created yet");
  assert.ok(s.add("c", 2, now.t + 10), "the same pending name again");
  assert.equal(s.add("d", 1, now.t), false, "a fourth name while the third waits");
  s.flush();
  assert.equal(s.add("e", 1, now.t), false);
  assert.ok(s.add("a", 5, now.t + 10), "a known name still");
  s.flush();
  assert.equal(s.seriesCount, 3);
  assert.equal(s.stats.series_refused, 2);
  assert.deepEqual(told, ["d", "e"]);
  db.close();
});

Deno.test("a rollup pass given up between slices (stop) leaves nothing half done: the next pass does it all", async () => {
  const now = { t: 1_700_000_000 - (1_700_000_000 % 3600) };
  const t0 = now.t;
  const a = store(now), b = store(now);
  for (let i = 0; i < 60; i++) {
    for (const s of [a.s, b.s]) for (let k = 0; k < 7; k++) s.add(`m${k}`, i * k, t0 + i * 10);
  }
  now.t = t0 + 600;
  a.s.flush();
  b.s.flush();
  const one = a.s.rollup();
  assert.ok(one.rolled > 0);
  let slices = 0;
  assert.equal(await b.s.rollupInSlices(2, () => ++slices >= 2), null, "given up after two slices");
  assert.deepEqual(await b.s.rollupInSlices(2), one);
  a.s.settle();
  b.s.settle();
  const dump = (db: typeof a.db) => db.all("SELECT series, level, ts, value FROM points ORDER BY 1, 2, 3");
  assert.deepEqual(dump(b.db), dump(a.db));
  a.db.close();
  b.db.close();
});

Deno.test("max_series: a refused point (bad value, out of range) leaves no name behind to fill it", () => {
  const now = { t: 1_700_000_000 };
  const db = openDatabase(":memory:", METRICS_MIGRATIONS);
  const s = new TimeSeriesStore(db, {
    levels: parseRetentions("10s:2m"),
    rules: compileRules([]),
    now: () => now.t * 1000,
    maxPending: 100_000,
    maxSeries: 2,
  });
  // what a sender inventing names sends: `x.<random> 1 0`, and values that are not numbers
  for (let i = 0; i < 100; i++) {
    assert.equal(s.add(`x.random${i}.aaaaaaaaaaaaaaaa`, 1, 0), false);
    assert.equal(s.add(`y.random${i}`, NaN, now.t), false);
    assert.equal(s.add(`z.random${i}`, 1, now.t + 3600), false, "an hour ahead");
  }
  assert.equal(s.stats.points_out_of_range, 300);
  assert.equal(s.stats.series_refused, 0);
  assert.ok(
    s.add("real.one.with.a.long.name", 1, now.t) && s.add("real.two", 2, now.t),
    "room for real names",
  );
  s.flush();
  assert.deepEqual(s.names(), ["real.one.with.a.long.name", "real.two"]);
  db.close();
});
