import assert from "node:assert/strict";
import { type Database, openDatabase } from "../../lib/store/mod.ts";
import { KV_MIGRATIONS, KvStorage } from "../../lib/kv/storage.ts";
import { tempDir } from "../helpers.ts";
import { enc, kvRecord } from "./kv_helpers.ts";

const rec = (key: string, modify_index: number, deleted = false) =>
  kvRecord(key, `v${modify_index}`, modify_index, deleted);

/** True when the schema holds a table, index or trigger of that name. */
const inSchema = (db: Database, name: string) =>
  db.get("SELECT name FROM sqlite_master WHERE name = ?", name) !== undefined;

function onDisk(path: string, migrations = KV_MIGRATIONS) {
  const db = openDatabase(path, migrations);
  const s = new KvStorage(db);
  return { db, s, [Symbol.dispose]: () => db.close() };
}

Deno.test("changed-since reports each key once, at its latest apply, in apply order", () => {
  using t = tempDir("kv-log-");
  using n = onDisk(`${t.dir}/kv.db`);
  const { s } = n;
  s.transaction(() => ["a", "b", "c"].forEach((k, i) => s.merge(rec(k, 10 + i))));
  s.transaction(() => s.merge(rec("a", 20)));
  s.merge(rec("b", 21, true)); // outside a group commit too
  assert.equal(s.merge(rec("c", 5)), false, "older: not stored, not logged");
  assert.deepEqual(
    s.changedSince(0, 10).map((r) => [r.key, r.modify_index, r.seq]),
    [["c", 12, 3], ["a", 20, 4], ["b", 21, 5]],
  );
  assert.deepEqual(s.changedSince(3, 10).map((r) => r.key), ["a", "b"]);
  assert.deepEqual(
    s.changedSince(0, 2).map((r) => r.key),
    ["c", "a"],
    "the limit counts current rows only",
  );
  assert.equal(s.purgeTombstones(5000), 1);
  assert.deepEqual(s.changedSince(0, 10).map((r) => r.key), ["c", "a"], "a purged key is gone");
});

Deno.test("the change log is compacted as keys are rewritten, and the sequence survives a restart", () => {
  using t = tempDir("kv-log-");
  const path = `${t.dir}/kv.db`;
  let idx = 100;
  {
    using n = onDisk(path);
    const { s } = n;
    for (let batch = 0; batch < 1000; batch++) {
      s.transaction(() => {
        for (let i = 0; i < 20; i++) s.merge(rec(`k${i % 3}`, ++idx));
      });
    }
    assert.equal(s.seq, 20_000);
    assert.ok(s.logEntries <= 1_100, `log compacted: ${s.logEntries} entries for 3 keys after 20 000 writes`);
    assert.deepEqual(s.changedSince(0, 10).map((r) => [r.key, r.seq]), [
      ["k2", 19_998],
      ["k0", 19_999],
      ["k1", 20_000],
    ]);
  }
  using again = onDisk(path);
  assert.equal(again.s.seq, 20_000, "the apply sequence continues after a restart");
  assert.equal(again.s.merge(rec("k0", ++idx)), true);
  assert.deepEqual(again.s.changedSince(19_999, 10).map((r) => [r.key, r.seq]), [["k1", 20_000], [
    "k0",
    20_001,
  ]]);
});

Deno.test("a rolled-back group commit leaves the change log and the sequence as they were", () => {
  using t = tempDir("kv-log-");
  using n = onDisk(`${t.dir}/kv.db`);
  const { s } = n;
  s.transaction(() => s.merge(rec("a", 1)));
  assert.throws(() =>
    s.transaction(() => {
      s.merge(rec("b", 2));
      s.merge(rec("a", 3));
      s.dropIfUnchanged(rec("a", 3));
      throw new Error("boom");
    }), /boom/);
  assert.equal(s.seq, 1);
  assert.equal(s.logEntries, 1);
  assert.deepEqual(s.changedSince(0, 10).map((r) => [r.key, r.modify_index, r.seq]), [["a", 1, 1]]);
  s.transaction(() => s.merge(rec("c", 4)));
  assert.deepEqual(s.changedSince(0, 10).map((r) => [r.key, r.seq]), [["a", 1], ["c", 2]]);
});

Deno.test("a restart never hands out again the seq of a row deleted since (a peer may have marked it)", () => {
  using t = tempDir("kv-log-");
  const path = `${t.dir}/kv.db`;
  {
    using n = onDisk(path);
    const { s } = n;
    s.transaction(() => ["a", "b", "c"].forEach((k, i) => s.merge(rec(k, 10 + i))));
    assert.equal(s.dropIfUnchanged(rec("c", 12)), true);
    s.merge(rec("d", 13, true));
    assert.equal(s.seq, 4);
    assert.equal(s.purgeTombstones(5000), 1, "d's tombstone (seq 4) purged");
    assert.deepEqual(s.changedSince(0, 10).map((r) => r.key), ["a", "b"]);
  }
  using again = onDisk(path);
  assert.equal(again.s.seq, 4, "the highest seq applied, though no row holds it any more");
  again.s.merge(rec("e", 20));
  assert.deepEqual(again.s.changedSince(2, 10).map((r) => [r.key, r.seq]), [["e", 5]]);
});

Deno.test("a kv.db of schema 2 gets its change log from its rows", () => {
  using t = tempDir("kv-log-");
  const path = `${t.dir}/kv.db`;
  const v2 = openDatabase(path, KV_MIGRATIONS.slice(0, 2));
  const put = (key: string, seq: number) =>
    v2.run(
      "INSERT INTO kv (key, value, flags, modify_index, origin, modify_time, expires, deleted, seq) " +
        "VALUES (?, ?, 0, ?, 'node-a', 1000, 0, 0, ?)",
      key,
      enc("x"),
      seq * 10,
      seq,
    );
  put("x", 7);
  put("y", 3);
  v2.close();
  using n = onDisk(path);
  assert.equal(n.db.version, KV_MIGRATIONS.length);
  assert.ok(!inSchema(n.db, "kv_seq"), "index dropped");
  assert.ok(!inSchema(n.db, "kv_log"), "log table dropped (schema 4)");
  assert.equal(n.s.seq, 7);
  assert.deepEqual(n.s.changedSince(0, 10).map((r) => [r.key, r.seq]), [["y", 3], ["x", 7]]);
  n.s.transaction(() => n.s.merge(rec("y", 100)));
  assert.deepEqual(n.s.changedSince(0, 10).map((r) => [r.key, r.seq]), [["x", 7], ["y", 8]]);
});

Deno.test("a kv.db of schema 3 keeps its highest seq when its change log table goes", () => {
  using t = tempDir("kv-log-");
  const path = `${t.dir}/kv.db`;
  {
    // rows as schema 3 wrote them (its triggers log each one)
    const v3 = openDatabase(path, KV_MIGRATIONS.slice(0, 3));
    ["x", "y", "z"].forEach((k, i) =>
      v3.run(
        "INSERT INTO kv (key, value, flags, modify_index, origin, modify_time, expires, deleted, seq) " +
          "VALUES (?, ?, 0, ?, 'node-a', 1000, 0, 0, ?)",
        k,
        enc("x"),
        10 + i,
        i + 1,
      )
    );
    v3.run("DELETE FROM kv WHERE key = 'z'"); // the row of seq 3: only the log still says 3
    v3.close();
  }
  using n = onDisk(path);
  assert.ok(!inSchema(n.db, "kv_log"), "log table dropped");
  assert.equal(n.s.seq, 3);
  assert.deepEqual(n.s.changedSince(0, 10).map((r) => [r.key, r.seq]), [["x", 1], ["y", 2]]);
  n.s.merge(rec("x", 50));
  assert.deepEqual(n.s.changedSince(1, 10).map((r) => [r.key, r.seq]), [["y", 2], ["x", 4]]);
});

Deno.test("the minute's purge runs no write transaction unless a tombstone is old enough, and sees new ones", () => {
  using t = tempDir("kv-log-");
  using n = onDisk(`${t.dir}/kv.db`);
  const { s, db } = n;
  let txs = 0;
  const tx = db.transaction.bind(db);
  db.transaction = <T>(fn: () => T): T => {
    txs++;
    return tx(fn);
  };
  const tomb = (key: string, idx: number, at: number) => ({ ...rec(key, idx, true), modify_time: at });
  s.merge(rec("live", 1));
  assert.equal(s.purgeTombstones(1e15), 0, "live keys only");
  assert.equal(txs, 0, "no transaction for a store without tombstones");
  s.merge(tomb("a", 2, 5000)); // a replicated delete, seen after the floor was read
  assert.equal(s.purgeTombstones(5000), 0, "not older than the bound: kept");
  assert.equal(txs, 0);
  assert.equal(s.purgeTombstones(5001), 1, "a tombstone written after the first purge is purged");
  assert.equal(txs, 1);
  assert.equal(s.purgeTombstones(5001), 0);
  assert.equal(txs, 1, "nothing left that old: no transaction");
  s.replace(tomb("b", 3, 7000)); // the other write path (a refused CAS rolled back)
  const before = txs;
  assert.equal(s.purgeTombstones(8000), 1, "a tombstone stored by replace() is purged too");
  assert.equal(txs, before + 1);
  assert.equal(s.getRecord("live")?.deleted, false, "live keys stay");
});

Deno.test("the purge's bound is read from the table when the store opens with tombstones", () => {
  using t = tempDir("kv-log-");
  const path = `${t.dir}/kv.db`;
  {
    using n = onDisk(path);
    n.s.merge({ ...rec("old", 1, true), modify_time: 100 });
  }
  using n = onDisk(path);
  assert.equal(n.s.purgeTombstones(100), 0);
  assert.equal(n.s.purgeTombstones(101), 1, "a tombstone from before the restart is purged");
});
