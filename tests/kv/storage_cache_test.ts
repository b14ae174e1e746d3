import assert from "node:assert/strict";
import { openDatabase } from "../../lib/store/mod.ts";
import { type CacheBounds, KV_MIGRATIONS, KvStorage } from "../../lib/kv/storage.ts";
import { tempDir } from "../helpers.ts";
import { dec, enc, FakeCluster, kvRecord, startKvNode, stopAll } from "./kv_helpers.ts";

const rec = kvRecord;

function fresh(cache?: CacheBounds) {
  const t = tempDir("kv-cache-");
  const db = openDatabase(`${t.dir}/kv.db`, KV_MIGRATIONS);
  const s = new KvStorage(db, undefined, cache);
  /** What SQLite holds, bypassing the cache. */
  const onDisk = (key: string) => db.get<{ value: Uint8Array }>("SELECT value FROM kv WHERE key = ?", key);
  return {
    s,
    onDisk,
    [Symbol.dispose]() {
      db.close();
      t.cleanup();
    },
  };
}

Deno.test("the record cache follows merges, older versions and drops", () => {
  using t = fresh();
  assert.equal(t.s.getRecord("a"), null, "absent keys are remembered as absent");
  assert.equal(t.s.merge(rec("a", "one", 10)), true);
  assert.equal(dec(t.s.getRecord("a")!.value), "one", "a merge replaces a cached absence");
  assert.equal(t.s.merge(rec("a", "older", 5)), false);
  assert.equal(dec(t.s.getRecord("a")!.value), "one", "an older version changes neither copy");
  assert.equal(dec(t.onDisk("a")!.value), "one");
  assert.equal(t.s.dropIfUnchanged(rec("a", "one", 10)), true);
  assert.equal(t.s.getRecord("a"), null, "a dropped key reads as absent");
  assert.equal(t.onDisk("a"), undefined);
});

Deno.test("merge keeps the newest version: a higher index, or the higher origin at an equal one", () => {
  using t = fresh();
  const at = (value: string, index: number, origin: string) => ({ ...rec("k", value, index), origin });
  assert.equal(t.s.merge(at("first", 10, "node-b")), true);
  assert.equal(t.s.merge(at("same", 10, "node-b")), false, "the same version again is not a change");
  assert.equal(t.s.merge(at("lower origin", 10, "node-a")), false, "a tie goes to the higher origin");
  assert.equal(dec(t.onDisk("k")!.value), "first");
  assert.equal(t.s.merge(at("higher origin", 10, "node-c")), true);
  assert.equal(dec(t.s.getRecord("k")!.value), "higher origin");
  assert.equal(t.s.merge(at("newer", 11, "node-a")), true, "a higher index wins whatever its origin");
  assert.equal(dec(t.onDisk("k")!.value), "newer");
});

Deno.test("a full record cache drops the records it cached first, not everything", () => {
  using t = fresh({ entries: 32, bytes: 1 << 20 });
  for (let i = 0; i < 32; i++) t.s.merge(rec(`k${i}`, `v${i}`, i + 1));
  assert.equal(t.s.cacheStats().entries, 32);
  t.s.merge(rec("k1", "newer", 100)); // rewritten in place
  t.s.merge(rec("k32", "v32", 200)); // over the bound: a sixteenth (2 entries) goes, k0 and k1
  assert.equal(t.s.cacheStats().entries, 31);
  const before = t.s.cacheStats();
  for (const k of ["k2", "k3", "k16", "k31", "k32"]) assert.ok(t.s.getRecord(k), k);
  assert.equal(t.s.cacheStats().hits - before.hits, 5, "the later and newest keys stayed");
  assert.equal(t.s.cacheStats().misses, before.misses);
  assert.equal(dec(t.s.getRecord("k0")!.value), "v0", "an evicted key is read from SQLite");
  assert.equal(dec(t.s.getRecord("k1")!.value), "newer", "with its latest version");
  assert.equal(t.s.cacheStats().misses - before.misses, 2);
});

Deno.test("the record cache is bounded by the bytes it holds too", () => {
  using t = fresh({ entries: 1000, bytes: 4096 });
  const big = "x".repeat(500);
  for (let i = 0; i < 40; i++) t.s.merge(rec(`b${i}`, big, i + 1));
  const held = t.s.cacheStats().entries;
  assert.ok(held >= 5 && held <= 7, `${held} entries of ~630 bytes under 4 096`);
  // the newest are the ones kept
  const before = t.s.cacheStats().hits;
  assert.ok(t.s.getRecord("b39"));
  assert.equal(t.s.cacheStats().hits, before + 1);
  for (let i = 0; i < 40; i++) assert.equal(t.s.getRecord(`b${i}`)!.value.length, 500);
});

Deno.test("a rolled-back transaction leaves no cached record behind", () => {
  using t = fresh();
  t.s.merge(rec("k", "kept", 1));
  assert.throws(
    () =>
      t.s.transaction(() => {
        t.s.merge(rec("k", "rolled back", 2));
        t.s.merge(rec("new", "rolled back", 3));
        throw new Error("boom");
      }),
    /boom/,
  );
  assert.equal(dec(t.s.getRecord("k")!.value), "kept");
  assert.equal(t.s.getRecord("new"), null);
  assert.equal(dec(t.onDisk("k")!.value), "kept");
});

Deno.test("purging tombstones is seen by cached reads", () => {
  using t = fresh();
  t.s.merge(rec("gone", "", 1, true));
  assert.equal(t.s.getRecord("gone")!.deleted, true);
  assert.equal(t.s.purgeTombstones(5000), 1);
  assert.equal(t.s.getRecord("gone"), null);
});

Deno.test("a kv.db of schema 1 (rowid table) keeps its records, indexes and sequence when migrated", () => {
  const t = tempDir("kv-migrate-");
  try {
    const path = `${t.dir}/kv.db`;
    const v1 = openDatabase(path, KV_MIGRATIONS.slice(0, 1));
    // as a kunai of schema 1 wrote them (seq 1 and 2)
    for (const [seq, r] of [rec("a", "one", 10), rec("b", "two", 11, true)].entries()) {
      v1.run(
        "INSERT INTO kv (key, value, flags, modify_index, origin, modify_time, expires, deleted, seq) " +
          "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        r.key,
        r.value,
        r.flags,
        r.modify_index,
        r.origin,
        r.modify_time,
        r.expires,
        r.deleted ? 1 : 0,
        seq + 1,
      );
    }
    v1.close();
    const db = openDatabase(path, KV_MIGRATIONS);
    try {
      assert.equal(db.version, KV_MIGRATIONS.length);
      assert.match(
        db.get<{ sql: string }>("SELECT sql FROM sqlite_master WHERE name = 'kv'")!.sql,
        /WITHOUT ROWID/,
      );
      const s = new KvStorage(db);
      assert.equal(dec(s.getRecord("a")!.value), "one");
      assert.equal(s.getRecord("b")!.deleted, true);
      assert.equal(s.seq, 2, "the apply sequence continues");
      assert.deepEqual(s.changedSince(0, 10).map((r) => r.key), ["a", "b"]);
      assert.equal(s.merge(rec("a", "newer", 12)), true);
      assert.equal(s.merge(rec("a", "older", 9)), false);
      assert.equal(dec(s.getRecord("a")!.value), "newer");
    } finally {
      db.close();
    }
  } finally {
    t.cleanup();
  }
});

Deno.test("the expiry sweep asks SQLite only once a record may have expired; hints likewise", () => {
  using f = fresh();
  const s = f.s;
  const db = s.db;
  let queries = 0;
  const count = <T extends (...a: never[]) => unknown>(fn: T) =>
    ((...a: never[]) => (queries++, fn(...a))) as T;
  db.get = count(db.get.bind(db));
  db.all = count(db.all.bind(db));
  assert.deepEqual(s.expire(1_000), []);
  const first = queries;
  assert.equal(first, 1, "one look for the earliest expiry");
  for (let t = 2_000; t < 10_000; t += 1_000) assert.deepEqual(s.expire(t), []);
  assert.equal(queries, first, "nothing expires: no query per sweep");
  // a record with a ttl arriving later (replicated: merge) lowers the bound; a plain write (replace) too
  assert.equal(s.merge({ ...rec("a", "x", 5), expires: 20_000 }), true);
  s.replace({ ...rec("b", "y", 6), expires: 15_000 });
  queries = 0;
  assert.deepEqual(s.expire(14_999), []);
  assert.equal(queries, 0);
  assert.deepEqual(s.expire(15_000).map((r) => [r.key, r.deleted]), [["b", true]]);
  assert.ok(queries > 0);
  queries = 0;
  assert.deepEqual(s.expire(19_999), [], "a stays until its time");
  assert.equal(queries, 0, "the bound moved to a's expiry");
  assert.deepEqual(s.expire(25_000).map((r) => r.key), ["a"]);
  assert.equal(s.getRecord("a")!.deleted, true);
  // hints: one query says there are none; a new hint is seen at once
  queries = 0;
  assert.deepEqual(s.hints.hintTargets(), []);
  assert.deepEqual(s.hints.hintTargets(), []);
  assert.equal(queries, 1);
  s.hints.addHint("peer-1", "a");
  assert.deepEqual(s.hints.hintTargets(), ["peer-1"]);
  s.hints.removeHints("peer-1", ["a"]);
  assert.deepEqual(s.hints.hintTargets(), []);
});

Deno.test("the expiry bound is read from what a restarted node stored", () => {
  const t = tempDir("kv-expiry-");
  try {
    const s1 = new KvStorage(openDatabase(`${t.dir}/kv.db`, KV_MIGRATIONS));
    s1.replace({ ...rec("k", "v", 1), expires: 5_000 });
    s1.db.close();
    const s2 = new KvStorage(openDatabase(`${t.dir}/kv.db`, KV_MIGRATIONS));
    assert.deepEqual(s2.expire(4_999), []);
    assert.deepEqual(s2.expire(5_000).map((r) => r.key), ["k"]);
    s2.db.close();
  } finally {
    t.cleanup();
  }
});

Deno.test("a restarted node's index starts past the expiries it stored, and listings since an index find them", () => {
  const t = tempDir("kv-expiry-");
  try {
    const s1 = new KvStorage(openDatabase(`${t.dir}/kv.db`, KV_MIGRATIONS));
    s1.replace({ ...rec("k", "v", 1_000), expires: 5_000 });
    s1.replace(rec("other", "w", 2_000));
    assert.deepEqual(s1.expire(6_000).map((r) => [r.key, r.modify_index, r.deleted]), [["k", 1_000, true]]);
    assert.equal(s1.maxIndex, 5_000_000);
    assert.deepEqual(s1.scanPrefix("", { sinceIndex: 2_000 }).map((r) => r.key), ["k"]);
    assert.deepEqual(s1.scanPrefix("k", { sinceIndex: 4_999_999 }).map((r) => r.key), ["k"]);
    assert.deepEqual(s1.scanPrefix("k", { sinceIndex: 5_000_000 }), []);
    // a replica still holding the write takes the tombstone of its expiry, and not the reverse
    const live = { ...rec("k", "v", 1_000), expires: 5_000 };
    s1.replace(live);
    assert.equal(s1.merge({ ...live, value: new Uint8Array(), deleted: true }), true);
    assert.equal(s1.merge(live), false);
    assert.equal(s1.getRecord("k")!.deleted, true);
    s1.db.close();
    const s2 = new KvStorage(openDatabase(`${t.dir}/kv.db`, KV_MIGRATIONS));
    assert.equal(s2.maxIndex, 5_000_000);
    assert.deepEqual(s2.expire(10_000), [], "a tombstone is not a pending expiry");
    s2.db.close();
  } finally {
    t.cleanup();
  }
});

Deno.test({
  name: "info() counts the record cache: a coordinated write of a cached key is a hit, an absent key a miss",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const node = await startKvNode({ name: "solo", cluster: new FakeCluster() });
    try {
      node.kv.refreshRing();
      const cache = () => node.kv.info().record_cache as { entries: number; hits: number; misses: number };
      const before = cache();
      await node.kv.put("fresh/key", enc("1")); // not cached yet: the coordinator's read misses
      const afterFirst = cache();
      assert.equal(afterFirst.misses - before.misses, 1);
      await node.kv.put("fresh/key", enc("2")); // cached by the first write
      const afterSecond = cache();
      assert.equal(afterSecond.hits - afterFirst.hits, 1);
      assert.equal(afterSecond.misses, afterFirst.misses);
      assert.equal(afterSecond.entries, afterFirst.entries);
    } finally {
      await stopAll([node]);
    }
  },
});
