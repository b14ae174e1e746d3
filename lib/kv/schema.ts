/** The schema of `kv.db`, one migration a version (lib/store runs the ones a database lacks). */
import type { Migration } from "../store/mod.ts";
import { ROW_OVERHEAD } from "./rows.ts";

export const KV_MIGRATIONS: Migration[] = [
  {
    version: 1,
    sql: `
      CREATE TABLE kv (
        key TEXT PRIMARY KEY,
        value BLOB NOT NULL,
        flags INTEGER NOT NULL DEFAULT 0,
        modify_index INTEGER NOT NULL,
        origin TEXT NOT NULL,
        modify_time INTEGER NOT NULL,
        expires INTEGER NOT NULL DEFAULT 0,
        deleted INTEGER NOT NULL DEFAULT 0,
        seq INTEGER NOT NULL
      );
      CREATE INDEX kv_seq ON kv (seq);
      CREATE INDEX kv_expires ON kv (expires) WHERE expires > 0;
      CREATE INDEX kv_tomb ON kv (modify_time) WHERE deleted = 1;
      CREATE TABLE kv_meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
      CREATE TABLE kv_hints (target TEXT NOT NULL, key TEXT NOT NULL, PRIMARY KEY (target, key));
      CREATE TABLE kv_marks (peer TEXT PRIMARY KEY, epoch TEXT NOT NULL, seq INTEGER NOT NULL);
    `,
  },
  {
    // the key is the table's own b-tree (no rowid table plus a key index): one page less written
    // per stored record, and every replicated write stores a record on three nodes
    version: 2,
    sql: `
      CREATE TABLE kv_new (
        key TEXT PRIMARY KEY,
        value BLOB NOT NULL,
        flags INTEGER NOT NULL DEFAULT 0,
        modify_index INTEGER NOT NULL,
        origin TEXT NOT NULL,
        modify_time INTEGER NOT NULL,
        expires INTEGER NOT NULL DEFAULT 0,
        deleted INTEGER NOT NULL DEFAULT 0,
        seq INTEGER NOT NULL
      ) WITHOUT ROWID;
      INSERT INTO kv_new SELECT key, value, flags, modify_index, origin, modify_time, expires, deleted, seq
        FROM kv WHERE key IS NOT NULL;
      DROP TABLE kv;
      ALTER TABLE kv_new RENAME TO kv;
      CREATE INDEX kv_seq ON kv (seq);
      CREATE INDEX kv_expires ON kv (expires) WHERE expires > 0;
      CREATE INDEX kv_tomb ON kv (modify_time) WHERE deleted = 1;
    `,
  },
  {
    // "changed since" reads a log of (seq, key) appended by triggers instead of an index on seq: a
    // write's new log row lands on the last page, shared by the whole group commit, where moving
    // the key's entry in an index rewrote a page wherever its old seq was (one more page per
    // stored record, on every copy). Rows a later write of the key made stale are trimmed in passes
    // (KvStorage.#trimLog); a join keeps only each key's current row.
    version: 3,
    sql: `
      CREATE TABLE kv_log (seq INTEGER PRIMARY KEY, key TEXT NOT NULL);
      INSERT OR REPLACE INTO kv_log (seq, key)
        SELECT seq, key FROM kv WHERE typeof(seq) = 'integer' AND seq >= 0;
      DROP INDEX kv_seq;
      CREATE TRIGGER kv_log_insert AFTER INSERT ON kv BEGIN
        INSERT OR REPLACE INTO kv_log (seq, key) VALUES (new.seq, new.key);
      END;
      CREATE TRIGGER kv_log_update AFTER UPDATE OF seq ON kv BEGIN
        INSERT OR REPLACE INTO kv_log (seq, key) VALUES (new.seq, new.key);
      END;
    `,
  },
  {
    // "changed since" is answered from memory (ChangeLog, rebuilt from each row's seq at open): the
    // log's trigger and its trim were a third of the SQLite time of a replicated write (the log's
    // own page in every commit, a row check per write in the trim). The highest seq ever applied
    // (the log's last row) moves to kv_meta, written whenever rows are deleted.
    version: 4,
    sql: `
      DROP TRIGGER kv_log_insert;
      DROP TRIGGER kv_log_update;
      INSERT OR REPLACE INTO kv_meta (name, value)
        SELECT 'seq_high', CAST(MAX(seq) AS TEXT) FROM kv_log WHERE seq <= ${Number.MAX_SAFE_INTEGER}
        HAVING MAX(seq) IS NOT NULL;
      DROP TABLE kv_log;
    `,
  },
  {
    // a TTL's tombstone keeps its expiry (record.ts expiredTombstone): the index of pending
    // expiries leaves tombstones out, or every sweep would step over all of them first
    version: 5,
    sql: `
      DROP INDEX kv_expires;
      CREATE INDEX kv_expires ON kv (expires) WHERE expires > 0 AND deleted = 0;
    `,
  },
  {
    // the index this copy's readers see a row at when not its version's (record.ts KvRecord.local_index):
    // NULL for most rows, so adding it rewrites nothing
    version: 6,
    sql: `ALTER TABLE kv ADD COLUMN local_index INTEGER;`,
  },
  {
    // values out of line (rows.ts storedInline): a row that would spill onto overflow pages keeps an
    // empty value and big = 1, its value in kv_big (a rowid table: not WITHOUT ROWID, on purpose).
    // The rows already too long move now. Deleting a row, or rewriting it inline, drops its value.
    // An upsert (not INSERT OR REPLACE, whose deletes fire no trigger) rewrites a row.
    version: 7,
    sql: `
      ALTER TABLE kv ADD COLUMN big INTEGER NOT NULL DEFAULT 0;
      CREATE TABLE kv_big (key TEXT PRIMARY KEY, value BLOB NOT NULL);
      CREATE TRIGGER kv_big_delete AFTER DELETE ON kv WHEN old.big = 1 BEGIN
        DELETE FROM kv_big WHERE key = old.key;
      END;
      CREATE TRIGGER kv_big_inline AFTER UPDATE OF big ON kv WHEN old.big = 1 AND new.big = 0 BEGIN
        DELETE FROM kv_big WHERE key = old.key;
      END;
      CREATE TEMP VIEW kv_spills AS SELECT key FROM kv
        WHERE typeof(key) = 'text' AND typeof(value) = 'blob'
          AND length(CAST(key AS BLOB)) + length(value) + length(CAST(origin AS BLOB)) + ${ROW_OVERHEAD}
            > ((SELECT page_size FROM pragma_page_size()) - 12) * 64 / 255 - 23;
      INSERT INTO kv_big (key, value) SELECT key, value FROM kv WHERE key IN (SELECT key FROM kv_spills);
      UPDATE kv SET value = x'', big = 1 WHERE key IN (SELECT key FROM kv_big);
      DROP VIEW kv_spills;
    `,
  },
];
