import assert from "node:assert/strict";
import { join } from "node:path";
import { type Database, openDatabase } from "../../lib/store/mod.ts";
import { compileRules, METRICS_MIGRATIONS, parseRetentions, TimeSeriesStore } from "../../lib/metrics/mod.ts";
import { FreshRows } from "../../lib/metrics/ts_fresh.ts";
import { DIRECT_ROWS, SETTLE_ROWS, SETTLE_S } from "../../lib/metrics/ts_store.ts";
import { SELECT_ROWS } from "../../lib/metrics/ts_schema.ts";
import { tempDir } from "../helpers.ts";

Deno.test("FreshRows: rows by series in time order, the later point of a bucket wins, drained sorted by series, level, time", () => {
  const f = new FreshRows(2);
  f.put(5, 0, 100, 1);
  f.put(5, 0, 120, 3);
  f.put(5, 0, 110, 2); // out of order: inserted in place
  f.put(5, 0, 120, 4); // same bucket: replaced
  f.put(2, 1, 60, 9);
  f.put(2, 0, 100, 7);
  assert.equal(f.count, 5);
  assert.deepEqual(f.rows(5, 0, 100, 121), [[100, 1], [110, 2], [120, 4]]);
  assert.deepEqual(f.rows(5, 0, 105, 120), [[110, 2]]);
  assert.equal(f.rows(5, 0, 121, 200), null);
  assert.equal(f.rows(5, 1, 0, 1e9), null);
  assert.equal(f.rows(9, 0, 0, 1e9), null);
  assert.equal(f.first(5, 0), 100);
  assert.equal(f.first(9, 0), Infinity);
  assert.deepEqual(f.minTs, [100, 60]);
  assert.equal(f.dropBefore(0, 110), 2); // 5@100 and 2@100
  assert.equal(f.count, 3);
  assert.equal(f.first(2, 0), Infinity);
  assert.equal(f.dropBefore(0, 110), 0);
  f.put(2, 0, 130, 8);
  const { rows, newest } = f.drain();
  assert.deepEqual(Array.from(rows), [2, 0, 130, 8, 2, 1, 60, 9, 5, 0, 110, 2, 5, 0, 120, 4]);
  assert.deepEqual(newest, [130, 60]);
  assert.equal(f.count, 0);
  assert.deepEqual(f.minTs, [Infinity, Infinity]);
  assert.equal(f.rows(5, 0, 0, 1e9), null);
});

function open(path: string, now: { t: number }, retentions = "10s:1d,1m:31d,1h:1y") {
  const db = openDatabase(path, METRICS_MIGRATIONS);
  const s = new TimeSeriesStore(db, {
    levels: parseRetentions(retentions),
    rules: compileRules([]),
    now: () => now.t * 1000,
    maxPending: 1_000_000,
  });
  return { db, s };
}

const count = (db: Database, table: string) => db.get<{ n: number }>(`SELECT COUNT(*) AS n FROM ${table}`)!.n;
/** Counts the SELECTs of settled rows (`points`) made through `db` from now on. */
function countReads(db: Database): { n: number } {
  const reads = { n: 0 };
  const statement = db.statement.bind(db);
  db.statement = (sql: string) => {
    if (sql === SELECT_ROWS) reads.n++;
    return statement(sql);
  };
  return reads;
}

const walFrames = (path: string) => Math.max(0, (Deno.statSync(`${path}-wal`).size - 32) / (24 + 4096));

Deno.test("a round of points is appended to the fresh rows: a few WAL pages a round, not a page per series; settle moves them into points", () => {
  const t = tempDir("ts-fresh-");
  try {
    const path = join(t.dir, "metrics.db");
    const now = { t: 1_700_006_400 };
    const { db, s } = open(path, now);
    const round = (r: number) => {
      now.t += 10;
      for (let i = 0; i < 400; i++) s.add(`fresh.host.series${i}`, r * 1000 + i, now.t);
      s.flush();
    };
    for (let r = 0; r < 30; r++) round(r);
    const before = walFrames(path);
    round(30);
    const perRound = walFrames(path) - before;
    // 400 rows of ~20 bytes: two or three pages and the interior ones (the series-clustered table
    // would take a page per ~10 series here, ~40 pages, and a page per series once each one fills one)
    assert.ok(perRound > 0 && perRound <= 8, `a round wrote ${perRound} WAL frames`);
    assert.equal(count(db, "points"), 0);
    assert.equal(count(db, "fresh"), 31 * 400);
    const read = () => s.fetch("fresh.host.series399", now.t - 3600, now.t).values.filter((v) => v !== null);
    const seen = read();
    assert.deepEqual(seen.slice(-2), [29399, 30399]);
    assert.equal(s.settle(), 31 * 400);
    assert.equal(count(db, "fresh"), 0);
    assert.equal(count(db, "points"), 31 * 400);
    assert.equal(s.freshCount, 0);
    assert.deepEqual(read(), seen, "the same answer from points");
    assert.equal(s.stats.settles, 1);
    assert.equal(s.stats.points_settled, 31 * 400);
    db.close();
  } finally {
    t.cleanup();
  }
});

Deno.test("fresh rows survive a restart without a settle, the later point of a bucket still winning", () => {
  const t = tempDir("ts-fresh-");
  try {
    const path = join(t.dir, "metrics.db");
    const now = { t: 1_700_006_400 };
    let { db, s } = open(path, now);
    s.add("r.x", 1, now.t);
    s.flush();
    s.add("r.x", 2, now.t); // the same bucket, a later write
    s.add("r.y", 5, now.t - 10);
    s.flush();
    assert.equal(count(db, "fresh"), 3, "appended: both rows of the bucket are on disk");
    db.close();
    ({ db, s } = open(path, now));
    assert.equal(s.freshCount, 2);
    assert.deepEqual(s.fetch("r.x", now.t - 60, now.t).values.filter((v) => v !== null), [2]);
    assert.deepEqual(s.fetch("r.y", now.t - 60, now.t).values.filter((v) => v !== null), [5]);
    s.settle();
    assert.deepEqual(
      db.all("SELECT level, ts, value FROM points ORDER BY series").map((r) => ({ ...r as object })),
      [
        { level: 0, ts: now.t, value: 2 },
        { level: 0, ts: now.t - 10, value: 5 },
      ],
    );
    db.close();
  } finally {
    t.cleanup();
  }
});

Deno.test("a store from before the fresh rows: its points are read after the upgrade (the newest settled time is measured)", () => {
  const t = tempDir("ts-fresh-");
  try {
    const path = join(t.dir, "metrics.db");
    const now = { t: 1_700_006_400 };
    const old = openDatabase(path, METRICS_MIGRATIONS.slice(0, 2));
    old.run("INSERT INTO series (id, name, created) VALUES (1, 'up.x', ?)", now.t - 600);
    for (let i = 0; i < 6; i++) old.run("INSERT INTO points VALUES (1, 0, ?, ?)", now.t - 60 + i * 10, i);
    old.close();
    const { db, s } = open(path, now);
    assert.deepEqual(s.fetch("up.x", now.t - 70, now.t).values.filter((v) => v !== null), [0, 1, 2, 3, 4, 5]);
    assert.equal(
      db.get<{ value: string }>("SELECT value FROM meta WHERE key = 'settled_max'")!.value,
      JSON.stringify([now.t - 10, null, null]),
    );
    // the first pass rolls the minute up from those points
    now.t += 60;
    s.rollup();
    assert.deepEqual(s.fetch("up.x", now.t - 5 * 86400, now.t).values.filter((v) => v !== null), [2.5]);
    db.close();
  } finally {
    t.cleanup();
  }
});

Deno.test("the rollup pass reads a window newer than anything settled from memory only, and from points after a settle", () => {
  const now = { t: 1_700_006_400 };
  const { db, s } = open(":memory:", now);
  const reads = countReads(db);
  for (let i = 0; i < 12; i++) {
    now.t += 10;
    for (let k = 0; k < 5; k++) s.add(`p.s${k}`, i, now.t);
  }
  s.flush();
  now.t += 30;
  assert.ok(s.rollup().rolled >= 5);
  assert.equal(reads.n, 0, "every row of the window was fresh");
  assert.equal(count(db, "points"), 0);
  s.settle();
  now.t += 60;
  s.rollup(); // the window ends at the newest settled points: points are read
  assert.ok(reads.n >= 5, `${reads.n} reads of points`);
  const m = s.fetch("p.s0", now.t - 2 * 86400, now.t).values.filter((v) => v !== null);
  assert.deepEqual(m, [2, 7.5, 11]); // values 0-4, 5-10 and 11 by minute
  db.close();
});

Deno.test("a timed settle leaves the rows after the minute rollup's frontier fresh: the passes after it read no points", () => {
  const now = { t: 1_700_006_400 };
  const { db, s } = open(":memory:", now);
  const reads = countReads(db);
  // an agent's minutes: 5 series every 10 s, a pass every minute, for 20 minutes
  for (let i = 1; i <= 120; i++) {
    now.t += 10;
    for (let k = 0; k < 5; k++) s.add(`f.s${k}`, i, now.t);
    if (i % 6 === 0) s.rollup();
  }
  assert.ok(s.stats.settles >= 3, `${s.stats.settles} settles`);
  assert.equal(reads.n, 0, "no pass read points");
  assert.ok(db.get<{ n: number }>("SELECT COUNT(*) AS n FROM points WHERE level = 0")!.n > 0);
  // what is left fresh at level 0 is what the next minute's rollup reads, nothing older
  const oldestFresh = db.get<{ m: number }>("SELECT MIN(ts) AS m FROM fresh WHERE level = 0")!.m;
  assert.ok(oldestFresh >= now.t - SETTLE_S, `${now.t - oldestFresh} s old`);
  const minutes = s.fetch("f.s0", now.t - 2 * 86400, now.t).values.filter((v) => v !== null);
  assert.equal(minutes.length, 21); // the minute of now too, rolled on the fly
  assert.deepEqual(minutes.slice(0, 3), [3, 8.5, 14.5]); // values 1-5, 6-11, 12-17 by minute
  db.close();
});

Deno.test("the fresh rows settle on their own: SETTLE_S of data at a pass, SETTLE_ROWS at a write", () => {
  const now = { t: 1_700_006_400 };
  const { db, s } = open(":memory:", now);
  s.add("age.x", 1, now.t);
  s.flush();
  now.t += SETTLE_S - 10;
  s.rollup();
  assert.equal(s.stats.settles, 0, "not old enough yet");
  now.t += 20;
  s.rollup();
  assert.equal(s.stats.settles, 1);
  assert.equal(count(db, "fresh"), 0);
  const slice = SETTLE_ROWS / 4;
  assert.ok(slice < DIRECT_ROWS);
  for (let k = 0; k < 4; k++) {
    assert.equal(s.stats.settles, 1);
    for (let i = k * slice; i < (k + 1) * slice; i++) s.add(`rows.s${i}`, i, now.t);
    s.flush();
  }
  assert.equal(s.stats.settles, 2, "a write that reaches SETTLE_ROWS settles them");
  assert.equal(s.freshCount, 0);
  assert.equal(count(db, "points"), SETTLE_ROWS + 1 + 1); // and the minute rolled up from age.x
  db.close();
});

Deno.test("a settle that fails keeps every fresh row readable and in the fresh table", () => {
  const now = { t: 1_700_006_400 };
  const { db, s } = open(":memory:", now);
  for (let i = 0; i < 100; i++) s.add(`fail.s${i}`, i, now.t);
  s.flush();
  const run = db.run.bind(db);
  db.run = (sql: string, ...p) => {
    if (sql === "DELETE FROM fresh") throw new Error("disk I/O error");
    return run(sql, ...p);
  };
  assert.throws(() => s.settle(), /disk I\/O error/);
  assert.equal(s.freshCount, 100);
  assert.equal(count(db, "points"), 0, "the move was rolled back");
  assert.equal(count(db, "fresh"), 100);
  assert.deepEqual(s.fetch("fail.s42", now.t - 60, now.t).values.filter((v) => v !== null), [42]);
  db.run = run;
  assert.equal(s.settle(), 100);
  assert.deepEqual(s.fetch("fail.s42", now.t - 60, now.t).values.filter((v) => v !== null), [42]);
  db.close();
});

Deno.test("a fresh row past its level's retention is expired by the pass, in memory and on disk", () => {
  const now = { t: 1_700_006_400 };
  const { db, s } = open(":memory:", now, "10s:2m,1m:10m,5m:1h");
  s.add("late.x", 1, now.t - 100);
  s.add("late.x", 2, now.t);
  s.flush();
  now.t += 60;
  s.rollup();
  assert.equal(
    db.get<{ n: number }>("SELECT COUNT(*) AS n FROM fresh WHERE level = 0 AND ts < ?", now.t - 120)!.n,
    0,
  );
  assert.deepEqual(s.fetch("late.x", now.t - 119, now.t).values.filter((v) => v !== null), [2]);
  assert.ok(s.stats.points_expired >= 1);
  db.close();
});

Deno.test("a batch of DIRECT_ROWS points goes straight into points, after the fresh rows, and wins over them", () => {
  const now = { t: 1_700_006_400 };
  const { db, s } = open(":memory:", now);
  s.add("big.s0", 1, now.t);
  s.add("other", 5, now.t);
  s.flush();
  assert.equal(s.freshCount, 2);
  for (let i = 0; i < DIRECT_ROWS; i++) s.add(`big.s${i}`, 2, now.t); // big.s0's bucket again
  s.flush(DIRECT_ROWS / 2); // in slices, as the service writes
  assert.equal(s.freshCount, 0, "the fresh rows were settled first");
  assert.equal(count(db, "points"), 2 + DIRECT_ROWS / 2 - 1);
  s.flush();
  assert.equal(count(db, "points"), 1 + DIRECT_ROWS);
  assert.equal(count(db, "fresh"), 0);
  const read = (name: string) => s.fetch(name, now.t - 60, now.t).values.filter((v) => v !== null);
  assert.deepEqual(read("big.s0"), [2]);
  assert.deepEqual(read(`big.s${DIRECT_ROWS - 1}`), [2]);
  assert.deepEqual(read("other"), [5]);
  s.add("big.s0", 3, now.t); // a small write: fresh again, newer, and read so
  s.flush();
  assert.equal(s.freshCount, 1);
  assert.deepEqual(read("big.s0"), [3]);
  // the next minute's rollup reads the direct rows from points
  now.t += 80;
  s.rollup();
  assert.deepEqual(
    s.fetch(`big.s${DIRECT_ROWS - 1}`, now.t - 2 * 86400, now.t).values.filter((v) => v !== null),
    [2],
  );
  // a batch newer than anything settled before it: read back from points
  now.t += 10;
  for (let i = 0; i < DIRECT_ROWS; i++) s.add(`big.s${i}`, 4, now.t);
  s.flush();
  assert.deepEqual(s.fetch("big.s1", now.t - 5, now.t).values, [4]);
  db.close();
});
