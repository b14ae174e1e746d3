/**
 * Answers without end: the agent's HTTP calls (to peers for KV and metrics, to webhook endpoints,
 * to status pages) read at most a bound of an answer and drop the connection, instead of holding
 * whatever a broken or hostile server sends until the deadline. A loopback server streams an
 * endless body (stopped at 256 MiB so that a regression fails rather than hangs) and counts what it
 * could send.
 */
import assert from "node:assert/strict";
import { BodyTooLarge, readCapped, readHead } from "../../lib/read_capped.ts";
import { peerCall } from "../../lib/peer_call.ts";
import { postWebhook } from "../../lib/handlers/webhook.ts";
import { HttpKvTransport } from "../../lib/kv/http_transport.ts";
import { generateKey, Keyring, PeerEnvelope } from "../../lib/transport/mod.ts";
import { RealClock } from "../../lib/clock/mod.ts";
import type { HandlerDef } from "../../lib/handlers/handler_def.ts";

const CHUNK = 64 * 1024;
const STOP_AT = 256 * 1024 * 1024;

/** A server whose every answer is an endless stream of 'x' (`status`), or declares `declared` bytes. */
function endless(status = 200, declared?: number) {
  const stats = { sent: 0, cancelled: 0 };
  const chunk = new Uint8Array(CHUNK).fill(120);
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    await req.arrayBuffer();
    const body = new ReadableStream<Uint8Array>({
      pull(ctl) {
        if (stats.sent >= STOP_AT) return ctl.close();
        stats.sent += CHUNK;
        ctl.enqueue(chunk);
      },
      cancel() {
        stats.cancelled++;
      },
    });
    const headers: Record<string, string> = declared === undefined
      ? {}
      : { "content-length": String(declared) };
    return new Response(declared === undefined ? body : "x".repeat(1024), { status, headers });
  });
  const port = (server.addr as Deno.NetAddr).port;
  return { stats, server, port, url: `http://127.0.0.1:${port}/` };
}

Deno.test("readCapped stops an endless body at its bound and cancels the rest", async () => {
  const s = endless();
  try {
    const res = await fetch(s.url, { method: "POST", body: "{}" });
    await assert.rejects(readCapped(res, 1024 * 1024), (e: Error) => {
      assert.ok(e instanceof BodyTooLarge);
      assert.match(e.message, /larger than the 1048576 bytes accepted/);
      return true;
    });
    // what the server could push past the bound is the sockets' buffers, not the stream
    assert.ok(s.stats.sent < 32 * 1024 * 1024, `sent ${s.stats.sent} bytes`);
  } finally {
    await s.server.shutdown();
  }
});

Deno.test("readCapped refuses a declared length over its bound without reading it", async () => {
  // a raw server: it declares 10 MiB, sends 1 KiB and holds the connection open
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns: Deno.Conn[] = [];
  const serving = (async () => {
    for await (const conn of listener) {
      conns.push(conn);
      await conn.read(new Uint8Array(4096));
      await conn.write(
        new TextEncoder().encode(`HTTP/1.1 200 OK\r\nContent-Length: 10485760\r\n\r\n${"x".repeat(1024)}`),
      );
    }
  })();
  try {
    const res = await fetch(`http://127.0.0.1:${(listener.addr as Deno.NetAddr).port}/`);
    await assert.rejects(readCapped(res, 4096), /answer of 10485760 bytes, more than the 4096 accepted/);
  } finally {
    listener.close();
    for (const c of conns) c.close();
    await serving.catch(() => {});
  }
  // a body within its bound comes back whole, in one piece whatever its chunks
  const ok = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, () => {
    const parts = ["ab", "cd", "ef"];
    return new Response(
      new ReadableStream({
        pull: (c) => parts.length ? c.enqueue(new TextEncoder().encode(parts.shift())) : c.close(),
      }),
    );
  });
  try {
    const res = await fetch(`http://127.0.0.1:${(ok.addr as Deno.NetAddr).port}/`);
    assert.equal(new TextDecoder().decode(await readCapped(res, 6)), "abcdef");
  } finally {
    await ok.shutdown();
  }
});

Deno.test("readHead gives the first bytes of an endless body and stops reading", async () => {
  const s = endless();
  try {
    const res = await fetch(s.url, { method: "POST", body: "{}" });
    const head = await readHead(res, 200);
    assert.equal(head.length, 200);
    assert.equal(new TextDecoder().decode(head), "x".repeat(200));
    assert.ok(s.stats.sent < 32 * 1024 * 1024, `sent ${s.stats.sent} bytes`);
  } finally {
    await s.server.shutdown();
  }
});

Deno.test("a metrics peer call fails on an endless answer, naming the node and the path", async () => {
  const s = endless();
  try {
    const node = { addr: "127.0.0.1", port: s.port, name: "ts-2" };
    await assert.rejects(
      peerCall(undefined, node, "/metrics-internal/names", {}, 30_000, 1024 * 1024),
      /ts-2 on \/metrics-internal\/names: answer larger than the 1048576 bytes accepted/,
    );
    assert.ok(s.stats.sent < 32 * 1024 * 1024, `sent ${s.stats.sent} bytes`);
  } finally {
    await s.server.shutdown();
  }
});

Deno.test("a KV peer call over HTTP fails on an answer over 64 MiB", async () => {
  const s = endless();
  try {
    const env = new PeerEnvelope(await Keyring.create([generateKey()]), { now: () => Date.now() });
    const clock = new RealClock();
    const t = new HttpKvTransport(env, clock);
    const peer = { uuid: "u2", name: "kv-2", addr: "127.0.0.1", port: s.port };
    await assert.rejects(
      t.call(peer, "get", { key: "a" }, clock.now() + 30_000),
      /larger than the 67108864 bytes/,
    );
    assert.ok(s.stats.sent < 96 * 1024 * 1024, `sent ${s.stats.sent} bytes`);
  } finally {
    await s.server.shutdown();
  }
});

Deno.test("a webhook refusal with an endless body is quoted, not read whole", async () => {
  const s = endless(500);
  try {
    const h = { url: s.url, headers: {}, timeout: 30_000 } as unknown as HandlerDef;
    await assert.rejects(postWebhook(h, "{}"), (e: Error) => {
      assert.match(e.message, /answered HTTP 500: x{200}$/);
      return true;
    });
    assert.ok(s.stats.sent < 32 * 1024 * 1024, `sent ${s.stats.sent} bytes`);
  } finally {
    await s.server.shutdown();
  }
});
