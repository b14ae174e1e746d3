/**
 * The time-series store on a full disk (SQLite's SQLITE_FULL, given here by `max_page_count`): no
 * point of a refused write is lost, no series id of a rolled-back row is reused for another name,
 * and pending points stay bounded.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { openDatabase, StoreFullError } from "../../lib/store/mod.ts";
import {
  compileRules,
  createMetrics,
  METRICS_MIGRATIONS,
  parseRetentions,
  TimeSeriesStore,
} from "../../lib/metrics/mod.ts";
import { VirtualClock } from "../../lib/clock/mod.ts";
import { makeTestCtx, tempDir } from "../helpers.ts";

const T0 = 1_700_000_000;

function open(dir: string, maxPending = 1_000_000) {
  const db = openDatabase(join(dir, "metrics.db"), METRICS_MIGRATIONS);
  const s = new TimeSeriesStore(db, {
    levels: parseRetentions("10s:1d,1m:31d"),
    rules: compileRules([]),
    now: () => (T0 + 60) * 1000,
    maxPending,
  });
  const pages = db.get<{ page_count: number }>("PRAGMA page_count")!.page_count;
  return {
    db,
    s,
    full: () =>
      db.exec(`PRAGMA max_page_count = ${db.get<{ page_count: number }>("PRAGMA page_count")!.page_count}`),
    room: () => db.exec(`PRAGMA max_page_count = ${pages + 100_000}`),
  };
}

const values = (s: TimeSeriesStore, name: string) =>
  s.fetch(name, T0 - 10, T0 + 60).values.filter((v) => v !== null);

Deno.test("a write refused for a full disk keeps its points, and their new series get ids of their own later", () => {
  using t = tempDir();
  const { db, s, full, room } = open(t.dir);
  s.add("old.a", 1, T0);
  s.flush();
  full();
  for (let i = 0; i < 300; i++) s.add(`new.s${i}`, i, T0 + 10); // new series: rows in `series` too
  s.add("old.a", 2, T0 + 10);
  assert.throws(() => s.flush(), StoreFullError);
  assert.equal(s.pending, 301, "every point still waits");
  assert.equal(s.has("new.s0"), false, "no id kept for a series row that was rolled back");
  room();
  s.add("other.x", 42, T0 + 10); // takes the next id: it must not be one the failed write handed out
  assert.equal(s.flush(), 302);
  assert.deepEqual(values(s, "new.s0"), [0]);
  assert.deepEqual(values(s, "new.s299"), [299]);
  assert.deepEqual(values(s, "other.x"), [42]);
  assert.deepEqual(values(s, "old.a"), [1, 2]);
  const ids = db.all<{ id: number }>("SELECT id FROM series");
  assert.equal(new Set(ids.map((r) => r.id)).size, 302, "one id a series");
  assert.equal(s.stats.series_created, 302, "a series row rolled back is not counted as created");
  db.close();
});

Deno.test("a later slice of a batch refused for a full disk is written on the next try", () => {
  using t = tempDir();
  const { db, s, full, room } = open(t.dir);
  for (let i = 0; i < 5000; i++) s.add(`m.s${i}`, i, T0);
  assert.equal(s.flush(40), 40); // the batch's first slice: every series row is in
  full();
  assert.throws(() => s.flush(), StoreFullError);
  assert.equal(s.pending, 4960);
  room();
  assert.equal(s.flush(), 4960);
  for (const i of [0, 39, 40, 4999]) assert.deepEqual(values(s, `m.s${i}`), [i], `m.s${i}`);
  db.close();
});

Deno.test("while the disk is full, adds never throw and hold at most twice maxPending, the rest counted", () => {
  using t = tempDir();
  const { db, s, full, room } = open(t.dir, 50);
  s.add("warm", 1, T0);
  s.flush();
  full();
  const name = (i: number) => `p.${"x".repeat(500)}.s${i}`; // long names: new pages soon
  for (let i = 0; i < 500; i++) assert.doesNotThrow(() => s.add(name(i), i, T0));
  assert.equal(s.pending, 100);
  assert.equal(s.stats.points_dropped, 400);
  room();
  assert.equal(s.flush(), 100);
  assert.deepEqual(values(s, name(99)), [99]);
  assert.equal(s.has(name(100)), false);
  db.close();
});

Deno.test("a statsd flush on a full disk leaves its points waiting in memory instead of failing", async () => {
  const ctx = makeTestCtx({ clock: new VirtualClock(T0 * 1000) });
  const m = createMetrics(ctx);
  const svc = m.service;
  try {
    svc.statsd.ingestLine("api.hits:3|c");
    const realFlush = svc.store.flush.bind(svc.store);
    svc.store.flush = () => {
      throw new StoreFullError("metrics.db", new Error("database or disk is full"));
    };
    assert.equal(await svc.flushStatsd(), 2, "count and rate: the statsd flush itself worked");
    assert.equal(svc.store.pending, 2, "its points wait for the write timer");
    svc.store.flush = realFlush;
    svc.store.flush();
    assert.deepEqual(values(svc.store, "stats.gauges.api.hits.count").length, 1);
  } finally {
    await m.stop();
    ctx.cleanup();
  }
});

Deno.test("a late point whose write was refused for a full disk is counted late once, when it is written", () => {
  using t = tempDir();
  const { db, s, full, room } = open(t.dir);
  s.add("a", 1, T0);
  s.flush();
  s.rollup(); // the minute before T0 + 60 rolled up: a point in it now comes after the pass
  assert.equal(s.stats.points_late, 0);
  full();
  for (let i = 0; i < 300; i++) s.add(`late.s${i}`, i, T0 + 10);
  assert.throws(() => s.flush(), StoreFullError);
  assert.throws(() => s.flush(), StoreFullError);
  assert.equal(s.stats.points_late, 0, "not written: not counted yet");
  room();
  assert.equal(s.flush(), 300);
  assert.equal(s.stats.points_late, 300);
  db.close();
});
