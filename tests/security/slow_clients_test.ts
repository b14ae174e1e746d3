/**
 * Hole 10: slow clients were never dropped (200 connections sending one byte every few seconds
 * stayed open). The TCP front closes a request whose headers (or declared body) do not arrive within
 * `http.header_timeout` and a connection idle for `http.idle_timeout`, and leaves alone a request the
 * app is still working on.
 */
import assert from "node:assert/strict";
import { type FastDispatch, HttpServer } from "../../lib/http/mod.ts";
import { buildApp } from "../../lib/http/mod.ts";
import { readBody, RouteTable } from "../../lib/routing/mod.ts";
import { silentLogger } from "../../lib/log/mod.ts";
import { Counters } from "../../lib/counters.ts";
import { freePort, startAgent, until } from "../helpers.ts";

const ADDR = "127.0.0.43";
const enc = new TextEncoder();

async function server(
  headerTimeoutMs: number,
  idleTimeoutMs: number,
  maxConnections?: number,
  fast?: FastDispatch,
  tunnelSilenceMs?: number,
  maxPerClient?: number,
) {
  const r = new RouteTable("test");
  r.read("GET", "/", "root", (c) => c.text("OK"));
  r.read("GET", "/slow", "answers after 2 s", async (c) => {
    await new Promise((res) => setTimeout(res, 2000));
    return c.text("late but whole");
  });
  r.read("POST", "/echo", "echo the body length", async (c) => c.text(String((await readBody(c)).length)));
  r.read("GET", "/ws", "websocket echo", (c) => {
    const { socket, response } = Deno.upgradeWebSocket(c.req.raw);
    socket.onmessage = (e) => socket.send(`echo ${e.data}`);
    return response;
  });

  const counters = new Counters();
  const app = buildApp([r], { token: "", maxBody: 1 << 20, log: silentLogger, counters });
  // a port found free can be taken by a test running beside this one before we bind it: draw again
  const start = (port: number) =>
    HttpServer.start(app, {
      bind: ADDR,
      port,
      socket: "",
      tcp: true,
      token: "",
      maxBody: 1 << 20,
      log: silentLogger,
      counters,
      headerTimeoutMs,
      idleTimeoutMs,
      maxConnections,
      fast,
      tunnelSilenceMs,
      maxPerClient,
    });
  let srv: HttpServer | null = null;
  for (let i = 0; !srv; i++) {
    try {
      srv = await start(freePort(ADDR));
    } catch (err) {
      if (i >= 4 || !/address already in use/.test((err as Error).message)) throw err;
    }
  }
  return { srv, counters, port: srv.tcpAddr!.port };
}

/** Resolves when the server closes `conn` (read returns EOF or fails). */
async function closedByServer(conn: Deno.Conn): Promise<void> {
  const buf = new Uint8Array(1024);
  try {
    while ((await conn.read(buf)) !== null) { /* drain */ }
  } catch { /* reset: closed too */ }
}

/** Opens `n` connections that each send a request head one byte at a time every `everyMs`. */
async function slowLoris(port: number, n: number, everyMs: number) {
  const conns = await Promise.all(Array.from({ length: n }, () => Deno.connect({ hostname: ADDR, port })));
  let open = n;
  const closed = conns.map((c) => closedByServer(c).then(() => open--));
  let stop = false;
  const dribble = (async () => {
    const head = enc.encode("GET / HTTP/1.1\r\nHost: x\r\nX-Slow: " + "a".repeat(1000));
    for (let i = 0; i < head.length && !stop; i++) {
      await Promise.all(conns.map((c) => c.write(head.subarray(i, i + 1)).catch(() => 0)));
      await new Promise((r) => setTimeout(r, everyMs));
    }
  })();
  return {
    open: () => open,
    async end() {
      stop = true;
      await dribble;
      for (const c of conns) {
        try {
          c.close();
        } catch { /* closed by the server */ }
      }
      await Promise.all(closed);
    },
  };
}

Deno.test("slow-loris connections are closed at the header deadline while normal requests are served", async () => {
  const { srv, counters, port } = await server(700, 5000);
  try {
    const loris = await slowLoris(port, 50, 200);
    const ok = await fetch(`http://${ADDR}:${port}/`);
    assert.equal(await ok.text(), "OK", "served while 50 slow clients are connected");
    await until("every slow-loris connection closed", () => loris.open() === 0, 10_000);
    await loris.end();
    assert.equal(counters.get("http_connections_dropped_total", { reason: "header_timeout" }), 50);
  } finally {
    await srv.close();
  }
});

Deno.test("an idle connection is closed; keep-alive requests and a slow app answer are not cut", async () => {
  const { srv, counters, port } = await server(500, 1200);
  try {
    const idle = await Deno.connect({ hostname: ADDR, port });
    const idleClosed = closedByServer(idle);

    // two requests on one kept-alive connection, then the app taking longer than both deadlines
    const conn = await Deno.connect({ hostname: ADDR, port });
    const read = async () => {
      const buf = new Uint8Array(4096);
      const n = await conn.read(buf);
      return new TextDecoder().decode(buf.subarray(0, n ?? 0));
    };
    for (let i = 0; i < 2; i++) {
      await conn.write(enc.encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
      assert.match(await read(), /200 OK[\s\S]*OK$/);
      await new Promise((r) => setTimeout(r, 100));
    }
    await conn.write(enc.encode("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n"));
    assert.match(await read(), /late but whole/);
    conn.close();

    // a chunked upload at normal speed is read whole
    const body = new ReadableStream<Uint8Array>({
      start(c) {
        for (let i = 0; i < 10; i++) c.enqueue(new Uint8Array(10_000));
        c.close();
      },
    });
    const up = await fetch(`http://${ADDR}:${port}/echo`, { method: "POST", body });
    assert.equal(await up.text(), "100000");

    await idleClosed;
    assert.ok(counters.get("http_connections_dropped_total", { reason: "idle_timeout" }) >= 1);
  } finally {
    await srv.close();
  }
});

Deno.test("a body sent one byte at a time is cut at the deadline", async () => {
  const { srv, counters, port } = await server(600, 5000);
  try {
    const conn = await Deno.connect({ hostname: ADDR, port });
    const closed = closedByServer(conn);
    let done = false;
    closed.then(() => done = true);
    await conn.write(enc.encode("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n"));
    for (let i = 0; i < 100 && !done; i++) {
      await conn.write(enc.encode("a")).catch(() => 0);
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(done, "closed before the body was complete");
    assert.equal(counters.get("http_connections_dropped_total", { reason: "body_timeout" }), 1);
    conn.close();
  } finally {
    await srv.close();
  }
});

Deno.test("a websocket upgrade becomes a tunnel without deadlines", async () => {
  const { srv, port } = await server(300, 500);
  try {
    const ws = new WebSocket(`ws://${ADDR}:${port}/ws`);
    await new Promise((res, rej) => {
      ws.onopen = res;
      ws.onerror = rej;
    });
    await new Promise((r) => setTimeout(r, 1200)); // past both deadlines (300 ms, 500 ms)
    const answer = new Promise<string>((res) => ws.onmessage = (e) => res(String(e.data)));
    ws.send("hi");
    assert.equal(await answer, "echo hi");
    const closed = new Promise((r) => ws.onclose = r);
    ws.close();
    await closed;
  } finally {
    await srv.close();
  }
});

Deno.test("a websocket tunnel whose client sends nothing (answers no ping) is dropped after tunnelSilenceMs", async () => {
  const { srv, counters, port } = await server(300, 500, undefined, undefined, 1500);
  try {
    // a live client that says something now and then keeps its socket
    const ws = new WebSocket(`ws://${ADDR}:${port}/ws`);
    await new Promise((res, rej) => {
      ws.onopen = res;
      ws.onerror = rej;
    });
    const silent = await Deno.connect({ hostname: ADDR, port });
    await silent.write(enc.encode(
      "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    ));
    const gone = closedByServer(silent); // reads the 101, then nothing comes until the close
    for (let i = 0; i < 6; i++) {
      await new Promise((r) => setTimeout(r, 500));
      const answer = new Promise<string>((res) => ws.onmessage = (e) => res(String(e.data)));
      ws.send(`hi ${i}`);
      assert.equal(await answer, `echo hi ${i}`);
    }
    await gone;
    assert.equal(counters.get("http_connections_dropped_total", { reason: "tunnel_idle" }), 1);
    assert.equal(srv.tcpConnections, 1, "the talking one stays");
    silent.close();
    const closed = new Promise((r) => ws.onclose = r);
    ws.close();
    await closed;
  } finally {
    await srv.close();
  }
});

Deno.test("a client that does not read a fast answer is dropped after the idle deadline without progress", async () => {
  const big = new Uint8Array(64 << 20).fill(97); // more than loopback's socket buffers take
  const head = enc.encode(`HTTP/1.1 200 OK\r\ncontent-length: ${big.length}\r\n\r\n`);
  const answer = new Uint8Array(head.length + big.length);
  answer.set(head);
  answer.set(big, head.length);
  const { srv, counters, port } = await server(
    300,
    500,
    undefined,
    (b) => new TextDecoder().decode(b).startsWith("GET /big ") ? Promise.resolve(answer) : null,
  );
  try {
    const conn = await Deno.connect({ hostname: ADDR, port });
    await conn.write(enc.encode("GET /big HTTP/1.1\r\nHost: x\r\n\r\n"));
    await until("accepted", () => srv.tcpConnections === 1, 5000);
    // the client reads nothing: the answer's write stalls once the socket buffers are full
    await until("dropped", () => srv.tcpConnections === 0, 10_000);
    assert.equal(counters.get("http_connections_dropped_total", { reason: "idle_timeout" }), 1);
    conn.close();
    // a client that reads gets it whole, however long that takes
    const r = await fetch(`http://${ADDR}:${port}/big`);
    assert.equal((await r.arrayBuffer()).byteLength, big.length);
  } finally {
    await srv.close();
  }
});

Deno.test("connections over the cap are closed at once", async () => {
  const { srv, counters, port } = await server(10_000, 10_000, 3);
  try {
    const held = await Promise.all([1, 2, 3].map(() => Deno.connect({ hostname: ADDR, port })));
    await until("3 TCP connections counted", () => srv.tcpConnections === 3, 5000);
    const extra = await Deno.connect({ hostname: ADDR, port });
    await closedByServer(extra);
    assert.equal(counters.get("http_connections_dropped_total", { reason: "too_many" }), 1);
    extra.close();
    for (const c of held) c.close();
  } finally {
    await srv.close();
  }
});

Deno.test("a request head over 64 KiB is closed as soon as it is that long, not kept until the deadline", async () => {
  // a header deadline long enough that only the size can close it within the test
  const { srv, counters, port } = await server(3000, 10_000);
  try {
    const conn = await Deno.connect({ hostname: ADDR, port });
    const head = enc.encode(`GET / HTTP/1.1\r\nHost: x\r\nX-Pad: ${"a".repeat(70 * 1024)}`);
    await conn.write(head).catch(() => {}); // (the server may close while it is still written)
    await closedByServer(conn);
    conn.close();
    assert.equal(counters.get("http_connections_dropped_total", { reason: "header_too_large" }), 1);
    assert.equal(counters.get("http_connections_dropped_total", { reason: "header_timeout" }), 0);
  } finally {
    await srv.close();
  }
});

Deno.test("hole 10 on a real agent: 200 connections sending one byte every 2 s are all closed", async () => {
  const a = await startAgent({ name: "loris", addr: ADDR, params: { http: { header_timeout: "3s" } } });
  try {
    const loris = await slowLoris(a.port, 200, 2000);
    assert.equal(await (await fetch(`http://${ADDR}:${a.port}/agent/name`)).text(), "loris");
    await until("every slow-loris connection closed", () => loris.open() === 0, 20_000);
    await loris.end();
    const metrics = await (await fetch(`http://${ADDR}:${a.port}/metrics`)).text();
    assert.match(metrics, /http_connections_dropped_total\{reason="header_timeout"\} 200/);
  } finally {
    await a.stop();
    Deno.removeSync(a.dir, { recursive: true });
  }
});

Deno.test("the deadline sweep runs only while connections are open, and comes back with the next one", async () => {
  const { srv, counters, port } = await server(600, 5000);
  try {
    assert.equal(srv.tcpSweeping, false, "no connection, no sweep timer");
    const ok = await fetch(`http://${ADDR}:${port}/`, { headers: { connection: "close" } });
    assert.equal(await ok.text(), "OK");
    await until("the connection is gone", () => srv.tcpConnections === 0, 5000);
    assert.equal(srv.tcpSweeping, false, "stopped with the last connection");
    const loris = await slowLoris(port, 3, 200);
    await until("the sweep is back", () => srv.tcpSweeping, 5000);
    await until("the slow clients are closed at the deadline", () => loris.open() === 0, 10_000);
    await loris.end();
    assert.equal(counters.get("http_connections_dropped_total", { reason: "header_timeout" }), 3);
    await until("the sweep stopped again", () => !srv.tcpSweeping, 5000);
  } finally {
    await srv.close();
  }
});

Deno.test("a chunked body whose data ends like its terminator is still timed until its real end", async () => {
  const { srv, counters, port } = await server(600, 5000);
  try {
    const conn = await Deno.connect({ hostname: ADDR, port });
    const closed = closedByServer(conn);
    // one chunk of 8 bytes: "ab\r\n0\r\n\r\n"'s last 7 bytes look like the last chunk, which is not there
    await conn.write(
      enc.encode(
        "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n9\r\nab\r\n0\r\n\r\n\r\n",
      ),
    );
    const r = await Promise.race([
      closed.then(() => "closed"),
      new Promise((ok) => setTimeout(ok, 3000, "held")),
    ]);
    assert.equal(r, "closed", "dropped at the body deadline, not held without one");
    assert.equal(counters.get("http_connections_dropped_total", { reason: "body_timeout" }), 1);
    conn.close();
    // a whole chunked body with the same bytes inside is answered
    const conn2 = await Deno.connect({ hostname: ADDR, port });
    await conn2.write(
      enc.encode(
        "POST /echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n9\r\nab\r\n0\r\n\r\n\r\n0\r\n\r\n",
      ),
    );
    const buf = new Uint8Array(4096);
    let text = "";
    for (let n = await conn2.read(buf); n !== null; n = await conn2.read(buf)) {
      text += new TextDecoder().decode(buf.subarray(0, n));
    }
    assert.match(text, /^HTTP\/1\.1 200/);
    assert.match(text, /\r\n\r\n9$/, "the 9 bytes of its one chunk");
    conn2.close();
  } finally {
    await srv.close();
  }
});

Deno.test("one client address holds at most max_conns_per_client connections; one more once one closes", async () => {
  const { srv, counters, port } = await server(5000, 5000, undefined, undefined, undefined, 3);
  const conns: Deno.Conn[] = [];
  try {
    for (let i = 0; i < 3; i++) conns.push(await Deno.connect({ hostname: ADDR, port }));
    const fourth = await Deno.connect({ hostname: ADDR, port });
    conns.push(fourth);
    await closedByServer(fourth); // closed at once
    await until(
      "counted",
      () => counters.get("http_connections_dropped_total", { reason: "per_client" }) === 1,
    );
    // one of the three closes: a new one is taken again, and answers
    conns[0].close();
    conns.shift();
    let answered = "";
    for (let i = 0; i < 50 && !answered.startsWith("HTTP/1.1 200"); i++) {
      await new Promise((r) => setTimeout(r, 20));
      const c = await Deno.connect({ hostname: ADDR, port });
      await c.write(enc.encode("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
      const buf = new Uint8Array(1024);
      const n = await c.read(buf).catch(() => null);
      answered = n ? new TextDecoder().decode(buf.subarray(0, n)) : "";
      c.close();
    }
    assert.match(answered, /^HTTP\/1\.1 200/);
  } finally {
    for (const c of conns) {
      try {
        c.close();
      } catch { /* closed */ }
    }
    await srv.close();
  }
});
