/**
 * Values too long for their row's page live in kv_big (lib/kv/rows.ts storedInline): what readers
 * get is the same whichever table holds a value, and kv_big holds exactly the values of the rows
 * marked big, through every way a row changes or goes.
 */
import assert from "node:assert/strict";
import { openDatabase } from "../../lib/store/mod.ts";
import { KV_MIGRATIONS, KvStorage } from "../../lib/kv/storage.ts";
import { localPayload, ROW_OVERHEAD, storedInline } from "../../lib/kv/rows.ts";
import type { KvRecord } from "../../lib/kv/record.ts";
import { tempDir } from "../helpers.ts";
import { kvRecord } from "./kv_helpers.ts";

/** `size` bytes that differ from one `seed` to another (a mixed-up value would show). */
function bytes(size: number, seed: number): Uint8Array {
  const b = new Uint8Array(size);
  for (let i = 0; i < size; i++) b[i] = (i * 31 + seed * 7) & 0xff;
  return b;
}

function rec(key: string, value: Uint8Array, index: number, extra: Partial<KvRecord> = {}): KvRecord {
  return { ...kvRecord(key, "", index), value, ...extra };
}

/** node:sqlite's rows have no prototype: as plain objects for deepEqual. */
const plain = <T extends object>(r: T | undefined) => r === undefined ? undefined : { ...r };

function fresh(pageSize = 1024, migrations = KV_MIGRATIONS) {
  const t = tempDir("kv-big-");
  const path = `${t.dir}/kv.db`;
  const db = openDatabase(path, migrations, undefined, pageSize);
  const bad: string[] = [];
  const onBad = (key: string, problem: string) => void bad.push(`${key}: ${problem}`);
  const s = new KvStorage(db, onBad);
  /** The row as SQLite holds it, and kv_big's value of the key. */
  const raw = (key: string) => ({
    row: plain(
      db.get<{ n: number; big: number }>("SELECT length(value) AS n, big FROM kv WHERE key = ?", key),
    ),
    side: db.get<{ value: Uint8Array }>("SELECT value FROM kv_big WHERE key = ?", key)?.value,
  });
  const sideKeys = () => db.all<{ key: string }>("SELECT key FROM kv_big ORDER BY key").map((r) => r.key);
  /** A second store on the same file: reads through SQLite, not the first one's record cache. */
  const reread = (key: string) => new KvStorage(db, onBad).getRecord(key);
  return {
    s,
    db,
    path,
    bad,
    raw,
    sideKeys,
    reread,
    [Symbol.dispose]() {
      if (db.isOpen) db.close();
      t.cleanup();
    },
  };
}

Deno.test("storedInline: a row up to its page's local payload stays whole, one byte more goes out of line", () => {
  assert.equal(localPayload(1024), 230, "SQLite's index b-tree limit: ((1024 - 12) * 64 / 255) - 23");
  assert.equal(localPayload(4096), 1002);
  const at = (n: number) => rec("k", new Uint8Array(n), 1); // origin "node-a": 6 bytes
  const fits = 230 - 1 - 6 - ROW_OVERHEAD;
  assert.equal(storedInline(at(fits), 230), true);
  assert.equal(storedInline(at(fits + 1), 230), false);
  assert.equal(storedInline(rec("k".repeat(300), new Uint8Array(0), 1), 230), false, "a long key counts too");
});

Deno.test("a long value is kept in kv_big and reads back the same, by key and in listings", () => {
  using t = fresh();
  const big = bytes(200_000, 1), small = bytes(40, 2);
  assert.equal(t.s.merge(rec("app/big", big, 10)), true);
  assert.equal(t.s.merge(rec("app/small", small, 11)), true);
  assert.deepEqual(t.raw("app/big").row, { n: 0, big: 1 }, "the row keeps an empty value");
  assert.deepEqual(t.raw("app/big").side, big);
  assert.deepEqual(t.raw("app/small").row, { n: 40, big: 0 });
  assert.equal(t.raw("app/small").side, undefined, "a short value stays in its row");
  assert.deepEqual(t.reread("app/big")!.value, big, "read from SQLite");
  assert.deepEqual(t.reread("app/small")!.value, small);
  const listed = new KvStorage(t.db).scanPrefix("app/");
  assert.deepEqual(listed.map((r) => [r.key, r.value.length]), [["app/big", 200_000], ["app/small", 40]]);
  assert.deepEqual(listed[0].value, big);
  assert.deepEqual(new KvStorage(t.db).scanAfter("", 10).map((r) => r.value.length), [200_000, 40]);
  assert.deepEqual(t.bad, []);
});

Deno.test("kv_big follows every change of a row: newer, older, shorter, longer, deleted, dropped, expired", () => {
  using t = fresh();
  const v1 = bytes(5_000, 1), v2 = bytes(6_000, 2), v3 = bytes(7_000, 3);
  assert.equal(t.s.merge(rec("k", v1, 10)), true);
  assert.equal(t.s.merge(rec("k", v2, 9)), false, "an older version changes nothing");
  assert.deepEqual(t.raw("k").side, v1, "not even kv_big");
  assert.equal(t.s.merge(rec("k", v2, 11)), true);
  assert.deepEqual(t.raw("k").side, v2, "a newer long value replaces the old one");
  assert.equal(t.s.merge(rec("k", bytes(10, 4), 12)), true);
  assert.deepEqual(t.raw("k").row, { n: 10, big: 0 });
  assert.deepEqual(t.sideKeys(), [], "a short value rewritten inline drops the long one");
  assert.equal(t.s.merge(rec("k", v3, 13)), true);
  assert.deepEqual(t.raw("k").side, v3, "and a long one goes back out of line");
  assert.equal(t.s.merge(rec("k", new Uint8Array(0), 14, { deleted: true })), true);
  assert.deepEqual(t.sideKeys(), [], "a tombstone keeps no value");
  assert.equal(t.reread("k")!.deleted, true);

  // a rollback of a refused CAS (replace) and a handover's drop
  t.s.replace(rec("r", v1, 20));
  assert.deepEqual(t.raw("r").side, v1);
  t.s.replace(rec("r", bytes(3, 5), 19));
  assert.deepEqual(
    t.sideKeys(),
    [],
    "replace rewrites the row whatever its version, and drops kv_big's value",
  );
  t.s.replace(rec("r", v2, 21));
  assert.equal(t.s.dropIfUnchanged(rec("r", v2, 21)), true);
  assert.deepEqual(t.sideKeys(), [], "a dropped row takes its value with it");

  // a TTL: the expiry's tombstone
  assert.equal(t.s.merge(rec("ttl", v3, 30, { expires: 5_000 })), true);
  assert.deepEqual(t.sideKeys(), ["ttl"]);
  assert.equal(t.s.expire(6_000).length, 1);
  assert.deepEqual(t.sideKeys(), [], "the expiry's tombstone drops it");
  assert.deepEqual(t.bad, []);
});

Deno.test("a long value and its row are one write: a rolled-back transaction leaves neither", () => {
  using t = fresh();
  assert.throws(() =>
    t.s.transaction(() => {
      t.s.merge(rec("k", bytes(50_000, 1), 10));
      throw new Error("boom");
    }), /boom/);
  assert.equal(t.raw("k").row, undefined);
  assert.deepEqual(t.sideKeys(), []);
  assert.equal(t.s.getRecord("k"), null);
});

Deno.test("a long value that cannot be written leaves no row behind it (its own transaction)", () => {
  using t = fresh();
  t.db.exec(`CREATE TEMP TRIGGER refuse BEFORE INSERT ON kv_big WHEN new.key = 'full'
    BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END`);
  assert.throws(() => t.s.merge(rec("full", bytes(9_000, 1), 10)), /full/);
  assert.equal(t.raw("full").row, undefined, "the row went with the value");
  assert.equal(t.reread("full"), null);
  assert.equal(t.s.merge(rec("other", bytes(9_000, 2), 11)), true, "the store goes on");
  assert.deepEqual(t.bad, []);
});

Deno.test("a row marked big without its kv_big value is reported as a bad row, not served empty", () => {
  using t = fresh();
  t.s.merge(rec("k", bytes(9_000, 1), 10));
  t.db.run("DELETE FROM kv_big WHERE key = 'k'");
  assert.equal(t.reread("k"), null);
  assert.equal(t.bad.length, 1);
  assert.match(t.bad[0], /^k: .*missing/);
  assert.equal(t.s.merge(rec("k", bytes(9_000, 2), 11)), true, "a newer write repairs it");
  assert.deepEqual(t.reread("k")!.value, bytes(9_000, 2));
});

Deno.test("opening a database of schema 6 moves the rows too long for their page into kv_big", () => {
  const t = tempDir("kv-big-migrate-");
  try {
    const path = `${t.dir}/kv.db`;
    const old = openDatabase(path, KV_MIGRATIONS.slice(0, 6), undefined, 1024);
    const insert =
      "INSERT INTO kv (key, value, flags, modify_index, origin, modify_time, expires, deleted, seq) " +
      "VALUES (?, ?, 0, ?, 'node-a', 1000, 0, 0, ?)";
    old.run(insert, "long", bytes(100_000, 1), 10, 1);
    old.run(insert, "short", bytes(20, 2), 11, 2);
    old.run(insert, "edge", bytes(230 - 4 - 6 - ROW_OVERHEAD, 3), 12, 3); // fits exactly
    old.close();
    const db = openDatabase(path, KV_MIGRATIONS, undefined, 1024);
    try {
      assert.deepEqual(
        db.all<object>("SELECT key, big, length(value) AS n FROM kv ORDER BY key").map(plain),
        [
          { key: "edge", big: 0, n: 230 - 4 - 6 - ROW_OVERHEAD },
          { key: "long", big: 1, n: 0 },
          { key: "short", big: 0, n: 20 },
        ],
      );
      const s = new KvStorage(db);
      assert.deepEqual(s.getRecord("long")!.value, bytes(100_000, 1));
      assert.deepEqual(s.getRecord("short")!.value, bytes(20, 2));
      assert.deepEqual(s.getRecord("edge")!.value, bytes(230 - 4 - 6 - ROW_OVERHEAD, 3));
    } finally {
      db.close();
    }
  } finally {
    t.cleanup();
  }
});

Deno.test("with 4 KiB pages (a database created before 1 KiB pages) the limit follows the page", () => {
  using t = fresh(4096);
  t.s.merge(rec("mid", bytes(900, 1), 10));
  t.s.merge(rec("long", bytes(1_000, 2), 11));
  assert.deepEqual(t.raw("mid").row, { n: 900, big: 0 }, "fits a 4 KiB page's 1002 bytes");
  assert.deepEqual(t.raw("long").row, { n: 0, big: 1 });
  assert.deepEqual(t.reread("long")!.value, bytes(1_000, 2));
});
