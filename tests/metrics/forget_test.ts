import assert from "node:assert/strict";
import { openDatabase } from "../../lib/store/mod.ts";
import {
  compileRules,
  createMetrics,
  METRICS_MIGRATIONS,
  parseRetentions,
  TimeSeriesStore,
} from "../../lib/metrics/mod.ts";
import { buildApp } from "../../lib/http/mod.ts";
import { VirtualClock } from "../../lib/clock/mod.ts";
import { makeTestCtx, tempDir } from "../helpers.ts";

/** An hour boundary: chunk spans and minute buckets start on it. */
const T0 = 1_700_000_000 - (1_700_000_000 % 3600);

function store(now: { t: number }, retentions = "10s:2m,1m:10m", maxSeries?: number) {
  const db = openDatabase(":memory:", METRICS_MIGRATIONS);
  const s = new TimeSeriesStore(db, {
    levels: parseRetentions(retentions),
    rules: compileRules([]),
    now: () => now.t * 1000,
    maxPending: 100_000,
    maxSeries,
  });
  return { db, s };
}

const idOf = (db: ReturnType<typeof store>["db"], name: string) =>
  db.get<{ id: number }>("SELECT id FROM series WHERE name = ?", name)?.id;

/** Rows of a series in `points`, `fresh` and `chunks`. */
function stored(db: ReturnType<typeof store>["db"], id: number) {
  const n = (table: string) =>
    db.get<{ n: number }>(`SELECT COUNT(*) AS n FROM ${table} WHERE series = ?`, id)!.n;
  return { points: n("points"), fresh: n("fresh"), chunks: n("chunks") };
}

/** Points every 10 s for a minute from `from`, then passes every minute up to `until` (virtual clock). */
function writeThenAge(
  now: { t: number },
  s: TimeSeriesStore,
  names: string[],
  from: number,
  until: number,
  alive: string[] = [],
) {
  for (let i = 0; i < 6; i++) for (const n of names) s.add(n, i + 1, from + i * 10);
  for (now.t = from + 60; now.t <= until; now.t += 60) {
    for (const n of alive) s.add(n, 7, now.t);
    s.rollup();
  }
  now.t = until;
}

Deno.test("a series whose points expired past the coarsest level is forgotten; the name comes back as a new series holding only its new points", () => {
  const now = { t: T0 };
  const { db, s } = store(now);
  // the forgotten series has the highest id: SQLite would hand it to the next series without AUTOINCREMENT
  s.add("stays", 1, T0);
  s.flush();
  writeThenAge(now, s, ["gone.eth0"], T0, T0 + 300, ["stays"]);
  const oldId = idOf(db, "gone.eth0")!;
  assert.deepEqual(s.names(), ["gone.eth0", "stays"], "still held at the 1 min level");
  assert.equal(s.stats.series_forgotten, 0);
  const before = s.fetch("gone.eth0", T0 - 60, T0 + 300).values.filter((v) => v !== null);
  assert.deepEqual(before, [3.5], "the 1 min average of 1..6");
  writeThenAge(now, s, [], now.t, T0 + 780, ["stays"]);
  // past level 1's 10 minutes: nothing of it at any level, so nothing of it in the index either
  assert.deepEqual(stored(db, oldId), { points: 0, fresh: 0, chunks: 0 });
  assert.deepEqual(s.names(), ["stays"]);
  assert.equal(s.has("gone.eth0"), false);
  assert.equal(s.seriesCount, 1);
  assert.equal(s.stats.series_forgotten, 1);
  assert.equal(idOf(db, "gone.eth0"), undefined);
  // the name again: a new series with an id never used before, holding only the new point
  assert.ok(s.add("gone.eth0", 42, now.t));
  s.flush();
  const newId = idOf(db, "gone.eth0")!;
  assert.ok(newId > oldId, `a new id (${newId}) after the forgotten ${oldId}`);
  assert.equal(s.stats.series_created, 3);
  assert.deepEqual(s.names(), ["gone.eth0", "stays"]);
  const after = s.fetch("gone.eth0", now.t - 100, now.t).values.filter((v) => v !== null);
  assert.deepEqual(after, [42]);
  assert.deepEqual(s.fetch("stays", now.t - 50, now.t).values.filter((v) => v !== null), [7]);
  db.close();
});

Deno.test("the ids of forgotten series are not reused after a restart either", () => {
  const now = { t: T0 };
  const { db, s } = store(now);
  writeThenAge(now, s, ["a", "b"], T0, T0 + 780);
  assert.equal(s.stats.series_forgotten, 2);
  const reopened = new TimeSeriesStore(db, {
    levels: parseRetentions("10s:2m,1m:10m"),
    rules: compileRules([]),
    now: () => now.t * 1000,
    maxPending: 100,
  });
  reopened.add("c", 1, now.t);
  reopened.flush();
  assert.equal(idOf(db, "c"), 3);
  db.close();
});

Deno.test("a store from before forgetting keeps its series, ids and points through the new series table", () => {
  const t = tempDir("ts-forget-migrate-");
  try {
    const path = `${t.dir}/metrics.db`;
    const old = openDatabase(path, METRICS_MIGRATIONS.slice(0, 3));
    old.run("INSERT INTO series (id, name, created) VALUES (7, 'a', 0), (9, 'b', 0)");
    old.run("INSERT INTO points (series, level, ts, value) VALUES (9, 0, ?, 2.5)", T0);
    old.close();
    const db = openDatabase(path, METRICS_MIGRATIONS);
    const now = { t: T0 + 5 };
    const s = new TimeSeriesStore(db, {
      levels: parseRetentions("10s:2m,1m:10m"),
      rules: compileRules([]),
      now: () => now.t * 1000,
      maxPending: 100,
    });
    assert.deepEqual(s.names(), ["a", "b"]);
    assert.deepEqual(s.fetch("b", T0 - 10, T0).values, [2.5]);
    assert.equal(idOf(db, "b"), 9);
    s.rollup(); // "a" has nothing: forgotten; "b" stays
    assert.deepEqual(s.names(), ["b"]);
    assert.throws(() => db.run("INSERT INTO series (name, created) VALUES ('b', 0)"), /UNIQUE/);
    s.add("c", 1, now.t);
    s.flush();
    assert.equal(idOf(db, "c"), 10);
    db.close();
  } finally {
    t.cleanup();
  }
});

Deno.test("a series with anything left at any level stays: rows of a coarse level, rows of level 0 only, fresh rows", () => {
  const now = { t: T0 };
  const { db, s } = store(now);
  // "coarse" and "dead": a rolled-up minute at T0 each on level 1 (level 0 expired after 2 minutes)
  writeThenAge(now, s, ["coarse", "dead"], T0, T0 + 600);
  s.add("coarse", 1, T0 + 200); // older than level 0 keeps: lands on level 1
  s.flush();
  now.t = T0 + 670;
  s.rollup(); // the minute at T0 expires on level 1: "dead" holds nothing, "coarse" its T0 + 180
  // "late": a point in a minute rolled up already, so never rolled: on level 0 only
  s.add("late", 5, T0 + 590);
  s.flush();
  s.settle();
  // "fresh": a point just written, not settled into `points`
  s.add("fresh", 9, now.t);
  s.flush();
  s.rollup();
  assert.deepEqual(stored(db, idOf(db, "coarse")!), { points: 1, fresh: 0, chunks: 0 });
  assert.deepEqual(stored(db, idOf(db, "late")!), { points: 1, fresh: 0, chunks: 0 });
  assert.deepEqual(stored(db, idOf(db, "fresh")!), { points: 0, fresh: 1, chunks: 0 });
  assert.deepEqual(s.names(), ["coarse", "fresh", "late"], "the one with nothing left is forgotten");
  assert.equal(s.stats.series_forgotten, 1);
  assert.deepEqual(s.fetch("late", now.t - 110, now.t).values.filter((v) => v !== null), [5]);
  assert.deepEqual(s.fetch("fresh", now.t - 60, now.t).values.filter((v) => v !== null), [9]);
  assert.deepEqual(s.fetch("coarse", T0 + 60, now.t).values.filter((v) => v !== null), [1]);
  db.close();
});

Deno.test("a series held only in chunk blobs stays; one with nothing left beside it goes", () => {
  const now = { t: T0 };
  // one level, compacted: complete hours move into one blob per series
  const { db, s } = store(now, "10s:4h");
  now.t = T0 + 3590; // no point more than 10 minutes ahead
  for (let i = 0; i < 360; i++) s.add("chunked", i, T0 + i * 10);
  assert.ok(s.add("dead", 1, now.t - 4 * 3600 + 30)); // compacted too, in the hour before T0 - 3 h
  s.flush();
  now.t = T0 + 3600 + 60;
  s.rollup();
  const id = idOf(db, "chunked")!;
  assert.deepEqual(stored(db, id), { points: 0, fresh: 0, chunks: 1 });
  assert.equal(s.freshCount, 0);
  assert.deepEqual(s.names(), ["chunked", "dead"], "its chunk holds it until the chunk's hour expires");
  now.t = T0 + 7200 + 60;
  s.rollup();
  assert.deepEqual(stored(db, id), { points: 0, fresh: 0, chunks: 1 });
  assert.deepEqual(s.names(), ["chunked"]);
  assert.equal(s.stats.series_forgotten, 1);
  assert.equal(s.fetch("chunked", T0 - 10, T0 + 3590).values.filter((v) => v !== null).length, 360);
  db.close();
});

Deno.test("points waiting in memory keep their series: pending ones, and the unwritten part of a batch", async () => {
  const now = { t: T0 };
  const { db, s } = store(now, "10s:2m,1m:10m", 3);
  writeThenAge(now, s, ["a", "b", "c"], T0, T0 + 300);
  // no pass until all three have expired on disk; meanwhile "b" and "c" get a point each
  now.t = T0 + 780;
  assert.ok(s.add("a", 1, now.t) && s.add("b", 2, now.t));
  s.flush(1); // a batch: "a"'s row written, "b"'s waits in it
  assert.ok(s.add("c", 3, now.t)); // pending, not in the batch
  assert.equal(s.pending, 2);
  await s.rollupInSlices(); // expires the old rows; forgets no series with a point waiting
  assert.deepEqual(stored(db, idOf(db, "b")!), { points: 0, fresh: 0, chunks: 0 });
  assert.deepEqual(s.names(), ["a", "b", "c"]);
  assert.equal(s.stats.series_forgotten, 0);
  assert.equal(s.add("d", 4, now.t), false, "max_series: the three still count");
  s.flush();
  for (const [n, v] of [["a", 1], ["b", 2], ["c", 3]] as const) {
    assert.deepEqual(s.fetch(n, now.t - 60, now.t).values.filter((x) => x !== null), [v], n);
  }
  assert.equal(s.seriesCount, 3);
  // once their points too are gone, the three go (and make room)
  writeThenAge(now, s, [], now.t, now.t + 780);
  assert.equal(s.stats.series_forgotten, 3);
  assert.ok(s.add("d", 4, now.t));
  db.close();
});

Deno.test("max_series: the room of forgotten series is given back to new names", () => {
  const now = { t: T0 };
  const { db, s } = store(now, "10s:2m,1m:10m", 2);
  writeThenAge(now, s, ["container.a1.cpu", "container.a2.cpu"], T0, T0 + 60);
  assert.equal(s.add("container.b1.cpu", 1, now.t), false, "two names already");
  assert.equal(s.stats.series_refused, 1);
  writeThenAge(now, s, [], now.t, T0 + 780);
  assert.equal(s.seriesCount, 0);
  assert.ok(s.add("container.b1.cpu", 1, now.t) && s.add("container.b2.cpu", 2, now.t));
  s.flush();
  assert.deepEqual(s.names(), ["container.b1.cpu", "container.b2.cpu"]);
  assert.equal(s.stats.series_refused, 1);
  db.close();
});

Deno.test("the sweep looks at a bounded number of series per pass, going on where the last one stopped", () => {
  const now = { t: T0 };
  const db = openDatabase(":memory:", METRICS_MIGRATIONS);
  const s = new TimeSeriesStore(db, {
    levels: parseRetentions("10s:2m,1m:10m"),
    rules: compileRules([]),
    now: () => now.t * 1000,
    maxPending: 100_000,
    forgetPerPass: 4,
  });
  // ids 1..30: the odd ones stop at T0, the even ones go on
  const names = Array.from({ length: 30 }, (_, i) => `n${String(i + 1).padStart(2, "0")}`);
  const alive = names.filter((_, i) => i % 2 === 1);
  writeThenAge(now, s, names, T0, T0 + 660, alive);
  const forgotten0 = s.stats.series_forgotten;
  assert.ok(forgotten0 < 15, `at most 4 looked at per pass: ${forgotten0} forgotten so far`);
  // 8 passes of 4 go through the 30 (the sweep starts again after the last id): every dead one goes
  writeThenAge(now, s, [], now.t, now.t + 8 * 60, alive);
  assert.equal(s.stats.series_forgotten, 15);
  assert.deepEqual(s.names(), alive);
  // the other half stops too: they go on the next rounds of the sweep
  writeThenAge(now, s, [], now.t, now.t + 660 + 8 * 60);
  assert.equal(s.seriesCount, 0);
  db.close();
});

Deno.test("a pass forgets more series than one transaction looks at, a batch at a time", () => {
  const now = { t: T0 };
  const { db, s } = store(now);
  const names = Array.from({ length: 1500 }, (_, i) => `c.${String(i).padStart(4, "0")}`);
  writeThenAge(now, s, names, T0, T0 + 660); // the last pass expires and forgets them all
  assert.equal(s.stats.series_forgotten, 1500);
  assert.equal(s.seriesCount, 0);
  assert.equal(db.get<{ n: number }>("SELECT COUNT(*) AS n FROM series")!.n, 0);
  db.close();
});

Deno.test("the pass in slices forgets too, yielding between batches; stopped between two, the next pass goes on", async () => {
  const now = { t: T0 };
  const { db, s } = store(now);
  const names = Array.from({ length: 1200 }, (_, i) => `c.${String(i).padStart(4, "0")}`);
  writeThenAge(now, s, names, T0, T0 + 600);
  assert.equal(s.seriesCount, 1200, "their rolled-up minute is still on level 1");
  now.t = T0 + 660;
  let turns = 0;
  // stop() is asked after each of the 3 rollup slices, then after each forgetting batch
  const done = await s.rollupInSlices(500, () => ++turns > 4);
  assert.ok(done !== null, "the pass itself finished");
  const first = s.stats.series_forgotten;
  assert.ok(first > 0 && first < 1200, `part of them forgotten before the stop: ${first}`);
  await s.rollupInSlices();
  assert.equal(s.stats.series_forgotten, 1200);
  assert.equal(s.seriesCount, 0);
  db.close();
});

Deno.test("forgotten names leave the Graphite index, find and the info counters; a new point shows again", async () => {
  const clock = new VirtualClock(T0 * 1000);
  const ctx = makeTestCtx({ clock, params: { metrics: { retentions: "10s:2m,1m:10m" } } });
  try {
    const m = createMetrics(ctx);
    const store = m.service.store;
    const app = buildApp([m.routes()], { token: "", maxBody: 1 << 20, log: ctx.log, counters: ctx.counters });
    const get = async (path: string) => await (await app.request(path)).json();
    store.add("host.docker.abc.mem", 5, T0);
    store.add("host.load", 1, T0);
    store.flush();
    assert.deepEqual(await get("/metrics/index.json"), ["host.docker.abc.mem", "host.load"]);
    for (let t = T0 + 60; t <= T0 + 780; t += 60) {
      await clock.advance(60_000);
      store.add("host.load", 1, t);
      store.rollup();
    }
    assert.deepEqual(await get("/metrics/index.json"), ["host.load"]);
    assert.deepEqual((await get("/metrics/find?query=host.*") as Array<{ id: string }>).map((n) => n.id), [
      "host.load",
    ]);
    const info = m.service.info() as { series: number; store: { series_forgotten: number } };
    assert.equal(info.series, 1);
    assert.equal(info.store.series_forgotten, 1);
    const nowS = T0 + 780;
    store.add("host.docker.abc.mem", 8, nowS);
    store.flush();
    const r = await get(`/render?target=host.docker.abc.mem&from=${nowS - 600}&until=${nowS}&format=json`);
    const points = (r as Array<{ datapoints: Array<[number | null, number]> }>)[0].datapoints.filter((p) =>
      p[0] !== null
    );
    assert.deepEqual(points.map((p) => p[0]), [8]);
  } finally {
    ctx.cleanup();
  }
});
