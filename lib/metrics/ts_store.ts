/**
 * The time-series store in `metrics.db` (SQLite, WAL): one row per (series, level, bucket).
 * Level 0 holds received points at its step (the last point of a bucket wins, as in whisper);
 * each coarser level is rolled up from the one before by a background pass (`rollup()`), with the
 * metric's aggregation method, and every level is expired past its retention. Received points
 * wait in memory and are written in one transaction per `flush()`.
 *
 * A read at a coarse level covers the buckets not rolled up yet by aggregating the finer level on
 * the fly, so a 7-day graph reaches up to now.
 */
import type { Database, Migration } from "../store/mod.ts";
import { chunkSpan, chunkValues, compactable, decodeChunk, encodeChunk, mergeRows } from "./chunks.ts";
import {
  type AggregationMethod,
  type AggregationRule,
  bucketOf,
  type Level,
  levelFor,
  methodFor,
  rollupRows,
} from "./retention.ts";

export const METRICS_MIGRATIONS: Migration[] = [{
  version: 1,
  sql: `
    CREATE TABLE series (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, created INTEGER NOT NULL);
    CREATE TABLE points (
      series INTEGER NOT NULL, level INTEGER NOT NULL, ts INTEGER NOT NULL, value REAL NOT NULL,
      PRIMARY KEY (series, level, ts)
    ) WITHOUT ROWID;
    CREATE TABLE rollup_state (level INTEGER PRIMARY KEY, done_until INTEGER NOT NULL);
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
  `,
}, {
  version: 2,
  sql: `
    CREATE TABLE chunks (
      series INTEGER NOT NULL, level INTEGER NOT NULL, start INTEGER NOT NULL, step INTEGER NOT NULL,
      data BLOB NOT NULL,
      PRIMARY KEY (series, level, start)
    ) WITHOUT ROWID;
    CREATE TABLE compact_state (level INTEGER PRIMARY KEY, done_until INTEGER NOT NULL);
  `,
}];

/** A fetched series: `values[i]` is the point at `start + i * step` (null: no data). */
export interface FetchedSeries {
  name: string;
  start: number;
  /** Exclusive. */
  end: number;
  step: number;
  values: Array<number | null>;
}

export interface TsStoreOptions {
  levels: Level[];
  rules: AggregationRule[];
  /** Milliseconds since the epoch (the injected clock). */
  now: () => number;
  /** Points held before a write is forced. */
  maxPending: number;
  /** Seconds a point may be ahead of now (clock skew). */
  maxFuture?: number;
}

export interface TsStoreStats {
  points_received: number;
  points_written: number;
  /** Older than the coarsest retention or too far in the future. */
  points_out_of_range: number;
  bad_names: number;
  writes: number;
  series_created: number;
  rollups: number;
  points_rolled: number;
  points_expired: number;
  /** Points moved from rows into chunk blobs. */
  points_compacted: number;
}

/** The work of one background pass, decided at its start. */
interface PassWindows {
  rollup: Array<[number, number, number]>;
  compact: Array<[number, number, number]>;
}

interface PassCounts {
  rolled: number;
  expired: number;
  compacted: number;
}

/** Rows per multi-row INSERT (fewer calls into SQLite per point). */
const ROWS_PER_INSERT = 64;
const ONE_INSERT = "INSERT OR REPLACE INTO points (series, level, ts, value) VALUES (?, ?, ?, ?)";
const MULTI_INSERT = "INSERT OR REPLACE INTO points (series, level, ts, value) VALUES " +
  Array(ROWS_PER_INSERT).fill("(?, ?, ?, ?)").join(", ");

const SELECT_ROWS =
  "SELECT ts, value FROM points WHERE series = ? AND level = ? AND ts >= ? AND ts < ? ORDER BY ts";

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
  };
  readonly levels: Level[];
  #db: Database;
  #opts: TsStoreOptions;
  /** name → series id, for every known series (the name index kept in memory). */
  #ids = new Map<string, number>();
  #methods = new Map<number, AggregationMethod>();
  #sortedNames: string[] | null = null;
  // pending points, column-wise (cheap to grow, no object per point)
  #pNames: string[] = [];
  #pValues: number[] = [];
  #pTs: number[] = [];
  /** Per level ≥ 1: buckets before this are rolled up. */
  #doneUntil: number[] = [];
  /** Per compactable level: spans before this are moved into chunks (-Infinity: never compacted). */
  #compactedUntil: number[] = [];

  constructor(db: Database, opts: TsStoreOptions) {
    this.#db = db;
    this.#opts = opts;
    this.levels = opts.levels;
    this.#adoptRetentions();
    for (const r of db.all<{ id: number; name: string }>("SELECT id, name FROM series")) {
      this.#ids.set(r.name, r.id);
    }
    for (let i = 0; i < this.levels.length; i++) {
      const row = db.get<{ done_until: number }>("SELECT done_until FROM rollup_state WHERE level = ?", i);
      this.#doneUntil[i] = row?.done_until ?? this.#initialWatermark(i);
      const c = db.get<{ done_until: number }>("SELECT done_until FROM compact_state WHERE level = ?", i);
      const l = this.levels[i];
      this.#compactedUntil[i] = !compactable(l.step, l.keep)
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
        this.#db.run("DELETE FROM rollup_state");
        this.#db.run("DELETE FROM compact_state");
      }
      this.#db.run("INSERT OR REPLACE INTO meta (key, value) VALUES ('retentions', ?)", text);
    });
  }

  #initialWatermark(level: number): number {
    const nowS = Math.floor(this.#opts.now() / 1000);
    return bucketOf(nowS - this.levels[Math.max(0, level - 1)].keep, this.levels[level].step);
  }

  /** Points waiting for the next flush. */
  get pending(): number {
    return this.#pNames.length;
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
    if (!this.#ids.has(name) && (name === "" || name.length > 1024 || BAD_NAME.test(name))) {
      this.stats.bad_names++;
      return false;
    }
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
    this.#pNames.push(name);
    this.#pValues.push(value);
    this.#pTs.push(Math.floor(ts));
    if (this.#pNames.length >= this.#opts.maxPending) this.flush();
    return true;
  }

  #idFor(name: string, nowS: number): number {
    let id = this.#ids.get(name);
    if (id === undefined) {
      id = this.#db.run("INSERT INTO series (name, created) VALUES (?, ?)", name, nowS).lastInsertRowid;
      this.#ids.set(name, id);
      this.#sortedNames = null;
      this.stats.series_created++;
    }
    return id;
  }

  /** Writes the pending points (at most `limit`) in one transaction; returns how many were written. */
  flush(limit = Infinity): number {
    const n = Math.min(this.#pNames.length, limit);
    if (n === 0) return 0;
    let names = this.#pNames, values = this.#pValues, tss = this.#pTs;
    if (n === names.length) {
      this.#pNames = [];
      this.#pValues = [];
      this.#pTs = [];
    } else {
      // the oldest `limit` points now, the rest at the next call
      names = this.#pNames.splice(0, n);
      values = this.#pValues.splice(0, n);
      tss = this.#pTs.splice(0, n);
    }
    const nowS = Math.floor(this.#opts.now() / 1000);
    const levels = this.levels;
    this.#db.transaction(() => {
      // rows as (series, level, bucket, value), sorted so inserts walk the index in order
      const rows = new Float64Array(n * 4);
      const order = new Uint32Array(n);
      for (let i = 0; i < n; i++) {
        const ts = tss[i];
        // a point older than a level's history goes to the first level that still covers it
        let lv = 0;
        while (lv < levels.length - 1 && ts < nowS - levels[lv].keep) lv++;
        rows[i * 4] = this.#idFor(names[i], nowS);
        rows[i * 4 + 1] = lv;
        rows[i * 4 + 2] = bucketOf(ts, levels[lv].step);
        rows[i * 4 + 3] = values[i];
        order[i] = i;
      }
      // stable: of two points of one bucket, the later one is written last and wins
      order.sort((a, b) =>
        rows[a * 4] - rows[b * 4] || rows[a * 4 + 1] - rows[b * 4 + 1] || rows[a * 4 + 2] - rows[b * 4 + 2] ||
        a - b
      );
      this.#writeRows(rows, order);
    });
    this.stats.points_written += n;
    this.stats.writes++;
    return n;
  }

  #writeRows(rows: Float64Array, order: Uint32Array): void {
    const many = this.#db.statement(MULTI_INSERT);
    const one = this.#db.statement(ONE_INSERT);
    const params: number[] = new Array(ROWS_PER_INSERT * 4);
    let i = 0;
    for (; i + ROWS_PER_INSERT <= order.length; i += ROWS_PER_INSERT) {
      for (let k = 0; k < ROWS_PER_INSERT; k++) {
        const r = order[i + k] * 4;
        params[k * 4] = rows[r];
        params[k * 4 + 1] = rows[r + 1];
        params[k * 4 + 2] = rows[r + 2];
        params[k * 4 + 3] = rows[r + 3];
      }
      many.run(...params);
    }
    for (; i < order.length; i++) {
      const r = order[i] * 4;
      one.run(rows[r], rows[r + 1], rows[r + 2], rows[r + 3]);
    }
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
    const nowS = Math.floor(this.#opts.now() / 1000);
    const level = levelFor(this.levels, nowS, from);
    const step = this.levels[level].step;
    const start = bucketOf(from, step) + step;
    const end = Math.max(start, bucketOf(until, step) + step);
    const values: Array<number | null> = new Array((end - start) / step).fill(null);
    const id = this.#ids.get(name);
    if (id === undefined) return { name, start, end, step, values };
    if (level === 0 || end <= this.#doneUntil[level]) {
      // the common case, straight into `values`: chunk blobs first, then rows (a row wins)
      this.#fillFromChunks(id, level, start, end, values);
      for (const [ts, v] of this.#rows(id, level, start, end)) {
        const i = Math.floor((ts - start) / step);
        if (i >= 0 && i < values.length) values[i] = v;
      }
      return { name, start, end, step, values };
    }
    for (const [ts, v] of this.#readLevel(id, name, level, start, end)) {
      const i = (ts - start) / step;
      if (i >= 0 && i < values.length) values[i] = v;
    }
    return { name, start, end, step, values };
  }

  /** Copies the chunk values of [start, end) into `values` (index = (ts - start) / level step). */
  #fillFromChunks(id: number, level: number, start: number, end: number, values: Array<number | null>): void {
    if (this.#compactedUntil[level] === -Infinity || start >= this.#compactedUntil[level]) return;
    const step = this.levels[level].step;
    const span = chunkSpan(step);
    const chunks = this.#db.all<{ start: number; step: number; data: Uint8Array }>(
      "SELECT start, step, data FROM chunks WHERE series = ? AND level = ? AND start >= ? AND start < ? ORDER BY start",
      id,
      level,
      bucketOf(start, span) - span,
      end,
    );
    for (const c of chunks) {
      if (c.step !== step) {
        for (const [ts, v] of decodeChunk(c.start, c.step, c.data, start, end)) {
          const i = Math.floor((ts - start) / step);
          if (i >= 0 && i < values.length) values[i] = v;
        }
        continue;
      }
      const floats = chunkValues(c.data);
      const offset = (c.start - start) / step;
      const lo = Math.max(0, -offset), hi = Math.min(floats.length, values.length - offset);
      for (let k = lo; k < hi; k++) {
        const v = floats[k];
        if (v === v) values[offset + k] = v; // not NaN
      }
    }
  }

  /** Rows of a level in [start, end), completing not-yet-rolled buckets from the finer level. */
  #readLevel(id: number, name: string, level: number, start: number, end: number): Array<[number, number]> {
    const rows = this.#levelRows(id, level, start, end);
    if (level === 0) return rows;
    const done = this.#doneUntil[level];
    if (end <= done) return rows;
    const from = Math.max(start, done);
    const kept = rows.filter(([ts]) => ts < from);
    const finer = this.#readLevel(id, name, level - 1, from, end);
    return kept.concat(rollupRows(finer, this.levels[level].step, this.#method(id, name)));
  }

  /** Points of one series and level in [start, end) from chunks and rows (a row wins), in time order. */
  #levelRows(id: number, level: number, start: number, end: number): Array<[number, number]> {
    const rows = this.#rows(id, level, start, end);
    if (this.#compactedUntil[level] === -Infinity || start >= this.#compactedUntil[level]) return rows;
    const span = chunkSpan(this.levels[level].step);
    const chunks = this.#db.all<{ start: number; step: number; data: Uint8Array }>(
      "SELECT start, step, data FROM chunks WHERE series = ? AND level = ? AND start >= ? AND start < ? ORDER BY start",
      id,
      level,
      bucketOf(start, span) - span,
      end,
    );
    if (chunks.length === 0) return rows;
    const fromChunks = chunks.flatMap((c) => decodeChunk(c.start, c.step, c.data, start, end));
    return mergeRows(fromChunks, rows);
  }

  /** `[ts, value]` rows of one series and level in [start, end), in time order. */
  #rows(id: number, level: number, start: number, end: number): Array<[number, number]> {
    const stmt = this.#db.statement(SELECT_ROWS) as unknown as {
      setReturnArrays?: (on: boolean) => void;
      all(...p: number[]): unknown[];
    };
    if (stmt.setReturnArrays) {
      // rows come back as [ts, value] arrays: no object per row
      stmt.setReturnArrays(true);
      return stmt.all(id, level, start, end) as Array<[number, number]>;
    }
    return (stmt.all(id, level, start, end) as Array<{ ts: number; value: number }>).map((
      r,
    ) => [r.ts, r.value]);
  }

  /** The window of complete buckets each coarser level rolls up now: `[level, from, end]`. */
  #rollupWindows(nowS: number): Array<[number, number, number]> {
    const out: Array<[number, number, number]> = [];
    for (let lv = 1; lv < this.levels.length; lv++) {
      // a bucket is complete once the finer level's last bucket in it can no longer change
      const end = bucketOf(nowS - 2 * this.levels[lv - 1].step, this.levels[lv].step);
      const from = Math.max(this.#doneUntil[lv], this.#initialWatermark(lv));
      if (end > from) out.push([lv, from, end]);
    }
    return out;
  }

  /** Rolls up and expires the given series (one transaction); returns the counts. */
  /** Spans of each compactable level complete enough to become chunks: `[level, from, end]`. */
  #compactWindows(nowS: number): Array<[number, number, number]> {
    const out: Array<[number, number, number]> = [];
    for (let lv = 0; lv < this.levels.length; lv++) {
      if (this.#compactedUntil[lv] === -Infinity) continue;
      const span = chunkSpan(this.levels[lv].step);
      const end = bucketOf(nowS - 2 * this.levels[lv].step, span);
      if (end > this.#compactedUntil[lv]) out.push([lv, this.#compactedUntil[lv], end]);
    }
    return out;
  }

  /** Moves one series' rows of a complete window into chunk blobs (merging a chunk already there). */
  #compact(id: number, lv: number, from: number, end: number): number {
    const rows = this.#rows(id, lv, from, end);
    if (rows.length === 0) return 0;
    const step = this.levels[lv].step;
    const span = chunkSpan(step);
    for (let i = 0; i < rows.length;) {
      const cs = bucketOf(rows[i][0], span);
      let j = i;
      while (j < rows.length && rows[j][0] < cs + span) j++;
      const old = this.#db.get<{ step: number; data: Uint8Array }>(
        "SELECT step, data FROM chunks WHERE series = ? AND level = ? AND start = ?",
        id,
        lv,
        cs,
      );
      const sameStep = old !== undefined && old.step === step;
      const carried = old && !sameStep ? decodeChunk(cs, old.step, old.data) : [];
      const blob = encodeChunk(
        cs,
        step,
        mergeRows(carried, rows.slice(i, j)),
        sameStep ? old.data : undefined,
      );
      this.#db.run(
        "INSERT OR REPLACE INTO chunks (series, level, start, step, data) VALUES (?, ?, ?, ?, ?)",
        id,
        lv,
        cs,
        step,
        blob,
      );
      i = j;
    }
    this.#db.run(
      "DELETE FROM points WHERE series = ? AND level = ? AND ts >= ? AND ts < ?",
      id,
      lv,
      from,
      end,
    );
    return rows.length;
  }

  /** Rolls up, compacts and expires the given series (one transaction); returns the counts. */
  #passOver(series: Array<[string, number]>, w: PassWindows, nowS: number): PassCounts {
    let rolled = 0, expired = 0, compacted = 0;
    const ins = this.#db.statement(ONE_INSERT);
    const del = this.#db.statement("DELETE FROM points WHERE series = ? AND level = ? AND ts < ?");
    const delChunks = this.#db.statement("DELETE FROM chunks WHERE series = ? AND level = ? AND start <= ?");
    this.#db.transaction(() => {
      for (const [lv, from, end] of w.rollup) {
        const step = this.levels[lv].step;
        for (const [name, id] of series) {
          for (
            const [ts, v] of rollupRows(this.#levelRows(id, lv - 1, from, end), step, this.#method(id, name))
          ) {
            ins.run(id, lv, ts, v);
            rolled++;
          }
        }
      }
      for (const [lv, from, end] of w.compact) {
        for (const [, id] of series) compacted += this.#compact(id, lv, from, end);
      }
      for (let lv = 0; lv < this.levels.length; lv++) {
        const cutoff = nowS - this.levels[lv].keep;
        const chunkCutoff = cutoff - chunkSpan(this.levels[lv].step);
        for (const [, id] of series) {
          expired += Number(del.run(id, lv, cutoff).changes);
          delChunks.run(id, lv, chunkCutoff);
        }
      }
    });
    return { rolled, expired, compacted };
  }

  #finishPass(w: PassWindows, r: PassCounts): void {
    this.#db.transaction(() => {
      for (const [lv, , end] of w.rollup) {
        this.#doneUntil[lv] = end;
        this.#db.run("INSERT OR REPLACE INTO rollup_state (level, done_until) VALUES (?, ?)", lv, end);
      }
      for (const [lv, , end] of w.compact) {
        this.#compactedUntil[lv] = end;
        this.#db.run("INSERT OR REPLACE INTO compact_state (level, done_until) VALUES (?, ?)", lv, end);
      }
    });
    this.stats.rollups++;
    this.stats.points_rolled += r.rolled;
    this.stats.points_expired += r.expired;
    this.stats.points_compacted += r.compacted;
  }

  /**
   * One background pass at once: rolls every complete bucket of each coarser level up from the
   * finer level, then deletes points past each level's retention. Returns what it did.
   */
  rollup(): { rolled: number; expired: number } {
    this.flush();
    const nowS = Math.floor(this.#opts.now() / 1000);
    const windows = { rollup: this.#rollupWindows(nowS), compact: this.#compactWindows(nowS) };
    const r = this.#passOver([...this.#ids], windows, nowS);
    this.#finishPass(windows, r);
    return { rolled: r.rolled, expired: r.expired };
  }

  #rolling = false;

  /**
   * The same pass in slices of `slice` series, each its own transaction, yielding to the event
   * loop between slices so listeners keep draining their sockets. A pass still running is not
   * started twice.
   */
  async rollupInSlices(slice = 500): Promise<{ rolled: number; expired: number } | null> {
    if (this.#rolling) return null;
    this.#rolling = true;
    try {
      const nowS = Math.floor(this.#opts.now() / 1000);
      const windows = { rollup: this.#rollupWindows(nowS), compact: this.#compactWindows(nowS) };
      const series = [...this.#ids];
      const total = { rolled: 0, expired: 0, compacted: 0 };
      for (let i = 0; i < series.length; i += slice) {
        const r = this.#passOver(series.slice(i, i + slice), windows, nowS);
        total.rolled += r.rolled;
        total.expired += r.expired;
        total.compacted += r.compacted;
        await new Promise((res) => setTimeout(res, 0));
      }
      this.#finishPass(windows, total);
      return { rolled: total.rolled, expired: total.expired };
    } finally {
      this.#rolling = false;
    }
  }
}
