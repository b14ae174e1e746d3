/**
 * Local storage of records in `kv.db` (SQLite, WAL): one row per key holding the latest version
 * (value or tombstone) and its local apply sequence (for "changed since" anti-entropy, answered from
 * an index in memory: see ChangeLog); hints for unreachable replicas and per-peer sync marks beside
 * them (`storage.hints`, `storage.marks`: repair_state.ts).
 *
 * ```ts
 * const s = new KvStorage(ctx.store.open("kv", KV_MIGRATIONS));
 * s.merge(record); // true when the record was newer and got stored
 * ```
 */
import type { Database } from "../store/mod.ts";
import { expiredTombstone, type KvRecord, localIndex, seenIndex } from "./record.ts";
import {
  bounded,
  COLS,
  localPayload,
  MAX_MS,
  READ_COLS,
  type Row,
  ROW_IS_BAD,
  rowValues,
  storedInline,
  toRecord,
} from "./rows.ts";
import { MAX_INDEX, storedProblem } from "./validate.ts";
import { WalFlush } from "./wal_flush.ts";
import { Checkpointer, type CheckpointerOptions, RESTART_BYTES } from "./checkpointer.ts";
import { ChangeLog } from "./change_log.ts";
import { Hints, SyncMarks } from "./repair_state.ts";

export { KV_MIGRATIONS } from "./schema.ts";

/** WAL size (bytes) at which a commit copies the WAL back into the database. */
const WAL_CHECKPOINT_BYTES = 32 * 1024 * 1024;

/** With checkpoints in a Worker, SQLite's own run in a commit only at this many times their size. */
export const CHECKPOINT_FALLBACK = 4;

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
/**
 * A row's localIndex (record.ts) is past ? (bound three times): an expiry tombstone counts at its
 * expiry, a row stored late at its local_index (NULL: none).
 */
const SEEN_AFTER = `(modify_index > ? OR local_index > ?
  OR (deleted = 1 AND expires > 0 AND MAX(modify_index + 1, expires * 1000) > ?))`;

/** Every column but the key, from the row an upsert tried to insert. */
const SET_ALL = `value = excluded.value, flags = excluded.flags,
         modify_index = excluded.modify_index, origin = excluded.origin, modify_time = excluded.modify_time,
         expires = excluded.expires, deleted = excluded.deleted, seq = excluded.seq,
         local_index = excluded.local_index, big = excluded.big`;

const SQL = {
  get: `SELECT ${READ_COLS} FROM kv WHERE key = ?`,
  merge: `INSERT INTO kv (${COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (key) DO UPDATE SET ${SET_ALL}
       WHERE excluded.modify_index > kv.modify_index
          OR (excluded.modify_index = kv.modify_index AND excluded.origin > kv.origin)
          OR (excluded.modify_index = kv.modify_index AND excluded.origin = kv.origin
              AND excluded.deleted > kv.deleted)
          OR ${ROW_IS_BAD}`,
  // an upsert, not INSERT OR REPLACE: a REPLACE's delete fires no trigger (kv_big's value would stay)
  replace: `INSERT INTO kv (${COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (key) DO UPDATE SET ${SET_ALL}`,
  /** The value of a row stored with big = 1 (rows.ts storedInline), in the same transaction. */
  putBig:
    "INSERT INTO kv_big (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
  scanAll: `SELECT ${READ_COLS} FROM kv WHERE ${SEEN_AFTER} ORDER BY key LIMIT ?`,
  scanPrefix: `SELECT ${READ_COLS} FROM kv WHERE key >= ? AND key < ? AND ${SEEN_AFTER} ORDER BY key LIMIT ?`,
  scanAfter: `SELECT ${READ_COLS} FROM kv WHERE key > ? ORDER BY key LIMIT ?`,
  // a key's version without its value (changed-since answers, for keys not cached)
  version: `SELECT ${bounded("modify_index", MAX_INDEX)}, origin FROM kv WHERE key = ?`,
  // every key's apply sequence, to rebuild the change log at open
  seqs: `SELECT key, ${bounded("seq", Number.MAX_SAFE_INTEGER)} FROM kv ORDER BY seq`,
  setSeqHigh: "INSERT OR REPLACE INTO kv_meta (name, value) VALUES ('seq_high', ?)",
  /** Until when CAS checks granted here may still be pending (local.ts: a restart refuses checks until then). */
  getGrantHorizon: "SELECT value FROM kv_meta WHERE name = 'cas_grants_until'",
  setGrantHorizon: "INSERT OR REPLACE INTO kv_meta (name, value) VALUES ('cas_grants_until', ?)",
  /** The checkpoint Worker's write that starts the WAL over (see CheckpointerOptions.restartSql). */
  walRestart: "INSERT OR REPLACE INTO kv_meta (name, value) VALUES ('wal_restart', ?)",
  purge: "DELETE FROM kv WHERE deleted = 1 AND modify_time < ? RETURNING key",
  earliestExpiry: "SELECT MIN(expires) AS m FROM kv WHERE expires > 0 AND deleted = 0",
  oldestTombstone: "SELECT MIN(modify_time) AS m FROM kv WHERE deleted = 1",
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
  /** Which key each apply sequence stored, for changed-since (see ChangeLog). */
  #log: ChangeLog;
  /** The highest seq written to kv_meta (rows deleted after it was applied must not take it back). */
  #seqHigh: number;
  /** Transactions open (KvStorage.transaction nests, as the store's does: one SQLite transaction). */
  #txDepth = 0;
  /** Largest row kept whole in `kv` (rows.ts storedInline); longer ones keep their value in kv_big. */
  readonly #inlineLimit: number;
  /** Told when work becomes due earlier than planned (a hint, a shorter TTL): see KvUpkeep. */
  onWork: ((at: number) => void) | null = null;
  #wal: WalFlush | null = null;
  #ckpt: Checkpointer | null = null;
  /** Keys a replica missed, retried until delivered (repair_state.ts). */
  readonly hints: Hints;
  /** Per-peer anti-entropy marks (repair_state.ts). */
  readonly marks: SyncMarks;

  constructor(
    db: Database,
    onBadRow: BadRowHandler = () => {},
    cache: CacheBounds = { entries: CACHE_MAX_ENTRIES, bytes: CACHE_MAX_BYTES },
  ) {
    this.db = db;
    this.#onBad = onBadRow;
    this.#bounds = cache;
    this.hints = new Hints(db, () => this.onWork?.(0));
    this.marks = new SyncMarks(db);
    // checkpoint every ~32 MB of WAL instead of 4 MB: hot pages rewritten many times are copied back
    // (and the files synced) once instead of at every 4 MB; measured -10..30 % CPU per replicated write.
    // The pragma counts pages: 8000 of 4 KiB, 32 000 of 1 KiB (KV_PAGE_SIZE)
    const pageSize = db.get<{ page_size: number }>("PRAGMA page_size")?.page_size ?? 4096;
    db.exec(`PRAGMA wal_autocheckpoint = ${Math.ceil(WAL_CHECKPOINT_BYTES / pageSize)}`);
    this.#inlineLimit = localPayload(pageSize);
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
    // every row's seq, in order; kv_meta keeps the highest seq applied when rows were deleted since
    this.#log = new ChangeLog();
    for (const r of db.all<{ key: unknown; seq: number }>(SQL.seqs)) {
      if (typeof r.key === "string" && r.seq >= 0) this.#log.set(r.key, Number(r.seq));
    }
    const high = Number(
      db.get<{ value: string }>("SELECT value FROM kv_meta WHERE name = 'seq_high'")?.value,
    );
    this.#seqHigh = Number.isSafeInteger(high) && high > 0 ? high : 0;
    this.#seq = Math.max(this.#log.last, this.#seqHigh);
    // a bad row's index (2^53 from before the bounds) must not drag every later write up to it
    this.#maxIndex = Number(
      db.get<{ m: number | null }>(
        `SELECT MAX(MAX(CASE WHEN deleted = 1 AND expires > 0 THEN MAX(modify_index + 1, expires * 1000)
           ELSE modify_index END,
           CASE WHEN typeof(local_index) = 'integer' AND local_index <= ${MAX_INDEX} THEN local_index ELSE 0 END))
           AS m FROM kv
         WHERE typeof(modify_index) = 'integer' AND modify_index <= ${MAX_INDEX}
           AND typeof(expires) = 'integer' AND expires BETWEEN 0 AND ${MAX_MS}`,
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

  /** Highest index a stored record is seen at (`localIndex`: the node's index for blocking reads). */
  get maxIndex(): number {
    return this.#maxIndex;
  }

  /**
   * Readers may know indexes up to this beyond `maxIndex` (a hybrid-logical-clock index handed out
   * before its write was stored, an index a blocking read asked for): see `freshIndex`.
   */
  #shown = 0;

  /** Notes an index a reader was answered or asked with (LocalReplica). */
  noteShown(index: number): void {
    if (index > this.#shown) this.#shown = index;
  }

  /**
   * A fresh index past `maxIndex` (LocalReplica: the next of its hybrid logical clock, not taken),
   * or null (a bare store: records are seen at their own index). A record stored whose own index
   * is not past `maxIndex` or the noted ones (a renewal from before an expiry this copy showed, a
   * replicated write overtaken by a later one, an expiry swept after later writes) is seen at it
   * instead, as if the index were the local apply order (Consul's raft index): blocking reads given
   * those indexes see the change. An index asked from a clock ahead of ours is passed once ours
   * gets there (a reader never moves the clock that stamps writes). Records in order: two compares.
   */
  freshIndex: (() => number) | null = null;

  /** `rec` as stored: with the local_index it is seen at when it comes late. */
  #asStored(rec: KvRecord): KvRecord {
    const s = seenIndex(rec);
    if (this.freshIndex !== null && (s <= this.#maxIndex || s <= this.#shown)) {
      const at = this.freshIndex();
      if (at > s) return { ...rec, local_index: at };
    }
    return rec;
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

  /**
   * Runs `fn` in one transaction. A rollback empties the record cache (it may hold rolled-back rows)
   * and takes the change log and the sequence back to where they were.
   */
  transaction<T>(fn: () => T): T {
    if (this.#txDepth > 0) return this.db.transaction(fn); // joins the outer one
    const seq = this.#seq, seqHigh = this.#seqHigh;
    this.#log.begin();
    this.#txDepth++;
    let out: T;
    try {
      out = this.db.transaction(fn);
    } catch (err) {
      this.#forgetAll();
      this.#log.rollback();
      this.#seq = seq;
      this.#seqHigh = seqHigh;
      throw err;
    } finally {
      this.#txDepth--;
    }
    this.#log.commit();
    this.#wal?.committed();
    this.#ckpt?.committed();
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

  /**
   * From now on, while the store is busy, the WAL is copied back into kv.db by a Worker (see
   * checkpointer.ts) instead of inside the commit that crosses `wal_autocheckpoint`; that one stays,
   * at CHECKPOINT_FALLBACK times the size while the Worker runs, for a Worker that failed or fell
   * behind. The connection gives up its exclusive lock (the Worker's connection needs the shared
   * one; measured: no difference in CPU per replicated write beyond the box's noise). Not for an
   * in-memory database.
   */
  checkpointInBackground(
    onError: (msg: string) => void,
    opts: CheckpointerOptions = {},
  ): Checkpointer | null {
    if (this.db.path === ":memory:" || this.db.path === "") return null;
    if (this.#ckpt) return this.#ckpt;
    const pageSize = this.db.get<{ page_size: number }>("PRAGMA page_size")?.page_size ?? 4096;
    this.db.exec("PRAGMA locking_mode = NORMAL");
    this.db.get("SELECT 1 FROM kv_meta LIMIT 1"); // the exclusive lock goes with this access
    const fallback = opts.fallbackBytes ?? CHECKPOINT_FALLBACK * (opts.restartBytes ?? RESTART_BYTES);
    const pages = (bytes: number) => Math.ceil(bytes / pageSize);
    this.#ckpt = new Checkpointer(this.db.path, pageSize, onError, {
      restartSql: SQL.walRestart,
      ...opts,
      // SQLite's own checkpoints as before while there is no Worker; only a net under it while there is
      onWorker: (running) => {
        if (this.db.isOpen) {
          this.db.exec(`PRAGMA wal_autocheckpoint = ${pages(running ? fallback : WAL_CHECKPOINT_BYTES)}`);
        }
        opts.onWorker?.(running);
      },
    });
    return this.#ckpt;
  }

  /** True while a checkpoint holds the group commits (see Checkpointer.held). */
  get writesHeld(): boolean {
    return this.#ckpt?.held ?? false;
  }

  /** Runs `fn` once group commits may go on (at once when nothing holds them). */
  whenWritable(fn: () => void): void {
    if (this.#ckpt) this.#ckpt.whenReleased(fn);
    else fn();
  }

  /** The background checkpoints' counters (null when checkpoints run in the commits). */
  checkpointStats(): Checkpointer["stats"] | null {
    return this.#ckpt ? { ...this.#ckpt.stats } : null;
  }

  /** Ends the background checkpoints (SQLite's own take over); resolves once the Worker is gone. */
  async stopCheckpoints(): Promise<void> {
    const c = this.#ckpt;
    this.#ckpt = null;
    await c?.close();
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
   * Stores `rec` when it is newer than what we hold (last writer wins: `compareRecords`).
   * Returns true when stored.
   */
  merge(rec: KvRecord): boolean {
    // one upsert (its own transaction, with the kv_big write of a long value): insert, or update only when strictly newer
    const seq = this.#seq + 1;
    const row = this.#asStored(rec);
    if (!this.#store(SQL.merge, row, seq)) return false;
    this.#seq = seq;
    this.#log.set(rec.key, seq);
    const at = localIndex(row);
    if (at > this.#maxIndex) this.#maxIndex = at;
    this.#remember(rec.key, row);
    this.#noteExpiry(rec);
    this.#noteTombstone(rec);
    return true;
  }

  /**
   * Runs the upsert `sql` for `row` at `seq`, its value out of line when the row would spill (both
   * statements in one transaction); true when the row changed.
   */
  #store(sql: string, row: KvRecord, seq: number): boolean {
    if (storedInline(row, this.#inlineLimit)) {
      return this.db.run(sql, ...rowValues(row, seq, false)).changes > 0;
    }
    return this.db.transaction(() => {
      if (this.db.run(sql, ...rowValues(row, seq, true)).changes === 0) return false;
      this.db.run(SQL.putBig, row.key, row.value);
      return true;
    });
  }

  /** Stores `rec` whatever we hold (rollback of a refused CAS). */
  replace(rec: KvRecord): void {
    this.transaction(() => this.#write(rec));
  }

  #write(rec: KvRecord): void {
    const seq = this.#seq + 1;
    const row = this.#asStored(rec);
    this.#store(SQL.replace, row, seq);
    this.#seq = seq;
    this.#log.set(rec.key, seq);
    const at = localIndex(row);
    if (at > this.#maxIndex) this.#maxIndex = at;
    this.#remember(rec.key, row);
    this.#noteExpiry(rec);
    this.#noteTombstone(rec);
  }

  /**
   * No tombstone in the table is older than this (a lower bound, Infinity: none; null: ask SQLite).
   * The minute's purge asks it first, so a store without a tombstone old enough (an idle agent's
   * empty one) runs no write transaction, and no background WAL sync after it, every minute.
   */
  #tombFloor: number | null = null;

  #noteTombstone(rec: KvRecord): void {
    if (rec.deleted && this.#tombFloor !== null && rec.modify_time < this.#tombFloor) {
      this.#tombFloor = rec.modify_time;
    }
  }

  /** Entries in the change log, stale ones included (tests check its compaction). */
  get logEntries(): number {
    return this.#log.entries;
  }

  /** Unix ms until which a CAS check granted by this copy may still be pending (0: none recorded). */
  readGrantHorizon(): number {
    const v = Number(this.db.get<{ value: string }>(SQL.getGrantHorizon)?.value);
    return Number.isSafeInteger(v) && v > 0 ? v : 0;
  }

  /** Records `ms` as the grant horizon (in the caller's transaction when there is one). */
  writeGrantHorizon(ms: number): void {
    this.db.run(SQL.setGrantHorizon, String(Math.floor(ms)));
  }

  /**
   * Before rows are deleted: the highest seq applied goes to kv_meta, so that a restart never hands
   * out again a seq a peer may have marked (the deleted row may have been the one holding it).
   */
  #keepSeqHigh(): void {
    if (this.#seq <= this.#seqHigh) return;
    this.db.run(SQL.setSeqHigh, String(this.#seq));
    this.#seqHigh = this.#seq;
  }

  #noteExpiry(rec: KvRecord): void {
    if (rec.expires > 0 && !rec.deleted && this.#nextExpiry !== null && rec.expires < this.#nextExpiry) {
      this.#nextExpiry = rec.expires;
      this.onWork?.(rec.expires);
    }
  }

  /** Earliest time (ms) the upkeep has work: now while hints may wait, else the next TTL expiry. */
  nextWorkAt(nowMs: number): number {
    if (!this.hints.noHints) return nowMs;
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
        since,
        since,
        limit,
      ));
    }
    return this.#rows(this.db.all<Row>(
      SQL.scanPrefix,
      prefix,
      prefixEnd(prefix),
      since,
      since,
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

  /**
   * Keys and versions applied locally after sequence `since`, oldest first (no values): up to
   * `limit` keys whose current version was applied after `since` (a row that cannot be served
   * counts, and is left out).
   */
  changedSince(since: number, limit: number): SeqVersion[] {
    const out: SeqVersion[] = [];
    for (const [key, seq] of this.#log.after(since, limit)) {
      // the cached record when there is one (not counted, not cached: anti-entropy pages through
      // every key and would push the hot ones out), else the row's version
      const hit = this.#cache.get(key);
      const v = hit !== undefined
        ? hit
        : this.db.get<{ modify_index: number; origin: unknown }>(SQL.version, key);
      if (!v || v.modify_index < 0 || typeof v.origin !== "string") continue;
      out.push({ key, modify_index: Number(v.modify_index), origin: v.origin, seq });
    }
    return out;
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
    if (this.#tombFloor === null) {
      const m = this.db.get<{ m: unknown }>(SQL.oldestTombstone)?.m;
      this.#tombFloor = typeof m === "number" && !Number.isNaN(m) ? m : Infinity;
    }
    if (this.#tombFloor >= olderThanMs) return 0;
    const purged = this.transaction(() => {
      this.#keepSeqHigh();
      const gone = this.db.all<{ key: unknown }>(SQL.purge, olderThanMs);
      for (const r of gone) if (typeof r.key === "string") this.#log.delete(r.key);
      if (gone.length) this.#forgetAll();
      return gone.length;
    });
    this.#tombFloor = null; // the oldest left is asked again at the next purge
    return purged;
  }

  /** Drops a key we no longer hold a copy of (after handover), if still at `version`. */
  dropIfUnchanged(rec: KvRecord): boolean {
    this.#keepSeqHigh();
    const dropped = this.db.run(
      "DELETE FROM kv WHERE key = ? AND modify_index = ? AND origin = ?",
      rec.key,
      rec.modify_index,
      rec.origin,
    ).changes > 0;
    if (dropped) {
      this.#remember(rec.key, null);
      this.#log.delete(rec.key);
    }
    return dropped;
  }

  #counted: { at: number; counts: { keys: number; tombstones: number; hints: number } } | null = null;

  /**
   * Counts for info(): a scan of the whole table, so a count at most `maxAgeMs` old is given again
   * (`/agent/info` is a read route anyone may ask in a loop).
   */
  counts(maxAgeMs = 0): { keys: number; tombstones: number; hints: number } {
    const now = performance.now();
    if (this.#counted && now - this.#counted.at <= maxAgeMs) return { ...this.#counted.counts };
    const k = this.db.get<{ live: number; dead: number }>(
      "SELECT SUM(deleted = 0) AS live, SUM(deleted = 1) AS dead FROM kv",
    );
    const h = this.db.get<{ n: number }>("SELECT COUNT(*) AS n FROM kv_hints");
    const counts = { keys: Number(k?.live ?? 0), tombstones: Number(k?.dead ?? 0), hints: Number(h?.n ?? 0) };
    this.#counted = { at: now, counts };
    return { ...counts };
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
