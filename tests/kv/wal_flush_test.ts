import assert from "node:assert/strict";
import { openDatabase } from "../../lib/store/mod.ts";
import { KV_MIGRATIONS, KvStorage } from "../../lib/kv/storage.ts";
import { WalFlush } from "../../lib/kv/wal_flush.ts";
import { tempDir } from "../helpers.ts";
import { enc } from "./kv_helpers.ts";

/** A sync that waits until released, recording the paths asked for. */
function heldSync() {
  const calls: string[] = [];
  let release: (err?: Error) => void = () => {};
  const sync = (path: string) => {
    calls.push(path);
    return new Promise<void>((resolve, reject) => {
      release = (err) => err ? reject(err) : resolve();
    });
  };
  return { calls, sync, release: (err?: Error) => release(err) };
}

Deno.test("wal flush: one sync at a time, at most one per interval", async () => {
  let now = 0;
  const h = heldSync();
  const f = new WalFlush("db-wal", () => {}, 100, h.sync, () => now);
  f.committed();
  f.committed(); // one is running
  assert.deepEqual(h.calls, ["db-wal"]);
  h.release();
  await Promise.resolve();
  await Promise.resolve();
  now = 50;
  f.committed(); // done, but under the interval
  assert.equal(h.calls.length, 1);
  now = 100;
  f.committed();
  assert.equal(h.calls.length, 2);
  h.release();
  await f.close();
  assert.equal(f.syncs, 2);
  now = 1000;
  f.committed(); // closed
  assert.equal(h.calls.length, 2);
});

Deno.test("wal flush: a missing WAL is nothing to report, other failures are, not at every commit", async () => {
  let now = 0;
  const errors: string[] = [];
  const h = heldSync();
  const f = new WalFlush("db-wal", (e) => errors.push(e.message), 10, h.sync, () => now);
  f.committed();
  h.release(new Deno.errors.NotFound("gone"));
  await f.close().catch(() => {});
  const g = new WalFlush("db-wal", (e) => errors.push(e.message), 10, h.sync, () => now);
  for (let i = 0; i < 3; i++) {
    now += 10;
    g.committed();
    h.release(new Error("EIO"));
    await new Promise((r) => setTimeout(r, 0));
  }
  assert.deepEqual(errors, ["EIO"], "the first failure is told, the next ones counted");
  assert.equal(g.failures, 3);
  assert.equal(f.failures, 0);
});

Deno.test("kv storage: commits start background syncs of the WAL until stopped", async () => {
  const t = tempDir("kv-walflush-");
  const db = openDatabase(`${t.dir}/kv.db`, KV_MIGRATIONS);
  try {
    const s = new KvStorage(db);
    const errors: Error[] = [];
    const f = s.flushWalInBackground((e) => errors.push(e));
    assert.ok(f);
    assert.equal(f.path, `${t.dir}/kv.db-wal`);
    s.transaction(() =>
      s.merge({
        key: "a",
        value: enc("one"),
        flags: 0,
        modify_index: 1,
        origin: "n",
        modify_time: 1,
        expires: 0,
        deleted: false,
      })
    );
    await s.stopWalFlush(); // waits for the sync the commit started
    assert.equal(f.syncs, 1);
    assert.deepEqual(errors, []);
    s.transaction(() =>
      s.merge({
        key: "b",
        value: enc("two"),
        flags: 0,
        modify_index: 2,
        origin: "n",
        modify_time: 1,
        expires: 0,
        deleted: false,
      })
    );
    await s.stopWalFlush();
    assert.equal(f.syncs, 1, "stopped: no more syncs");
    const memDb = openDatabase(":memory:", KV_MIGRATIONS);
    assert.equal(new KvStorage(memDb).flushWalInBackground(() => {}), null, "no WAL in memory");
    memDb.close();
  } finally {
    db.close();
    t.cleanup();
  }
});
