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

Deno.test("an expiry is seen past every earlier index, and its tombstone ends that write only", async () => {
  await using t = await single();
  const put = await t.kv.put("lease/a", enc("x"), { ttlMs: 10_000 });
  const expires = t.clock.now() + 10_000;
  const onKey = t.kv.get("lease/a", { index: put.index, waitMs: 60_000 });
  const onPrefix = t.kv.list("lease/", { index: put.index, waitMs: 60_000 });
  await t.clock.advance(11_000);
  const k = await onKey, l = await onPrefix;
  assert.equal(k.entry, null);
  assert.equal(k.index, expires * 1000, "a blocking get wakes at the expiry, seen at its time");
  assert.deepEqual(l.entries.map((e) => [e.key, e.deleted]), [["lease/a", true]]);
  assert.equal(l.index, expires * 1000, "a blocking listing too: its next index is past the expiry");
  const idle = t.kv.list("lease/", { index: l.index, waitMs: 5_000 });
  await t.clock.advance(5_001);
  assert.deepEqual((await idle).entries, [], "nothing new past the expiry: the listing waits it out");
  // between replicas the tombstone keeps the version of the write it ends
  const tomb = t.kv.local.storage.getRecord("lease/a")!;
  assert.equal(tomb.deleted, true);
  assert.equal(tomb.modify_index, put.index);
  const v1 = { ...tomb, value: enc("x"), deleted: false, modify_time: expires - 10_000 };
  assert.equal(t.kv.local.apply(v1), false, "a late copy of the expired write stays expired");
  // a renewal stamped before the expiry (elsewhere, while this copy was cut off) wins over it, and
  // wakes a blocking read of this copy although its index is below the expiry that read was shown
  const renewal = { ...v1, value: enc("renewed"), modify_index: put.index + 5, expires: expires + 600_000 };
  const onCopy = t.kv.local.get("lease/a", k.index, 60_000);
  await t.clock.advance(100);
  assert.equal(t.kv.local.apply(renewal), true);
  const woke = await onCopy;
  assert.equal(woke.record && dec(woke.record.value), "renewed");
  assert.ok(woke.index > k.index, "its index, seen here, moves past the expiry this read was shown");
  assert.equal(woke.record!.modify_index, put.index + 5, "its version stays the renewal's");
  assert.equal(dec((await t.kv.get("lease/a")).entry!.value), "renewed");
  const quiet = t.kv.local.get("lease/a", woke.index, 1_000);
  await t.clock.advance(1_001);
  assert.equal((await quiet).index, woke.index, "asked again with that index: it waits, no busy loop");
  assert.equal(t.kv.local.apply(tomb), false, "the old expiry does not end the renewal");
  // the next local write is still stamped past the expiry readers were shown
  const after = await t.kv.put("lease/b", enc("y"));
  assert.ok(after.index > expires * 1000);
});

Deno.test("a blocking listing wakes when a record below its index changes what it shows, and answers past that index", async () => {
  await using t = await single();
  const put = await t.kv.put("lease/a", enc("x"), { ttlMs: 10_000 });
  const expires = t.clock.now() + 10_000;
  await t.clock.advance(11_000);
  // this copy expired the key and showed it: the listing's index is past the expiry
  const shown = await t.kv.list("lease/");
  assert.deepEqual(shown.entries, []);
  assert.ok(shown.index >= expires * 1000);
  const onPrefix = t.kv.list("lease/", { index: shown.index, waitMs: 60_000 });
  const onAll = t.kv.list("", { index: shown.index, waitMs: 60_000 });
  await t.clock.advance(100);
  // a renewal stamped before the expiry (elsewhere, while this copy was cut off) arrives
  const tomb = t.kv.local.storage.getRecord("lease/a")!;
  const renewal = {
    ...tomb,
    value: enc("renewed"),
    deleted: false,
    modify_index: put.index + 5,
    modify_time: expires - 5_000,
    expires: expires + 600_000,
  };
  assert.ok(renewal.modify_index < shown.index);
  let woken = 0;
  for (const w of [onPrefix, onAll]) w.then(() => woken++);
  assert.equal(t.kv.local.apply(renewal), true);
  await t.clock.advance(10);
  assert.equal(woken, 2, "both listings woke with the renewal, not at their wait");
  for (const woke of [await onPrefix, await onAll]) {
    assert.deepEqual(woke.entries.map((e) => [e.key, dec(e.value)]), [["lease/a", "renewed"]]);
    assert.ok(woke.index > shown.index, `index ${woke.index} moved past ${shown.index}`);
    assert.equal(woke.entries[0].modify_index, put.index + 5, "its version (what a CAS names) is kept");
  }
  const next = (await onPrefix).index;
  // a watcher that asks only now, with the index it was shown before, finds it at once
  const late = await t.kv.list("lease/", { index: shown.index, waitMs: 60_000 });
  assert.deepEqual(late.entries.map((e) => e.key), ["lease/a"]);
  assert.equal(late.index, next);
  // asked again with the index answered: it waits (no busy loop), and the index does not go back
  const quiet = t.kv.list("lease/", { index: next, waitMs: 1_000 });
  await t.clock.advance(1_001);
  assert.deepEqual((await quiet).entries, []);
  assert.ok((await quiet).index >= next);
  // the key's own reads on this copy answer that index too (X-Kunai-Index never goes back)
  const g = await t.kv.get("lease/a");
  assert.equal(dec(g.entry!.value), "renewed");
  assert.equal(g.index, next);
  // a watcher of the key that asks only now, with the index it was shown before, finds it at once
  let lateKey: { entry: { value: Uint8Array } | null; index: number } | null = null;
  t.kv.get("lease/a", { index: shown.index, waitMs: 60_000 }).then((r) => lateKey = r);
  await t.clock.advance(10);
  assert.ok(lateKey, "answered at once");
  assert.equal((lateKey as { index: number }).index, next);
  const onKey = t.kv.get("lease/a", { index: next, waitMs: 1_000 });
  await t.clock.advance(1_001);
  assert.equal((await onKey).index, next, "a blocking get with that index waits it out");
  // the next local write is stamped past it
  assert.ok((await t.kv.put("lease/b", enc("y"))).index > next);
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
