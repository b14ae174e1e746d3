/**
 * Issue 10, hole 4: `PUT /kv/p?ttl=2600000000h` stored an expiry above 2^53 ms; the listing then
 * failed, and after a restart the key answered 500 to GET/PUT/DELETE. Now such a TTL is refused,
 * and a row already on disk with values out of bounds is skipped (logged, counted) and replaced
 * by the next write or delete.
 */
import assert from "node:assert/strict";
import { kvApp } from "./kv_helpers.ts";

Deno.test("a TTL beyond the bound is refused with 400 and the store keeps answering", async () => {
  const t = await kvApp();
  try {
    for (const ttl of ["2600000000h", "99999999999999999999s", "3651d"]) {
      const r = await t.req(`/kv/p?ttl=${ttl}`, { method: "PUT", body: "x" });
      assert.equal(r.status, 400, `ttl=${ttl}`);
      assert.match((await r.json()).error, /ttl/);
    }
    const ok = await t.req("/kv/p?ttl=3650d", { method: "PUT", body: "x" });
    assert.equal(ok.status, 200, "the longest ttl is fine");
    const list = await t.req("/kv/");
    assert.equal(list.status, 200);
    assert.deepEqual(await list.json(), ["p"]);
    await t.restart();
    assert.equal((await t.req("/kv/p?raw")).status, 200);
  } finally {
    await t.close();
  }
});

Deno.test("rows out of bounds on disk are skipped, counted and replaced by a write or delete", async () => {
  const t = await kvApp();
  try {
    for (const k of ["a", "p", "q", "z"]) {
      assert.equal((await t.req(`/kv/${k}`, { method: "PUT", body: k })).status, 200);
    }
    // what the old code stored: an expiry above 2^53 ms, an index at 2^53-2, an int64 SQLite cannot give JS
    const db = t.kv.local.storage.db;
    db.run("UPDATE kv SET expires = ?, modify_index = ? WHERE key = 'p'", 9_360_000_000_000_000, 2 ** 53 - 2);
    db.exec("UPDATE kv SET modify_index = 4611686018427387904 WHERE key = 'q'");
    await t.restart();
    const p = await t.req("/kv/p");
    assert.equal(p.status, 404, await p.clone().text());
    assert.equal((await t.req("/kv/q?raw")).status, 404);
    const list = await t.req("/kv/?recurse");
    assert.equal(list.status, 200);
    assert.deepEqual((await list.json()).map((e: { key: string }) => e.key), ["a", "z"]);
    assert.equal(t.kv.local.storage.badRows, 2);
    assert.equal(t.ctx.counters.get("kv_bad_rows_total"), 2);
    // the bad index does not leak into new writes
    const w = await t.req("/kv/a", { method: "PUT", body: "a2" });
    assert.ok(Number(w.headers.get("x-kunai-index")) < 2 ** 52, "fresh writes get a sane index");
    // writable and deletable again
    assert.equal((await t.req("/kv/p", { method: "PUT", body: "new" })).status, 200);
    assert.equal(await (await t.req("/kv/p?raw")).text(), "new");
    assert.equal((await t.req("/kv/q", { method: "DELETE" })).status, 200);
    await t.restart();
    assert.equal(await (await t.req("/kv/p?raw")).text(), "new");
    assert.equal((await t.req("/kv/q")).status, 404);
    assert.deepEqual(await (await t.req("/kv/")).json(), ["a", "p", "z"]);
    assert.equal(t.kv.local.storage.badRows, 0, "nothing bad left after the rewrite");
  } finally {
    await t.close();
  }
});
