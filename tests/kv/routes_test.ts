import assert from "node:assert/strict";
import { VirtualClock } from "../../lib/clock/mod.ts";
import { buildApp } from "../../lib/http/mod.ts";
import { createKv } from "../../lib/kv/mod.ts";
import type { KvApi } from "../../lib/kv/kv.ts";
import { kvRoutes, LISTINGS_AT_ONCE, LISTINGS_WAITING } from "../../lib/kv/routes.ts";
import { RouteTable } from "../../lib/routing/mod.ts";
import { makeTestCtx } from "../helpers.ts";
import { loneDeps } from "./kv_helpers.ts";

async function app(kv: Record<string, unknown> = {}) {
  const clock = new VirtualClock();
  const ctx = makeTestCtx({ clock, params: { kv } });
  const store = createKv(ctx, await loneDeps(ctx));
  await store.start();
  const a = buildApp([store.routes()], { token: "", maxBody: 1 << 20, log: ctx.log, counters: ctx.counters });
  return {
    clock,
    req: (path: string, init?: RequestInit) => a.request(path, init, { transport: "unix" }),
    tcp: (path: string, init?: RequestInit) => a.request(path, init, { transport: "tcp" }),
    async [Symbol.asyncDispose]() {
      await store.stop();
      ctx.cleanup();
    },
  };
}

Deno.test("PUT then GET: base64 by default, ?raw bytes, ?meta JSON, X-Kunai-Index", async () => {
  await using t = await app();
  const put = await t.req("/kv/web/conf", {
    method: "PUT",
    body: "hello",
    headers: { "content-type": "text/plain" },
  });
  assert.equal(put.status, 200);
  assert.equal(await put.json(), true);
  const index = Number(put.headers.get("x-kunai-index"));
  assert.ok(index > 0);
  const g = await t.req("/kv/web/conf");
  assert.equal(await g.text(), btoa("hello"));
  assert.equal(Number(g.headers.get("x-kunai-index")), index);
  const raw = await t.req("/kv/web/conf?raw");
  assert.equal(raw.headers.get("content-type"), "application/octet-stream");
  assert.equal(await raw.text(), "hello");
  const meta = await (await t.req("/kv/web/conf?meta")).json();
  assert.equal(meta.key, "web/conf");
  assert.equal(meta.value, btoa("hello"));
  assert.equal(meta.modify_index, index);
  assert.equal(meta.flags, 0);
  assert.equal(typeof meta.modify_time, "number");
  assert.ok(
    Number.isInteger(meta.modify_time) && meta.modify_time > 1e9 && meta.modify_time < 1e11,
    "Unix seconds",
  );
});

Deno.test("binary values round-trip untouched", async () => {
  await using t = await app();
  const bytes = new Uint8Array(256).map((_, i) => i);
  await t.req("/kv/bin", { method: "PUT", body: bytes });
  const raw = new Uint8Array(await (await t.req("/kv/bin?raw")).arrayBuffer());
  assert.deepEqual(raw, bytes);
});

Deno.test("?cas and DELETE answer true/false as JSON", async () => {
  await using t = await app();
  assert.equal(await (await t.req("/kv/l?cas=0", { method: "PUT", body: "a" })).json(), true);
  assert.equal(await (await t.req("/kv/l?cas=0", { method: "PUT", body: "b" })).json(), false);
  const idx = (await (await t.req("/kv/l?meta")).json()).modify_index;
  assert.equal(await (await t.req(`/kv/l?cas=${idx}`, { method: "PUT", body: "c" })).json(), true);
  assert.equal(await (await t.req(`/kv/l?cas=${idx}`, { method: "DELETE" })).json(), false);
  assert.equal(await (await t.req("/kv/l", { method: "DELETE" })).json(), true);
  const gone = await t.req("/kv/l");
  assert.equal(gone.status, 404);
  assert.ok(Number(gone.headers.get("x-kunai-index")) > 0, "404 carries the index to block on");
});

Deno.test("listing: keys, ?prefix, ?recurse with values", async () => {
  await using t = await app();
  for (const k of ["a/1", "a/2", "b/1"]) await t.req(`/kv/${k}`, { method: "PUT", body: k });
  assert.deepEqual(await (await t.req("/kv/")).json(), ["a/1", "a/2", "b/1"]);
  assert.deepEqual(await (await t.req("/kv/?prefix=a/")).json(), ["a/1", "a/2"]);
  const rec = await (await t.req("/kv/?prefix=b/&recurse")).json();
  assert.equal(rec.length, 1);
  assert.equal(rec[0].key, "b/1");
  assert.equal(atob(rec[0].value), "b/1");
  assert.deepEqual(await (await t.req("/kv/a/?keys")).json(), ["a/1", "a/2"]);
});

Deno.test("ttl and flags parameters", async () => {
  await using t = await app();
  const put = await t.req("/kv/tmp?ttl=5s&flags=42", { method: "PUT", body: "x" });
  const idx = Number(put.headers.get("x-kunai-index"));
  const expires = t.clock.now() + 5000;
  assert.equal((await (await t.req("/kv/tmp?meta")).json()).flags, 42);
  const watching = t.req(`/kv/?recurse&index=${idx}&wait=30s`);
  await t.clock.advance(6000);
  assert.equal((await t.req("/kv/tmp")).status, 404);
  // a blocking listing shows the expiry as a delete at the expiry time, its header past it
  const woke = await watching;
  assert.equal(Number(woke.headers.get("x-kunai-index")), expires * 1000);
  const [gone] = await woke.json();
  assert.deepEqual([gone.key, gone.deleted, gone.modify_index], ["tmp", true, expires * 1000]);
});

Deno.test("bad input: 400 with a message, 413 for large keys and values", async () => {
  await using t = await app({ max_value_bytes: 10, max_key_bytes: 20 });
  const cases: Array<[string, RequestInit | undefined, number, RegExp]> = [
    ["/kv/a%2F..%2Fb", { method: "PUT", body: "x" }, 400, /segment/],
    ["/kv/a%01b", { method: "PUT", body: "x" }, 400, /control character/],
    ["/kv/a?cas=abc", { method: "PUT", body: "x" }, 400, /cas/],
    ["/kv/a?ttl=soon", { method: "PUT", body: "x" }, 400, /ttl/],
    ["/kv/a?index=1&wait=forever", undefined, 400, /wait/],
    ["/kv/", { method: "PUT", body: "x" }, 400, /empty/],
    ["/kv/a?recurse", { method: "DELETE" }, 400, /recursive delete/],
    [`/kv/${"k".repeat(21)}`, { method: "PUT", body: "x" }, 413, /max_key_bytes/],
    ["/kv/a", { method: "PUT", body: "x".repeat(11) }, 413, /max_value_bytes/],
  ];
  for (const [path, init, status, re] of cases) {
    const r = await t.req(path, init);
    const body = await r.json();
    assert.equal(r.status, status, `${path}: ${JSON.stringify(body)}`);
    assert.match(body.error, re);
  }
});

Deno.test("blocking GET wakes on a write", async () => {
  await using t = await app();
  const put = await t.req("/kv/w", { method: "PUT", body: "1" });
  const idx = put.headers.get("x-kunai-index");
  const pending = t.req(`/kv/w?index=${idx}&wait=30s`);
  await t.clock.advance(50);
  await t.req("/kv/w", { method: "PUT", body: "2" });
  const r = await pending;
  assert.equal(await r.text(), btoa("2"));
  assert.ok(Number(r.headers.get("x-kunai-index")) > Number(idx));
});

Deno.test("internal routes answer without a key and refuse unsealed requests with one", async () => {
  await using plain = await app();
  const ok = await plain.req("/kv-internal/get", { method: "POST", body: JSON.stringify({ key: "x" }) });
  assert.equal(ok.status, 200, await ok.clone().text());
  assert.equal((await ok.json()).record, null);
  const clock = new VirtualClock();
  const key = btoa("k".repeat(32));
  const ctx = makeTestCtx({ clock });
  const deps = await loneDeps(ctx, key);
  const store = createKv(ctx, deps);
  await store.start();
  try {
    const a = buildApp([store.routes()], {
      token: "",
      maxBody: 1 << 20,
      log: ctx.log,
      counters: ctx.counters,
      peerEnvelope: deps.envelope,
    });
    const r = await a.request("/kv-internal/get", { method: "POST", body: JSON.stringify({ key: "x" }) });
    assert.equal(r.status, 401);
    assert.match((await r.json()).error, /peer message refused/);
    const sealed = await deps.envelope.seal(new TextEncoder().encode(JSON.stringify({ key: "x" })));
    const good = await a.request("/kv-internal/get", {
      method: "POST",
      body: sealed as Uint8Array<ArrayBuffer>,
    });
    assert.equal(good.status, 200);
    const opened = await deps.envelope.open(new Uint8Array(await good.arrayBuffer()));
    assert.ok(opened.ok, "the answer is sealed too");
    assert.equal(JSON.parse(new TextDecoder().decode(opened.plain)).record, null);
  } finally {
    await store.stop();
    ctx.cleanup();
  }
});

Deno.test("__exec/ keys (remote command outputs) are read only by callers that may write", async () => {
  await using t = await app();
  for (const [k, v] of [["__exec/c1/u1", '{"output":"secret"}'], ["open/a", "1"]]) {
    assert.equal((await t.req(`/kv/${k}`, { method: "PUT", body: v })).status, 200);
  }
  // over TCP without the token: refused, and left out of listings
  for (const path of ["/kv/__exec/c1/u1", "/kv/__exec/c1/u1?raw", "/kv/__exec/c1/u1?meta"]) {
    const r = await t.tcp(path);
    assert.equal(r.status, 403, path);
    assert.match((await r.json()).error, /__exec\/ keys hold remote command outputs/);
  }
  assert.deepEqual(await (await t.tcp("/kv/")).json(), ["open/a"]);
  assert.deepEqual(await (await t.tcp("/kv/?prefix=__exec/&recurse")).json(), []);
  assert.deepEqual(await (await t.tcp("/kv/__exec?recurse")).json(), []);
  // over the unix socket: as any key
  assert.equal(await (await t.req("/kv/__exec/c1/u1?raw")).text(), '{"output":"secret"}');
  assert.deepEqual(await (await t.req("/kv/")).json(), ["__exec/c1/u1", "open/a"]);
});

Deno.test("what kunai propagate stores (configuration, plugins, manifests) is read only by callers that may write", async () => {
  await using t = await app();
  const keys = ["__configuration/db.json", "__libexec/check_db", "__propagate/configuration"];
  for (const k of keys) {
    assert.equal((await t.req(`/kv/${k}`, { method: "PUT", body: '{"mysql_password":"pw"}' })).status, 200);
  }
  for (const k of keys) {
    for (const q of ["", "?raw", "?meta"]) {
      const r = await t.tcp(`/kv/${k}${q}`);
      assert.equal(r.status, 403, k + q);
      assert.match((await r.json()).error, /keys hold propagated|keys hold propagation manifests/, k + q);
    }
  }
  for (const path of ["/kv/", "/kv/?prefix=__&recurse", "/kv/__configuration?recurse"]) {
    assert.deepEqual(await (await t.tcp(path)).json(), [], path);
  }
  // the underscore keys of others stay open
  assert.equal((await t.req("/kv/__mine/a", { method: "PUT", body: "1" })).status, 200);
  assert.equal(await (await t.tcp("/kv/__mine/a?raw")).text(), "1");
  assert.equal(await (await t.req("/kv/__configuration/db.json?raw")).text(), '{"mysql_password":"pw"}');
});

Deno.test("a full disk: PUT answers 507 naming kv.db, nothing stored; writes go on once there is room", async () => {
  const ctx = makeTestCtx({ clock: new VirtualClock() });
  const store = createKv(ctx, await loneDeps(ctx));
  await store.start();
  try {
    const a = buildApp([store.routes()], {
      token: "",
      maxBody: 1 << 22,
      log: ctx.log,
      counters: ctx.counters,
    });
    const put = (key: string, body: Uint8Array<ArrayBuffer>) =>
      a.request(`/kv/${key}`, { method: "PUT", body }, { transport: "unix" });
    const db = ctx.store.handle("kv")!;
    const pages = db.get<{ page_count: number }>("PRAGMA page_count")!.page_count;
    db.exec(`PRAGMA max_page_count = ${pages + 8}`); // SQLite's SQLITE_FULL, as from a full disk
    const res = await put("big", new Uint8Array(1 << 20));
    assert.equal(res.status, 507);
    assert.match((await res.json()).error, /kv\.db: the disk is full \(database or disk is full\)/);
    assert.equal((await a.request("/kv/big", {}, { transport: "unix" })).status, 404);
    db.exec(`PRAGMA max_page_count = ${pages + 100_000}`);
    assert.equal((await put("small", new Uint8Array([1, 2, 3]))).status, 200);
    assert.equal((await put("big", new Uint8Array(1 << 20))).status, 200);
  } finally {
    await store.stop();
    ctx.cleanup();
  }
});

Deno.test("key listings run LISTINGS_AT_ONCE at a time, LISTINGS_WAITING wait, more get a 503; blocking ones take no slot", async () => {
  const gate = Promise.withResolvers<void>();
  let started = 0;
  const api = {
    list: async (_prefix: string, opts: { index?: number }) => {
      if (opts.index === undefined) {
        started++;
        await gate.promise; // a listing that waits for every KV node's answer
      }
      return { entries: [], index: 7 };
    },
  } as unknown as KvApi;
  const ctx = makeTestCtx();
  const table = kvRoutes(new RouteTable("kv"), api, { maxValueBytes: 1 << 20 });
  const a = buildApp([table], { token: "", maxBody: 1 << 20, log: ctx.log, counters: ctx.counters });
  try {
    const held = Array.from({ length: LISTINGS_AT_ONCE + LISTINGS_WAITING }, () => a.request("/kv/?recurse"));
    for (let i = 0; i < 50 && started < LISTINGS_AT_ONCE; i++) await new Promise((r) => setTimeout(r, 1));
    assert.equal(started, LISTINGS_AT_ONCE);
    const refused = await a.request("/kv/app/?keys");
    assert.equal(refused.status, 503);
    assert.match((await refused.json()).error, /too many key listings at once \(4 running, 32 waiting\)/);
    const blocking = await a.request("/kv/?index=3&wait=1s");
    assert.equal(blocking.status, 200, "a blocking listing is not held behind them");
    gate.resolve();
    const answers = await Promise.all(held);
    assert.deepEqual(answers.map((r) => r.status), answers.map(() => 200));
    for (const r of answers) await r.body?.cancel();
    assert.equal((await a.request("/kv/?recurse")).status, 200);
  } finally {
    gate.resolve();
    ctx.cleanup();
  }
});
