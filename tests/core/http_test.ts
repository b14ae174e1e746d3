import assert from "node:assert/strict";
import { buildApp, HttpServer, safeEqual } from "../../lib/http/mod.ts";
import { HttpError, newRouter, protect, readJson } from "../../lib/routing/mod.ts";
import { silentLogger } from "../../lib/log/mod.ts";
import { Counters } from "../../lib/counters.ts";
import { AgentClient } from "../../lib/client/mod.ts";
import { freePort, tempDir } from "../helpers.ts";

function app(token = "") {
  const r = newRouter();
  r.get("/", (c) => c.text("OK"));
  r.get("/danger", protect, (c) => c.text("done"));
  r.post("/echo", async (c) => c.json(await readJson(c)));
  r.get("/teapot", () => {
    throw new HttpError(409, "conflict here", { key: "k" });
  });
  r.get("/crash", () => {
    throw new Error("oops");
  });
  return buildApp([r], { token, maxBody: 100, log: silentLogger, counters: new Counters() });
}

const tcp = { transport: "tcp" as const };

Deno.test("every response carries CORS headers and OPTIONS answers an empty 200", async () => {
  const a = app();
  const res = await a.request("/", {}, tcp);
  assert.equal(await res.text(), "OK");
  assert.equal(res.headers.get("access-control-allow-origin"), "*");
  const opt = await a.request("/anything", { method: "OPTIONS" }, tcp);
  assert.equal(opt.status, 200);
  assert.match(opt.headers.get("access-control-allow-methods")!, /DELETE/);
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
  // with no token configured, TCP can never unlock
  assert.equal(
    (await app("").request("/danger", { headers: { authorization: "Bearer " } }, tcp)).status,
    403,
  );
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
    assert.equal(viaTcp.status, 401);
    await viaTcp.body?.cancel();
    const forged = await fetch(`http://127.0.0.1:${port}/danger`, {
      headers: { "x-kunai-transport-internal": "unix" },
    });
    assert.equal(forged.status, 401);
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

Deno.test("safeEqual compares tokens", () => {
  assert.ok(safeEqual("abc", "abc"));
  assert.ok(!safeEqual("abc", "abd"));
  assert.ok(!safeEqual("abc", "abcd"));
});
