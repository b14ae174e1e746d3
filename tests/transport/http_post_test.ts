import assert from "node:assert/strict";
import { httpPost, MAX_HEAD_BYTES } from "../../lib/transport/http_post.ts";
import { UdpTransport } from "../../lib/transport/mod.ts";
import { freePort } from "../helpers.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();
const OPTS = { timeoutMs: 2000, maxBytes: 1024 };

/** A raw TCP server answering each connection with `answer(requestBytes)` (then closing, unless `hold`). */
function rawServer(answer: (req: Uint8Array) => Uint8Array | null, hold = false) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const open = new Set<Deno.Conn>();
  const requests: string[] = [];
  const loop = (async () => {
    for await (const conn of listener) {
      open.add(conn);
      (async () => {
        const buf = new Uint8Array(64 * 1024);
        let len = 0;
        // read the head and the declared body
        for (;;) {
          const n = await conn.read(buf.subarray(len)).catch(() => null);
          if (n === null) break;
          len += n;
          const text = dec.decode(buf.subarray(0, len));
          const end = text.indexOf("\r\n\r\n");
          const cl = /content-length: (\d+)/i.exec(text);
          if (end >= 0 && cl && len >= end + 4 + Number(cl[1])) break;
        }
        requests.push(dec.decode(buf.subarray(0, len)));
        const out = answer(buf.subarray(0, len));
        if (out) await conn.write(out).catch(() => {});
        if (!hold) {
          open.delete(conn);
          conn.close();
        }
      })();
    }
  })();
  return {
    port: (listener.addr as Deno.NetAddr).port,
    requests,
    async close() {
      listener.close();
      for (const c of open) {
        try {
          c.close();
        } catch { /* closed */ }
      }
      await loop.catch(() => {});
    },
  };
}

Deno.test("httpPost: a Content-Length request, the answer's status and body (Deno.serve)", async () => {
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const body = new Uint8Array(await req.arrayBuffer());
    return new Response(
      `${req.method} ${new URL(req.url).pathname} ${req.headers.get("content-type")} ${body.length}:${
        dec.decode(body)
      }`,
    );
  });
  const a = await httpPost("127.0.0.1", server.addr.port, "/p", enc.encode("héllo"), OPTS);
  assert.equal(a.status, 200);
  assert.equal(dec.decode(a.body), "POST /p application/octet-stream 6:héllo");
  // a streamed answer comes chunked
  const big = "x".repeat(900);
  const s2 = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    () =>
      new Response(
        new ReadableStream({
          start(c) {
            c.enqueue(enc.encode(big.slice(0, 400)));
            c.enqueue(enc.encode(big.slice(400)));
            c.close();
          },
        }),
      ),
  );
  const b = await httpPost("127.0.0.1", s2.addr.port, "/", new Uint8Array(0), OPTS);
  assert.equal(dec.decode(b.body), big);
  await server.shutdown();
  await s2.shutdown();
});

Deno.test("httpPost: error statuses are returned, the transport turns them into a TransportError", async () => {
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    () => new Response("refused", { status: 400 }),
  );
  const a = await httpPost("127.0.0.1", server.addr.port, "/", enc.encode("x"), OPTS);
  assert.equal(a.status, 400);
  assert.equal(dec.decode(a.body), "refused");
  const t = new UdpTransport({ bind: "127.0.0.1", port: 0, advertise: "127.0.0.1" });
  await assert.rejects(
    t.request({ addr: "127.0.0.1", port: server.addr.port }, enc.encode("x"), 2000),
    /request to 127\.0\.0\.1:\d+ failed: HTTP 400/,
  );
  await server.shutdown();
});

Deno.test("httpPost: chunked and close-delimited answers, framing split across reads", async () => {
  const chunked = rawServer(() =>
    enc.encode("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\n\r\n")
  );
  assert.equal(
    dec.decode((await httpPost("127.0.0.1", chunked.port, "/", enc.encode("q"), OPTS)).body),
    "abcde",
  );
  const untilClose = rawServer(() => enc.encode("HTTP/1.0 200 OK\r\n\r\nto the end"));
  assert.equal(
    dec.decode((await httpPost("127.0.0.1", untilClose.port, "/", enc.encode("q"), OPTS)).body),
    "to the end",
  );
  assert.match(chunked.requests[0], /^POST \/ HTTP\/1\.1\r\n/);
  assert.match(chunked.requests[0], /\r\nContent-Length: 1\r\n/);
  assert.match(chunked.requests[0], /\r\nContent-Length: 1\r\n\r\nq$/);
  await chunked.close();
  await untilClose.close();
});

Deno.test("httpPost: oversized or garbled answers are clean errors", async () => {
  const cases: [string, Uint8Array, RegExp][] = [
    [
      "declared too large",
      enc.encode("HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n"),
      /answer larger than 1024 bytes/,
    ],
    [
      "chunks too large",
      enc.encode(
        `HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n400\r\n${
          "y".repeat(1024)
        }\r\n1\r\nz\r\n0\r\n\r\n`,
      ),
      /answer larger than 1024 bytes/,
    ],
    [
      "close-delimited too large",
      enc.encode(`HTTP/1.1 200 OK\r\n\r\n${"z".repeat(3000)}`),
      /answer larger than 1024 bytes/,
    ],
    ["endless head", enc.encode(`HTTP/1.1 200 OK\r\nX: ${"h".repeat(MAX_HEAD_BYTES)}`), /answer head larger/],
    ["not HTTP", enc.encode("SSH-2.0-OpenSSH\r\n\r\n"), /malformed status line/],
    ["bad header", enc.encode("HTTP/1.1 200 OK\r\nnocolon\r\n\r\n"), /malformed answer header/],
    ["bad length", enc.encode("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n"), /bad content-length/],
    [
      "two lengths",
      enc.encode("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab"),
      /bad content-length/,
    ],
    [
      "gzip",
      enc.encode("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n"),
      /unsupported transfer-encoding/,
    ],
    [
      "bad chunk size",
      enc.encode("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"),
      /malformed chunk size/,
    ],
    [
      "bad chunk end",
      enc.encode("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nabc"),
      /malformed chunk end/,
    ],
    [
      "short body",
      enc.encode("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"),
      /closed after 3 of 10 body bytes/,
    ],
    ["cut head", enc.encode("HTTP/1.1 200 OK\r\nContent-"), /closed inside the answer head/],
    ["nothing", new Uint8Array(0), /closed without an answer/],
  ];
  for (const [what, answer, expected] of cases) {
    const s = rawServer(() => answer);
    await assert.rejects(httpPost("127.0.0.1", s.port, "/", enc.encode("q"), OPTS), expected, what);
    await s.close();
  }
});

Deno.test("httpPost: a peer that never answers times out; a closed port is refused", async () => {
  const silent = rawServer(() => null, true);
  await assert.rejects(
    httpPost("127.0.0.1", silent.port, "/", enc.encode("q"), { ...OPTS, timeoutMs: 100 }),
    /no answer within 100 ms/,
  );
  // an answer that stops half way also hits the deadline
  const half = rawServer(() => enc.encode("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"), true);
  await assert.rejects(
    httpPost("127.0.0.1", half.port, "/", enc.encode("q"), { ...OPTS, timeoutMs: 100 }),
    /no answer within 100 ms/,
  );
  await silent.close();
  await half.close();
  const closed = freePort();
  await assert.rejects(
    httpPost("127.0.0.1", closed, "/", enc.encode("q"), OPTS),
    (err: Error) => err instanceof Deno.errors.ConnectionRefused,
  );
  const t = new UdpTransport({ bind: "127.0.0.1", port: 0, advertise: "127.0.0.1" });
  await assert.rejects(t.request({ addr: "127.0.0.1", port: closed }, enc.encode("q"), 500), /failed: /);
});
