import assert from "node:assert/strict";
import { join } from "node:path";
import {
  type Database,
  DEFAULT_CACHE_KIB,
  KV_CACHE_KIB,
  KV_PAGE_SIZE,
  openDatabase,
  Store,
  StoreError,
  StoreFullError,
} from "../../lib/store/mod.ts";
import { KV_MIGRATIONS, KvStorage } from "../../lib/kv/storage.ts";
import type { KvRecord } from "../../lib/kv/record.ts";
import { tempDir } from "../helpers.ts";
import { fill } from "./fill.ts";

Deno.test("store applies numbered migrations once, in WAL mode", () => {
  const { dir, cleanup } = tempDir();
  try {
    const path = join(dir, "t.db");
    const m = [
      { version: 1, sql: "CREATE TABLE a (x INTEGER)" },
      { version: 2, sql: "ALTER TABLE a ADD COLUMN y TEXT" },
    ];
    let db = openDatabase(path, m);
    assert.equal(db.version, 2);
    assert.equal(db.get<{ journal_mode: string }>("PRAGMA journal_mode")?.journal_mode, "wal");
    db.run("INSERT INTO a VALUES (?, ?)", 1, "one");
    db.close();
    db = openDatabase(path, m);
    assert.deepEqual(db.all<{ x: number; y: string }>("SELECT x, y FROM a").map((r) => ({ ...r })), [{
      x: 1,
      y: "one",
    }]);
    db.close();
    assert.throws(() => openDatabase(path, m.slice(0, 1)), StoreError, "newer schema is refused");
    assert.throws(() => openDatabase(join(dir, "u.db"), [{ version: 2, sql: "" }]), /numbered 1..n/);
  } finally {
    cleanup();
  }
});

Deno.test("a transaction rolls back everything when it throws", () => {
  const db = openDatabase(":memory:", [{ version: 1, sql: "CREATE TABLE a (x INTEGER)" }]);
  assert.throws(() =>
    db.transaction(() => {
      db.run("INSERT INTO a VALUES (1)");
      db.transaction(() => db.run("INSERT INTO a VALUES (2)"));
      throw new Error("abort");
    })
  );
  assert.equal(db.get<{ n: number }>("SELECT count(*) AS n FROM a")?.n, 0);
  db.close();
});

Deno.test("a full disk: the write is refused with an error naming the file, and the database takes writes again", () => {
  using t = tempDir();
  const path = join(t.dir, "full.db");
  const db = openDatabase(path, [{ version: 1, sql: "CREATE TABLE a (x BLOB)" }]);
  const pages = db.get<{ page_count: number }>("PRAGMA page_count")!.page_count;
  db.exec(`PRAGMA max_page_count = ${pages + 4}`); // SQLite's SQLITE_FULL, as from a full disk
  const blob = new Uint8Array(64 * 1024);
  let err: unknown;
  try {
    db.transaction(() => {
      for (let i = 0; i < 100; i++) db.run("INSERT INTO a VALUES (?)", blob);
    });
  } catch (e) {
    err = e;
  }
  assert.ok(err instanceof StoreFullError, `not a StoreFullError: ${err}`);
  assert.equal(err.file, path);
  assert.match(
    err.message,
    /full\.db: the disk is full \(database or disk is full\); nothing of this write was stored/,
  );
  assert.equal(db.get<{ n: number }>("SELECT count(*) AS n FROM a")?.n, 0);
  // once there is room again, writes go on (no transaction left open)
  db.exec(`PRAGMA max_page_count = ${pages + 1000}`);
  db.transaction(() => db.run("INSERT INTO a VALUES (?)", blob));
  assert.equal(db.get<{ n: number }>("SELECT count(*) AS n FROM a")?.n, 1);
  db.close();
});

Deno.test("Store opens one database per name under the data dir and closes them all", () => {
  const { dir, cleanup } = tempDir();
  try {
    const s = new Store(dir);
    const a = s.open("agent");
    assert.equal(s.open("agent"), a);
    s.open("kv");
    assert.deepEqual(s.names().sort(), ["agent", "kv"]);
    s.closeAll();
    assert.equal(a.isOpen, false);
    assert.ok(Deno.statSync(join(dir, "kv.db")).isFile);
  } finally {
    cleanup();
  }
});

Deno.test("each database gets a small page cache unless its opener asks for SQLite's default", () => {
  const { dir, cleanup } = tempDir();
  try {
    const s = new Store(dir);
    const cache = (name: string) =>
      s.handle(name)?.get<{ cache_size: number }>("PRAGMA cache_size")?.cache_size;
    s.open("metrics");
    s.open("kv", [], KV_CACHE_KIB);
    assert.equal(cache("metrics"), -DEFAULT_CACHE_KIB, "negative: KiB rather than pages");
    assert.equal(cache("kv"), -KV_CACHE_KIB);
    assert.ok(DEFAULT_CACHE_KIB < KV_CACHE_KIB);
    s.closeAll();
  } finally {
    cleanup();
  }
});

Deno.test("a new KV database gets small pages; an existing one keeps its own, with the same WAL size", () => {
  const { dir, cleanup } = tempDir();
  const pragma = (db: Database, name: string) =>
    Object.values(db.get<Record<string, number>>(`PRAGMA ${name}`)!)[0];
  try {
    const fresh = new Store(join(dir, "new"));
    Deno.mkdirSync(fresh.dir);
    const kv = new KvStorage(fresh.open("kv", KV_MIGRATIONS, KV_CACHE_KIB, KV_PAGE_SIZE));
    kv.transaction(() => kv.merge(rec("a")));
    assert.equal(pragma(kv.db, "page_size"), KV_PAGE_SIZE);
    assert.equal(pragma(kv.db, "wal_autocheckpoint") * KV_PAGE_SIZE, 32 * 1024 * 1024);
    assert.equal(pragma(fresh.open("agent"), "page_size"), 4096, "other databases keep SQLite's default");
    fresh.closeAll();

    // made by an older kunai with 4 KiB pages: reopened with the KV page size, it keeps them
    const path = join(dir, "old.db");
    const made = openDatabase(path, KV_MIGRATIONS);
    made.close();
    const old = new KvStorage(openDatabase(path, KV_MIGRATIONS, KV_CACHE_KIB, KV_PAGE_SIZE));
    old.transaction(() => old.merge(rec("b")));
    assert.equal(pragma(old.db, "page_size"), 4096);
    assert.equal(pragma(old.db, "wal_autocheckpoint") * 4096, 32 * 1024 * 1024);
    assert.equal(old.getRecord("b")?.key, "b");
    old.db.close();
  } finally {
    cleanup();
  }
});

function rec(key: string): KvRecord {
  return {
    key,
    value: new Uint8Array([1, 2, 3]),
    flags: 0,
    modify_index: 1,
    origin: "n1",
    modify_time: 1,
    expires: 0,
    deleted: false,
  };
}

Deno.test("a damaged database file is refused naming it, with what to do about it", () => {
  using t = tempDir();
  const path = join(t.dir, "metrics.db");
  Deno.writeFileSync(path, new Uint8Array(8192).map((_, i) => (i * 7919) & 255));
  assert.throws(
    () => openDatabase(path, [{ version: 1, sql: "CREATE TABLE a (x)" }]),
    (err: Error) =>
      err instanceof StoreError &&
      /metrics\.db: file is not a database; the file is damaged: restore it from a snapshot \(`kunai snapshot restore FILE`\), or move it aside/
        .test(err.message),
  );
});

Deno.test("what to do about a damaged file fits the file: snapshots hold kv, metrics and checks; kv comes back", () => {
  using t = tempDir();
  const damage = (name: string) => {
    const path = join(t.dir, name);
    Deno.writeFileSync(path, new Uint8Array(8192).map((_, i) => (i * 7919) & 255));
    try {
      openDatabase(path, [{ version: 1, sql: "CREATE TABLE a (x)" }]);
    } catch (err) {
      return (err as Error).message;
    }
    return "opened";
  };
  const kv = damage("kv.db");
  assert.match(kv, /kv\.db: file is not a database; the file is damaged: restore it from a snapshot/);
  assert.match(
    kv,
    /move it aside \(with its -wal and -shm files\) and an empty one is made \(the node gets its keys back/,
  );
  const gossip = damage("gossip.db");
  assert.match(
    gossip,
    /gossip\.db: file is not a database; the file is damaged: move it aside \(with its -wal and -shm files\) and an empty one is made$/,
  );
  // a file cut short: refused at open, not at some later read
  const path = join(t.dir, "checks.db");
  const db = openDatabase(path, [{ version: 1, sql: "CREATE TABLE a (x TEXT)" }]);
  db.transaction(() => {
    for (let i = 0; i < 200; i++) db.run("INSERT INTO a VALUES (?)", "x".repeat(100));
  });
  db.close();
  Deno.truncateSync(path, 3000);
  assert.throws(
    () => openDatabase(path, [{ version: 1, sql: "CREATE TABLE a (x TEXT)" }]),
    /checks\.db: .*the file is damaged/,
  );
});

Deno.test("a full disk outside a transaction (run, exec) is a StoreFullError naming the file too", () => {
  using t = tempDir();
  const db = openDatabase(join(t.dir, "one.db"), [{ version: 1, sql: "CREATE TABLE a (x TEXT)" }]);
  fill(db, (_i, text) => db.run("INSERT INTO a VALUES (?)", text));
  assert.throws(
    () => db.run("INSERT INTO a VALUES ('y')"),
    (e) => e instanceof StoreFullError && e.file === db.path,
  );
  assert.throws(() => db.exec("INSERT INTO a VALUES ('y')"), /one\.db: the disk is full/);
  db.close();
});

Deno.test("a full disk while a database is created names the file once", () => {
  using t = tempDir();
  const path = join(t.dir, "gossip.db");
  const fills = "PRAGMA max_page_count = 3; CREATE TABLE a (x BLOB); INSERT INTO a VALUES (zeroblob(100000))";
  assert.throws(
    () => openDatabase(path, [{ version: 1, sql: fills }]),
    (e) => e instanceof StoreFullError && e.message.startsWith(`${path}: the disk is full`),
  );
});

Deno.test("an existing database's schema upgrade is logged before and after; a new file's schema is not", () => {
  const { dir, cleanup } = tempDir();
  try {
    const v1 = [{ version: 1, sql: "CREATE TABLE t (a INTEGER)" }];
    const v2 = [...v1, { version: 2, sql: "ALTER TABLE t ADD COLUMN b TEXT" }];
    const lines: string[] = [];
    const log = { info: (m: string) => void lines.push(m) };
    const first = new Store(dir, log);
    first.open("m", v1);
    first.closeAll();
    assert.deepEqual(lines, [], "a new file is made without a word");
    const second = new Store(dir, log);
    const db = second.open("m", v2);
    assert.equal(db.version, 2);
    assert.equal(lines.length, 2);
    assert.match(lines[0], /m\.db: upgrading its schema from version 1 to 2$/);
    assert.match(lines[1], /m\.db: schema version 2 in \d+ ms$/);
    second.closeAll();
    const third = new Store(dir, log);
    third.open("m", v2);
    third.closeAll();
    assert.equal(lines.length, 2, "an up-to-date file is opened without a word");
  } finally {
    cleanup();
  }
});
