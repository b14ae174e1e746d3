/**
 * The websocket feed: bus events reach clients as {channel, payload}; a client that stops reading
 * is dropped once its send buffer passes the bound, so the agent's memory does not grow with it.
 */
import assert from "node:assert/strict";
import { buildApp } from "../../lib/http/mod.ts";
import { createWebsocket, feedMessage, overBudget } from "../../lib/websocket/mod.ts";
import type { MemberRecord } from "../../lib/types.ts";
import { freePort, makeTestCtx } from "../helpers.ts";

const HOST = "127.0.0.61";

function member(name: string, state: MemberRecord["state"] = "alive"): MemberRecord {
  return {
    uuid: `u-${name}`,
    name,
    addr: HOST,
    port: 1,
    incarnation: 1,
    state,
    tags: [],
    services: {},
    zone: "",
  };
}

async function serveFeed(opts: { maxBuffered?: number; maxClients?: number } = {}) {
  const ctx = makeTestCtx({ name: "ws1" });
  const ws = createWebsocket(ctx, opts);
  await ws.start();
  const app = buildApp([ws.routes()], { token: "", maxBody: 1 << 20, log: ctx.log, counters: ctx.counters });
  const port = freePort(HOST);
  const server = Deno.serve(
    { hostname: HOST, port, onListen: () => {} },
    (req) => app.fetch(req, { transport: "tcp" }),
  );
  return {
    ctx,
    ws,
    port,
    async close() {
      await ws.stop();
      await server.shutdown();
      ctx.cleanup();
    },
  };
}

/** Resolves with the first message on `channel` (rejects after `ms`). */
function nextOn(
  sock: WebSocket,
  channel: string,
  ms = 10_000,
): Promise<{ channel: string; payload: unknown }> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no ${channel} message within ${ms} ms`)), ms);
    sock.addEventListener("message", (e) => {
      const m = JSON.parse(e.data);
      if (m.channel === channel) {
        clearTimeout(t);
        resolve(m);
      }
    });
  });
}

Deno.test("feed message and drop budget are plain functions", () => {
  assert.equal(feedMessage("kv", { key: "a", index: 3 }), '{"channel":"kv","payload":{"key":"a","index":3}}');
  assert.equal(overBudget(0, 10, 100), false);
  assert.equal(overBudget(95, 10, 100), true);
});

Deno.test("a client at /ws receives member, check, kv, leader and event messages and a pong", async () => {
  const f = await serveFeed();
  const sock = new WebSocket(`ws://${HOST}:${f.port}/ws`);
  try {
    await nextOn(sock, "hello");
    assert.equal(f.ws.connections(), 1);
    assert.equal(f.ctx.counters.get("websocket_connections"), 1);
    const g = nextOn(sock, "gossip");
    f.ctx.bus.emit("member.dead", member("n2", "dead"));
    const m = await g;
    assert.deepEqual((m.payload as MemberRecord).name, "n2");
    assert.deepEqual((m.payload as MemberRecord).state, "dead");

    const k = nextOn(sock, "kv");
    f.ctx.bus.emit("kv.changed", { key: "app/x", modify_index: 7, deleted: false });
    assert.deepEqual((await k).payload, { key: "app/x", index: 7, deleted: false });

    const c = nextOn(sock, "check");
    f.ctx.bus.emit("check.changed", {
      id: "c1",
      name: "c1",
      state: "critical",
      state_id: 2,
      old_state: "ok",
      old_state_id: 0,
      output: "boom",
      last_check: 1,
      handlers: [],
    });
    const cp = (await c).payload as Record<string, unknown>;
    assert.equal(cp.state, "critical");
    assert.equal(cp.node, "ws1");

    const l = nextOn(sock, "leader");
    f.ctx.bus.emit("raft.leader", { group: "g", leader: "n1", term: 3 });
    assert.deepEqual((await l).payload, { group: "g", leader: "n1", term: 3 });

    const ev = nextOn(sock, "event");
    const event = {
      id: "i1",
      name: "deploy",
      payload: "v2",
      from: "n1",
      from_uuid: "u1",
      at: 1,
      received: 2,
      authenticated: true,
    };
    f.ctx.bus.emit("cluster.event", event);
    assert.deepEqual((await ev).payload, event);

    const p = nextOn(sock, "pong");
    sock.send("ping");
    await p;
    assert.equal(f.ws.info().nb_connexions, 1);
  } finally {
    sock.close();
    await new Promise((r) => setTimeout(r, 50));
    await f.close();
  }
});

Deno.test("a plain GET of /ws answers 426, not a crash", async () => {
  const f = await serveFeed();
  try {
    const r = await fetch(`http://${HOST}:${f.port}/ws`);
    assert.equal(r.status, 426);
    assert.match((await r.json()).error, /websocket/);
  } finally {
    await f.close();
  }
});

Deno.test("a client that never reads is dropped and its buffer stays bounded", async () => {
  const maxBuffered = 256 * 1024;
  const f = await serveFeed({ maxBuffered });
  // a raw TCP client: handshake, then never read again
  const conn = await Deno.connect({ hostname: HOST, port: f.port });
  try {
    const key = btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(16))));
    await conn.write(new TextEncoder().encode(
      `GET /ws HTTP/1.1\r\nHost: ${HOST}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
    ));
    const buf = new Uint8Array(512);
    const n = await conn.read(buf);
    assert.match(new TextDecoder().decode(buf.subarray(0, n ?? 0)), /^HTTP\/1.1 101/);
    for (let i = 0; i < 50 && f.ws.connections() === 0; i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(f.ws.connections(), 1);
    const rss0 = Deno.memoryUsage().rss;
    const big = member("big");
    big.tags = ["x".repeat(64 * 1024)];
    // 4000 x 64 KiB = 250 MiB offered; bounded in count, and stops as soon as the client is dropped
    for (let i = 0; i < 4000 && f.ws.connections() > 0; i++) {
      f.ctx.bus.emit("member.updated", big);
      if (i % 20 === 0) await new Promise((r) => setTimeout(r, 1));
    }
    assert.equal(f.ws.connections(), 0, "slow client still connected");
    assert.equal(f.ctx.counters.get("websocket_dropped_total", { reason: "slow" }), 1);
    assert.ok(f.ws.hub.maxBufferedSeen <= maxBuffered, `buffer reached ${f.ws.hub.maxBufferedSeen}`);
    const grown = Deno.memoryUsage().rss - rss0;
    assert.ok(grown < 128 * 1024 * 1024, `rss grew by ${grown} bytes`);
  } finally {
    conn.close();
    await f.close();
  }
});

Deno.test("clients beyond the bound are refused with 503 and counted; a place freed is taken again", async () => {
  const f = await serveFeed({ maxClients: 2 });
  const open = (): Promise<WebSocket> =>
    new Promise((resolve, reject) => {
      const s = new WebSocket(`ws://${HOST}:${f.port}/ws`);
      s.onopen = () => resolve(s);
      s.onerror = () => reject(new Error("refused"));
    });
  const socks: WebSocket[] = [];
  try {
    socks.push(await open(), await open());
    for (let i = 0; i < 50 && f.ws.connections() < 2; i++) await new Promise((r) => setTimeout(r, 10));
    const r = await fetch(`http://${HOST}:${f.port}/ws`, {
      headers: {
        upgrade: "websocket",
        connection: "Upgrade",
        "sec-websocket-key": btoa("0123456789abcdef"),
        "sec-websocket-version": "13",
      },
    });
    assert.equal(r.status, 503);
    assert.match((await r.json()).error, /2 websocket clients already/);
    assert.equal(f.ctx.counters.get("websocket_dropped_total", { reason: "full" }), 1);
    const closed = new Promise((r) => socks[0].onclose = r);
    socks[0].close();
    await closed;
    for (let i = 0; i < 50 && f.ws.connections() > 1; i++) await new Promise((r) => setTimeout(r, 10));
    socks[0] = await open();
  } finally {
    for (const s of socks) s.close();
    await f.close();
  }
});

Deno.test("websocket.port: a head sent a byte at a time is closed at http.header_timeout; a client holds max_conns_per_client", async () => {
  const port = freePort(HOST);
  const ctx = makeTestCtx({
    name: "ws2",
    params: { bind: HOST, http: { header_timeout: "300ms", max_conns_per_client: 2 } },
    files: { "websocket.json": { websocket: { enabled: true, port } } },
  });
  const ws = createWebsocket(ctx);
  await ws.start();
  const conns: Deno.Conn[] = [];
  try {
    // a slow client: two bytes of a request head, then one every 100 ms
    const slow = await Deno.connect({ hostname: HOST, port });
    conns.push(slow);
    await slow.write(new TextEncoder().encode("GE"));
    let closed = false;
    const reading = slow.read(new Uint8Array(64)).catch(() => null).then(() => closed = true);
    for (let i = 0; i < 100 && !closed; i++) {
      await slow.write(Uint8Array.of(84)).catch(() => closed = true);
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(closed, true, "still open after 10 s of a byte every 100 ms");
    await reading;
    assert.equal(ctx.counters.get("http_connections_dropped_total", { reason: "header_timeout" }), 1);
    // two feed clients from one address; a third connection is closed at once
    const open = (): Promise<WebSocket> =>
      new Promise((resolve, reject) => {
        const s = new WebSocket(`ws://${HOST}:${port}/`);
        s.onopen = () => resolve(s);
        s.onerror = () => reject(new Error("refused"));
      });
    const socks = [await open(), await open()];
    try {
      await assert.rejects(open(), /refused/);
      assert.equal(ctx.counters.get("http_connections_dropped_total", { reason: "per_client" }), 1);
      assert.equal(ws.connections(), 2);
    } finally {
      for (const s of socks) s.close();
    }
  } finally {
    for (const c of conns) {
      try {
        c.close();
      } catch { /* closed by the server */ }
    }
    await ws.stop();
    ctx.cleanup();
  }
});
