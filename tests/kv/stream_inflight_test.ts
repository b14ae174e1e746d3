/**
 * A KV peer socket serves at most SOCKET_MAX_INFLIGHT messages at once (each of its frames was served
 * at once: 15 frames in one read, each asking megabytes of answer). On the TCP front's own socket
 * the next ones wait and the client is not read meanwhile; on Deno's socket (the private server's,
 * which cannot stop reading) they wait up to a bound of bytes, past which the socket is closed.
 */
import assert from "node:assert/strict";
import { RouteTable, SOCKET_MAX_INFLIGHT } from "../../lib/routing/mod.ts";
import { serveStream, STREAM_PATH, streamSession } from "../../lib/kv/stream.ts";
import type { KvServe } from "../../lib/kv/transport.ts";
import { makeTestCtx, until } from "../helpers.ts";
import { fastAndSlowServers } from "../http/fast_pair.ts";

const enc = new TextEncoder();

/** A serve whose `reads` answers wait until released; counts the most served at once. */
function heldServe() {
  const waiting: Array<() => void> = [];
  let now = 0;
  let most = 0;
  const serve: KvServe = async () => {
    most = Math.max(most, ++now);
    await new Promise<void>((r) => waiting.push(r));
    now--;
    return { results: [] };
  };
  return {
    serve,
    waiting,
    get most() {
      return most;
    },
    releaseAll() {
      for (const r of waiting.splice(0)) r();
    },
  };
}

async function servers(serve: KvServe, maxFrame: number) {
  const ctx = makeTestCtx();
  const r = new RouteTable("kv");
  r.peer("GET", STREAM_PATH, "s", (c) => serveStream(c.req.raw, serve, undefined, maxFrame));
  r.socket(STREAM_PATH, maxFrame, streamSession(serve));
  const policy = { token: "", maxBody: 1 << 20, log: ctx.log, counters: ctx.counters };
  return await fastAndSlowServers([r], policy, () => ctx.cleanup());
}

/** A masked client frame. */
function frame(op: number, payload: Uint8Array): Uint8Array {
  const n = payload.length;
  const head = n < 126
    ? [0x80 | op, 0x80 | n]
    : n < 65536
    ? [0x80 | op, 0x80 | 126, n >> 8, n & 255]
    : [0x80 | op, 0x80 | 127, 0, 0, 0, 0, (n >>> 24) & 255, (n >> 16) & 255, (n >> 8) & 255, n & 255];
  const out = new Uint8Array(head.length + 4 + n);
  out.set(head);
  out.set(payload, head.length + 4); // mask 0 0 0 0
  return out;
}

function reads(i: number, pad = 0): Uint8Array {
  return frame(2, enc.encode(JSON.stringify({ i, k: "reads", b: { keys: ["x"], pad: "p".repeat(pad) } })));
}

/** A raw upgraded connection: the opcodes of the server's frames in order, and the close code. */
async function upgraded(port: number) {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  await conn.write(enc.encode(
    `GET ${STREAM_PATH} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: ${btoa("0123456789abcdef")}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
  ));
  const got = { ops: [] as number[], close: 0, status: "", done: false };
  const reading = (async () => {
    let buf = new Uint8Array();
    const chunk = new Uint8Array(65536);
    let head = true;
    try {
      for (let round = 0; round < 100_000; round++) {
        const n = await conn.read(chunk);
        if (n === null) break;
        const joined = new Uint8Array(buf.length + n);
        joined.set(buf);
        joined.set(chunk.subarray(0, n), buf.length);
        buf = joined;
        if (head) {
          const end = new TextDecoder("latin1").decode(buf).indexOf("\r\n\r\n");
          if (end < 0) continue;
          got.status = new TextDecoder().decode(buf.subarray(9, 12));
          buf = buf.slice(end + 4);
          head = false;
        }
        while (buf.length >= 2) {
          let len = buf[1] & 0x7f, p = 2;
          if (len === 126) [len, p] = [(buf[2] << 8) | buf[3], 4];
          else if (len === 127) [len, p] = [new DataView(buf.buffer, buf.byteOffset + 2, 8).getUint32(4), 10];
          if (buf.length < p + len) break;
          const op = buf[0] & 0x0f;
          if (op === 8) got.close = (buf[p] << 8) | buf[p + 1];
          got.ops.push(op);
          buf = buf.slice(p + len);
        }
      }
    } catch { /* closed */ }
    got.done = true;
  })();
  await until("the upgrade's answer", () => got.status !== "" || got.done, 5000);
  return {
    got,
    write: async (b: Uint8Array) => {
      for (let off = 0; off < b.length;) off += await conn.write(b.subarray(off));
    },
    async [Symbol.asyncDispose]() {
      try {
        conn.close();
      } catch { /* closed by the server */ }
      await reading;
    },
  };
}

Deno.test("kv socket on the front: 40 frames in one write, 32 served at once, the client unread meanwhile", async () => {
  const h = heldServe();
  await using s = await servers(h.serve, 1 << 20);
  await using c = await upgraded(s.fast);
  const frames = Array.from({ length: 40 }, (_, i) => reads(i + 1));
  await c.write(new Uint8Array(frames.flatMap((f) => [...f])));
  await until("32 messages with the route", () => h.waiting.length === SOCKET_MAX_INFLIGHT, 5000);
  assert.equal(c.got.status, "101");
  // a ping now is not read while the route holds its 32: its pong comes after their answers
  await c.write(frame(9, Uint8Array.of(7)));
  await new Promise((r) => setTimeout(r, 200));
  h.releaseAll(); // 32 answered; the 8 held go to the route
  await until("8 more with the route", () => h.waiting.length === 8, 5000);
  h.releaseAll();
  await until("40 answers and a pong", () => c.got.ops.length >= 41, 5000);
  assert.equal(s.taken, 1, "the front spoke the socket");
  assert.equal(h.most, SOCKET_MAX_INFLIGHT);
  const pong = c.got.ops.indexOf(10);
  assert.ok(pong >= SOCKET_MAX_INFLIGHT, `the pong came at ${pong}, before the answers it waited for`);
  assert.equal(c.got.ops.filter((op) => op === 2).length, 40);
});

Deno.test("kv socket on Deno's WebSocket: past 32 in flight and 16 MiB waiting, the socket is closed 1008", async () => {
  const h = heldServe();
  await using s = await servers(h.serve, 2 << 20);
  await using c = await upgraded(s.slow);
  for (let i = 1; i <= SOCKET_MAX_INFLIGHT; i++) await c.write(reads(i));
  await until("32 messages with the route", () => h.waiting.length === SOCKET_MAX_INFLIGHT, 5000);
  // 20 frames of 1 MiB wait: the 17th passes the bound
  for (let i = 0; i < 20 && !c.got.done; i++) await c.write(reads(100 + i, 1 << 20)).catch(() => {});
  await until("closed", () => c.got.done, 10_000);
  assert.equal(c.got.close, 1008);
  assert.equal(h.most, SOCKET_MAX_INFLIGHT);
  h.releaseAll();
});
