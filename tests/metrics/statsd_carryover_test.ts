/**
 * A stop dates its last statsd points at the next tick T; a start before T flushes at T too, and a
 * bucket keeps its last point: the stop hands its state over, and the flush at T writes both halves.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { StatsdAggregator, type StatsdOptions } from "../../lib/metrics/statsd_aggregator.ts";
import {
  type Carryover,
  carryoverError,
  saveCarryover,
  takeCarryover,
} from "../../lib/metrics/statsd_carryover.ts";
import { createMetrics, METRICS_MIGRATIONS, type MetricsService } from "../../lib/metrics/mod.ts";
import { openDatabase } from "../../lib/store/mod.ts";
import { VirtualClock } from "../../lib/clock/mod.ts";
import { freePort, makeTestCtx, type TestCtx, until } from "../helpers.ts";

const HOST = "127.0.0.23";
const T0 = 1_700_000_000; // on the 10 s grid
const T = T0 + 10; // the tick a stop between T0 and T0 + 10 dates its points at

const OPTS: StatsdOptions = { intervalSeconds: 10, percentiles: [90, 50], maxTimerValues: 1000 };

function fed(lines: string[]): StatsdAggregator {
  const a = new StatsdAggregator(OPTS);
  for (const l of lines) a.ingestLine(l);
  return a;
}

Deno.test("a carry-over is read once; what is wrong with a bad one is named", () => {
  const db = openDatabase(":memory:", METRICS_MIGRATIONS);
  try {
    const carry: Carryover = {
      tick: T,
      interval: 10,
      state: fed(["a:1|c", "rt:3|ms", "u:x|s", "g:2|g"]).exportState(),
    };
    assert.ok("chars" in saveCarryover(db, carry));
    assert.deepEqual(takeCarryover(db), { carry: { v: 1, ...carry } });
    assert.equal(takeCarryover(db), null, "deleted as it was read");
    assert.ok("refused" in saveCarryover(db, carry, 20));
    assert.equal(takeCarryover(db), null, "a refused one is not stored");
    // a row over the limit is not even loaded
    saveCarryover(db, carry);
    assert.match((takeCarryover(db, 20) as { bad: string }).bad, /characters, over the 20 read/);
    db.run("INSERT INTO meta (key, value) VALUES ('statsd_carryover', '{\"v\":1,')");
    assert.match((takeCarryover(db) as { bad: string }).bad, /^not JSON/);
  } finally {
    db.close();
  }
  const ok = { v: 1, tick: T, interval: 10, state: { counters: [], timers: [], gauges: [], sets: [] } };
  const timer = { seen: 2, sum: 3, sumSquares: 5, lower: 1, upper: 2, weightedCount: 2, values: [1, 2] };
  const cases: Array<[unknown, RegExp]> = [
    [[], /^not an object/],
    [{ ...ok, v: 2 }, /^version 2/],
    [{ ...ok, tick: "x" }, /^tick/],
    [{ ...ok, interval: 0 }, /^interval/],
    [
      { ...ok, state: { ...ok.state, counters: [["a", "5"]] } },
      /^state\.counters\[0\] \("a"\): not a finite/,
    ],
    [{ ...ok, state: { ...ok.state, gauges: [["g", null]] } }, /^state\.gauges\[0\] \("g"\)/],
    [{ ...ok, state: { ...ok.state, counters: [["", 1]] } }, /^state\.counters\[0\]: not a \[name, value\]/],
    [{ ...ok, state: { ...ok.state, sets: {} } }, /^state\.sets: not a list/],
    [{ ...ok, state: { ...ok.state, sets: [["s", [1]]] } }, /^state\.sets\[0\] \("s"\): members/],
    [{ ...ok, state: { ...ok.state, timers: [["t", { ...timer, seen: 1 }]] } }, /seen: 1 for 2 values/],
    [{ ...ok, state: { ...ok.state, timers: [["t", { ...timer, values: [1, "2"] }]] } }, /values\[1\]/],
    [{ ...ok, state: { ...ok.state, timers: [["t", { ...timer, sum: null }]] } }, /sum: not a finite/],
    [{ ...ok, state: { ...ok.state, timers: [["t", { ...timer, lower: 3 }]] } }, /lower is above upper/],
  ];
  assert.equal(carryoverError(ok), null);
  assert.equal(carryoverError({ ...ok, state: { ...ok.state, timers: [["t", timer]] } }), null);
  for (const [bad, why] of cases) assert.match(carryoverError(bad) ?? "(accepted)", why, JSON.stringify(bad));
});

// ---- the service: a stop, then a start on the same data dir ----

type Metrics = ReturnType<typeof createMetrics>;

function statsdCtx(
  clock: VirtualClock,
  statsd: Record<string, unknown> | null,
  port = freePort(HOST),
): TestCtx {
  return makeTestCtx({
    clock,
    files: statsd ? { "listeners.json": { statsd: { enabled: true, port, bind: HOST, ...statsd } } } : {},
  });
}

async function started(ctx: TestCtx): Promise<Metrics> {
  const m = createMetrics(ctx);
  await m.start();
  return m;
}

/** Stops like a process that ends: the service, then its databases. */
async function stopped(ctx: TestCtx, m: Metrics): Promise<void> {
  await m.stop();
  ctx.store.closeAll();
}

/** The stored points of `name` between T0 and T0 + 60, as [ts, value]. */
/** A service that counted `hits:5|c`, ran `ms` more and stopped: its stop hands the 5 over. */
async function stoppedAfterFive(ctx: TestCtx, clock: VirtualClock, ms: number): Promise<void> {
  const m = await started(ctx);
  m.service.localStatsdLine("hits:5|c");
  await clock.advance(ms);
  await stopped(ctx, m);
}

function points(svc: MetricsService, name: string): Array<[number, number]> {
  const s = svc.store.fetch(name, T0, T0 + 60);
  return s.values.flatMap((v, i) => v === null ? [] : [[s.start + i * s.step, v] as [number, number]]);
}

/** The flush at the next tick has run and been written (`mark` is a counter sent for it). */
async function flushed(clock: VirtualClock, svc: MetricsService, ms: number, mark: string): Promise<void> {
  await clock.advance(ms);
  await until(`the flush of ${mark}`, () => svc.store.has(`stats.gauges.${mark}.count`), 5000, 10);
}

function carryRow(ctx: TestCtx): string | undefined {
  return ctx.store.open("metrics", METRICS_MIGRATIONS)
    .get<{ value: string }>("SELECT value FROM meta WHERE key = 'statsd_carryover'")?.value;
}

Deno.test({
  name: "a restart before the stop's tick: the flush at the tick writes both processes' statsd (UDP, Worker)",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const clock = new VirtualClock(T0 * 1000);
    const ctx = statsdCtx(clock, { interval: 10 });
    const port = (ctx.config.listeners.statsd as { port: number }).port;
    const udp = Deno.listenDatagram({ hostname: HOST, port: 0, transport: "udp" });
    const send = (t: string) =>
      udp.send(new TextEncoder().encode(t), { hostname: HOST, port, transport: "udp" });
    try {
      let m = await started(ctx);
      await send("hits:5|c\nrt:10|ms\nrt:20|ms\nusers:alice|s\nusers:bob|s\ntemp:7|g");
      await until("6 samples", () => m.service.statsdStats().metrics === 6, 2000, 10);
      await clock.advance(4_000);
      await stopped(ctx, m); // its points at T (5) are written: the flush below replaces them
      await clock.advance(2_000); // 6 s into the interval: the new process's first flush is at T too
      m = await started(ctx);
      assert.equal(carryRow(ctx), undefined, "the start took the carry-over out of metrics.db");
      await send("hits:3|c\nrt:30|ms\nusers:bob|s\nusers:carol|s\nmark:1|c");
      await until("5 samples", () => m.service.statsdStats().metrics === 5, 2000, 10);
      await flushed(clock, m.service, 4_000, "mark");
      const svc = m.service;
      assert.deepEqual(points(svc, "stats.gauges.hits.count"), [[T, 8]]);
      assert.deepEqual(points(svc, "stats.gauges.hits.rate"), [[T, 0.8]]);
      assert.deepEqual(points(svc, "stats.timers.rt.count"), [[T, 3]]);
      assert.deepEqual(points(svc, "stats.timers.rt.sum"), [[T, 60]]);
      assert.deepEqual(points(svc, "stats.sets.users.count"), [[T, 3]]);
      assert.deepEqual(points(svc, "stats.gauges.temp"), [[T, 7]]);
      // applied once: the next tick has none of it (the gauge goes on, as gauges do)
      await send("mark2:1|c");
      await until("mark2", () => m.service.statsdStats().metrics === 6, 2000, 10);
      await flushed(clock, svc, 10_000, "mark2");
      assert.deepEqual(points(svc, "stats.gauges.hits.count"), [[T, 8]]);
      assert.deepEqual(points(svc, "stats.gauges.temp"), [[T, 7], [T + 10, 7]]);
      await stopped(ctx, m);
    } finally {
      udp.close();
      ctx.cleanup();
    }
  },
});

Deno.test("without a statsd listener (forwarded lines), a restart before the tick, twice, adds up", async () => {
  const clock = new VirtualClock(T0 * 1000);
  const ctx = statsdCtx(clock, null);
  try {
    await stoppedAfterFive(ctx, clock, 3_000);
    let m = await started(ctx);
    m.service.localStatsdLine("hits:3|c");
    await clock.advance(3_000);
    await stopped(ctx, m); // stopped again before T: the state handed over goes on to the next start
    m = await started(ctx);
    m.service.localStatsdLine("hits:2|c");
    m.service.localStatsdLine("mark:1|c");
    await flushed(clock, m.service, 4_000, "mark");
    assert.deepEqual(points(m.service, "stats.gauges.hits.count"), [[T, 10]]);
    assert.deepEqual(points(m.service, "stats.gauges.hits.rate"), [[T, 1]]);
    await stopped(ctx, m);
  } finally {
    ctx.cleanup();
  }
});

Deno.test("under ts routing the state handed over goes to each name's owner, not into this node's aggregator", async () => {
  const clock = new VirtualClock(T0 * 1000);
  const ctx = statsdCtx(clock, null);
  try {
    let m = await started(ctx);
    m.service.localStatsdLine("hits:5|c");
    m.service.localStatsdLine("temp:7|g");
    await clock.advance(3_000);
    await stopped(ctx, m); // its points at T: hits 5, temp 7
    m = await started(ctx);
    // a ring of several ts nodes, where the router sends hits and temp to other nodes
    m.service.setStatsdLocal(false);
    const routed: string[] = [];
    m.service.statsdLine = (line) =>
      line.startsWith("mark") ? m.service.statsd.ingestLine(line) : routed.push(line);
    m.service.statsd.ingestLine("mark:1|c");
    await flushed(clock, m.service, 7_000, "mark");
    assert.deepEqual(routed.sort(), ["hits:5|c", "temp:7|g"], "routed like the lines they came from");
    m.service.statsd.ingestLine("mark2:1|c");
    await flushed(clock, m.service, 10_000, "mark2");
    assert.deepEqual(points(m.service, "stats.gauges.hits.count"), [[T, 5]], "the stop's point only");
    assert.deepEqual(points(m.service, "stats.gauges.temp"), [[T, 7]], "not written again here");
    await stopped(ctx, m);
  } finally {
    ctx.cleanup();
  }
});

Deno.test("a restart after the stop's tick: the stop's points stand, the new counts go to the next tick", async () => {
  const clock = new VirtualClock(T0 * 1000);
  const ctx = statsdCtx(clock, null);
  try {
    await stoppedAfterFive(ctx, clock, 4_000);
    await clock.advance(8_000); // T + 2
    const m = await started(ctx);
    assert.equal(carryRow(ctx), undefined, "dropped at the start");
    m.service.localStatsdLine("hits:3|c");
    m.service.localStatsdLine("mark:1|c");
    await flushed(clock, m.service, 8_000, "mark");
    assert.deepEqual(points(m.service, "stats.gauges.hits.count"), [[T, 5], [T + 10, 3]]);
    await stopped(ctx, m);
  } finally {
    ctx.cleanup();
  }
});

Deno.test({
  name: "a carry-over of another statsd.interval is dropped (the stop's points stand, as before)",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const clock = new VirtualClock(T0 * 1000);
    const ctx = statsdCtx(clock, { interval: 10 });
    const ctx5 = statsdCtx(clock, { interval: 5 }); // T is on its grid too: only the interval differs
    try {
      let m = await started(ctx);
      m.service.localStatsdLine("hits:5|c");
      await until("5", () => m.service.statsdStats().metrics === 1, 2000, 10);
      await clock.advance(6_000);
      await stopped(ctx, m);
      // the same metrics.db under the other configuration
      Deno.copyFileSync(
        join(ctx.config.params.data, "metrics.db"),
        join(ctx5.config.params.data, "metrics.db"),
      );
      m = await started(ctx5);
      assert.equal(carryRow(ctx5), undefined, "dropped at the start");
      m.service.localStatsdLine("hits:3|c");
      m.service.localStatsdLine("mark:1|c");
      await until("3", () => m.service.statsdStats().metrics === 2, 2000, 10);
      await flushed(clock, m.service, 4_000, "mark");
      assert.deepEqual(points(m.service, "stats.gauges.hits.count"), [[T, 3]]);
      await stopped(ctx5, m);
    } finally {
      ctx.cleanup();
      ctx5.cleanup();
    }
  },
});

Deno.test("a corrupt carry-over is named in a warning and dropped; the start goes on", async () => {
  const clock = new VirtualClock(T0 * 1000);
  const ctx = statsdCtx(clock, null);
  try {
    await stoppedAfterFive(ctx, clock, 4_000);
    const db = ctx.store.open("metrics", METRICS_MIGRATIONS);
    const row = JSON.parse(carryRow(ctx)!);
    row.state.counters[0][1] = "lots";
    db.run("UPDATE meta SET value = ? WHERE key = 'statsd_carryover'", JSON.stringify(row));
    ctx.store.closeAll();
    const m = await started(ctx);
    const warned = ctx.sink.recent.WARNING.filter((l) => /handed over is dropped/.test(l));
    assert.equal(warned.length, 1, JSON.stringify(ctx.sink.recent.WARNING));
    assert.match(warned[0], /state\.counters\[0\] \("hits"\): not a finite number/);
    assert.equal(carryRow(ctx), undefined);
    m.service.localStatsdLine("hits:3|c");
    m.service.localStatsdLine("mark:1|c");
    await flushed(clock, m.service, 6_000, "mark");
    assert.deepEqual(points(m.service, "stats.gauges.hits.count"), [[T, 3]]);
    await stopped(ctx, m);
  } finally {
    ctx.cleanup();
  }
});
