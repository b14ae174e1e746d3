/**
 * A socket the TCP front speaks itself (a peer route's, `RouteTable.socket`) has deadlines after its
 * first message too: a message begun must end within the header deadline (a frame announcing 1 MB
 * sent a byte at a time held its slot forever), and a client that reads no answers is dropped once
 * nothing was written for the idle deadline. An idle socket stays (a peer keeps it between calls).
 */
import assert from "node:assert/strict";
import { buildApp, fastDispatcher, HttpServer } from "../../lib/http/mod.ts";
import { RouteTable } from "../../lib/routing/mod.ts";
import { silentLogger } from "../../lib/log/mod.ts";
import { Counters } from "../../lib/counters.ts";
import { freePort, until } from "../helpers.ts";

const enc = new TextEncoder();

/** A front whose socket route answers each message with 1 MiB; deadlines of 400 ms. */
async function front() {
  const r = new RouteTable("t");
  r.peer("GET", "/s", "socket", (c) => c.text("no", 400));
  const answer = new Uint8Array(1 << 20);
  r.socket("/s", 4 << 20, (peer) => (msg) => peer.send(msg.length === 1 ? answer : msg));
  const counters = new Counters();
  const policy = { token: "", maxBody: 1 << 20, log: silentLogger, counters };
  const srv = await HttpServer.start(buildApp([r], policy), {
    ...policy,
    bind: "127.0.0.1",
    port: freePort(),
    socket: "",
    tcp: true,
    headerTimeoutMs: 400,
    idleTimeoutMs: 400,
    fast: fastDispatcher([r], policy),
  });
  return {
    port: srv.tcpAddr!.port,
    dropped: (reason: string) => counters.get("http_connections_dropped_total", { reason }),
    [Symbol.asyncDispose]: () => srv.close(),
  };
}

/** The header of a masked client frame (key 0) of `len` bytes. */
function frameHead(len: number): Uint8Array {
  if (len < 126) return Uint8Array.of(0x82, 0x80 | len, 0, 0, 0, 0);
  const h = new Uint8Array(14);
  h[0] = 0x82;
  h[1] = 0x80 | 127;
  new DataView(h.buffer).setBigUint64(2, BigInt(len));
  return h;
}

async function upgraded(port: number): Promise<Deno.Conn> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  await conn.write(enc.encode(
    `GET /s HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: ${btoa("0123456789abcdef")}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
  ));
  const buf = new Uint8Array(4096);
  let head = "";
  while (!head.includes("\r\n\r\n")) {
    const n = await conn.read(buf);
    if (n === null) throw new Error("closed before the upgrade's answer");
    head += new TextDecoder("latin1").decode(buf.subarray(0, n));
  }
  assert.match(head, /^HTTP\/1\.1 101/);
  return conn;
}

/** Resolves once the server closed `conn` (EOF or reset). */
async function closedByServer(conn: Deno.Conn): Promise<void> {
  const buf = new Uint8Array(65536);
  try {
    while ((await conn.read(buf)) !== null) { /* drain */ }
  } catch { /* reset */ }
}

Deno.test("front socket: a message begun and sent a byte at a time is dropped at the header deadline", async () => {
  await using f = await front();
  const conn = await upgraded(f.port);
  try {
    // one whole message first: the first-message deadline is met
    await conn.write(new Uint8Array([...frameHead(2), 0, 0]));
    await conn.write(frameHead(1 << 20));
    const closed = closedByServer(conn);
    let open = true;
    closed.then(() => open = false);
    for (let i = 0; i < 200 && open; i++) {
      await conn.write(Uint8Array.of(0)).catch(() => open = false);
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(open, false, "still open after 10 s of a byte every 50 ms");
    assert.equal(f.dropped("message_timeout"), 1);
  } finally {
    conn.close();
  }
});

Deno.test("front socket: a client that reads no answers is dropped once nothing was written for the idle deadline", async () => {
  await using f = await front();
  const conn = await upgraded(f.port);
  try {
    // 64 messages of one byte, each answered with 1 MiB, none read: the kernel's buffers fill up
    const one = new Uint8Array([...frameHead(1), 7]);
    await conn.write(new Uint8Array(Array.from({ length: 64 }, () => [...one]).flat()));
    await until("dropped as not reading", () => f.dropped("write_timeout") === 1, 20_000, 50);
  } finally {
    conn.close();
  }
});

Deno.test("front socket: an idle socket after its messages stays open past both deadlines", async () => {
  await using f = await front();
  const conn = await upgraded(f.port);
  try {
    await conn.write(new Uint8Array([...frameHead(2), 0, 0]));
    const buf = new Uint8Array(16);
    assert.equal(await conn.read(buf), 4, "its answer");
    await new Promise((r) => setTimeout(r, 1200));
    await conn.write(new Uint8Array([...frameHead(3), 1, 2, 3]));
    assert.equal(await conn.read(buf), 5, "answered after 3 deadlines of quiet");
    assert.equal(f.dropped("message_timeout") + f.dropped("write_timeout"), 0);
  } finally {
    conn.close();
  }
});
