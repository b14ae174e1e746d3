/**
 * Local storage of records in `kv.db` (SQLite, WAL): one row per key holding the latest version
 * (value or tombstone), a local apply sequence for "changed since" anti-entropy, hints for
 * unreachable replicas and per-peer sync marks.
 *
 * ```ts
 * const s = new KvStorage(ctx.store.open("kv", KV_MIGRATIONS));
 * s.merge(record); // true when the record was newer and got stored
 * ```
 */
import type { Database } from "../store/mod.ts";
import type { Migration, SqlValue } from "../store/mod.ts";
import { expiredTombstone, type KvRecord } from "./record.ts";

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
];

/** Bounds of the record cache (entries, and bytes of keys and values). */
const CACHE_MAX_ENTRIES = 8192;
const CACHE_MAX_BYTES = 16 * 1024 * 1024;

interface Row {
  key: string;
  value: Uint8Array;
  flags: number;
  modify_index: number;
  origin: string;
  modify_time: number;
  expires: number;
  deleted: number;
  seq: number;
}

const COLS = "key, value, flags, modify_index, origin, modify_time, expires, deleted, seq";

/** A record's values in COLS order. */
function rowValues(rec: KvRecord, seq: number): SqlValue[] {
  return [
    rec.key,
    rec.value,
    rec.flags,
    rec.modify_index,
    rec.origin,
    rec.modify_time,
    rec.expires,
    rec.deleted ? 1 : 0,
    seq,
  ];
}

function toRecord(r: Row): KvRecord {
  return {
    key: r.key,
    value: r.value instanceof Uint8Array ? r.value : new Uint8Array(r.value as ArrayBufferLike),
    flags: Number(r.flags),
    modify_index: Number(r.modify_index),
    origin: r.origin,
    modify_time: Number(r.modify_time),
    expires: Number(r.expires),
    deleted: Number(r.deleted) === 1,
  };
}

/** A key's version with its local apply sequence (for changed-since pulls). */
export interface SeqVersion {
  key: string;
  modify_index: number;
  origin: string;
  seq: number;
}

/**
 * The store of one node; synchronous, every mutation in one transaction. Recently used records
 * are cached (write-through: every change to the `kv` table goes through this class, and a failed
 * transaction empties the cache), so reads and coordinated writes of hot keys skip SQLite.
 */
export class KvStorage {
  readonly db: Database;
  /** Random id of this database: a peer whose epoch changed was wiped, so sync marks restart. */
  readonly epoch: string;
  #seq: number;
  #maxIndex: number;
  /** key -> its stored record, or null when known absent. */
  #cache = new Map<string, KvRecord | null>();
  #cacheBytes = 0;

  constructor(db: Database) {
    this.db = db;
    let epoch = db.get<{ value: string }>("SELECT value FROM kv_meta WHERE name = 'epoch'")?.value;
    if (!epoch) {
      epoch = crypto.randomUUID();
      db.run("INSERT INTO kv_meta (name, value) VALUES ('epoch', ?)", epoch);
    }
    this.epoch = epoch;
    this.#seq = Number(db.get<{ s: number | null }>("SELECT MAX(seq) AS s FROM kv")?.s ?? 0);
    this.#maxIndex = Number(db.get<{ m: number | null }>("SELECT MAX(modify_index) AS m FROM kv")?.m ?? 0);
  }

  /** Highest modify_index stored (the node's global index for blocking reads). */
  get maxIndex(): number {
    return this.#maxIndex;
  }

  /** Last local apply sequence number. */
  get seq(): number {
    return this.#seq;
  }

  /** The stored record (tombstones included, expiry not applied). Shared: do not modify it. */
  getRecord(key: string): KvRecord | null {
    const hit = this.#cache.get(key);
    if (hit !== undefined) return hit;
    const r = this.db.get<Row>(`SELECT ${COLS} FROM kv WHERE key = ?`, key);
    const rec = r ? toRecord(r) : null;
    this.#remember(key, rec);
    return rec;
  }

  /** Runs `fn` in one transaction; a rollback empties the record cache (it may hold rolled-back rows). */
  transaction<T>(fn: () => T): T {
    try {
      return this.db.transaction(fn);
    } catch (err) {
      this.#forgetAll();
      throw err;
    }
  }

  #remember(key: string, rec: KvRecord | null): void {
    const old = this.#cache.get(key);
    if (old !== undefined) this.#cacheBytes -= cost(key, old);
    else if (this.#cache.size >= CACHE_MAX_ENTRIES || this.#cacheBytes >= CACHE_MAX_BYTES) this.#forgetAll();
    this.#cache.set(key, rec);
    this.#cacheBytes += cost(key, rec);
  }

  #forgetAll(): void {
    this.#cache.clear();
    this.#cacheBytes = 0;
  }

  /**
   * Stores `rec` when it is newer than what we hold (last writer wins by version).
   * Returns true when stored.
   */
  merge(rec: KvRecord): boolean {
    // one statement (its own transaction): insert, or update only when strictly newer
    const seq = this.#seq + 1;
    const r = this.db.run(
      `INSERT INTO kv (${COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (key) DO UPDATE SET value = excluded.value, flags = excluded.flags,
         modify_index = excluded.modify_index, origin = excluded.origin, modify_time = excluded.modify_time,
         expires = excluded.expires, deleted = excluded.deleted, seq = excluded.seq
       WHERE excluded.modify_index > kv.modify_index
          OR (excluded.modify_index = kv.modify_index AND excluded.origin > kv.origin)`,
      ...rowValues(rec, seq),
    );
    if (r.changes === 0) return false;
    this.#seq = seq;
    if (rec.modify_index > this.#maxIndex) this.#maxIndex = rec.modify_index;
    this.#remember(rec.key, rec);
    return true;
  }

  /** Stores `rec` whatever we hold (rollback of a refused CAS). */
  replace(rec: KvRecord): void {
    this.transaction(() => this.#write(rec));
  }

  #write(rec: KvRecord): void {
    const seq = ++this.#seq;
    this.db.run(
      `INSERT OR REPLACE INTO kv (${COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ...rowValues(rec, seq),
    );
    if (rec.modify_index > this.#maxIndex) this.#maxIndex = rec.modify_index;
    this.#remember(rec.key, rec);
  }

  /** Records whose key starts with `prefix` (tombstones included), in key order. */
  scanPrefix(prefix: string, opts: { sinceIndex?: number; limit?: number } = {}): KvRecord[] {
    const since = opts.sinceIndex ?? -1;
    const limit = opts.limit ?? -1;
    if (prefix === "") {
      return this.db.all<Row>(
        `SELECT ${COLS} FROM kv WHERE modify_index > ? ORDER BY key LIMIT ?`,
        since,
        limit,
      ).map(toRecord);
    }
    return this.db.all<Row>(
      `SELECT ${COLS} FROM kv WHERE key >= ? AND key < ? AND modify_index > ? ORDER BY key LIMIT ?`,
      prefix,
      prefixEnd(prefix),
      since,
      limit,
    ).map(toRecord);
  }

  /** Keys in order after `afterKey`, for batched full scans (handover). */
  scanAfter(afterKey: string, limit: number): KvRecord[] {
    return this.db.all<Row>(`SELECT ${COLS} FROM kv WHERE key > ? ORDER BY key LIMIT ?`, afterKey, limit)
      .map(toRecord);
  }

  /** Keys and versions applied locally after sequence `since`, oldest first (no values). */
  changedSince(since: number, limit: number): SeqVersion[] {
    return this.db.all<SeqVersion>(
      "SELECT key, modify_index, origin, seq FROM kv WHERE seq > ? ORDER BY seq LIMIT ?",
      since,
      limit,
    ).map((r) => ({
      key: r.key,
      modify_index: Number(r.modify_index),
      origin: r.origin,
      seq: Number(r.seq),
    }));
  }

  /** Turns records expired at `nowMs` into their deterministic tombstones; returns them. */
  expire(nowMs: number, limit = 1000): KvRecord[] {
    return this.transaction(() => {
      const rows = this.db.all<Row>(
        `SELECT ${COLS} FROM kv WHERE expires > 0 AND expires <= ? AND deleted = 0 LIMIT ?`,
        nowMs,
        limit,
      );
      const out = rows.map((r) => expiredTombstone(toRecord(r)));
      for (const t of out) this.#write(t);
      return out;
    });
  }

  /** Forgets tombstones older than `olderThanMs`; returns how many. */
  purgeTombstones(olderThanMs: number): number {
    const n = this.db.run("DELETE FROM kv WHERE deleted = 1 AND modify_time < ?", olderThanMs).changes;
    if (n) this.#forgetAll();
    return n;
  }

  /** Drops a key we no longer hold a copy of (after handover), if still at `version`. */
  dropIfUnchanged(rec: KvRecord): boolean {
    const dropped = this.db.run(
      "DELETE FROM kv WHERE key = ? AND modify_index = ? AND origin = ?",
      rec.key,
      rec.modify_index,
      rec.origin,
    ).changes > 0;
    if (dropped) this.#remember(rec.key, null);
    return dropped;
  }

  /** Counts for info(). */
  counts(): { keys: number; tombstones: number; hints: number } {
    const k = this.db.get<{ live: number; dead: number }>(
      "SELECT SUM(deleted = 0) AS live, SUM(deleted = 1) AS dead FROM kv",
    );
    const h = this.db.get<{ n: number }>("SELECT COUNT(*) AS n FROM kv_hints");
    return { keys: Number(k?.live ?? 0), tombstones: Number(k?.dead ?? 0), hints: Number(h?.n ?? 0) };
  }

  // --- hints: keys a replica missed, retried until delivered ---

  addHint(target: string, key: string): void {
    this.db.run("INSERT OR IGNORE INTO kv_hints (target, key) VALUES (?, ?)", target, key);
  }

  hintTargets(): string[] {
    return this.db.all<{ target: string }>("SELECT DISTINCT target FROM kv_hints").map((r) => r.target);
  }

  hintsFor(target: string, limit: number): string[] {
    return this.db.all<{ key: string }>("SELECT key FROM kv_hints WHERE target = ? LIMIT ?", target, limit)
      .map((r) => r.key);
  }

  removeHints(target: string, keys: string[]): void {
    this.db.transaction(() => {
      for (const k of keys) this.db.run("DELETE FROM kv_hints WHERE target = ? AND key = ?", target, k);
    });
  }

  dropHintsFor(target: string): void {
    this.db.run("DELETE FROM kv_hints WHERE target = ?", target);
  }

  // --- per-peer anti-entropy marks ---

  mark(peer: string): { epoch: string; seq: number } | null {
    const r = this.db.get<{ epoch: string; seq: number }>(
      "SELECT epoch, seq FROM kv_marks WHERE peer = ?",
      peer,
    );
    return r ? { epoch: r.epoch, seq: Number(r.seq) } : null;
  }

  setMark(peer: string, epoch: string, seq: number): void {
    this.db.run("INSERT OR REPLACE INTO kv_marks (peer, epoch, seq) VALUES (?, ?, ?)", peer, epoch, seq);
  }
}

/** What a cached record weighs (key, value and a fixed overhead), for the cache's bound. */
function cost(key: string, rec: KvRecord | null): number {
  return key.length + (rec ? rec.value.length : 0) + 128;
}

/** The smallest string greater than every string starting with `prefix`. */
export function prefixEnd(prefix: string): string {
  return prefix + "\u{10FFFF}";
}
