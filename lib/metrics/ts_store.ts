/**
 * The time-series store in `metrics.db` (SQLite, WAL): one row per (series, level, bucket).
 * Level 0 holds received points at its step (the last point of a bucket wins, as in whisper);
 * each coarser level is rolled up from the one before by a background pass (`rollup()`,
 * `ts_maintenance.ts`), with the metric's aggregation method, and every level is expired past its
 * retention; a series left with nothing at any level is forgotten (`ts_forget.ts`). Received
 * points wait in memory and are written, one transaction per `flush()`, to the fresh rows
 * (`ts_fresh.ts`: appended to the `fresh` table, held in memory by series), which `settle()` moves
 * into `points`, sorted by series, every few minutes (`ts_settle.ts`). The write path is here.
 *
 * A read at a coarse level covers the buckets not rolled up yet by aggregating the finer level on
 * the fly, so a 7-day graph reaches up to now (`ts_read.ts`).
 */
import { type Database, StoreFullError } from "../store/mod.ts";
import { ownString } from "../own_string.ts";
import { chunkSpan, compactable } from "./chunks.ts";
import { type AggregationMethod, bucketOf, type Level, methodFor } from "./retention.ts";
import {
  type FetchedSeries,
  initialWatermark,
  insertRows,
  MULTI_FRESH,
  MULTI_INSERT,
  ONE_FRESH,
  ONE_INSERT,
  type TsCore,
  type TsStoreOptions,
  type TsStoreStats,
} from "./ts_schema.ts";
import { fetchSeries } from "./ts_read.ts";
import { FreshRows } from "./ts_fresh.ts";
import { LateRows, lateSlices } from "./ts_late.ts";
import { repackPass } from "./ts_repack.ts";
import { loadFresh, saveSettledMax, SETTLE_ROWS, settleDue, settleFresh } from "./ts_settle.ts";
import {
  abandonPass,
  finishPass,
  lowerOldest,
  passLate,
  passOver,
  type PassWindows,
  passWindows,
  toSettle,
} from "./ts_maintenance.ts";
import { FORGET_BATCH, FORGET_PER_PASS, forgetBatch } from "./ts_forget.ts";

export { METRICS_MIGRATIONS } from "./ts_schema.ts";
export type { FetchedSeries, TsStoreOptions, TsStoreStats } from "./ts_schema.ts";
export { SETTLE_ROWS, SETTLE_S } from "./ts_settle.ts";

/**
 * A write batch this big goes straight into `points` (after settling the fresh rows, so none is
 * older than it): a Graphite or statsd burst touches its series a few points at a time either way,
 * and the fresh rows would only add their own insert (~+45 % of the store's CPU per point at 80 000
 * points/s on 10 000 series).
 */
export const DIRECT_ROWS = 10_000;

// whitespace or control characters (names are dot-separated paths)
// deno-lint-ignore no-control-regex
const BAD_NAME = /[\s\u0000-\u001f]/;

export class TimeSeriesStore {
  readonly stats: TsStoreStats = {
    points_received: 0,
    points_written: 0,
    points_out_of_range: 0,
    bad_names: 0,
    writes: 0,
    series_created: 0,
    rollups: 0,
    points_rolled: 0,
    points_expired: 0,
    points_compacted: 0,
    points_late: 0,
    chunks_repacked: 0,
    settles: 0,
    points_settled: 0,
    points_dropped: 0,
    series_refused: 0,
    series_forgotten: 0,
  };
  readonly levels: Level[];
  #db: Database;
  #opts: TsStoreOptions;
  /** name → series id, for every known series (the name index kept in memory). */
  #ids = new Map<string, number>();
  /** New names with points pending, their series not created yet (they count against `maxSeries`). */
  #newNames = new Set<string>();
  #methods = new Map<number, AggregationMethod>();
  #sortedNames: string[] | null = null;
  // pending points, column-wise (cheap to grow, no object per point)
  #pNames: string[] = [];
  #pValues: number[] = [];
  #pTs: number[] = [];
  /** The batch being written, sorted, how far, and whether straight into `points` (see flush). */
  #batch: Batch | null = null;
  /** Names whose series row the running write inserted (forgotten again if it fails). */
  #created: string[] | null = null;
  /** The last write found the disk full: points wait (up to twice maxPending) for the write timer. */
  #full = false;
  /** The state the read path and the background pass share. */
  #core: TsCore;
  /** The id after which the sweep for empty series goes on (ts_forget.ts; 0: from the start). */
  #sweepAfter = 0;

  constructor(db: Database, opts: TsStoreOptions) {
    this.#db = db;
    this.#opts = opts;
    this.levels = opts.levels;
    this.#core = {
      db,
      levels: opts.levels,
      now: opts.now,
      stats: this.stats,
      doneUntil: [],
      compactedUntil: [],
      late: new LateRows(opts.levels.length),
      passing: null,
      oldest: opts.levels.map(() => null),
      fresh: new FreshRows(opts.levels.length),
      settledMax: opts.levels.map(() => Infinity),
      method: (id, name) => this.#method(id, name),
    };
    this.#adoptRetentions();
    for (const r of db.all<{ id: number; name: string }>("SELECT id, name FROM series")) {
      this.#ids.set(r.name, r.id);
    }
    loadFresh(this.#core, this.#ids);
    this.#core.late.load(db);
    for (let i = 0; i < this.levels.length; i++) {
      const row = db.get<{ done_until: number }>("SELECT done_until FROM rollup_state WHERE level = ?", i);
      this.#core.doneUntil[i] = row?.done_until ?? initialWatermark(this.#core, i);
      const c = db.get<{ done_until: number }>("SELECT done_until FROM compact_state WHERE level = ?", i);
      const l = this.levels[i];
      this.#core.compactedUntil[i] = !compactable(l.step, l.keep)
        ? -Infinity
        : c?.done_until ?? bucketOf(Math.floor(opts.now() / 1000) - l.keep, chunkSpan(l.step));
    }
  }

  /** A changed retention list keeps the data of levels that still exist and restarts rollups. */
  #adoptRetentions(): void {
    const text = this.levels.map((l) => `${l.step}:${l.keep}`).join(",");
    const row = this.#db.get<{ value: string }>("SELECT value FROM meta WHERE key = 'retentions'");
    if (row?.value === text) return;
    this.#db.transaction(() => {
      if (row) {
        this.#db.run("DELETE FROM points WHERE level >= ?", this.levels.length);
        this.#db.run("DELETE FROM chunks WHERE level >= ?", this.levels.length);
        this.#db.run("DELETE FROM fresh WHERE level >= ?", this.levels.length);
        this.#db.run("DELETE FROM rollup_state");
        this.#db.run("DELETE FROM compact_state");
        this.#db.run("DELETE FROM late");
      }
      this.#db.run("INSERT OR REPLACE INTO meta (key, value) VALUES ('retentions', ?)", text);
    });
  }

  /** Fresh rows held (written, not settled into `points` yet). */
  get freshCount(): number {
    return this.#core.fresh.count;
  }

  /** Moves the fresh rows into `points`, all of them or per level those before `before[level]` (ts_settle.ts). */
  settle(before?: number[]): number {
    return settleFresh(this.#core, before);
  }

  /** Points waiting to be written (the rest of a batch being written included). */
  get pending(): number {
    return this.#pNames.length + (this.#batch ? this.#batch.order.length - this.#batch.next : 0);
  }

  /** Number of known series. */
  get seriesCount(): number {
    return this.#ids.size;
  }

  /**
   * Queues a point (`ts` in Unix seconds). Returns false, counting why, when the name is not
   * storable or the time is outside every level.
   */
  add(name: string, value: number, ts: number): boolean {
    this.stats.points_received++;
    // the point is checked before its name is taken: a refused point must not leave a series behind
    // (`x.<random> 1 0` lines filled max_series with names that never got a point)
    if (!Number.isFinite(value) || !Number.isFinite(ts)) {
      this.stats.points_out_of_range++;
      return false;
    }
    const nowS = this.#opts.now() / 1000;
    const last = this.levels[this.levels.length - 1];
    if (ts < nowS - last.keep || ts > nowS + (this.#opts.maxFuture ?? 600)) {
      this.stats.points_out_of_range++;
      return false;
    }
    const max = this.#opts.maxPending;
    if (this.#full && this.#pNames.length >= 2 * max) {
      this.stats.points_dropped++;
      return false;
    }
    if (!this.#ids.has(name)) {
      if (name === "" || name.length > 1024 || BAD_NAME.test(name)) {
        this.stats.bad_names++;
        return false;
      }
      // a new name is a series until all its points have expired (ts_forget.ts): a sender inventing
      // names must not grow the store without end
      if (!this.#newNames.has(name)) {
        if (this.#ids.size + this.#newNames.size >= (this.#opts.maxSeries ?? Infinity)) {
          this.stats.series_refused++;
          this.#opts.onSeriesRefused?.(name);
          return false;
        }
        name = ownString(name); // kept for good: not a view into the packet it came in
        this.#newNames.add(name);
      }
    }
    if (this.#pNames.length === 0) this.#opts.onPending?.();
    this.#pNames.push(name);
    this.#pValues.push(value);
    this.#pTs.push(Math.floor(ts));
    if (this.#pNames.length >= max && !this.#full) {
      try {
        this.flush();
      } catch (err) {
        if (!(err instanceof StoreFullError)) throw err; // the points wait; the write timer says why
      }
    }
    return true;
  }

  #idFor(name: string, nowS: number): number {
    let id = this.#ids.get(name);
    if (id === undefined) {
      id = this.#db.run("INSERT INTO series (name, created) VALUES (?, ?)", name, nowS).lastInsertRowid;
      this.#ids.set(name, id);
      this.#newNames.delete(name);
      this.#created?.push(name);
      this.#sortedNames = null;
      this.stats.series_created++;
    }
    return id;
  }

  /**
   * Writes pending points (at most `limit`) in one transaction; returns how many were written.
   *
   * All the points pending at the first call become one batch, sorted by series, level and bucket
   * (arrival order within a bucket: the later point is written last and wins), and the calls write
   * it in that order, `limit` rows at a time, before any point that arrived since. Slicing the
   * sorted batch rather than the arrivals matters for the disk: a series' newest rows share a page,
   * and a batch of 10 000 series cut into seven slices in arrival order dirtied (and wrote to the
   * WAL) each of those pages seven times.
   */
  flush(limit = Infinity): number {
    if (limit <= 0 || (!this.#batch && this.#pNames.length === 0)) return 0;
    if (!this.#batch && this.#pNames.length >= DIRECT_ROWS) this.settle();
    let n = 0;
    // what the memory holds (fresh rows, settled maxima, the batch's progress) changes only once
    // the transaction has committed: a failed one leaves it as the disk is
    let commit = () => {};
    // a new batch takes the pending points: given back if none of it could be written
    const taken = this.#batch ? null : { names: this.#pNames, values: this.#pValues, tss: this.#pTs };
    const created: string[] = [];
    this.#created = created;
    try {
      this.#db.transaction(() => {
        const b = this.#batch ??= this.#sortPending();
        const end = Math.min(b.order.length, b.next + limit);
        const slice = b.order.subarray(b.next, end);
        const apply = b.direct ? this.#writeSettled(b.rows, slice) : this.#writeRows(b.rows, slice);
        this.#core.late.save(this.#db);
        n = end - b.next;
        commit = () => {
          apply();
          if (b.next === 0) this.stats.points_late += b.late;
          b.next = end;
        };
      });
    } catch (err) {
      // the series rows this write inserted are gone: so are their ids (another series may get them)
      for (const name of created) {
        this.#methods.delete(this.#ids.get(name)!);
        this.#ids.delete(name);
      }
      if (created.length) this.#sortedNames = null;
      this.stats.series_created -= created.length;
      if (err instanceof StoreFullError) {
        // nothing of it was stored: its points wait for the next write (a later slice of a batch
        // keeps its batch; a new batch goes back to the pending points, to get its ids again)
        this.#full = true;
        if (taken) {
          this.#giveBack(taken);
          for (const name of created) this.#newNames.add(name); // still to be created, still counted
        }
      } else this.#batch = null; // as a failed write always did: its points are not retried
      throw err;
    } finally {
      this.#created = null;
    }
    this.#full = false;
    commit();
    if (this.#batch && this.#batch.next === this.#batch.order.length) this.#batch = null;
    this.stats.points_written += n;
    this.stats.writes++;
    if (this.#core.fresh.count >= SETTLE_ROWS) this.settle();
    if (limit === Infinity && this.#pNames.length > 0) return n + this.flush();
    return n;
  }

  /**
   * The pending points as rows (series, level, bucket, value) and the order to write them in (new
   * series get their ids here: call it inside a transaction).
   */
  /** Points taken for a batch none of which was written, back in front of the pending ones. */
  #giveBack(p: { names: string[]; values: number[]; tss: number[] }): void {
    this.#batch = null;
    this.#pNames = p.names.concat(this.#pNames);
    this.#pValues = p.values.concat(this.#pValues);
    this.#pTs = p.tss.concat(this.#pTs);
  }

  #sortPending(): Batch {
    const names = this.#pNames, values = this.#pValues, tss = this.#pTs;
    this.#pNames = [];
    this.#pValues = [];
    this.#pTs = [];
    const n = names.length;
    const nowS = Math.floor(this.#opts.now() / 1000);
    const levels = this.levels;
    const rows = new Float64Array(n * 4);
    const order = new Uint32Array(n);
    let late = 0;
    for (let i = 0; i < n; i++) {
      const ts = tss[i];
      // a point older than a level's history goes to the first level that still covers it
      let lv = 0;
      while (lv < levels.length - 1 && ts < nowS - levels[lv].keep) lv++;
      rows[i * 4] = this.#idFor(names[i], nowS);
      rows[i * 4 + 1] = lv;
      rows[i * 4 + 2] = bucketOf(ts, levels[lv].step);
      lowerOldest(this.#core, lv, rows[i * 4 + 2]);
      // after the pass took its time (rolled up, compacted): a later pass does it again (ts_late.ts)
      // (while a pass runs in slices, its window ends: its series may be done already)
      const core = this.#core, b = rows[i * 4 + 2], w = core.passing ?? core;
      if (b < w.compactedUntil[lv] || (lv + 1 < levels.length && b < w.doneUntil[lv + 1])) {
        core.late.mark(lv, rows[i * 4], names[i], b);
        late++;
      }
      rows[i * 4 + 3] = values[i];
      order[i] = i;
    }
    // already in order most of the time (a round of collector points comes in the order their
    // series were created): then the sort, ~3 600 interpreted comparisons a round, is skipped
    const direct = n >= DIRECT_ROWS;
    if (inOrder(rows, n)) return { rows, order, next: 0, direct, late };
    // stable: of two points of one bucket, the later one is written last and wins
    order.sort((a, b) =>
      rows[a * 4] - rows[b * 4] || rows[a * 4 + 1] - rows[b * 4 + 1] || rows[a * 4 + 2] - rows[b * 4 + 2] ||
      a - b
    );
    return { rows, order, next: 0, direct, late };
  }

  /**
   * Appends rows to the fresh rows' table, in `order`; returns what puts them in the fresh rows'
   * memory once the transaction has committed.
   */
  #writeRows(rows: Float64Array, order: Uint32Array): () => void {
    insertRows(this.#db, rows, order, MULTI_FRESH, ONE_FRESH);
    return () => {
      const fresh = this.#core.fresh;
      for (let i = 0; i < order.length; i++) {
        const r = order[i] * 4;
        fresh.put(rows[r], rows[r + 1], rows[r + 2], rows[r + 3]);
      }
    };
  }

  /**
   * Writes rows straight into `points` (a big batch, the fresh rows settled before it), in `order`;
   * returns what raises the settled maxima in memory once the transaction has committed.
   */
  #writeSettled(rows: Float64Array, order: Uint32Array): () => void {
    insertRows(this.#db, rows, order, MULTI_INSERT, ONE_INSERT);
    const max = this.#core.settledMax.slice();
    let raised = false;
    for (let i = 0; i < order.length; i++) {
      const r = order[i] * 4;
      if (rows[r + 2] > max[rows[r + 1]]) {
        max[rows[r + 1]] = rows[r + 2];
        raised = true;
      }
    }
    if (!raised) return () => {};
    saveSettledMax(this.#core, max);
    return () => void (this.#core.settledMax = max);
  }

  /** Every known name, sorted. */
  names(): string[] {
    if (!this.#sortedNames) this.#sortedNames = [...this.#ids.keys()].sort();
    return this.#sortedNames;
  }

  has(name: string): boolean {
    return this.#ids.has(name);
  }

  #method(id: number, name: string): AggregationMethod {
    let m = this.#methods.get(id);
    if (!m) this.#methods.set(id, m = methodFor(name, this.#opts.rules));
    return m;
  }

  /**
   * The series between `from` and `until` (Unix seconds) at the finest level that reaches back
   * to `from`, whisper-style: buckets after `from` up to and including `until`'s.
   */
  fetch(name: string, from: number, until: number): FetchedSeries {
    return fetchSeries(this.#core, this.#ids.get(name), name, from, until);
  }

  /**
   * One background pass at once: rolls every complete bucket of each coarser level up from the
   * finer level, then deletes points past each level's retention and forgets the series left with
   * nothing. Returns what it did.
   */
  rollup(): { rolled: number; expired: number } {
    this.flush();
    const nowS = Math.floor(this.#opts.now() / 1000);
    const windows = passWindows(this.#core, nowS);
    let r;
    try {
      settleDue(this.#core, toSettle(windows));
      r = passOver(this.#core, [...this.#ids], windows, nowS);
      const late = passLate(this.#core, windows.late, nowS);
      r.rolled += late.rolled;
      r.compacted += late.compacted;
    } catch (err) {
      abandonPass(this.#core, windows);
      throw err;
    }
    finishPass(this.#core, windows, r);
    for (const _ of this.#forgetEmpty());
    for (const _ of repackPass(this.#core));
    return { rolled: r.rolled, expired: r.expired };
  }

  /**
   * The end of a pass: forgets the series that hold nothing any more, a transaction per step
   * (FORGET_BATCH series looked at), FORGET_PER_PASS at most, going on from where the last pass
   * stopped.
   */
  *#forgetEmpty(): Generator<void> {
    const most = this.#opts.forgetPerPass ?? FORGET_PER_PASS;
    for (let budget = Math.min(most, this.#ids.size); budget > 0;) {
      const from = this.#sweepAfter;
      const limit = Math.min(FORGET_BATCH, budget);
      // taken again per step: points may have arrived, and a partly written batch holds ids
      const r = forgetBatch(this.#core, from, limit, () => this.#pendingIds());
      for (const [name, id] of r.forgotten) {
        this.#ids.delete(name);
        this.#methods.delete(id);
      }
      if (r.forgotten.length > 0) this.#sortedNames = null;
      this.stats.series_forgotten += r.forgotten.length;
      this.#sweepAfter = r.checked < limit ? 0 : r.last; // past the last id: from the start again
      budget -= r.checked;
      if (r.checked === 0 && from === 0) return;
      yield;
    }
  }

  /** Ids of the series with points waiting in memory (pending, or in the batch being written). */
  #pendingIds(): Set<number> {
    const ids = new Set<number>();
    for (const name of this.#pNames) {
      const id = this.#ids.get(name);
      if (id !== undefined) ids.add(id);
    }
    const b = this.#batch;
    if (!b) return ids;
    for (let k = b.next; k < b.order.length; k++) ids.add(b.rows[b.order[k] * 4]);
    return ids;
  }

  #rolling = false;

  /**
   * The same pass in slices of `slice` series (COMPACT_SLICE when it compacts), each its own
   * transaction, yielding to the event loop between slices so listeners keep draining their sockets.
   * A pass still running is not started twice; `stop()` true between two slices abandons it (the
   * next pass does its work; once the pass is finished, `stop()` ends only the forgetting of empty
   * series, which goes on next pass).
   */
  async rollupInSlices(
    slice = 500,
    stop: () => boolean = () => false,
  ): Promise<{ rolled: number; expired: number } | null> {
    if (this.#rolling) return null;
    this.#rolling = true;
    try {
      const nowS = Math.floor(this.#opts.now() / 1000);
      const windows = passWindows(this.#core, nowS);
      const series = [...this.#ids];
      if (windows.compact.length) slice = Math.min(slice, COMPACT_SLICE);
      this.#core.passing = passBounds(this.#core, windows);
      const total = { rolled: 0, expired: 0, compacted: 0, oldest: windows.expire.map(() => Infinity) };
      try {
        settleDue(this.#core, toSettle(windows));
        for (let i = 0; i < series.length; i += slice) {
          const r = passOver(this.#core, series.slice(i, i + slice), windows, nowS);
          total.rolled += r.rolled;
          total.expired += r.expired;
          total.compacted += r.compacted;
          r.oldest.forEach((o, k) => total.oldest[k] = Math.min(total.oldest[k], o));
          await new Promise((res) => setTimeout(res, 0));
          if (stop()) throw new PassStopped();
        }
        for (const late of lateSlices(windows.late, this.levels.map((l) => l.step))) {
          const r = passLate(this.#core, late, nowS);
          total.rolled += r.rolled;
          total.compacted += r.compacted;
          await new Promise((res) => setTimeout(res, 0));
          if (stop()) throw new PassStopped();
        }
      } catch (err) {
        abandonPass(this.#core, windows);
        if (err instanceof PassStopped) return null;
        throw err;
      }
      finishPass(this.#core, windows, total);
      for (const _ of this.#forgetEmpty()) {
        await new Promise((res) => setTimeout(res, 0));
        if (stop()) break; // the next pass goes on from here
      }
      for (const _ of repackPass(this.#core)) {
        await new Promise((res) => setTimeout(res, 0));
        if (stop()) break; // the next pass goes on from the kept place
      }
      return { rolled: total.rolled, expired: total.expired };
    } finally {
      this.#rolling = false;
      this.#core.passing = null;
    }
  }
}

/**
 * Series per slice of a pass that compacts: each moves its window's rows (360 at the finest level:
 * an hour of 10 s points) into a chunk, ~0.3-0.6 ms a series on a 2-core VM, where a plain rollup
 * takes ~10 µs. An idle agent's 403 collector series compacted in one slice of 500 held its thread
 * 110-250 ms once an hour (gossip, the API and KV writes waited); 32 keep a slice near 10-20 ms.
 */
export const COMPACT_SLICE = 32;

/** The watermarks as they will be once the pass with windows `w` is done (TsCore.passing). */
function passBounds(core: TsCore, w: PassWindows): { doneUntil: number[]; compactedUntil: number[] } {
  const doneUntil = core.doneUntil.slice(), compactedUntil = core.compactedUntil.slice();
  for (const [lv, , end] of w.rollup) doneUntil[lv] = Math.max(doneUntil[lv], end);
  for (const [lv, , end] of w.compact) compactedUntil[lv] = Math.max(compactedUntil[lv], end);
  return { doneUntil, compactedUntil };
}

/** Rows (series, level, bucket, value) to write, the order to write them in, how far, and where. */
interface Batch {
  rows: Float64Array;
  order: Uint32Array;
  next: number;
  /** Straight into `points` (DIRECT_ROWS or more), not the fresh rows. */
  direct: boolean;
  /**
   * Its points that came after the pass took their bucket's time (counted in `points_late` when
   * its first slice is written: a batch given back is sorted, and counted, again).
   */
  late: number;
}

/** True when the rows (series, level, bucket, value) are sorted by series, level and bucket. */
function inOrder(rows: Float64Array, n: number): boolean {
  for (let i = 1; i < n; i++) {
    const a = (i - 1) * 4, b = i * 4;
    const d = rows[a] - rows[b] || rows[a + 1] - rows[b + 1] || rows[a + 2] - rows[b + 2];
    if (d > 0) return false;
  }
  return true;
}

/** A rollup pass given up between slices because the service stops. */
class PassStopped extends Error {}
