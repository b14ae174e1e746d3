/**
 * The peer socket spoken by the TCP front itself (lib/http/ws_front.ts, `RouteTable.socket`): the
 * cluster's hot messages travel on it with the same sealing, refusals and limits as on Deno's
 * WebSocket behind the private server.
 */
import assert from "node:assert/strict";
import { RouteTable } from "../../lib/routing/mod.ts";
import {
  assertUnsealedAndReplayRefused,
  assertWritesCasReads,
  dec,
  enc,
  stopAll,
  threeKvNodes,
} from "./kv_helpers.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };
const KEY = btoa("f".repeat(32));

/** A masked client frame (key 1 2 3 4), `fin` set or not. */
function frame(op: number, payload: Uint8Array, fin = true): Uint8Array {
  const mask = [1, 2, 3, 4];
  const b0 = (fin ? 0x80 : 0) | op, n = payload.length;
  const head = n < 126
    ? [b0, 0x80 | n]
    : n < 65536
    ? [b0, 0x80 | 126, n >> 8, n & 255]
    : [b0, 0x80 | 127, 0, 0, 0, 0, (n >>> 24) & 255, (n >> 16) & 255, (n >> 8) & 255, n & 255];
  const out = new Uint8Array(head.length + 4 + payload.length);
  out.set(head);
  out.set(mask, head.length);
  payload.forEach((b, i) => out[head.length + 4 + i] = b ^ mask[i & 3]);
  return out;
}

Deno.test({
  name: "front socket: writes, CAS and reads between 3 nodes travel on sockets the TCP fronts speak",
  ...opts,
  fn: async () => {
    const nodes = await threeKvNodes({ key: KEY, front: true });
    try {
      await assertWritesCasReads(nodes, "f");
      const upgrades = nodes.reduce((s, n) => s + n.upgrades, 0);
      assert.ok(upgrades >= 2, `${upgrades} sockets accepted by the fronts`);
      for (const n of nodes) {
        assert.deepEqual(n.envelope.dropped, { auth: 0, stale: 0, replay: 0, malformed: 0 });
      }
    } finally {
      await stopAll(nodes);
    }
  },
});

Deno.test({
  name: "front socket: unsealed, replayed, text and oversized frames close it as Deno's socket does",
  ...opts,
  fn: async () => {
    const nodes = await threeKvNodes({ key: KEY, front: true });
    const [a, b] = nodes;
    try {
      await assertUnsealedAndReplayRefused(a, b);
      assert.ok(a.upgrades >= 3, `${a.upgrades} upgrades taken by the front`);

      // raw frames: a text frame (1003), then a frame over the route's bound (1009, from its header)
      for (const [bytes, code] of [[frame(1, enc("hi")), 1003], [tooBig(), 1009]] as const) {
        const got = await rawExchange(a.port, bytes);
        assert.equal(got.status, "101");
        assert.equal(got.closeCode, code);
      }
    } finally {
      await stopAll(nodes);
    }
  },
});

Deno.test({
  name: "front socket: a message in fragments and split reads is answered; ping gets pong",
  ...opts,
  fn: async () => {
    const nodes = await threeKvNodes({ key: KEY, front: true });
    const [a, b] = nodes;
    try {
      const sealed = await b.envelope.seal(enc(JSON.stringify({ i: 7, k: "reads", b: { keys: ["x"] } })));
      const half = Math.floor(sealed.length / 2);
      const bytes = concat(
        frame(9, enc("p")),
        frame(2, sealed.subarray(0, half), false),
        frame(0, sealed.subarray(half)),
      );
      const got = await rawExchange(a.port, bytes, 2);
      assert.equal(got.status, "101");
      assert.equal(got.pongs, 1);
      assert.equal(got.messages.length, 1);
      const opened = await b.envelope.open(got.messages[0]);
      assert.ok(opened.ok);
      const answer = JSON.parse(dec(opened.plain));
      assert.equal(answer.i, 7);
      assert.equal(answer.s, 200);
      assert.equal(answer.b.results[0].record, null);

      // one frame of ~200 KB: many reads of the front's socket, joined once
      const keys = Array.from({ length: 1000 }, (_, i) => `big/${i}/${"k".repeat(190)}`);
      const big = await b.envelope.seal(enc(JSON.stringify({ i: 8, k: "reads", b: { keys } })));
      assert.ok(big.length > 200_000);
      const got2 = await rawExchange(a.port, frame(2, big), 1);
      assert.equal(got2.messages.length, 1);
      const opened2 = await b.envelope.open(got2.messages[0]);
      assert.ok(opened2.ok);
      assert.equal(JSON.parse(dec(opened2.plain)).b.results.length, 1000);
    } finally {
      await stopAll(nodes);
    }
  },
});

Deno.test({
  name:
    "front socket: an upgraded socket that sends no message (pings only) is closed at the header deadline",
  ...opts,
  fn: async () => {
    const nodes = await threeKvNodes({ key: KEY, front: true, headerTimeoutMs: 500 });
    const [a, b] = nodes;
    try {
      const t0 = performance.now();
      const got = await rawExchange(a.port, frame(9, enc("p")));
      const took = performance.now() - t0;
      assert.equal(got.status, "101");
      assert.equal(got.pongs, 1, "its ping was answered");
      assert.ok(took < 5_000, `closed after ${Math.round(took)} ms (the exchange's own limit is 10 s)`);
      // a peer's socket sends its first message at once: the cluster works over the same front
      await assertWritesCasReads(nodes, "t");
      assert.ok(a.upgrades + b.upgrades >= 2);
    } finally {
      await stopAll(nodes);
    }
  },
});

Deno.test("RouteTable.socket: only for a declared GET peer route without parameters", () => {
  const r = new RouteTable("t");
  r.peer("GET", "/p", "peer", (c) => c.text(""));
  r.read("GET", "/r", "read", (c) => c.text(""));
  r.peer("GET", "/q/:x", "peer", (c) => c.text(""));
  assert.throws(() => r.socket("/none", 10, () => () => {}), /declare the route first/);
  assert.throws(() => r.socket("/r", 10, () => () => {}), /only for peer routes/);
  assert.throws(() => r.socket("/q/:x", 10, () => () => {}), /no parameters/);
  r.socket("/p", 10, () => () => {});
  assert.equal(r.socketRoutes.length, 1);
});

/** A frame header announcing 2^40 bytes (the payload is never sent). */
function tooBig(): Uint8Array {
  const h = new Uint8Array(14);
  h[0] = 0x82;
  h[1] = 0x80 | 127;
  new DataView(h.buffer).setBigUint64(2, 1n << 40n);
  return h;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/**
 * Upgrades a raw connection, writes `bytes` one byte at a time for the first 20 then the rest, and
 * reads server frames until it closes or `want` data frames and pongs arrived.
 */
async function rawExchange(port: number, bytes: Uint8Array, want = Infinity) {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const out = { status: "", closeCode: 0, pongs: 0, messages: [] as Uint8Array[] };
  const stop = setTimeout(() => conn.close(), 10_000); // a wrong answer fails the asserts, never hangs
  try {
    const key = btoa("0123456789abcdef");
    await conn.write(enc(
      `GET /kv-internal/stream HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
    ));
    let buf: Uint8Array = new Uint8Array();
    const chunk = new Uint8Array(65536);
    const fill = async () => {
      const n = await conn.read(chunk);
      if (n === null) return false;
      buf = concat(buf, chunk.subarray(0, n));
      return true;
    };
    let head: number;
    while ((head = new TextDecoder("latin1").decode(buf).indexOf("\r\n\r\n")) < 0) {
      if (!await fill()) return out;
    }
    out.status = /^HTTP\/1\.1 (\d{3})/.exec(new TextDecoder().decode(buf.subarray(0, head)))?.[1] ?? "";
    buf = buf.slice(head + 4);
    for (let i = 0; i < Math.min(20, bytes.length); i++) await conn.write(bytes.subarray(i, i + 1));
    if (bytes.length > 20) await conn.write(bytes.subarray(20));
    for (let round = 0; round < 1000; round++) {
      while (buf.length >= 2) {
        let len = buf[1] & 0x7f, p = 2;
        if (len === 126) [len, p] = [(buf[2] << 8) | buf[3], 4];
        else if (len === 127) [len, p] = [new DataView(buf.buffer, buf.byteOffset + 2, 8).getUint32(4), 10];
        if (buf.length < p + len) break;
        const op = buf[0] & 0x0f, payload = buf.slice(p, p + len);
        buf = buf.slice(p + len);
        if (op === 8) {
          out.closeCode = (payload[0] << 8) | payload[1];
          return out;
        }
        if (op === 10) out.pongs++;
        if (op === 2) out.messages.push(payload);
        if (out.pongs + out.messages.length >= want) return out;
      }
      if (!await fill()) return out;
    }
    return out;
  } catch (err) {
    if (err instanceof Deno.errors.BadResource) return out; // closed by the timer
    throw err;
  } finally {
    clearTimeout(stop);
    try {
      conn.close();
    } catch { /* closed by the timer */ }
  }
}
