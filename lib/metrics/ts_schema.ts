/**
 * The shape of the time-series store (`ts_store.ts`): its SQLite schema, options, counters, the
 * SQL shared by its write, read and maintenance paths (and the loop that inserts rows with it), and
 * `TsCore`, the state those paths share.
 */
import type { Database, Migration } from "../store/mod.ts";
import { type AggregationMethod, type AggregationRule, bucketOf, type Level } from "./retention.ts";
import type { FreshRows } from "./ts_fresh.ts";
import type { LateRows } from "./ts_late.ts";

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
}, {
  version: 3,
  // the newest points, in arrival order, until they settle into points (ts_fresh.ts)
  sql: `
    CREATE TABLE fresh (series INTEGER NOT NULL, level INTEGER NOT NULL, ts INTEGER NOT NULL, value REAL NOT NULL);
  `,
}, {
  version: 4,
  // series ids never come back once a series is forgotten (ts_forget.ts): without AUTOINCREMENT,
  // SQLite gives the next series the highest id again when that series was deleted, and a reader
  // or a pass holding the old id would then see another name's points. The name index is built
  // after the copy, sorted: 2.6 s for a million series, against 14 s inserting into it row by row
  sql: `
    CREATE TABLE series_v4 (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, created INTEGER NOT NULL);
    INSERT INTO series_v4 (id, name, created) SELECT id, name, created FROM series;
    DROP TABLE series;
    ALTER TABLE series_v4 RENAME TO series;
    CREATE UNIQUE INDEX series_name ON series (name);
  `,
}, {
  version: 5,
  // chunks leave their WITHOUT ROWID table: a chunk (2 880 bytes) is longer than an index b-tree page
  // keeps (1 002 bytes of 4 KiB), and SQLite compares a key against such a row by loading it whole
  // (its overflow page), so every lookup paid for the chunks it passed. Measured with node:sqlite, 3 000
  // series of 24 chunks: an insert 90 -> 28 µs, a lookup 64 -> 21 µs, a day's range 375 -> 260 µs, the
  // file 393 -> 323 MB (docs/benchmarks.md). The unique index is built after the copy, sorted.
  sql: `
    CREATE TABLE chunks_v5 (
      series INTEGER NOT NULL, level INTEGER NOT NULL, start INTEGER NOT NULL, step INTEGER NOT NULL,
      data BLOB NOT NULL
    );
    INSERT INTO chunks_v5 (series, level, start, step, data)
      SELECT series, level, start, step, data FROM chunks ORDER BY series, level, start;
    DROP TABLE chunks;
    ALTER TABLE chunks_v5 RENAME TO chunks;
    CREATE UNIQUE INDEX chunks_key ON chunks (series, level, start);
  `,
}, {
  version: 6,
  // rows written after the background pass took their time, by series and level (ts_late.ts): kept
  // across a restart, so that their coarser buckets are still rolled up again and their spans compacted
  sql: `
    CREATE TABLE late (
      level INTEGER NOT NULL, series INTEGER NOT NULL, name TEXT NOT NULL,
      first_ts INTEGER NOT NULL, last_ts INTEGER NOT NULL,
      PRIMARY KEY (level, series)
    ) WITHOUT ROWID;
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
  /** Series (metric names) stored at most; points of new names beyond it are refused. Default: no limit. */
  maxSeries?: number;
  /** Seconds a point may be ahead of now (clock skew). */
  maxFuture?: number;
  /** Series a pass looks at for emptiness at most (ts_forget.ts). Default: FORGET_PER_PASS. */
  forgetPerPass?: number;
  /** Told when a point arrives while nothing was pending (the write timer sleeps otherwise). */
  onPending?: () => void;
  /** Told of each point refused because `maxSeries` names are stored (the service logs it). */
  onSeriesRefused?: (name: string) => void;
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
  /** Points written after the background pass rolled up or compacted their time (ts_late.ts). */
  points_late: number;
  /** Raw chunks of an older agent packed since start (ts_repack.ts). */
  chunks_repacked: number;
  /** Moves of the fresh rows into `points`, and the rows moved. */
  settles: number;
  points_settled: number;
  /** Points refused while the disk was full and twice `maxPending` already waited. */
  points_dropped: number;
  /** Points of new names refused: `maxSeries` names stored (or waiting to be). */
  series_refused: number;
  /** Series dropped from the index, nothing left of them at any level (a later point makes a new one). */
  series_forgotten: number;
}

/** Rows per multi-row INSERT (fewer calls into SQLite per point). */
export const ROWS_PER_INSERT = 64;
export const ONE_INSERT = "INSERT OR REPLACE INTO points (series, level, ts, value) VALUES (?, ?, ?, ?)";
export const MULTI_INSERT = "INSERT OR REPLACE INTO points (series, level, ts, value) VALUES " +
  Array(ROWS_PER_INSERT).fill("(?, ?, ?, ?)").join(", ");

/** Rows (series, level, ts, value) through a multi-row and a one-row INSERT, in `order` (null: as they are). */
export function insertRows(
  db: Database,
  rows: Float64Array,
  order: Uint32Array | null,
  manySql: string,
  oneSql: string,
): void {
  const many = db.statement(manySql);
  const one = db.statement(oneSql);
  const params: number[] = new Array(ROWS_PER_INSERT * 4);
  const n = order ? order.length : rows.length / 4;
  let i = 0;
  for (; i + ROWS_PER_INSERT <= n; i += ROWS_PER_INSERT) {
    for (let k = 0; k < ROWS_PER_INSERT; k++) {
      const r = (order ? order[i + k] : i + k) * 4;
      params[k * 4] = rows[r];
      params[k * 4 + 1] = rows[r + 1];
      params[k * 4 + 2] = rows[r + 2];
      params[k * 4 + 3] = rows[r + 3];
    }
    many.run(...params);
  }
  for (; i < n; i++) {
    const r = (order ? order[i] : i) * 4;
    one.run(rows[r], rows[r + 1], rows[r + 2], rows[r + 3]);
  }
}

export const ONE_FRESH = "INSERT INTO fresh (series, level, ts, value) VALUES (?, ?, ?, ?)";
export const MULTI_FRESH = "INSERT INTO fresh (series, level, ts, value) VALUES " +
  Array(ROWS_PER_INSERT).fill("(?, ?, ?, ?)").join(", ");

export const SELECT_ROWS =
  "SELECT ts, value FROM points WHERE series = ? AND level = ? AND ts >= ? AND ts < ? ORDER BY ts";

/** What the read path and the background pass share with the store. */
export interface TsCore {
  db: Database;
  levels: Level[];
  /** Milliseconds since the epoch (the injected clock). */
  now: () => number;
  stats: TsStoreStats;
  /** Per level ≥ 1: buckets before this are rolled up. */
  doneUntil: number[];
  /** Per compactable level: spans before this are moved into chunks (-Infinity: never compacted). */
  compactedUntil: number[];
  /** Rows written below `compactedUntil` since, by series: compacted by a later pass. */
  late: LateRows;
  /**
   * While a pass in slices runs (writes land between its slices): `doneUntil` and `compactedUntil`
   * as they will be once it is done. A point written below them meanwhile is late as well: its
   * series may be done already in this pass.
   */
  passing: { doneUntil: number[]; compactedUntil: number[] } | null;
  /**
   * Per level, a lower bound of what it holds (the time of every point, the end of every chunk) or
   * null when not known yet: while a level's retention cutoff has not passed it, nothing there can
   * be expired and the pass skips the level's deletes (a young store expires nothing for a day).
   */
  oldest: Array<number | null>;
  /** The newest points, not settled into `points` yet (memory; the `fresh` table holds them too). */
  fresh: FreshRows;
  /**
   * Per level, the newest time `points` may hold (-Infinity: none): a read of a window after it
   * needs only the fresh rows. Rows reach `points` only by `settle()`, which raises it.
   */
  settledMax: number[];
  /** The aggregation method of a series (cached). */
  method(id: number, name: string): AggregationMethod;
}

/** Where a level's rollup starts when none was recorded: the finer level's oldest kept bucket. */
export function initialWatermark(core: Pick<TsCore, "levels" | "now">, level: number): number {
  const nowS = Math.floor(core.now() / 1000);
  return bucketOf(nowS - core.levels[Math.max(0, level - 1)].keep, core.levels[level].step);
}
