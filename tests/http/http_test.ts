import assert from "node:assert/strict";
import { buildApp, HttpServer, safeEqual, tokenMatcher } from "../../lib/http/mod.ts";
import { HttpError, readJson, RouteTable } from "../../lib/routing/mod.ts";
import { silentLogger } from "../../lib/log/mod.ts";
import { Counters } from "../../lib/counters.ts";
import { AgentClient } from "../../lib/client/mod.ts";
import { freePort, tempDir } from "../helpers.ts";

function app(token = "", extra: { openWrites?: boolean; corsOrigins?: string[] } = {}) {
  const r = new RouteTable("test");
  r.read("GET", "/", "root", (c) => c.text("OK"));
  r.write("GET", "/danger", "an action kept on GET", (c) => c.text("done"));
  r.read("POST", "/echo", "echo JSON", async (c) => c.json(await readJson(c)));
  r.read("GET", "/teapot", "conflict", () => {
    throw new HttpError(409, "conflict here", { key: "k" });
  });
  r.read("GET", "/crash", "crash", () => {
    throw new Error("oops");
  });
  return buildApp([r], { token, maxBody: 100, log: silentLogger, counters: new Counters(), ...extra });
}

const tcp = { transport: "tcp" as const };

Deno.test("reads carry CORS *, errors too; OPTIONS answers an empty 204 preflight", async () => {
  const a = app();
  const res = await a.request("/", { headers: { origin: "http://evil.example" } }, tcp);
  assert.equal(await res.text(), "OK");
  assert.equal(res.headers.get("access-control-allow-origin"), "*");
  const err = await a.request("/teapot", { headers: { origin: "http://evil.example" } }, tcp);
  assert.equal(err.headers.get("access-control-allow-origin"), "*");
  const nf = await a.request("/nope", { headers: { origin: "http://evil.example" } }, tcp);
  assert.equal(nf.headers.get("access-control-allow-origin"), "*");
  const opt = await a.request("/", {
    method: "OPTIONS",
    headers: { origin: "http://x.example", "access-control-request-method": "GET" },
  }, tcp);
  assert.equal(opt.status, 204);
  assert.equal(opt.headers.get("access-control-allow-origin"), "*");
  assert.match(opt.headers.get("access-control-allow-methods")!, /DELETE/);
  assert.match(opt.headers.get("access-control-allow-headers")!, /Authorization/);
});

Deno.test("a route's answer is served as it is: CORS headers set on it, not on a copy", async () => {
  const r = new RouteTable("test");
  let answered = null as Response | null;
  r.read("GET", "/same", "answers one Response", (c) => answered = c.json({ ok: true }));
  r.read("GET", "/moved", "immutable headers", () => Response.redirect("http://127.0.0.1/", 302));
  const a = buildApp([r], { token: "", maxBody: 100, log: silentLogger, counters: new Counters() });
  for (const origin of [undefined, "http://page.example"]) {
    const res = await a.request("/same", { headers: origin ? { origin } : {} }, tcp);
    // Hono's cors middleware answered with a copy whose body was a stream
    assert.ok(res === answered, "the route's own Response");
    assert.equal(res.headers.get("access-control-allow-origin"), "*");
    assert.equal(res.headers.get("access-control-expose-headers"), "X-Kunai-Index,X-Kunai-Kv-Isolated");
    assert.equal(res.headers.get("vary"), "Origin");
    assert.deepEqual(await res.json(), { ok: true });
  }
  // a Response whose headers cannot change gets them on one copy
  const moved = await a.request("/moved", { headers: { origin: "http://page.example" } }, tcp);
  assert.equal(moved.status, 302);
  assert.equal(moved.headers.get("location"), "http://127.0.0.1/");
  assert.equal(moved.headers.get("access-control-allow-origin"), "*");
  assert.equal(moved.headers.get("vary"), "Origin");
});

Deno.test("write routes never get CORS *: only the configured origins", async () => {
  for (const a of [app("t"), app("t", { corsOrigins: ["https://ui.example"] })]) {
    const evil = await a.request("/danger", { headers: { origin: "http://evil.example" } }, tcp);
    assert.equal(evil.headers.get("access-control-allow-origin"), null);
    await evil.body?.cancel();
    const pre = await a.request("/danger", {
      method: "OPTIONS",
      headers: { origin: "http://evil.example", "access-control-request-method": "GET" },
    }, tcp);
    assert.equal(pre.headers.get("access-control-allow-origin"), null);
  }
  const a = app("t", { corsOrigins: ["https://ui.example"] });
  const ok = await a.request("/danger", {
    headers: { origin: "https://ui.example", authorization: "Bearer t" },
  }, tcp);
  assert.equal(ok.status, 200);
  assert.equal(ok.headers.get("access-control-allow-origin"), "https://ui.example");
  assert.match(ok.headers.get("vary") ?? "", /Origin/);
});

Deno.test("peer routes never get CORS, not even for a configured origin", async () => {
  const r = new RouteTable("test");
  r.peer("POST", "/peer", "agent to agent", (c) => c.text("peer"));
  const a = buildApp([r], {
    token: "t",
    corsOrigins: ["https://ui.example"],
    maxBody: 100,
    log: silentLogger,
    counters: new Counters(),
  });
  const res = await a.request("/peer", { method: "POST", headers: { origin: "https://ui.example" } }, tcp);
  assert.equal(await res.text(), "peer");
  assert.equal(res.headers.get("access-control-allow-origin"), null);
  const pre = await a.request("/peer", {
    method: "OPTIONS",
    headers: { origin: "https://ui.example", "access-control-request-method": "POST" },
  }, tcp);
  assert.equal(pre.headers.get("access-control-allow-origin"), null);
  await pre.body?.cancel();
});

Deno.test("without http.token, writes over TCP are 403 naming http.token; open_writes reopens them", async () => {
  const closed = await app("").request("/danger", {}, tcp);
  assert.equal(closed.status, 403);
  assert.match((await closed.json()).error, /http\.token/);
  // an empty bearer token never matches the empty http.token: "Bearer " is trimmed by the headers, but
  // a no-break space (or a vertical tab) after it is kept there and trimmed by the token check
  for (const authorization of ["Bearer ", "Bearer \u00a0", "Bearer \v"]) {
    const withHeader = await app("").request("/danger", { headers: { authorization } }, tcp);
    assert.equal(withHeader.status, 403, JSON.stringify(authorization));
    assert.match((await withHeader.json()).error, /http\.token/);
  }
  assert.equal(await (await app("", { openWrites: true }).request("/danger", {}, tcp)).text(), "done");
  assert.equal(await (await app("").request("/danger", {}, { transport: "unix" })).text(), "done");
});

Deno.test("the routing table is compiled by buildApp, not by the first request", async () => {
  const a = app();
  // hono's SmartRouter names the router it settled on once it has built it
  assert.match(a.router.name, /^SmartRouter \+ \w+Router$/);
  assert.throws(() => a.get("/late", (c) => c.text("late")), /already built/i, "no route may be added after");
  assert.equal((await a.request("/", {}, tcp)).status, 200);
});

Deno.test("errors are JSON with the right status: 404, HttpError, 500, bad JSON 400, 413", async () => {
  const a = app();
  const nf = await a.request("/nope", {}, tcp);
  assert.equal(nf.status, 404);
  assert.equal((await nf.json()).error, "not found");
  const t = await a.request("/teapot", {}, tcp);
  assert.equal(t.status, 409);
  assert.deepEqual(await t.json(), { error: "conflict here", detail: { key: "k" } });
  const c = await a.request("/crash", {}, tcp);
  assert.equal(c.status, 500);
  assert.match((await c.json()).error, /oops/);
  const bad = await a.request("/echo", { method: "POST", body: "{nope" }, tcp);
  assert.equal(bad.status, 400);
  assert.match((await bad.json()).error, /invalid JSON/);
  const big = await a.request("/echo", { method: "POST", body: JSON.stringify({ x: "y".repeat(200) }) }, tcp);
  assert.equal(big.status, 413);
  // the limit is http.max_body (100 here) to the byte: 100 bytes are read, 101 refused
  const body = (n: number) => JSON.stringify({ x: "y".repeat(n - 8) });
  assert.equal(body(100).length, 100);
  const edge = await a.request("/echo", { method: "POST", body: body(100) }, tcp);
  assert.equal(edge.status, 200);
  await edge.body?.cancel();
  const over = await a.request("/echo", { method: "POST", body: body(101) }, tcp);
  assert.equal(over.status, 413);
  assert.match((await over.json()).error, /larger than 100 bytes/);
  const ok = await a.request("/echo", { method: "POST", body: '{"a":1}' }, tcp);
  assert.deepEqual(await ok.json(), { a: 1 });
});

Deno.test("protected routes: 401 without token, 403 with a wrong one, allowed with the right token or unix", async () => {
  const a = app("s3cret");
  assert.equal((await a.request("/danger", {}, tcp)).status, 401);
  assert.equal((await a.request("/danger", { headers: { authorization: "Bearer nope" } }, tcp)).status, 403);
  assert.equal(
    (await a.request("/danger", { headers: { authorization: "Bearer s3cret" } }, tcp)).status,
    200,
  );
  assert.equal((await a.request("/danger", {}, { transport: "unix" })).status, 200);
});

Deno.test("the server answers on TCP and the unix socket; only the socket is trusted", async () => {
  const { dir, cleanup } = tempDir();
  const port = freePort();
  const socket = `${dir}/k.sock`;
  const srv = await HttpServer.start(app(), {
    bind: "127.0.0.1",
    port,
    socket,
    tcp: true,
    token: "",
    maxBody: 100,
    log: silentLogger,
    counters: new Counters(),
  });
  try {
    const viaTcp = await fetch(`http://127.0.0.1:${port}/danger`);
    assert.equal(viaTcp.status, 403);
    await viaTcp.body?.cancel();
    const forged = await fetch(`http://127.0.0.1:${port}/danger`, {
      headers: { "x-kunai-transport-internal": "unix" },
    });
    assert.equal(forged.status, 403);
    await forged.body?.cancel();
    const c = new AgentClient({ socket });
    assert.equal(await c.text("GET", "/danger"), "done");
    c.close();
    await assert.rejects(
      HttpServer.start(app(), {
        bind: "127.0.0.1",
        port: freePort(),
        socket,
        tcp: false,
        token: "",
        maxBody: 1,
        log: silentLogger,
        counters: new Counters(),
      }),
      /in use by another running agent/,
    );
  } finally {
    await srv.close();
    cleanup();
  }
  assert.throws(() => Deno.statSync(socket), Deno.errors.NotFound);
});

Deno.test("tokenMatcher accepts exactly its token", () => {
  const is = tokenMatcher("s3cret");
  assert.ok(is("s3cret"));
  for (const other of ["s3cre", "s3cret ", "S3cret", ""]) assert.ok(!is(other), other);
  // the remembered match is the token itself: asking again, or after wrong ones, changes nothing
  assert.ok(is("s3cret"));
  assert.ok(is(["s3", "cret"].join("")), "an equal string built elsewhere");
  assert.ok(!is("s3creT"));
  assert.ok(is("s3cret"));
});

Deno.test("safeEqual compares tokens of any length", () => {
  assert.ok(safeEqual("abc", "abc"));
  assert.ok(!safeEqual("abc", "abd"));
  assert.ok(!safeEqual("abc", "abcd"));
  assert.ok(!safeEqual("", "a"));
  assert.ok(safeEqual("", ""));
});

Deno.test("a JSON body nested deeper than 64 levels is a 400 naming where; 64 levels are taken", async () => {
  const r = new RouteTable("test");
  r.read("POST", "/echo", "echo JSON", async (c) => c.json(await readJson(c)));
  const a = buildApp([r], { token: "", maxBody: 1 << 22, log: silentLogger, counters: new Counters() });
  const nested = (levels: number) => "[".repeat(levels) + "]".repeat(levels);
  const ok = await a.request("/echo", { method: "POST", body: nested(64) }, tcp);
  assert.equal(ok.status, 200);
  await ok.body?.cancel();
  const deep = await a.request("/echo", { method: "POST", body: `{"a": {"b": ${nested(200_000)}}}` }, tcp);
  assert.equal(deep.status, 400);
  assert.match((await deep.json()).error, /^JSON body nested deeper than 64 levels at a\.b(\.0)+$/);
});
