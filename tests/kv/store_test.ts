import assert from "node:assert/strict";
import { VirtualClock } from "../../lib/clock/mod.ts";
import { createKv, KvError } from "../../lib/kv/mod.ts";
import { MAX_WAIT_MS } from "../../lib/kv/api.ts";
import type { KvChangedEvent } from "../../lib/types.ts";
import { makeTestCtx } from "../helpers.ts";
import { dec, enc, loneDeps } from "./kv_helpers.ts";

async function single(kv: Record<string, unknown> = {}) {
  const clock = new VirtualClock();
  const ctx = makeTestCtx({ clock, params: { kv } });
  const store = createKv(ctx, await loneDeps(ctx));
  await store.start();
  return {
    ctx,
    clock,
    kv: store,
    async [Symbol.asyncDispose]() {
      await store.stop();
      ctx.cleanup();
    },
  };
}

Deno.test("a lone node owns every key: put, get, overwrite, delete", async () => {
  await using t = await single();
  const a = await t.kv.put("app/db", enc("pg://one"), { flags: 7 });
  assert.equal(a.ok, true);
  const g = await t.kv.get("app/db");
  assert.equal(dec(g.entry!.value), "pg://one");
  assert.equal(g.entry!.flags, 7);
  assert.equal(g.index, a.index);
  const b = await t.kv.put("app/db", enc("pg://two"));
  assert.ok(b.index > a.index, "modify_index grows");
  assert.equal(dec((await t.kv.get("app/db")).entry!.value), "pg://two");
  assert.equal((await t.kv.delete("app/db")).ok, true);
  assert.equal((await t.kv.get("app/db")).entry, null);
});

Deno.test("cas=0 creates only when absent; cas=index succeeds once", async () => {
  await using t = await single();
  const first = await t.kv.put("lock", enc("a"), { cas: 0 });
  assert.equal(first.ok, true);
  assert.equal((await t.kv.put("lock", enc("b"), { cas: 0 })).ok, false);
  const idx = first.index;
  const results = await Promise.all([1, 2, 3, 4].map((i) => t.kv.put("lock", enc(`w${i}`), { cas: idx })));
  assert.equal(results.filter((r) => r.ok).length, 1, "exactly one CAS on the same index wins");
  assert.equal((await t.kv.put("lock", enc("stale"), { cas: idx })).ok, false);
  const cur = (await t.kv.get("lock")).entry!;
  assert.equal((await t.kv.delete("lock", { cas: idx })).ok, false, "delete with a stale index is refused");
  assert.equal((await t.kv.delete("lock", { cas: cur.modify_index })).ok, true);
  assert.equal(
    (await t.kv.put("lock", enc("again"), { cas: 0 })).ok,
    true,
    "a deleted key can be created again",
  );
});

Deno.test("ttl: the value disappears after its ttl and the sweep leaves a tombstone", async () => {
  await using t = await single();
  const events: KvChangedEvent[] = [];
  t.ctx.bus.on("kv.changed", (e) => events.push(e));
  await t.kv.put("session/1", enc("x"), { ttlMs: 10_000 });
  await t.clock.advance(9_000);
  assert.ok((await t.kv.get("session/1")).entry);
  await t.clock.advance(2_000);
  assert.equal((await t.kv.get("session/1")).entry, null);
  const rec = t.kv.local.storage.getRecord("session/1")!;
  assert.equal(rec.deleted, true);
  assert.ok(events.some((e) => e.key === "session/1" && e.deleted), "kv.changed announces the expiry");
  assert.deepEqual((await t.kv.list("session/")).entries, []);
});

Deno.test("tombstones block older versions and are purged after kv.tombstone_ttl", async () => {
  await using t = await single({ tombstone_ttl: "2s" });
  const put = await t.kv.put("k", enc("v"));
  const old = t.kv.local.storage.getRecord("k")!;
  await t.kv.delete("k");
  // a late replica copy of the old value must not resurrect the key
  assert.equal(t.kv.local.apply(old), false);
  assert.equal((await t.kv.get("k")).entry, null);
  assert.ok(put.index > 0);
  t.kv.repair.sweep(true);
  assert.ok(t.kv.local.storage.getRecord("k"), "young tombstone kept");
  await t.clock.advance(3_000);
  t.kv.repair.sweep(true);
  assert.equal(t.kv.local.storage.getRecord("k"), null, "old tombstone purged");
});

Deno.test("bad keys and oversized values are refused with 400 and 413", async () => {
  await using t = await single({ max_key_bytes: 32, max_value_bytes: 100 });
  const status = async (p: Promise<unknown>) => {
    try {
      await p;
      return 200;
    } catch (err) {
      assert.ok(err instanceof KvError, String(err));
      return err.status;
    }
  };
  assert.equal(await status(t.kv.put("", enc("x"))), 400);
  assert.equal(await status(t.kv.put("a/../b", enc("x"))), 400);
  assert.equal(await status(t.kv.put("a\u0001b", enc("x"))), 400);
  assert.equal(await status(t.kv.put("x".repeat(33), enc("x"))), 413);
  assert.equal(await status(t.kv.put("ok", new Uint8Array(101))), 413);
  assert.equal(await status(t.kv.put("ok", new Uint8Array(100))), 200);
});

Deno.test("blocking get returns when the key changes past the index, or at the wait", async () => {
  await using t = await single();
  const a = await t.kv.put("cfg", enc("1"));
  const waiting = t.kv.get("cfg", { index: a.index, waitMs: 30_000 });
  await t.clock.advance(100);
  const b = await t.kv.put("cfg", enc("2"));
  const got = await waiting;
  assert.equal(dec(got.entry!.value), "2");
  assert.equal(got.index, b.index);
  const idle = t.kv.get("cfg", { index: b.index, waitMs: 5_000 });
  await t.clock.advance(5_001);
  assert.equal((await idle).index, b.index, "times out with the same index");
});

Deno.test("a blocking read asking to wait an hour waits at most MAX_WAIT_MS (10 minutes)", async () => {
  await using t = await single();
  const a = await t.kv.put("cfg", enc("1"));
  let answered = false;
  const waiting = t.kv.get("cfg", { index: a.index, waitMs: 3_600_000 }).then((r) => {
    answered = true;
    return r;
  });
  await t.clock.advance(MAX_WAIT_MS - 1);
  assert.equal(answered, false, "still waiting just before the bound");
  await t.clock.advance(2);
  await new Promise((r) => setTimeout(r, 0));
  assert.equal(answered, true, "answered at the bound, not after the hour asked");
  assert.equal((await waiting).index, a.index);
});

Deno.test("blocking prefix listing returns only what changed, deletes included", async () => {
  await using t = await single();
  await t.kv.put("svc/a", enc("1"));
  const b = await t.kv.put("svc/b", enc("2"));
  await t.kv.put("other/x", enc("3"));
  const w = t.kv.list("svc/", { index: (await t.kv.list("svc/")).index, waitMs: 30_000 });
  await t.clock.advance(10);
  await t.kv.delete("svc/a");
  const r = await w;
  assert.deepEqual(r.entries.map((e) => [e.key, e.deleted]), [["svc/a", true]]);
  assert.ok(r.index > b.index);
});
