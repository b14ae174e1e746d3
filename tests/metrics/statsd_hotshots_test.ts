import assert from "node:assert/strict";
import { StatsD } from "hot-shots";
import { freePort, makeTestCtx, until } from "../helpers.ts";
import { createMetrics } from "../../lib/metrics/mod.ts";
import { VirtualClock } from "../../lib/clock/mod.ts";
import { udpListening } from "./udp_burst.ts";

const HOST = "127.0.0.13";

Deno.test("a real statsd client (hot-shots) sends every type; the flush stores exact aggregates", async () => {
  const port = freePort(HOST);
  const clock = new VirtualClock(1_700_000_000_000);
  const ctx = makeTestCtx({
    clock,
    files: { "listeners.json": { statsd: { enabled: true, port, bind: HOST, interval: 10 } } },
  });
  const m = createMetrics(ctx);
  await m.start();
  const client = new StatsD({ host: HOST, port, prefix: "app." });
  const realRandom = Math.random;
  Math.random = () => 0; // hot-shots drops samples at random below rate 1: keep all of them
  try {
    client.increment("hits", 1);
    client.increment("hits", 4);
    client.increment("hits", 2, 0.5); // counts as 4
    client.decrement("hits", 1);
    for (const v of [10, 20, 30, 40]) client.timing("rt", v);
    client.histogram("rt", 50);
    client.set("users", "alice");
    client.set("users", "bob");
    client.set("users", "alice");
    client.unique("users", "carol");
  } finally {
    Math.random = realRandom;
  }
  const svc = m.service;
  await until("13 samples", () => svc.statsdStats().metrics >= 13, 2000, 10);
  // a gauge's deltas depend on order, and UDP sends may overtake each other: one at a time
  client.gauge("queue", 7);
  await until("the gauge", () => svc.statsdStats().metrics >= 14, 2000, 10);
  client.gaugeDelta("queue", 3);
  await until("+3", () => svc.statsdStats().metrics >= 15, 2000, 10);
  client.gaugeDelta("queue", -5);
  await until("-5", () => svc.statsdStats().metrics >= 16, 2000, 10);
  assert.equal(svc.statsdStats().bad_lines, 0, svc.statsdStats().last_bad);
  await clock.advance(10_000); // one statsd flush on the injected clock (answered by the Worker)
  await until("the flush", () => svc.store.has("stats.gauges.app.hits.count"), 2000, 10);
  const now = Math.floor(clock.now() / 1000);
  const get = (name: string) => {
    const s = svc.store.fetch(name, now - 60, now);
    return s.values.filter((v) => v !== null).at(-1);
  };
  assert.equal(get("stats.gauges.app.hits.count"), 8);
  assert.equal(get("stats.gauges.app.hits.rate"), 0.8);
  assert.equal(get("stats.timers.app.rt.count"), 5);
  assert.equal(get("stats.timers.app.rt.mean"), 30);
  assert.equal(get("stats.timers.app.rt.median"), 30);
  assert.equal(get("stats.timers.app.rt.upper"), 50);
  assert.equal(get("stats.timers.app.rt.lower"), 10);
  assert.equal(get("stats.timers.app.rt.sum"), 150);
  assert.equal(get("stats.timers.app.rt.upper_90"), 50); // round(0.9*5)=5 values
  assert.equal(get("stats.timers.app.rt.sum_90"), 150);
  assert.equal(get("stats.gauges.app.queue"), 5);
  assert.equal(get("stats.sets.app.users.count"), 3);
  assert.equal(m.info().statsd && (m.info().statsd as { enabled: boolean }).enabled, true);
  await new Promise<void>((r) => client.close(() => r()));
  await m.stop();
  assert.equal((m.info().statsd as { enabled: boolean }).enabled, false, "not listening after stop");
  ctx.cleanup();
});

Deno.test("under ts routing the statsd Worker hands datagrams to the main thread; back to aggregating after", async () => {
  const port = freePort(HOST);
  const ctx = makeTestCtx({
    clock: new VirtualClock(1_700_000_000_000),
    files: { "listeners.json": { statsd: { enabled: true, port, bind: HOST, interval: 10, tcp: true } } },
  });
  const m = createMetrics(ctx);
  await m.start();
  const svc = m.service;
  const got: string[] = [];
  svc.statsdPacket = (b) => got.push(new TextDecoder().decode(b));
  svc.setStatsdLocal(false);
  const udp = Deno.listenDatagram({ hostname: HOST, port: 0, transport: "udp" });
  const send = (t: string) =>
    udp.send(new TextEncoder().encode(t), { hostname: HOST, port, transport: "udp" });
  try {
    await new Promise((r) => setTimeout(r, 50)); // the mode message reaches the Worker
    await send("routed:1|c");
    await until("the datagram on the main thread", () => got.length === 1, 2000, 10);
    assert.equal(got[0], "routed:1|c");
    svc.setStatsdLocal(true);
    await new Promise((r) => setTimeout(r, 50));
    await send("local:2|c");
    await until("aggregated in the Worker", () => svc.statsdStats().metrics === 1, 2000, 10);
    // a TCP line goes to the same aggregator as UDP
    const conn = await Deno.connect({ hostname: HOST, port });
    await conn.write(new TextEncoder().encode("local:3|c\n"));
    conn.close();
    await until("the TCP line", () => svc.statsdStats().metrics === 2, 2000, 10);
    assert.equal(await svc.flushStatsd() > 0, true);
    const now = Math.floor(ctx.clock.now() / 1000);
    assert.deepEqual(
      svc.store.fetch("stats.gauges.local.count", now - 60, now).values.filter((v) => v !== null),
      [5],
    );
  } finally {
    udp.close();
    await m.stop();
    ctx.cleanup();
  }
});

Deno.test("statsd: 500 datagrams sent at once, a 60 KB one among them, are all counted (the Worker takes queued ones in batches)", async () => {
  const l = await udpListening(
    HOST,
    (port) => ({ statsd: { enabled: true, port, bind: HOST, interval: 10 } }),
  );
  try {
    const datagrams: string[] = [];
    for (let i = 0; i < 500; i++) {
      datagrams.push(`burst:${i % 2 ? 1 : 3}|c`);
      if (i === 250) datagrams.push("big:1|c\n".repeat(7500)); // 60 000 bytes, 7 500 lines
    }
    await l.burst(datagrams);
    const stats = () => l.svc.statsdStats();
    await until("every sample", () => stats().metrics >= 8000, 5000, 10);
    assert.equal(stats().metrics, 8000);
    assert.equal(stats().bad_lines, 0, stats().last_bad);
    await l.clock.advance(10_000);
    await until("the flush", () => l.svc.store.has("stats.gauges.burst.count"), 2000, 10);
    const now = Math.floor(l.clock.now() / 1000);
    const last = (name: string) =>
      l.svc.store.fetch(name, now - 60, now).values.filter((v) => v !== null).at(-1);
    assert.equal(last("stats.gauges.burst.count"), 1000); // 250 × 1 + 250 × 3
    assert.equal(last("stats.gauges.big.count"), 7500);
  } finally {
    await l.close();
  }
});

Deno.test("hot-shots' DogStatsD tags: counted right, and with statsd.tags graphite they tag the series", async () => {
  for (const mode of ["ignore", "graphite"] as const) {
    const port = freePort(HOST);
    const clock = new VirtualClock(1_700_000_000_000);
    const ctx = makeTestCtx({
      clock,
      files: { "listeners.json": { statsd: { enabled: true, port, bind: HOST, interval: 10, tags: mode } } },
    });
    const m = createMetrics(ctx);
    await m.start();
    const client = new StatsD({ host: HOST, port, prefix: "app.", globalTags: { env: "prod" } });
    const realRandom = Math.random;
    Math.random = () => 0; // keep the sampled ones
    try {
      client.increment("hits", 3, { region: "eu" });
      client.increment("hits", 2, 0.5, { region: "eu" }); // `|@0.5|#env:prod,region:eu`: counts as 4
      client.increment("hits", 1, ["bare", "region:us"]); // a tag without a value is left out
      for (const v of [10, 30]) client.timing("rt", v, { region: "eu" });
    } finally {
      Math.random = realRandom;
    }
    const svc = m.service;
    try {
      await until("5 samples", () => svc.statsdStats().metrics >= 5, 2000, 10);
      assert.equal(svc.statsdStats().bad_lines, 0, svc.statsdStats().last_bad);
      await clock.advance(10_000);
      const now = Math.floor(clock.now() / 1000);
      const get = (name: string) =>
        svc.store.fetch(name, now - 60, now).values.filter((v) => v !== null).at(-1);
      if (mode === "ignore") {
        await until("the flush", () => svc.store.has("stats.gauges.app.hits.count"), 2000, 10);
        assert.equal(get("stats.gauges.app.hits.count"), 8);
        assert.equal(get("stats.timers.app.rt.mean"), 20);
      } else {
        const eu = "stats.gauges.app.hits.count;env=prod;region=eu";
        await until("the flush", () => svc.store.has(eu), 2000, 10);
        assert.equal(get(eu), 7);
        assert.equal(get("stats.gauges.app.hits.count;env=prod;region=us"), 1);
        assert.equal(get("stats.timers.app.rt.mean;env=prod;region=eu"), 20);
        assert.equal(svc.store.has("stats.gauges.app.hits.count"), false);
      }
    } finally {
      await new Promise<void>((r) => client.close(() => r()));
      await m.stop();
      ctx.cleanup();
    }
  }
});

Deno.test("the flush at stop does not replace the last interval's counts (dated at the next tick)", async () => {
  const port = freePort(HOST);
  const clock = new VirtualClock(1_700_000_000_000); // on the 10 s grid
  const ctx = makeTestCtx({
    clock,
    files: { "listeners.json": { statsd: { enabled: true, port, bind: HOST, interval: 10 } } },
  });
  const m = createMetrics(ctx);
  await m.start();
  const svc = m.service;
  const udp = Deno.listenDatagram({ hostname: HOST, port: 0, transport: "udp" });
  const send = (t: string) =>
    udp.send(new TextEncoder().encode(t), { hostname: HOST, port, transport: "udp" });
  try {
    await send("restart.hits:5|c");
    await until("5 received", () => svc.statsdStats().metrics === 1, 2000, 10);
    await clock.advance(10_000); // the tick: 5 stored at T+10
    await until("the flush", () => svc.store.has("stats.gauges.restart.hits.count"), 2000, 10);
    await send("restart.hits:3|c");
    await until("3 received", () => svc.statsdStats().metrics === 2, 2000, 10);
    await clock.advance(4_000); // stopped 4 s into the next interval
  } finally {
    udp.close();
    await m.stop();
  }
  await clock.advance(60_000);
  const t0 = 1_700_000_000;
  const got = svc.store.fetch("stats.gauges.restart.hits.count", t0, t0 + 60);
  const pts = got.values.map((v, i) => [got.start + i * got.step, v]).filter(([, v]) => v !== null);
  assert.deepEqual(pts, [[t0 + 10, 5], [t0 + 20, 3]]);
  ctx.cleanup();
});
