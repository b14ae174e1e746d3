/**
 * carbon's pickle protocol on the wire: the frame reader (frames across reads, the length limit),
 * the listener over TCP (counters, later frames after a bad one, idle timeout), `forward_to` and
 * `ts` routing seeing the points, a pickle_port that cannot be bound.
 */
import assert from "node:assert/strict";
import { startTsNodes } from "./ts_nodes.ts";
import { freePort, makeTestCtx, until } from "../helpers.ts";
import { createMetrics, TsRing } from "../../lib/metrics/mod.ts";
import { VirtualClock } from "../../lib/clock/mod.ts";
import { FrameBudget, PICKLE_MAX_LENGTH, PickleFrameReader } from "../../lib/metrics/graphite_pickle.ts";
import { bytes, dumps, frame, hex, N, unhex } from "./pickle_oracle.ts";

const HOST = "127.0.0.15";

Deno.test("frame reader: frames across reads at every split, several in one read, over the limit, cut short", () => {
  const frames = [bytes("]."), new Uint8Array(0), bytes("(N.", "x".repeat(300))];
  const wire: number[] = [];
  for (const f of frames) wire.push(...[0, 0, f.length >> 8, f.length & 0xff], ...f);
  const stream = new Uint8Array(wire);
  for (let a = 0; a <= stream.length; a++) {
    for (const b of [a, Math.min(stream.length, a + 1), Math.min(stream.length, a + 7)]) {
      const got: string[] = [];
      const r = new PickleFrameReader(1000, (f) => got.push(hex(f)), (why) => got.push(`refused ${why}`));
      for (const part of [stream.subarray(0, a), stream.subarray(a, b), stream.subarray(b)]) {
        assert.equal(r.push(part), true);
      }
      r.end();
      assert.deepEqual(got, frames.map(hex), `split at ${a}, ${b}`);
    }
  }
  const why: string[] = [];
  const r = new PickleFrameReader(PICKLE_MAX_LENGTH, () => assert.fail("no frame"), (w) => why.push(w));
  assert.equal(r.push(bytes([0x00, 0x10, 0x00, 0x01], "].")), false);
  assert.deepEqual(why, [`a frame of 1048577 bytes, over the limit of 1048576: connection closed`]);
  const cut: string[] = [];
  const r2 = new PickleFrameReader(100, () => {}, (w) => cut.push(w));
  r2.push(bytes([0, 0, 0, 10], "abc"));
  r2.end();
  r2.push(bytes([0, 0]));
  r2.end();
  assert.deepEqual(cut, [
    "connection closed inside a frame (3 of 10 bytes)",
    "connection closed inside a frame header (2 of 4 bytes)",
  ]);
});

Deno.test("frame reader: unfinished frames of all connections share one budget; a frame whole in a read holds none", () => {
  const budget = new FrameBudget(100);
  const got: string[] = [];
  const reader = () =>
    new PickleFrameReader(1000, (f) => got.push(`frame ${f.length}`), (w) => got.push(w), budget);
  const [a, b, c] = [reader(), reader(), reader()];
  assert.equal(a.push(bytes([0, 0, 0, 80], "x".repeat(60))), true);
  assert.equal(budget.used, 60);
  // 50 more bytes kept by b would pass 100: b is refused, a goes on
  assert.equal(b.push(bytes([0, 0, 0, 80], "y".repeat(50))), false);
  assert.equal(budget.used, 60);
  // a whole 200-byte frame in one read is handed on without being kept
  assert.equal(c.push(bytes([0, 0, 0, 200], "z".repeat(200))), true);
  assert.equal(a.push(bytes("x".repeat(20))), true);
  assert.equal(budget.used, 0, "a's frame done: its bytes released");
  assert.equal(a.push(bytes([0, 0, 0, 80], "x".repeat(30))), true);
  a.end();
  assert.equal(budget.used, 0, "a connection's end releases its bytes");
  assert.deepEqual(got, [
    "unfinished frames of all connections past 100 bytes: connection closed inside a frame (0 of 80 bytes)",
    "frame 200",
    "frame 80",
    "connection closed inside a frame (30 of 80 bytes)",
  ]);
});

Deno.test("frame reader: one client address holds at most its share of the budget; another still gets room", () => {
  const budget = new FrameBudget(100, 50);
  const got: string[] = [];
  const reader = (client: string) =>
    new PickleFrameReader(1000, (f) => got.push(`frame ${f.length}`), (w) => got.push(w), budget, client);
  const [a1, a2, b] = [reader("10.0.0.1"), reader("10.0.0.1"), reader("10.0.0.2")];
  assert.equal(a1.push(bytes([0, 0, 0, 80], "x".repeat(40))), true);
  // a second connection of the same client: 20 more bytes would pass its 50
  assert.equal(a2.push(bytes([0, 0, 0, 80], "y".repeat(20))), false);
  assert.equal(budget.heldBy("10.0.0.1"), 40);
  // another client has its own share of what is left
  assert.equal(b.push(bytes([0, 0, 0, 80], "z".repeat(50))), true);
  assert.equal(budget.used, 90);
  a1.end();
  b.end();
  assert.equal(budget.used, 0);
  assert.equal(budget.heldBy("10.0.0.1"), 0);
  assert.deepEqual(got.slice(0, 1), [
    "unfinished frames of 10.0.0.1's connections past 50 bytes: connection closed inside a frame (0 of 80 bytes)",
  ]);
});

Deno.test("pickle listener: frames over TCP land, bad ones counted, later ones land; forward_to and routing", async () => {
  const [port, pickle, sinkPort] = [freePort(HOST), freePort(HOST), freePort(HOST)];
  const now = 1_700_000_000;
  const clock = new VirtualClock(now * 1000);
  // forward_to: a plaintext carbon stand-in
  const sink = Deno.listen({ hostname: HOST, port: sinkPort });
  const relayed: string[] = [];
  const sinkDone = (async () => {
    for await (const c of sink) {
      for await (const chunk of c.readable) relayed.push(new TextDecoder().decode(chunk));
    }
  })();
  const ctx = makeTestCtx({
    clock,
    files: {
      "listeners.json": {
        graphite: {
          enabled: true,
          port,
          bind: HOST,
          udp: false,
          pickle_port: pickle,
          forward_to: `${HOST}:${sinkPort}`,
        },
      },
    },
  });
  const m = createMetrics(ctx);
  await m.start();
  const svc = m.service;
  const routed: string[] = [];
  const route = svc.route;
  svc.route = (n, v, t) => {
    routed.push(n);
    route(n, v, t);
  };
  try {
    const [good, good4, bad] = (await dumps([
      [
        `[("pk.a", (${now - 100}, 1)), ("pk.a", (${now - 90}.5, 2.5)), ("pk.b", (${
          now - 80
        }, "NAN")), ("x..y", (1, 1))]`,
        2,
      ],
      [`[("pk.c", (${now - 70}, ${N(2n ** 40n)}))]`, 4],
      [`SYSTEM:true`, 2],
    ])).map(unhex);
    const wire = [...frame(good), ...frame(bad), ...frame(bytes("garbage")), ...frame(good4)];
    const conn = await Deno.connect({ hostname: HOST, port: pickle });
    // split at awkward places: inside a header, inside a pickle
    for (const [a, b] of [[0, 2], [2, 9], [9, 60], [60, wire.length]]) {
      await conn.write(new Uint8Array(wire.slice(a, b)));
      await new Promise((r) => setTimeout(r, 5));
    }
    const st = svc.graphiteStats;
    await until("4 frames", () => st.frames === 4, 3000, 10);
    assert.equal(st.points, 3);
    assert.equal(st.bad_points, 2, st.last_bad);
    assert.equal(st.bad_frames, 2);
    assert.equal(st.bad_lines, 0);
    assert.deepEqual(routed, ["pk.a", "pk.a", "pk.c"]);
    svc.store.flush();
    const vals = (n: string) => svc.store.fetch(n, now - 120, now).values.filter((v) => v !== null);
    assert.deepEqual(vals("pk.a"), [1, 2.5]);
    assert.deepEqual(vals("pk.c"), [2 ** 40]);
    assert.equal(svc.store.has("pk.b"), false);
    // an announced frame over 1 MiB: counted, that connection closed, the listener goes on
    await conn.write(new Uint8Array([0x00, 0x10, 0x00, 0x01, 0x80]));
    assert.equal(await conn.read(new Uint8Array(8)).catch(() => null), null, "connection closed");
    conn.close();
    await until("refused", () => st.bad_frames === 3, 3000, 10);
    assert.match(st.last_bad, /a frame of 1048577 bytes, over the limit of 1048576/);
    // a frame cut short then left idle: closed after idle_timeout (30 s), counted
    const c2 = await Deno.connect({ hostname: HOST, port: pickle });
    await c2.write(frame(good).subarray(0, 20));
    await new Promise((r) => setTimeout(r, 50)); // read by the server before the clock jumps
    await clock.advance(31_000);
    assert.equal(await c2.read(new Uint8Array(8)).catch(() => null), null, "idle connection closed");
    c2.close();
    await until("cut frame counted", () => st.bad_frames === 4, 3000, 10);
    assert.match(st.last_bad, /connection closed inside a frame \(16 of \d+ bytes\)/);
    // forward_to got the valid points as plaintext
    await clock.advance(2000);
    await until("relayed", () => relayed.join("").split("\n").length > 3, 3000, 10);
    assert.deepEqual(relayed.join("").trim().split("\n"), [
      `pk.a 1 ${now - 100}`,
      `pk.a 2.5 ${now - 90}`,
      `pk.c ${2 ** 40} ${now - 70}`,
    ]);
    const info = svc.listenerInfo().graphite as Record<string, unknown>;
    assert.deepEqual(info.listening, { udp: 0, tcp: port, pickle });
    assert.equal(info.pickle_port, pickle);
    assert.equal(info.frames, 4);
  } finally {
    await m.stop();
    ctx.cleanup();
    sink.close();
    await sinkDone.catch(() => {});
  }
});

Deno.test("pickle_port on the plaintext TCP port: the start fails naming the setting", async () => {
  const port = freePort(HOST);
  const ctx = makeTestCtx({
    files: { "l.json": { graphite: { enabled: true, port, bind: HOST, pickle_port: port } } },
  });
  const m = createMetrics(ctx);
  try {
    await assert.rejects(
      () => m.start(),
      new RegExp(`^Error: graphite\\.pickle_port: cannot listen on ${HOST}:${port}: `),
    );
  } finally {
    await m.stop();
    ctx.cleanup();
  }
});

Deno.test("two ts nodes: pickled points owned by the other node are forwarded to it, as plaintext ones are", async () => {
  const pickle = freePort(HOST);
  const { members, nodes, stop } = await startTsNodes(HOST, [
    { "l.json": { graphite: { enabled: true, port: freePort(HOST), bind: HOST, pickle_port: pickle } } },
    {},
  ]);
  try {
    const now = Math.floor(Date.now() / 1000);
    const names = Array.from({ length: 60 }, (_, i) => `pkc.s${i}`);
    const [p] = (await dumps([[`[${names.map((n, i) => `("${n}", (${now - 30}, ${i}))`).join(", ")}]`, 2]]))
      .map(unhex);
    const conn = await Deno.connect({ hostname: HOST, port: pickle });
    await conn.write(frame(p));
    conn.close();
    const ring = TsRing.of(members);
    const onN2 = names.filter((n) => ring.owner(n)!.name === "n2");
    assert.ok(onN2.length > 5 && onN2.length < 55, `${onN2.length} of 60 owned by n2`);
    const [s1, s2] = nodes.map((n) => n.m.service.store);
    await until("n2's series on n2", () => onN2.every((n) => s2.has(n)), 5000, 20);
    await until(
      "n1's series on n1",
      () => names.filter((n) => !onN2.includes(n)).every((n) => s1.has(n)),
      5000,
      20,
    );
    assert.ok(!onN2.some((n) => s1.has(n)), "none of n2's stored on n1");
    assert.equal(nodes[0].m.service.graphiteStats.points, 60);
    const i = names.indexOf(onN2[0]);
    assert.deepEqual(s2.fetch(onN2[0], now - 60, now).values.filter((v) => v !== null), [i]);
  } finally {
    await stop();
  }
});
