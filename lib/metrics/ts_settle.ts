/**
 * The fresh rows of the time-series store (ts_fresh.ts) settling into `points`: when (SETTLE_S,
 * SETTLE_ROWS, before a compaction), the move itself (one transaction, sorted by series), and the
 * newest time settled per level, kept in `meta`, that the read path relies on (`settledMax`).
 */
import { insertRows, MULTI_INSERT, ONE_INSERT, type TsCore } from "./ts_schema.ts";

/**
 * The fresh rows settle into `points` once the oldest is SETTLE_S old (seconds of data time), once
 * there are SETTLE_ROWS of them, or before a compaction that needs them. An agent's ~400 series
 * then write a page or two a round to the WAL, and every five minutes a page per series (the
 * same page for its 30 newest rows), instead of a page per series every round. A timed settle
 * leaves the rows the next rollups will read (those after the coarser level's rolled-up time,
 * when that is recent): the passes after it read memory, not a page per series.
 */
export const SETTLE_S = 300;
export const SETTLE_ROWS = 20_000;

/**
 * The fresh rows back into memory (in the order written: the later row of a bucket wins) and the
 * newest time settled per level (measured once, series by series, for a store from before the
 * fresh rows).
 */
export function loadFresh(core: TsCore, ids: Map<string, number>): void {
  const stmt = core.db.statement(
    "SELECT series, level, ts, value FROM fresh ORDER BY rowid",
  ) as unknown as {
    iterate(): Iterable<{ series: number; level: number; ts: number; value: number }>;
  };
  for (const r of stmt.iterate()) core.fresh.put(r.series, r.level, r.ts, r.value);
  const row = core.db.get<{ value: string }>("SELECT value FROM meta WHERE key = 'settled_max'");
  let known: unknown = null;
  try {
    known = row ? JSON.parse(row.value) : null;
  } catch { /* measured again below */ }
  if (Array.isArray(known) && known.length === core.levels.length) {
    core.settledMax = known.map((v) => typeof v === "number" ? v : -Infinity);
    return;
  }
  const max = core.db.statement("SELECT MAX(ts) AS m FROM points WHERE series = ? AND level = ?");
  core.settledMax = core.levels.map((_, lv) => {
    let m = -Infinity;
    for (const id of ids.values()) {
      const v = (max.get(id, lv) as { m: number | null } | undefined)?.m;
      if (typeof v === "number" && v > m) m = v;
    }
    return m;
  });
  saveSettledMax(core);
}

/** Keeps the newest time settled per level in `meta` (read back by loadFresh at open). */
export function saveSettledMax(core: TsCore, max = core.settledMax): void {
  core.db.run(
    "INSERT OR REPLACE INTO meta (key, value) VALUES ('settled_max', ?)",
    JSON.stringify(max.map((v) => Number.isFinite(v) ? v : null)),
  );
}

/**
 * Moves the fresh rows into `points` (one transaction, sorted by series, level and time): all of
 * them, or per level those before `before[level]`; returns how many rows moved.
 */
export function settleFresh(core: TsCore, before?: number[]): number {
  if (core.fresh.count === 0) return 0;
  const { rows, newest } = core.fresh.drain(before);
  const n = rows.length / 4;
  if (n === 0) return 0;
  try {
    core.db.transaction(() => {
      insertRows(core.db, rows, null, MULTI_INSERT, ONE_INSERT);
      if (core.fresh.count === 0) core.db.run("DELETE FROM fresh");
      else {
        newest.forEach((t, lv) => {
          if (t > -Infinity) core.db.run("DELETE FROM fresh WHERE level = ? AND ts <= ?", lv, t);
        });
      }
      core.settledMax = core.settledMax.map((m, lv) => Math.max(m, newest[lv]));
      saveSettledMax(core);
    });
  } catch (err) {
    for (let i = 0; i < n; i++) {
      core.fresh.put(rows[i * 4], rows[i * 4 + 1], rows[i * 4 + 2], rows[i * 4 + 3]);
    }
    throw err;
  }
  core.stats.settles++;
  core.stats.points_settled += n;
  return n;
}

/**
 * Settles what the pass about to run calls for: every row at SETTLE_ROWS; once the oldest is
 * SETTLE_S old, the rows before each level's rollup frontier (the coarser level's rolled-up time,
 * if within SETTLE_S of now; else all of the level's rows); before a compaction, the rows of its
 * windows.
 */
export function settleDue(core: TsCore, compact: Array<[number, number, number]>): void {
  const fresh = core.fresh;
  if (fresh.count === 0) return;
  if (fresh.count >= SETTLE_ROWS) {
    settleFresh(core);
    return;
  }
  const nowS = Math.floor(core.now() / 1000);
  const n = core.levels.length;
  const before = new Array<number>(n).fill(-Infinity);
  if (Math.min(...fresh.minTs) < nowS - SETTLE_S) {
    for (let lv = 0; lv < n; lv++) {
      const frontier = lv + 1 < n ? core.doneUntil[lv + 1] : Infinity;
      before[lv] = frontier >= nowS - SETTLE_S ? frontier : Infinity;
    }
  }
  for (const [lv, , end] of compact) before[lv] = Math.max(before[lv], end);
  if (before.some((b, lv) => fresh.minTs[lv] < b)) settleFresh(core, before);
}
