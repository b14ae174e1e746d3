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
import type { Migration } from "../store/mod.ts";
import { expiredTombstone, type KvRecord } from "./record.ts";
import { COLS, READ_COLS, type Row, ROW_IS_BAD, rowValues, toRecord } from "./rows.ts";
import { MAX_INDEX, storedProblem } from "./validate.ts";
import { WalFlush } from "./wal_flush.ts";

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
];

/** The newest log rows are never trimmed (the highest seq survives a restart with them). */
const LOG_KEEP = 1024;
/** Log seqs checked per transaction while a trim pass runs. */
const LOG_TRIM_STEP = 256;
/** A trim pass starts once the log holds this many rows more than the last pass left (or as many as it left). */
const LOG_PASS_MIN = 4096;

/** WAL size (bytes) at which a commit copies the WAL back into the database. */
const WAL_CHECKPOINT_BYTES = 32 * 1024 * 1024;

/**
 * Bounds of the record cache (entries, and bytes of keys and values). Full, it drops the sixteenth
 * it cached first (a rewritten key keeps its place: moving an entry to the end of the Map on every
 * hit cost ~0.2 µs, as much as the misses it saved): emptying it whole (as it did) served a working
 * set of 10 000 keys from an 8 192-entry cache at ~50 % hits, every miss a SQLite read (~7.7 µs) in
 * a coordinated write.
 */
const CACHE_MAX_ENTRIES = 16384;
const CACHE_MAX_BYTES = 16 * 1024 * 1024;

/** Bounds of a KvStorage's record cache (tests make them small). */
export interface CacheBounds {
  entries: number;
  bytes: number;
}

/**
 * The hot statements, built once: the store's statement cache is keyed by the SQL text, and a
 * template rebuilt per call costs a fresh string to hash and compare on every write.
 */
const SQL = {
  get: `SELECT ${READ_COLS} FROM kv WHERE key = ?`,
  merge: `INSERT INTO kv (${COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (key) DO UPDATE SET value = excluded.value, flags = excluded.flags,
         modify_index = excluded.modify_index, origin = excluded.origin, modify_time = excluded.modify_time,
         expires = excluded.expires, deleted = excluded.deleted, seq = excluded.seq
       WHERE excluded.modify_index > kv.modify_index
          OR (excluded.modify_index = kv.modify_index AND excluded.origin > kv.origin)
          OR ${ROW_IS_BAD}`,
  replace: `INSERT OR REPLACE INTO kv (${COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  scanAll: `SELECT ${READ_COLS} FROM kv WHERE modify_index > ? ORDER BY key LIMIT ?`,
  scanPrefix:
    `SELECT ${READ_COLS} FROM kv WHERE key >= ? AND key < ? AND modify_index > ? ORDER BY key LIMIT ?`,
  scanAfter: `SELECT ${READ_COLS} FROM kv WHERE key > ? ORDER BY key LIMIT ?`,
  // the log in seq order, each row kept only while it is its key's current one
  changed: `SELECT kv.key AS key, CASE WHEN typeof(kv.modify_index) = 'integer'
      AND kv.modify_index BETWEEN 0 AND ${MAX_INDEX} THEN kv.modify_index ELSE -1 END AS modify_index,
      kv.origin AS origin, l.seq AS seq
    FROM kv_log AS l CROSS JOIN kv ON kv.key = l.key AND kv.seq = l.seq
    WHERE l.seq > ? AND l.seq <= ${Number.MAX_SAFE_INTEGER} ORDER BY l.seq LIMIT ?`,
  trimLog: `DELETE FROM kv_log WHERE seq > ? AND seq <= ?
    AND NOT EXISTS (SELECT 1 FROM kv WHERE kv.key = kv_log.key AND kv.seq = kv_log.seq)`,
  earliestExpiry: "SELECT MIN(expires) AS m FROM kv WHERE expires > 0 AND deleted = 0",
  expired: `SELECT ${READ_COLS} FROM kv WHERE expires > 0 AND expires <= ? AND deleted = 0 LIMIT ?`,
};

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
/** A row that cannot be served (see validate.ts storedProblem): skipped, logged and counted. */
export type BadRowHandler = (key: string, problem: string) => void;

/** Bounds of the rows served; keys are checked up to this length whatever kv.max_key_bytes says now. */
const ROW_LIMITS = { max_key_bytes: 65536, max_value_bytes: Number.MAX_SAFE_INTEGER };

export class KvStorage {
  readonly db: Database;
  /** Random id of this database: a peer whose epoch changed was wiped, so sync marks restart. */
  readonly epoch: string;
  #seq: number;
  #maxIndex: number;
  /** key -> its stored record, or null when known absent; in the order first cached. */
  #cache = new Map<string, KvRecord | null>();
  #cacheBytes = 0;
  #bounds: CacheBounds;
  /** getRecord answers from the cache and from SQLite (for info()). */
  #hits = 0;
  #misses = 0;
  #onBad: BadRowHandler;
  #badSeen = new Set<string>();
  /** Rows skipped because they could not be served (counted once per key and process). */
  badRows = 0;
  /**
   * No live record expires before this (ms; null: unknown, ask SQLite): the sweep every second
   * runs its query only once something may have expired. Writes of records with a ttl lower it.
   */
  #nextExpiry: number | null = null;
  /** True once SQLite said there is no hint (addHint clears it): the hint timer then skips its query. */
  #noHints = false;
  /** Rows in kv_log (counted at open, then kept up to date). */
  #logRows = 0;
  /** Rows the last trim pass left (each key's current one, about). */
  #logLeft = 0;
  /** The running trim pass has checked the log up to this seq; it ends at #passEnd (0: no pass). */
  #trimAt = 0;
  #passEnd = 0;
  /** Told when work becomes due earlier than planned (a hint, a shorter TTL): see KvUpkeep. */
  onWork: ((at: number) => void) | null = null;
  #wal: WalFlush | null = null;

  constructor(
    db: Database,
    onBadRow: BadRowHandler = () => {},
    cache: CacheBounds = { entries: CACHE_MAX_ENTRIES, bytes: CACHE_MAX_BYTES },
  ) {
    this.db = db;
    this.#onBad = onBadRow;
    this.#bounds = cache;
    // checkpoint every ~32 MB of WAL instead of 4 MB: hot pages rewritten many times are copied back
    // (and the files synced) once instead of at every 4 MB; measured -10..30 % CPU per replicated write.
    // The pragma counts pages: 8000 of 4 KiB, 32 000 of 1 KiB (KV_PAGE_SIZE)
    const pageSize = db.get<{ page_size: number }>("PRAGMA page_size")?.page_size ?? 4096;
    db.exec(`PRAGMA wal_autocheckpoint = ${Math.ceil(WAL_CHECKPOINT_BYTES / pageSize)}`);
    // the file lock taken by the first transaction is kept: no lock/unlock system calls around
    // every group commit (measured: a 3-record commit 93-104 against 124-131 µs). Only this
    // agent's one connection uses kv.db (a snapshot copies it through this connection); another
    // process opening it while the agent runs gets SQLITE_BUSY. Durability is unchanged.
    db.exec("PRAGMA locking_mode = EXCLUSIVE");
    let epoch = db.get<{ value: string }>("SELECT value FROM kv_meta WHERE name = 'epoch'")?.value;
    if (!epoch) {
      epoch = crypto.randomUUID();
      db.run("INSERT INTO kv_meta (name, value) VALUES ('epoch', ?)", epoch);
    }
    this.epoch = epoch;
    // the log keeps its newest rows (LOG_KEEP): its last row is the highest seq ever applied
    this.#seq = Number(
      db.get<{ s: number | null }>(
        `SELECT MAX(seq) AS s FROM kv_log WHERE seq <= ${Number.MAX_SAFE_INTEGER}`,
      )?.s ?? 0,
    );
    this.#logRows = this.#countLog();
    this.#logLeft = this.#logRows;
    // a bad row's index (2^53 from before the bounds) must not drag every later write up to it
    this.#maxIndex = Number(
      db.get<{ m: number | null }>(
        `SELECT MAX(modify_index) AS m FROM kv WHERE typeof(modify_index) = 'integer' AND modify_index <= ${MAX_INDEX}`,
      )?.m ?? 0,
    );
  }

  /** The record of a row, or null (logged and counted) when it cannot be served. */
  #row(r: Row): KvRecord | null {
    let rec: KvRecord;
    try {
      rec = toRecord(r);
    } catch (err) {
      return this.#bad(String(r.key), (err as Error).message);
    }
    const problem = rec.modify_index < 0 || rec.expires < 0 || rec.modify_time < 0 || rec.flags < 0
      ? "a number out of range"
      : storedProblem(rec, ROW_LIMITS);
    return problem ? this.#bad(rec.key, problem) : rec;
  }

  #bad(key: string, problem: string): null {
    if (!this.#badSeen.has(key)) {
      if (this.#badSeen.size < 10_000) this.#badSeen.add(key);
      this.badRows++;
      this.#onBad(key, problem);
    }
    return null;
  }

  #rows(rows: Row[]): KvRecord[] {
    const out: KvRecord[] = [];
    for (const r of rows) {
      const rec = this.#row(r);
      if (rec) out.push(rec);
    }
    return out;
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
    if (hit !== undefined) {
      this.#hits++;
      return hit;
    }
    this.#misses++;
    const r = this.db.get<Row>(SQL.get, key);
    const rec = r ? this.#row(r) : null;
    this.#remember(key, rec);
    return rec;
  }

  /** Runs `fn` in one transaction; a rollback empties the record cache (it may hold rolled-back rows). */
  transaction<T>(fn: () => T): T {
    let out: T;
    try {
      out = this.db.transaction(() => {
        const r = fn();
        this.#trimLog();
        return r;
      });
    } catch (err) {
      this.#forgetAll();
      // rolled back: the log's rows and the trim's progress are SQLite's again (a database that
      // cannot even count keeps the old figure: the caller gets the transaction's own error)
      try {
        this.#logRows = this.#countLog();
      } catch { /* see above */ }
      this.#logLeft = Math.min(this.#logLeft, this.#logRows);
      this.#trimAt = this.#passEnd = 0;
      throw err;
    }
    this.#wal?.committed();
    return out;
  }

  /**
   * From now on the WAL is synced in the background after commits (see wal_flush.ts); `stop()`
   * ends that. Not for an in-memory database.
   */
  flushWalInBackground(onError: (err: Error) => void): WalFlush | null {
    if (this.db.path === ":memory:" || this.db.path === "") return null;
    this.#wal ??= new WalFlush(this.db.path + "-wal", onError);
    return this.#wal;
  }

  /** Ends the background WAL sync; resolves once the running one is done. */
  async stopWalFlush(): Promise<void> {
    const w = this.#wal;
    this.#wal = null;
    await w?.close();
  }

  #remember(key: string, rec: KvRecord | null): void {
    const cache = this.#cache;
    const old = cache.get(key);
    if (old !== undefined) this.#cacheBytes -= cost(key, old);
    else if (cache.size >= this.#bounds.entries || this.#cacheBytes >= this.#bounds.bytes) {
      this.#evict();
    }
    cache.set(key, rec);
    this.#cacheBytes += cost(key, rec);
  }

  /** Drops the entries cached first until the cache is a sixteenth under both bounds. */
  #evict(): void {
    const entries = this.#bounds.entries - Math.ceil(this.#bounds.entries / 16);
    const bytes = this.#bounds.bytes - Math.ceil(this.#bounds.bytes / 16);
    for (const [k, r] of this.#cache) {
      if (this.#cache.size <= entries && this.#cacheBytes <= bytes) break;
      this.#cache.delete(k);
      this.#cacheBytes -= cost(k, r);
    }
  }

  /** The record cache: entries held, and getRecord's answers from it (hits) and from SQLite (misses). */
  cacheStats(): { entries: number; hits: number; misses: number } {
    return { entries: this.#cache.size, hits: this.#hits, misses: this.#misses };
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
      SQL.merge,
      ...rowValues(rec, seq),
    );
    if (r.changes === 0) return false;
    this.#seq = seq;
    this.#logRows++;
    if (rec.modify_index > this.#maxIndex) this.#maxIndex = rec.modify_index;
    this.#remember(rec.key, rec);
    this.#noteExpiry(rec);
    return true;
  }

  /** Stores `rec` whatever we hold (rollback of a refused CAS). */
  replace(rec: KvRecord): void {
    this.transaction(() => this.#write(rec));
  }

  #write(rec: KvRecord): void {
    const seq = ++this.#seq;
    this.#logRows++;
    this.db.run(
      SQL.replace,
      ...rowValues(rec, seq),
    );
    if (rec.modify_index > this.#maxIndex) this.#maxIndex = rec.modify_index;
    this.#remember(rec.key, rec);
    this.#noteExpiry(rec);
  }

  /**
   * One step of the trim of kv_log, in the running transaction: rows whose key was written again
   * since (or dropped) go. A pass sweeps the whole log, LOG_TRIM_STEP seqs per transaction, and
   * starts once the log has grown by what the last pass left (at least LOG_PASS_MIN rows): the log
   * stays under about twice the number of keys, and each write costs about two row checks. Only
   * writes run transactions, so an idle agent never trims.
   */
  #trimLog(): void {
    if (this.#trimAt >= this.#passEnd) {
      if (this.#logRows - this.#logLeft < Math.max(this.#logLeft, LOG_PASS_MIN)) return;
      this.#trimAt = 0;
      this.#passEnd = this.#seq - LOG_KEEP;
      if (this.#passEnd <= 0) return;
    }
    const hi = Math.min(this.#trimAt + LOG_TRIM_STEP, this.#passEnd);
    this.#logRows -= this.db.run(SQL.trimLog, this.#trimAt, hi).changes;
    this.#trimAt = hi;
    if (hi >= this.#passEnd) this.#logLeft = this.#logRows;
  }

  /** Rows in the change log, as counted by this object (tests compare it with SQLite's count). */
  get logRows(): number {
    return this.#logRows;
  }

  #countLog(): number {
    return Number(this.db.get<{ n: number }>("SELECT COUNT(*) AS n FROM kv_log")?.n ?? 0);
  }

  #noteExpiry(rec: KvRecord): void {
    if (rec.expires > 0 && !rec.deleted && this.#nextExpiry !== null && rec.expires < this.#nextExpiry) {
      this.#nextExpiry = rec.expires;
      this.onWork?.(rec.expires);
    }
  }

  /** Earliest time (ms) the upkeep has work: now while hints may wait, else the next TTL expiry. */
  nextWorkAt(nowMs: number): number {
    if (!this.#noHints) return nowMs;
    if (this.#nextExpiry === null) this.#nextExpiry = this.#earliestExpiry();
    return this.#nextExpiry;
  }

  /** The earliest expiry of a live record (Infinity: none). */
  #earliestExpiry(): number {
    const m = this.db.get<{ m: unknown }>(SQL.earliestExpiry)?.m;
    return typeof m === "number" && Number.isFinite(m) ? m : Infinity;
  }

  /** Records whose key starts with `prefix` (tombstones included), in key order. */
  scanPrefix(prefix: string, opts: { sinceIndex?: number; limit?: number } = {}): KvRecord[] {
    const since = opts.sinceIndex ?? -1;
    const limit = opts.limit ?? -1;
    if (prefix === "") {
      return this.#rows(this.db.all<Row>(
        SQL.scanAll,
        since,
        limit,
      ));
    }
    return this.#rows(this.db.all<Row>(
      SQL.scanPrefix,
      prefix,
      prefixEnd(prefix),
      since,
      limit,
    ));
  }

  /** Keys in order after `afterKey`, for batched full scans (handover). */
  scanAfter(afterKey: string, limit: number): KvRecord[] {
    return this.#rows(
      this.db.all<Row>(SQL.scanAfter, afterKey, limit),
    );
  }

  /** Keys and versions applied locally after sequence `since`, oldest first (no values). */
  changedSince(since: number, limit: number): SeqVersion[] {
    return this.db.all<SeqVersion>(
      SQL.changed,
      since,
      limit,
    ).filter((r) => r.modify_index >= 0 && r.seq >= 0).map((r) => ({
      key: r.key,
      modify_index: Number(r.modify_index),
      origin: r.origin,
      seq: Number(r.seq),
    }));
  }

  /** Turns records expired at `nowMs` into their deterministic tombstones; returns them. */
  expire(nowMs: number, limit = 1000): KvRecord[] {
    if (this.#nextExpiry === null) this.#nextExpiry = this.#earliestExpiry();
    if (nowMs < this.#nextExpiry) return [];
    this.#nextExpiry = null; // asked again after this pass (a failed pass asks next time)
    const out = this.#expireNow(nowMs, limit);
    this.#nextExpiry = this.#earliestExpiry();
    return out;
  }

  #expireNow(nowMs: number, limit: number): KvRecord[] {
    return this.transaction(() => {
      const rows = this.db.all<Row>(
        SQL.expired,
        nowMs,
        limit,
      );
      const out = this.#rows(rows).map(expiredTombstone);
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
    this.#noHints = false;
    this.onWork?.(0);
    this.db.run("INSERT OR IGNORE INTO kv_hints (target, key) VALUES (?, ?)", target, key);
  }

  hintTargets(): string[] {
    if (this.#noHints) return [];
    const targets = this.db.all<{ target: string }>("SELECT DISTINCT target FROM kv_hints").map((r) =>
      r.target
    );
    this.#noHints = targets.length === 0;
    return targets;
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
