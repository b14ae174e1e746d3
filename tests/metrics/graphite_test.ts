import assert from "node:assert/strict";
import { steppedClock } from "../clock_step.ts";
import { freePort, makeTestCtx, until } from "../helpers.ts";
import { createMetrics, LineSplitter, parseGraphiteLine } from "../../lib/metrics/mod.ts";
import { TcpStreamServer } from "../../lib/metrics/listeners.ts";
import { type Clock, type TimerId, VirtualClock } from "../../lib/clock/mod.ts";
import { udpListening } from "./udp_burst.ts";

const HOST = "127.0.0.13";

Deno.test("graphite lines: good ones parse, NaN/Inf/negative/garbage are refused with a reason", () => {
  assert.deepEqual(parseGraphiteLine("a.b 1.5 1700000000", 5), { name: "a.b", value: 1.5, ts: 1700000000 });
  assert.deepEqual(parseGraphiteLine("  a.b\t2  1700000000.9 ", 5), {
    name: "a.b",
    value: 2,
    ts: 1700000000,
  });
  assert.deepEqual(parseGraphiteLine("a 1 -1", 77), { name: "a", value: 1, ts: 77 });
  for (
    const bad of [
      "a NaN 1",
      "a Infinity 1",
      "a 1 -5",
      "a 1",
      "a 1 2 3",
      "a x 1",
      "a 1 x",
      "a..b 1 1",
      ".a 1 1",
      "",
    ]
  ) {
    assert.ok("bad" in parseGraphiteLine(bad, 0), bad);
  }
});

Deno.test("line splitter: lines across reads, CRLF, overlong lines dropped whole", () => {
  const lines: string[] = [];
  let overlong = 0;
  const s = new LineSplitter(20, (l) => lines.push(l), () => overlong++);
  const enc = new TextEncoder();
  for (const part of ["a 1 ", "2\nb 3", " 4\r\n", "x".repeat(30), "yyy\nc 5 6\n", "d 7 8"]) {
    s.push(enc.encode(part));
  }
  s.end();
  assert.deepEqual(lines, ["a 1 2", "b 3 4", "c 5 6", "d 7 8"]);
  assert.equal(overlong, 1);
  // a multi-byte character split between reads
  const got: string[] = [];
  const s2 = new LineSplitter(100, (l) => got.push(l), () => {});
  const bytes = enc.encode("é 1 2\n");
  s2.push(bytes.subarray(0, 1));
  s2.push(bytes.subarray(1));
  assert.deepEqual(got, ["é 1 2"]);
});

Deno.test("fuzz: graphite parser and splitter never throw; accepted points are finite", () => {
  let seed = 7;
  const rnd = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
  const alphabet = "ab. \t\n\r-+0123456789eE.NaInfity\u0000é";
  const split = new LineSplitter(64, (l) => {
    const p = parseGraphiteLine(l, 100);
    if (!("bad" in p)) {
      assert.ok(Number.isFinite(p.value) && Number.isFinite(p.ts) && p.ts >= 0);
    }
  }, () => {});
  for (let i = 0; i < 20_000; i++) {
    let s = "";
    const len = Math.floor(rnd() * 50);
    for (let j = 0; j < len; j++) s += alphabet[Math.floor(rnd() * alphabet.length)];
    split.push(new TextEncoder().encode(s));
    const p = parseGraphiteLine(s, 100);
    if (!("bad" in p)) assert.ok(Number.isFinite(p.value) && p.ts >= 0);
  }
  split.end();
});

Deno.test("graphite over TCP split across writes and over UDP lands in the store; bad lines counted", async () => {
  const port = freePort(HOST);
  const clock = new VirtualClock(1_700_000_000_000);
  const now = 1_700_000_000;
  const ctx = makeTestCtx({
    clock,
    files: { "listeners.json": { graphite: { enabled: true, port, bind: HOST, max_line: 200 } } },
  });
  const m = createMetrics(ctx);
  await m.start();
  const svc = m.service;
  const conn = await Deno.connect({ hostname: HOST, port });
  const enc = new TextEncoder();
  const chunks = [
    `tcp.a 1 ${now - 100}\ntcp.`,
    `a 2 ${now - 90}\ntcp.b NaN ${now}\ntcp.b 1 -3\n`,
    `${"x".repeat(300)}\n`,
    `garbage\ntcp.b 5 `,
    `${now - 80}\n`,
  ];
  for (const c of chunks) {
    await conn.write(enc.encode(c));
    await new Promise((r) => setTimeout(r, 5));
  }
  conn.close();
  const udp = Deno.listenDatagram({ hostname: HOST, port: 0, transport: "udp" });
  await udp.send(enc.encode(`udp.c 3 ${now - 70}\nudp.c Inf ${now}\nudp.d 4 ${now - 60}`), {
    hostname: HOST,
    port,
    transport: "udp",
  });
  udp.close();
  await until(
    "5 points, 5 bad",
    () => svc.graphiteStats.points >= 5 && svc.graphiteStats.bad_lines >= 5,
    3000,
    10,
  );
  assert.equal(svc.graphiteStats.points, 5);
  assert.equal(svc.graphiteStats.bad_lines, 5, svc.graphiteStats.last_bad);
  assert.equal(svc.graphiteStats.overlong_lines, 1);
  svc.store.flush();
  const a = svc.store.fetch("tcp.a", now - 120, now);
  assert.equal(a.step, 10);
  assert.deepEqual(a.values.filter((v) => v !== null), [1, 2]);
  assert.deepEqual(svc.store.fetch("tcp.b", now - 120, now).values.filter((v) => v !== null), [5]);
  assert.deepEqual(svc.store.fetch("udp.c", now - 120, now).values.filter((v) => v !== null), [3]);
  assert.deepEqual(svc.store.fetch("udp.d", now - 120, now).values.filter((v) => v !== null), [4]);
  const info = svc.listenerInfo().graphite as { enabled: boolean; listening: Record<string, number> };
  assert.equal(info.enabled, true);
  assert.deepEqual(info.listening, { udp: port, tcp: port, pickle: 0 });
  await m.stop();
  ctx.cleanup();
});

Deno.test("graphite over UDP: 300 datagrams sent at once, a 60 KB one among them, every point lands", async () => {
  const now = 1_700_000_000;
  const l = await udpListening(HOST, (port) => ({ graphite: { enabled: true, port, bind: HOST } }));
  try {
    const datagrams: string[] = [];
    for (let i = 0; i < 300; i++) {
      datagrams.push(`burst.s${i} ${i} ${now - 30}`);
      if (i === 150) {
        const lines = Array.from({ length: 2500 }, (_, k) => `big.s${k} ${k} ${now - 20}`).join("\n");
        assert.ok(lines.length > 60_000 && lines.length < 65_000);
        datagrams.push(lines);
      }
    }
    await l.burst(datagrams);
    const stats = l.svc.graphiteStats;
    await until("every point", () => stats.points >= 2800, 5000, 10);
    assert.equal(stats.points, 2800);
    assert.equal(stats.bad_lines, 0, stats.last_bad);
    l.svc.store.flush();
    const one = (name: string) => l.svc.store.fetch(name, now - 60, now).values.filter((v) => v !== null);
    assert.deepEqual(one("burst.s299"), [299]);
    assert.deepEqual(one("big.s2499"), [2499]);
    assert.deepEqual(one("big.s0"), [0]);
  } finally {
    await l.close();
  }
});

/** The metrics subsystem with a Graphite TCP listener on HOST and one client connected to it. */
async function graphiteTcp(
  opts: { clock?: Clock; graphite?: Record<string, unknown>; params?: Record<string, unknown> },
) {
  const port = freePort(HOST);
  const ctx = makeTestCtx({
    clock: opts.clock,
    params: opts.params,
    files: { "l.json": { graphite: { enabled: true, port, bind: HOST, udp: false, ...opts.graphite } } },
  });
  const m = createMetrics(ctx);
  await m.start();
  const conn = await Deno.connect({ hostname: HOST, port });
  return {
    ctx,
    m,
    conn,
    send: (text: string) => conn.write(new TextEncoder().encode(text)),
    points: (n: number, what: string) => until(what, () => m.service.graphiteStats.points === n, 3000, 10),
    async [Symbol.asyncDispose]() {
      try {
        conn.close();
      } catch { /* closed by the server */ }
      await m.stop();
      ctx.cleanup();
    },
  };
}

Deno.test("an idle graphite TCP connection is closed after idle_timeout (injected clock)", async () => {
  const clock = new VirtualClock(1_700_000_000_000);
  await using g = await graphiteTcp({ clock, graphite: { idle_timeout: "2s" } });
  await g.send("idle.x 1 1700000000\n");
  await g.points(1, "first point");
  await clock.advance(5000);
  const n = await g.conn.read(new Uint8Array(16)).catch(() => null);
  assert.equal(n, null, "server closed the idle connection");
});

Deno.test("a graphite TCP sender is not cut when the wall clock steps forward an hour (idle counts on the clock that never steps)", async () => {
  const base = new VirtualClock(1_700_000_000_000);
  const clock = steppedClock(base);
  await using g = await graphiteTcp({ clock, graphite: { idle_timeout: "2s" } });
  await g.send("busy.x 1 1700000000\n");
  await g.points(1, "first point");
  clock.step(3_600_000);
  await base.advance(1000); // sweeps run; the sender was active a second ago
  await g.send("busy.x 2 1700000010\n");
  await g.points(2, "second point on the same connection");
});

Deno.test("a Graphite or statsd port already taken: the start fails naming the setting, address and protocol", async () => {
  // an IPv6 address in brackets: `::1:6768` would read as an address without a port
  const cases: Array<
    [string, (host: string, port: number) => Record<string, unknown>, "udp" | "tcp", string]
  > = [
    [
      "graphite udp",
      (host, port) => ({ graphite: { enabled: true, port, bind: host, tcp: false } }),
      "udp",
      "graphite",
    ],
    [
      "graphite tcp",
      (host, port) => ({ graphite: { enabled: true, port, bind: host, udp: false } }),
      "tcp",
      "graphite",
    ],
    ["statsd udp", (host, port) => ({ statsd: { enabled: true, port, bind: host } }), "udp", "statsd"],
    [
      "statsd tcp",
      (host, port) => ({ statsd: { enabled: true, port, bind: host, tcp: true } }),
      "tcp",
      "statsd",
    ],
  ];
  for (const [what, cfg, proto, obj] of cases) {
    for (const host of [HOST, "::1"]) {
      const port = freePort(host);
      const holder = proto === "udp"
        ? Deno.listenDatagram({ hostname: host, port, transport: "udp" })
        : Deno.listen({ hostname: host, port });
      const ctx = makeTestCtx({ files: { "l.json": cfg(host, port) } });
      const m = createMetrics(ctx);
      const at = (host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`).replace(/[.[\]]/g, "\\$&");
      try {
        await assert.rejects(
          () => m.start(),
          new RegExp(`^Error: ${obj}\\.port: cannot listen on ${at} \\(${proto}\\): `),
          `${what} on ${host}`,
        );
      } finally {
        await m.stop();
        holder.close();
        ctx.cleanup();
      }
    }
  }
});

Deno.test("a TCP client that stops reading answers is closed idle, which is not an error", async () => {
  const clock = new VirtualClock(1_700_000_000_000);
  const errors: string[] = [];
  const big = new Uint8Array(8 << 20); // more than the socket buffers hold: the write blocks
  const srv = new TcpStreamServer({
    hostname: HOST,
    port: 0,
    idleTimeout: 60_000,
    maxConnections: 4,
    clock,
    sink: (peer) => ({ push: async () => (await peer.write(big), true), end: () => {} }),
    onError: (err) => errors.push(`${err.name}: ${err.message}`),
  });
  const conn = await Deno.connect({ hostname: HOST, port: srv.port });
  try {
    await conn.write(new TextEncoder().encode("ask\n")); // then never read the answer
    await until("the answer blocked", () => srv.connections === 1, 2000, 10);
    await new Promise((r) => setTimeout(r, 200));
    await clock.advance(61_000);
    await until("closed idle", () => srv.connections === 0, 5000, 10);
    assert.equal(srv.idleClosed, 1);
    assert.deepEqual(errors, []);
  } finally {
    conn.close();
    await srv.close();
  }
});

Deno.test("a TCP listener takes at most maxPerClient connections of one client address", async () => {
  const clock = new VirtualClock(1_700_000_000_000);
  const srv = new TcpStreamServer({
    hostname: HOST,
    port: 0,
    idleTimeout: 60_000,
    maxConnections: 64,
    maxPerClient: 3,
    clock,
    sink: () => ({ push: () => true, end: () => {} }),
    onError: () => {},
  });
  const conns: Deno.Conn[] = [];
  try {
    for (let i = 0; i < 4; i++) conns.push(await Deno.connect({ hostname: HOST, port: srv.port }));
    // the fourth is closed at once; the three others stay
    let fourthClosed = false;
    conns[3].read(new Uint8Array(8)).catch(() => null).then((n) => fourthClosed = n === null);
    await until("the fourth closed at once", () => fourthClosed, 5000, 10);
    assert.equal(srv.refusedPerClient, 1);
    await until("three served", () => srv.connections === 3, 2000, 10);
    // a place freed is taken again
    conns.shift()!.close();
    await until("two served", () => srv.connections === 2, 2000, 10);
    conns.push(await Deno.connect({ hostname: HOST, port: srv.port }));
    await until("three served again", () => srv.connections === 3, 2000, 10);
    assert.equal(srv.refusedPerClient, 1);
  } finally {
    for (const c of conns) {
      try {
        c.close();
      } catch { /* closed by the server */ }
    }
    await srv.close();
  }
});

Deno.test("graphite TCP: one client address holds at most 64 connections", async () => {
  await using g = await graphiteTcp({});
  const port = (g.conn.remoteAddr as Deno.NetAddr).port;
  const conns: Deno.Conn[] = [];
  try {
    for (let i = 0; i < 64; i++) conns.push(await Deno.connect({ hostname: HOST, port }));
    let lastClosed = false;
    conns[63].read(new Uint8Array(8)).catch(() => null).then((n) => lastClosed = n === null);
    await until("the 65th closed at once", () => lastClosed, 5000, 10);
    await conns[0].write(new TextEncoder().encode(`ok.x 1 ${Math.floor(g.ctx.clock.now() / 1000)}\n`));
    await g.points(1, "the 64 others are served");
  } finally {
    for (const c of conns) c.close();
  }
});

Deno.test("metrics.max_series reached: Graphite points of new names are refused, said in the log once a minute", async () => {
  await using g = await graphiteTcp({ params: { metrics: { max_series: 2 } } });
  const t = Math.floor(g.ctx.clock.now() / 1000); // (the store refuses points out of its range first)
  await g.send(`a.x 1 ${t}\nb.x 1 ${t}\nc.x 1 ${t}\nd.x 1 ${t}\na.x 2 ${t}\n`);
  await g.points(5, "five points read");
  assert.equal(g.m.service.store.stats.series_refused, 2);
  const said = g.ctx.sink.recent.WARNING.filter((l) => /point\(s\) of new metric names refused/.test(l));
  assert.equal(said.length, 1, said.join("\n"));
  assert.match(said[0], /"c\.x".*2 names are stored \(metrics\.max_series\)/);
});

/** A clock whose sweep runs only when the test says: after a stall, it runs once, late. */
class StallClock extends VirtualClock {
  sweep: (() => void) | null = null;
  override setInterval(fn: () => void, _ms: number): TimerId {
    this.sweep = fn;
    return 0;
  }
  override clearInterval(_id: TimerId): void {
    this.sweep = null;
  }
}

Deno.test("a TCP sender is not cut when the agent itself was stalled past the idle timeout; an idle one still is", async () => {
  const clock = new StallClock();
  const got: string[] = [];
  const srv = new TcpStreamServer({
    hostname: HOST,
    port: 0,
    idleTimeout: 30_000,
    maxConnections: 4,
    clock,
    sink: () => ({ push: (b) => (got.push(new TextDecoder().decode(b)), true), end: () => {} }),
    onError: () => {},
  });
  const conn = await Deno.connect({ hostname: HOST, port: srv.port });
  try {
    await until("accepted", () => srv.connections === 1, 2000, 10);
    // sent while the agent's process was stopped for 40 s: the sweep runs first when it wakes up
    void conn.write(new TextEncoder().encode("stall.x 1 1700000000\n"));
    await clock.advance(40_000);
    clock.sweep!();
    await until("the line read", () => got.join("") === "stall.x 1 1700000000\n", 2000, 10);
    assert.equal(srv.idleClosed, 0, "closed for the agent's own stall");
    // the usual cadence again: a client that sends nothing for idle_timeout is closed
    for (let i = 0; i < 31; i++) {
      await clock.advance(1000);
      clock.sweep!();
    }
    await until("closed idle", () => srv.connections === 0, 2000, 10);
    assert.equal(srv.idleClosed, 1);
  } finally {
    conn.close();
    await srv.close();
  }
});
