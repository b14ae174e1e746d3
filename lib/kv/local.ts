/**
 * This node's copy of the data: group-committed applies (last writer wins by version), the
 * hybrid-logical-clock index, expiry on read, blocking reads of a key or a prefix, and whether the
 * copy may be stale (just restarted, before an anti-entropy round reached a peer).
 */
import { setImmediate } from "node:timers";
import type { Clock } from "../clock/mod.ts";
import type { EventBus } from "../bus.ts";
import {
  compareRecords,
  compareVersion,
  expiredTombstone,
  type KvRecord,
  localIndex,
  nextIndex,
  seenIndex,
  type Version,
} from "./record.ts";
import type { KvStorage } from "./storage.ts";
import { Watchers } from "./watch.ts";
import { lagNote, lagProbeOn } from "../process_metrics/lag.ts";
import { KvError } from "./keys.ts";

/**
 * Blocking reads waiting at once on this node; one more is a 503. Each is a connection held, a
 * check at every write, and (a listing) a scan at every matching write.
 */
export const MAX_WAITERS = 1024;
/**
 * How far ahead of our clock an index may be and still be waited for: indexes are hybrid-logical-
 * clock times (ms × 1000), so another node's is at most its clock skew ahead. One further ahead
 * can never be passed: it is answered at once, as a read without an index.
 */
export const FUTURE_INDEX_MS = 60_000;

/**
 * Longest a replica holds a CAS check it granted (its coordinator's time left, usually
 * `kv.request_timeout`): a coordinator that died after its check blocks rivals' CAS of the key on
 * this copy no longer than this.
 */
export const MAX_GRANT_MS = 60_000;
/** Grants held at once; past it (expired ones dropped first) further checks are refused as busy. */
const MAX_GRANTS = 100_000;
/** Expired grants are dropped when a new one finds this many. */
const SWEEP_GRANTS_AT = 1024;
/**
 * The grant horizon kept in kv_meta runs this far past the latest grant's deadline, so that a run
 * of checks writes it about once per this period rather than with each check.
 */
export const GRANT_HORIZON_STEP_MS = 1000;
/** A restarted copy's grants are unknown: a check is answered busy, any key, until this. */
const BLIND = { modify_index: -1, origin: "" } as const;

/** One piece of work of a group commit: `work`, or merging `rec` (then announced once committed). */
interface GroupEntry {
  work: (() => unknown) | null;
  rec: KvRecord | null;
  resolve: (out: unknown) => void;
  reject: (e: Error) => void;
}

export class LocalReplica {
  readonly storage: KvStorage;
  readonly watchers = new Watchers();
  #clock: Clock;
  #bus?: EventBus;
  /** Storage work waiting for the next group commit: a function, or a record to merge. */
  #group: GroupEntry[] = [];
  #last = 0;
  #closed = false;
  #stale = false;
  #replicatedIn = 0;
  #commits = 0;
  /** The record of each CAS this node coordinates, from its check until it is stored or given up. */
  #cas = new Map<string, KvRecord>();
  /**
   * The CAS each key's check was granted to here, as a replica, until its record (or its undo)
   * arrives or its coordinator's deadline passes: a rival coordinator's check of the key meanwhile
   * is refused (`busy`), else both could be granted by this copy and both succeed.
   */
  #granted = new Map<string, { version: Version; until: number }>();
  /** Until when a grant given here may be pending, as kept in kv_meta (a restart reads it). */
  #grantHorizon: number;
  /**
   * After a restart that forgot grants which may still be pending: until then every CAS check is
   * refused as busy and this copy's own CAS give way (0: none).
   */
  #blindUntil = 0;

  constructor(storage: KvStorage, clock: Clock, bus?: EventBus) {
    this.storage = storage;
    this.#clock = clock;
    this.#bus = bus;
    // a record stored late is seen at our next index; not taken here: its row's local_index counts
    // in storage.maxIndex, so later indexes pass it all the same
    storage.freshIndex = () => nextIndex(this.currentIndex(), this.#clock.now());
    // The grants this copy gave before a restart are gone with its memory; one of them may still
    // be pending (its coordinator waits for another copy). Granting a rival's check of the key now
    // could let both CAS succeed, so checks wait for the horizon; a clock set back is bounded
    this.#grantHorizon = storage.readGrantHorizon();
    const now = clock.now();
    if (this.#grantHorizon > now) {
      this.#blindUntil = Math.min(this.#grantHorizon, now + MAX_GRANT_MS + GRANT_HORIZON_STEP_MS);
    }
  }

  /** Releases blocking reads for good (stop). */
  close(): void {
    this.#closed = true;
    this.watchers.clear();
  }

  /** True while our copy may miss writes (after a restart, until a peer was reached). */
  get stale(): boolean {
    return this.#stale;
  }

  markStale(): void {
    this.#stale = true;
  }

  markFresh(): void {
    this.#stale = false;
  }

  /** Records received by replication (for info()). */
  get replicatedIn(): number {
    return this.#replicatedIn;
  }

  /** Group commits (transactions) so far (for info()). */
  get commits(): number {
    return this.#commits;
  }

  /** Marks `rec` as the CAS write this node is coordinating for its key (replica.ts refuses rivals). */
  beginCas(rec: KvRecord): void {
    this.#cas.set(rec.key, rec);
  }

  endCas(rec: KvRecord): void {
    if (this.#cas.get(rec.key) === rec) this.#cas.delete(rec.key);
  }

  /** The CAS write of `key` this node is coordinating, if any. */
  casInFlight(key: string): KvRecord | undefined {
    return this.#cas.get(key);
  }

  /** The version of the CAS whose check of `key` this replica granted and that may still be stored. */
  casGranted(key: string): Version | undefined {
    if (this.#blindUntil) {
      if (this.#clock.now() < this.#blindUntil) return BLIND;
      this.#blindUntil = 0;
    }
    const g = this.#granted.get(key);
    if (!g) return undefined;
    if (g.until > this.#clock.now()) return g.version;
    this.#granted.delete(key);
    return undefined;
  }

  /**
   * Grants `rec`'s CAS check for `ms` (its coordinator's time left), at most MAX_GRANT_MS; false
   * when the table is full (the check is then refused as busy).
   */
  grantCas(rec: KvRecord, ms: number): boolean {
    const now = this.#clock.now();
    // grants whose record never came (a coordinator that died) go once there are many
    if (this.#granted.size >= SWEEP_GRANTS_AT) {
      for (const [k, g] of this.#granted) if (g.until <= now) this.#granted.delete(k);
    }
    if (this.#granted.size >= MAX_GRANTS && !this.#granted.has(rec.key)) return false;
    const until = now + Math.max(0, Math.min(ms, MAX_GRANT_MS));
    this.#granted.set(rec.key, { version: { modify_index: rec.modify_index, origin: rec.origin }, until });
    // stored in the check's transaction: its answer leaves once a restart would know of it
    if (until > this.#grantHorizon) {
      this.#grantHorizon = until + GRANT_HORIZON_STEP_MS;
      this.storage.writeGrantHorizon(this.#grantHorizon);
    }
    return true;
  }

  /** Until when checks are refused after a restart (0: not refusing). */
  get blindUntil(): number {
    return this.#blindUntil;
  }

  /** The granted CAS `v` of `key` was stored or given up here: rivals may be granted again. */
  releaseCas(key: string, v: Version): void {
    if (!this.#granted.size) return;
    const g = this.#granted.get(key);
    if (g && compareVersion(g.version, v) === 0) this.#granted.delete(key);
  }

  /** Grants held (bounded by MAX_GRANTS). */
  get grants(): number {
    return this.#granted.size;
  }

  countReplicated(n: number): void {
    this.#replicatedIn += n;
  }

  /** A fresh hybrid-logical-clock index, above everything seen. */
  nextIndex(): number {
    this.#last = nextIndex(Math.max(this.#last, this.storage.maxIndex), this.#clock.now());
    return this.#last;
  }

  /**
   * Highest index this node has produced or stored. Answered to readers, so a write handed its
   * index but not stored yet counts as shown (a record stored later at or below it: see
   * KvStorage.freshIndex).
   */
  currentIndex(): number {
    this.storage.noteShown(this.#last);
    return Math.max(this.#last, this.storage.maxIndex);
  }

  /**
   * Runs synchronous storage work in one transaction together with every other write of this
   * moment (coordinated writes, replicated batches): group commit, since a commit costs far more
   * than a row. Resolves with the work's result once committed; rejects (all of the group) when
   * the transaction fails.
   */
  inGroupCommit<T>(work: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.#join({ work, rec: null, resolve: resolve as (out: unknown) => void, reject });
    });
  }

  #join(entry: GroupEntry): void {
    this.#group.push(entry);
    // a deferral, not a delay: setImmediate (µs; setTimeout(0) costs ~2 ms), never the virtual clock
    if (this.#group.length === 1) setImmediate(() => this.#flushGroup());
  }

  #flushGroup(): void {
    // a checkpoint is letting the WAL start over: this group waits for it (the event loop does not)
    if (this.storage.writesHeld) return this.storage.whenWritable(() => this.#flushGroup());
    const batch = this.#group;
    this.#group = [];
    this.#commits++;
    let out: unknown[];
    const t0 = lagProbeOn() ? performance.now() : 0;
    try {
      out = this.storage.transaction(() => batch.map((b) => b.rec ? this.storage.merge(b.rec) : b.work!()));
    } catch (err) {
      for (const b of batch) b.reject(err as Error);
      return;
    }
    if (t0) lagNote("commit", performance.now() - t0, { n: batch.length });
    batch.forEach((b, i) => {
      // a merged record is announced once committed, before its writer hears back
      if (b.rec && out[i]) this.changed(b.rec);
      b.resolve(out[i]);
    });
  }

  /**
   * Stores `rec` in the next group commit; resolves once committed, true when it was newer than
   * ours (watchers and `kv.changed` are told first). One promise per write: the coordinator's hot path.
   */
  applyGrouped(rec: KvRecord): Promise<boolean> {
    return new Promise<boolean>((resolve, reject) => {
      this.#join({ work: null, rec, resolve: resolve as (out: unknown) => void, reject });
    });
  }

  /** Stores a record when newer than ours and tells watchers; true when stored. */
  apply(rec: KvRecord): boolean {
    if (!this.storage.merge(rec)) return false;
    this.changed(rec);
    return true;
  }

  /** Wakes blocking reads and emits `kv.changed`. */
  changed(rec: KvRecord): void {
    this.watchers.notify(rec.key);
    this.#bus?.emit("kv.changed", { key: rec.key, modify_index: seenIndex(rec), deleted: rec.deleted });
  }

  /** Our stored record, with an expired value turned into its tombstone first. */
  record(key: string): KvRecord | null {
    const cur = this.storage.getRecord(key);
    if (cur && !cur.deleted && cur.expires > 0 && cur.expires <= this.#clock.now()) {
      const t = expiredTombstone(cur);
      this.apply(t);
      return this.storage.getRecord(key) ?? t; // as stored: with its local index if it came late
    }
    return cur;
  }

  /**
   * Our copy of a key; with `index`, waits up to `waitMs` for a version past it, or for any other
   * version taking its place (a renewal from before an expiry this copy saw: below the index shown).
   */
  async get(
    key: string,
    index: number | undefined,
    waitMs: number,
    signal?: AbortSignal,
  ): Promise<{ record: KvRecord | null; index: number }> {
    const until = this.#clock.elapsed() + waitMs; // a wall clock step neither stretches nor cuts the wait
    index = this.#reachable(index);
    if (index !== undefined) this.storage.noteShown(index);
    let first: KvRecord | null | undefined; // undefined until read: null is "absent at the start"
    while (true) {
      const cur = this.record(key);
      if (first === undefined) first = cur;
      const remaining = until - this.#clock.elapsed();
      if (
        index === undefined || (cur && localIndex(cur) > index) || remaining <= 0 || signal?.aborted ||
        this.#closed || (cur && (!first || compareRecords(cur, first) !== 0))
      ) {
        return { record: cur, index: cur ? localIndex(cur) : this.currentIndex() };
      }
      this.#room();
      await this.watchers.wait(this.#clock, key, true, remaining, signal);
    }
  }

  /** `index`, or undefined when no write can pass it (from the future: see FUTURE_INDEX_MS). */
  #reachable(index: number | undefined): number | undefined {
    if (index === undefined) return undefined;
    return index > nextIndex(this.currentIndex(), this.#clock.now() + FUTURE_INDEX_MS) ? undefined : index;
  }

  /** Throws 503 when MAX_WAITERS blocking reads wait already. */
  #room(): void {
    if (this.watchers.size >= MAX_WAITERS) {
      throw new KvError(503, `${MAX_WAITERS} blocking reads wait on this node already: retry later`);
    }
  }

  /**
   * Our records under `prefix` (tombstones included); with `index`, waits for records seen past it
   * here (`localIndex`: a record stored late counts at the index it was stored at).
   */
  async list(
    prefix: string,
    index: number | undefined,
    waitMs: number,
    signal?: AbortSignal,
  ): Promise<{ records: KvRecord[]; index: number }> {
    const until = this.#clock.elapsed() + waitMs;
    index = this.#reachable(index);
    if (index !== undefined) this.storage.noteShown(index);
    while (true) {
      const now = this.#clock.now();
      const records = this.storage.scanPrefix(prefix, { sinceIndex: index })
        .map((r) => !r.deleted && r.expires > 0 && r.expires <= now ? expiredTombstone(r) : r);
      const remaining = until - this.#clock.elapsed();
      if (index === undefined || records.length || remaining <= 0 || signal?.aborted || this.#closed) {
        return { records, index: this.currentIndex() };
      }
      this.#room();
      await this.watchers.wait(this.#clock, prefix, false, remaining, signal);
    }
  }
}
