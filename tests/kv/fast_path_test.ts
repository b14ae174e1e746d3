import assert from "node:assert/strict";
import { VirtualClock } from "../../lib/clock/mod.ts";
import { createKv } from "../../lib/kv/mod.ts";
import { fastDispatcher } from "../../lib/http/mod.ts";
import { RouteTable } from "../../lib/routing/mod.ts";
import { makeTestCtx } from "../helpers.ts";
import { fastAndSlowServers } from "../http/fast_pair.ts";
import { loneDeps } from "./kv_helpers.ts";
import type { MemberRecord } from "../../lib/types.ts";

const TOKEN = "fast-token";

/** One KV store served twice over TCP: with the front's fast path and without (the reference). */
async function servers(maxBody = 1 << 20, others: MemberRecord[] = []) {
  const clock = new VirtualClock();
  const ctx = makeTestCtx({ clock });
  const deps = await loneDeps(ctx);
  const self = deps.membership!.self();
  deps.membership = { self: () => self, members: () => [self, ...others] };
  const store = createKv(ctx, deps);
  await store.start();
  const routers = [store.routes()];
  const policy = { token: TOKEN, maxBody, log: ctx.log, counters: ctx.counters };
  const pair = await fastAndSlowServers(routers, policy, async () => {
    await store.stop();
    ctx.cleanup();
  });
  return Object.assign(pair, { ctx });
}

/** A raw keep-alive HTTP/1.1 connection: send bytes, read whole answers (content-length framed). */
async function connect(port: number) {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  let buf = new Uint8Array();
  const latin1 = new TextDecoder("latin1");
  const fill = async () => {
    const chunk = new Uint8Array(65536);
    const n = await conn.read(chunk);
    if (n === null) throw new Error("connection closed");
    const next = new Uint8Array(buf.length + n);
    next.set(buf);
    next.set(chunk.subarray(0, n), buf.length);
    buf = next;
  };
  return {
    send: (text: string | Uint8Array) =>
      conn.write(typeof text === "string" ? new TextEncoder().encode(text) : text),
    /** The next answer: status line and headers (date dropped, names lower-cased) and body text. */
    async answer(): Promise<{ head: string; body: string }> {
      let end: number;
      while ((end = latin1.decode(buf).indexOf("\r\n\r\n")) < 0) await fill();
      const head = latin1.decode(buf.subarray(0, end));
      const len = Number(/content-length: (\d+)/i.exec(head)?.[1] ?? 0);
      while (buf.length < end + 4 + len) await fill();
      const body = new TextDecoder().decode(buf.subarray(end + 4, end + 4 + len));
      buf = buf.slice(end + 4 + len);
      const lines = head.split("\r\n").filter((l) => !/^date:/i.test(l));
      return { head: lines.map((l, i) => i === 0 ? l : l.toLowerCase()).join("\n"), body };
    },
    close: () => conn.close(),
  };
}

function request(method: string, target: string, headers: Record<string, string> = {}, body = ""): string {
  const h = { host: "127.0.0.1", connection: "keep-alive", ...headers } as Record<string, string>;
  if (body || method === "PUT") h["content-length"] = String(new TextEncoder().encode(body).length);
  return `${method} ${target} HTTP/1.1\r\n${
    Object.entries(h).map(([k, v]) => `${k}: ${v}\r\n`).join("")
  }\r\n${body}`;
}

const auth = { authorization: `Bearer ${TOKEN}` };

Deno.test("fast path: the same answers as the app, byte for byte, and only for plain requests", async () => {
  await using s = await servers();
  const cases: Array<[string, boolean]> = [
    [request("PUT", "/kv/web/a%20b", auth, "hello"), true],
    [request("GET", "/kv/web/a%20b?raw"), true],
    [request("GET", "/kv/web/a%20b"), true],
    [request("GET", "/kv/missing?raw"), true],
    [request("GET", "/kv/%zz"), false], // bad percent-encoding: the app's 400
    [request("PUT", "/kv/x", {}, "v"), false], // no token: the app's 401
    [request("PUT", "/kv/x", { authorization: "Bearer wrong" }, "v"), false], // 403
    [request("PUT", "/kv/t?ttl=10s", auth, "v"), false], // a query the fast route leaves to the app
    [request("GET", "/kv/web/a%20b?meta"), false],
    [request("GET", "/kv/web/a%20b?raw", { origin: "http://evil.example" }), false], // CORS: the app
    [request("GET", "/kv/web/a%20b?raw", { connection: "close" }), false],
    [request("PUT", "/kv/x", { ...auth, "content-length ": "0" }), false], // not a header name: the app's 400
    [request("PUT", "/kv/__exec/c/u", auth, "out"), true],
    [request("GET", "/kv/__exec/c/u?raw"), false], // a command's output: the app asks for the token (401)
    [request("GET", "/kv/__exec/c/u?raw", auth), false], // and serves it with the token
    [request("GET", "/kv/__configuration/a.json?raw"), false], // a propagated file: the app asks too
  ];
  let want = 0;
  for (const [req, fast] of cases) {
    const a = await connect(s.fast);
    const b = await connect(s.slow);
    try {
      await a.send(req);
      await b.send(req);
      const [fa, sa] = [await a.answer(), await b.answer()];
      // the index differs between the two PUTs of the first case (two writes); everything else is equal
      const norm = (x: { head: string; body: string }) => ({
        head: x.head.replace(/x-kunai-index: \d+/, "x-kunai-index: N"),
        body: x.body,
      });
      assert.deepEqual(norm(fa), norm(sa), req);
      if (fast) want++;
      assert.equal(s.taken, want, `fast path taken for: ${req.split("\r\n")[0]}`);
    } finally {
      a.close();
      b.close();
    }
  }
  const g = await connect(s.fast);
  await g.send(request("GET", "/kv/web/a%20b?raw"));
  const got = await g.answer();
  g.close();
  assert.equal(got.body, "hello");
  assert.match(got.head, /^HTTP\/1.1 200 OK\n(.*\n)*access-control-allow-origin: \*\n/);
});

Deno.test("fast path: with no kv node and another member alive, the isolation header as the app says it", async () => {
  const other: MemberRecord = {
    uuid: "f".repeat(40),
    name: "other",
    addr: "127.0.0.9",
    port: 1,
    incarnation: 0,
    state: "alive",
    tags: ["web"],
    services: {},
    zone: "",
  };
  await using s = await servers(1 << 20, [other]);
  const cases = [
    request("PUT", "/kv/iso", auth, "v"),
    request("GET", "/kv/iso-missing"),
    request("GET", "/kv/iso-missing?raw"),
    request("GET", "/kv/iso?raw"), // found: no header, as the app
  ];
  for (const [i, req] of cases.entries()) {
    const a = await connect(s.fast);
    const b = await connect(s.slow);
    try {
      await a.send(req);
      await b.send(req);
      const norm = (x: { head: string; body: string }) =>
        x.head.replace(/x-kunai-index: \d+/, "x-kunai-index: N");
      const [fa, sa] = [norm(await a.answer()), norm(await b.answer())];
      assert.equal(fa, sa, req);
      assert.equal(s.taken, i + 1, `fast path taken for: ${req.split("\r\n")[0]}`);
      if (i < 3) assert.match(fa, /\nx-kunai-kv-isolated: 1\n/, req);
      else assert.doesNotMatch(fa, /\nx-kunai-kv-isolated:/);
    } finally {
      a.close();
      b.close();
    }
  }
});

Deno.test("fast path: keep-alive writes keep their own bytes; after one forwarded request the app answers", async () => {
  await using s = await servers();
  const c = await connect(s.fast);
  try {
    await c.send(request("PUT", "/kv/k", auth, "first"));
    assert.equal((await c.answer()).body, "true");
    await c.send(request("PUT", "/kv/k2", auth, "second-value"));
    assert.equal((await c.answer()).body, "true");
    await c.send(request("GET", "/kv/k?raw"));
    assert.equal((await c.answer()).body, "first", "the first body was not overwritten by the next read");
    assert.equal(s.taken, 3);
    await c.send(request("GET", "/kv/k?meta"));
    assert.equal(JSON.parse((await c.answer()).body).key, "k");
    await c.send(request("GET", "/kv/k2?raw"));
    assert.equal((await c.answer()).body, "second-value");
    assert.equal(s.taken, 3, "the connection stays with the app once a request went there");
  } finally {
    c.close();
  }
});

Deno.test("fast path: pipelined requests go to the app and are answered in order", async () => {
  await using s = await servers();
  const c = await connect(s.fast);
  try {
    await c.send(request("PUT", "/kv/p", auth, "one"));
    await c.answer();
    await c.send(request("GET", "/kv/p?raw") + request("GET", "/kv/none?raw") + request("GET", "/kv/p"));
    const answers = [await c.answer(), await c.answer(), await c.answer()];
    assert.deepEqual(answers.map((a) => a.body), [
      "one",
      '{"error":"key \\"none\\" not found"}',
      btoa("one"),
    ]);
    assert.equal(s.taken, 1);
  } finally {
    c.close();
  }
});

Deno.test("fast path: a body over http.max_body is the app's 413, and nothing is stored", async () => {
  await using s = await servers(64);
  const c = await connect(s.fast);
  try {
    await c.send(request("PUT", "/kv/big", auth, "x".repeat(65)));
    const big = await c.answer();
    assert.match(big.head, /^HTTP\/1.1 413 /);
    assert.equal(s.taken, 0, "left to the app");
    await c.send(request("GET", "/kv/big?raw"));
    assert.match((await c.answer()).head, /^HTTP\/1.1 404 /);
  } finally {
    c.close();
  }
  const d = await connect(s.fast);
  try {
    await d.send(request("PUT", "/kv/fits", auth, "x".repeat(64))); // exactly the limit: taken
    assert.equal((await d.answer()).body, "true");
    assert.equal(s.taken, 1);
  } finally {
    d.close();
  }
});

Deno.test("fast handlers only for declared read/write routes that shadow nothing", () => {
  const r = new RouteTable("t");
  assert.throws(() => r.fast("GET", "/kv/:key{.+}", () => null), /declare the route first/);
  r.peer("POST", "/p", "peer", (c) => c.text(""));
  assert.throws(() => r.fast("POST", "/p", () => null), /not for peer routes/);
  r.read("GET", "/a/:id", "one", (c) => c.text(""));
  assert.throws(() => r.fast("GET", "/a/:id", () => null), /final :name\{\.\+\}/);
  r.read("GET", "/b/:rest{.+}", "rest", (c) => c.text(""));
  r.fast("GET", "/b/:rest{.+}", () => null);
  const other = new RouteTable("u");
  other.read("GET", "/b/special", "special", (c) => c.text(""));
  const ctx = makeTestCtx();
  try {
    const policy = { token: "", maxBody: 100, log: ctx.log, counters: ctx.counters };
    assert.throws(() => fastDispatcher([r, other], policy), /would shadow GET \/b\/special/);
    assert.equal(fastDispatcher([other], policy), null);
    assert.ok(fastDispatcher([r], policy));
  } finally {
    ctx.cleanup();
  }
});
