/**
 * The background pass of the time-series store: rolls every complete bucket of each coarser level
 * up from the finer one (with the metric's aggregation method), moves complete spans of rows into
 * chunk blobs, and expires every level past its retention.
 */
import { chunkSpan, decodeChunk, encodeChunk, mergeRows } from "./chunks.ts";
import { bucketOf, rollupRows } from "./retention.ts";
import { initialWatermark, ONE_FRESH, type TsCore } from "./ts_schema.ts";
import { levelRows, selectRows } from "./ts_read.ts";
import { dropLate, type LateWindow } from "./ts_late.ts";

/** The work of one background pass, decided at its start. */
export interface PassWindows {
  rollup: Array<[number, number, number]>;
  compact: Array<[number, number, number]>;
  /** Single series' rows written after the pass took their time (ts_late.ts). */
  late: LateWindow[];
  /** `[level, cutoff, measure]`: levels that may hold something past retention (measure: bound unknown). */
  expire: Array<[number, number, boolean]>;
}

export interface PassCounts {
  rolled: number;
  expired: number;
  compacted: number;
  /** Per entry of `expire` that measures: the oldest time left in the series passed over. */
  oldest: number[];
}

/**
 * The windows of a pass starting now (`nowS`, Unix seconds). A level whose lower bound is at or
 * after its cutoff has nothing to expire; the others get a fresh bound, lowered by the writes
 * (and the rollups) that happen while the pass runs (see lowerOldest).
 */
export function passWindows(core: TsCore, nowS: number): PassWindows {
  const expire: Array<[number, number, boolean]> = [];
  core.levels.forEach((l, lv) => {
    const cutoff = nowS - l.keep;
    const bound = core.oldest[lv];
    if (bound !== null && cutoff <= bound) return;
    expire.push([lv, cutoff, bound === null]);
    core.oldest[lv] = Infinity;
  });
  const late = core.late.take(core.levels.map((l) => l.step));
  return { rollup: rollupWindows(core, nowS), compact: compactWindows(core, nowS), late, expire };
}

/** A point (or a rolled-up bucket) at `ts` lands on level `lv`: the level's bound follows it down. */
export function lowerOldest(core: TsCore, lv: number, ts: number): void {
  const b = core.oldest[lv];
  if (b !== null && ts < b) core.oldest[lv] = ts;
}

/** The windows whose fresh rows a pass settles first: the compaction's, the late rows'. */
export function toSettle(w: PassWindows): Array<[number, number, number]> {
  if (!w.late.length) return w.compact;
  return [...w.compact, ...w.late.map(([lv, , , from, to]): [number, number, number] => [lv, from, to + 1])];
}

/**
 * A pass that failed: the bounds of the levels it was expiring are unknown again; its late rows'
 * windows are due again.
 */
export function abandonPass(core: TsCore, w: PassWindows): void {
  for (const [lv] of w.expire) core.oldest[lv] = null;
  core.late.giveBack(w.late);
}

/** The window of complete buckets each coarser level rolls up now: `[level, from, end]`. */
function rollupWindows(core: TsCore, nowS: number): Array<[number, number, number]> {
  const out: Array<[number, number, number]> = [];
  for (let lv = 1; lv < core.levels.length; lv++) {
    // a bucket is complete once the finer level's last bucket in it can no longer change
    const end = bucketOf(nowS - 2 * core.levels[lv - 1].step, core.levels[lv].step);
    const from = Math.max(core.doneUntil[lv], initialWatermark(core, lv));
    if (end > from) out.push([lv, from, end]);
  }
  return out;
}

/** Spans of each compactable level complete enough to become chunks: `[level, from, end]`. */
function compactWindows(core: TsCore, nowS: number): Array<[number, number, number]> {
  const out: Array<[number, number, number]> = [];
  for (let lv = 0; lv < core.levels.length; lv++) {
    if (core.compactedUntil[lv] === -Infinity) continue;
    const span = chunkSpan(core.levels[lv].step);
    const end = bucketOf(nowS - 2 * core.levels[lv].step, span);
    if (end > core.compactedUntil[lv]) out.push([lv, core.compactedUntil[lv], end]);
  }
  return out;
}

/** Moves one series' rows of a complete window into chunk blobs (merging a chunk already there). */
function compact(core: TsCore, id: number, lv: number, from: number, end: number): number {
  const db = core.db;
  const rows = selectRows(core, id, lv, from, end);
  if (rows.length === 0) return 0;
  const step = core.levels[lv].step;
  const span = chunkSpan(step);
  for (let i = 0; i < rows.length;) {
    const cs = bucketOf(rows[i][0], span);
    let j = i;
    while (j < rows.length && rows[j][0] < cs + span) j++;
    const old = db.get<{ step: number; data: Uint8Array }>(
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
    db.run(
      "INSERT OR REPLACE INTO chunks (series, level, start, step, data) VALUES (?, ?, ?, ?, ?)",
      id,
      lv,
      cs,
      step,
      blob,
    );
    i = j;
  }
  db.run("DELETE FROM points WHERE series = ? AND level = ? AND ts >= ? AND ts < ?", id, lv, from, end);
  return rows.length;
}

/**
 * Rolls the coarser levels' buckets over [from, end) of level `lv` up again, each from the level
 * below it, for one series whose rows there came after those buckets were rolled up; returns the
 * rows written. Only buckets already rolled (the others are rolled in their turn) and wholly within
 * what the finer level still keeps (a bucket rolled from half its points would replace a whole one).
 */
function rollAgain(
  core: TsCore,
  id: number,
  name: string,
  lv: number,
  from: number,
  end: number,
  nowS: number,
): number {
  const ins = core.db.statement(ONE_FRESH);
  let n = 0;
  for (let c = lv + 1; c < core.levels.length; c++) {
    const step = core.levels[c].step;
    const lo = Math.max(bucketOf(from, step), bucketOf(nowS - core.levels[c - 1].keep, step) + step);
    const hi = Math.min(bucketOf(end - 1, step) + step, core.doneUntil[c]);
    if (hi <= lo) break; // this level unchanged: the coarser ones too
    for (const [ts, v] of rollupRows(levelRows(core, id, c - 1, lo, hi), step, core.method(id, name))) {
      ins.run(id, c, ts, v);
      core.fresh.put(id, c, ts, v);
      lowerOldest(core, c, ts);
      if (ts < core.compactedUntil[c]) core.late.mark(c, id, name, ts); // into its chunk at a later pass
      n++;
    }
    from = lo;
    end = hi;
  }
  return n;
}

/**
 * The late rows' work (ts_late.ts), one transaction: the coarser levels rolled up again over them,
 * their spans compacted (merged with the chunks there; after the watermark, the regular windows
 * compact them). Expects their fresh rows settled (`toSettle`).
 */
export function passLate(
  core: TsCore,
  late: LateWindow[],
  nowS: number,
): { rolled: number; compacted: number } {
  let rolled = 0, compacted = 0;
  core.db.transaction(() => {
    for (const [lv, id, name, from, to] of late) {
      const step = core.levels[lv].step, span = chunkSpan(step);
      rolled += rollAgain(core, id, name, lv, from, to + step, nowS);
      const start = bucketOf(from, span),
        until = Math.min(bucketOf(to, span) + span, core.compactedUntil[lv]);
      if (until > start) compacted += compact(core, id, lv, start, until);
    }
    for (const w of late) dropLate(core.db, w);
    core.late.save(core.db); // the coarser rows it made that are late in their turn
  });
  return { rolled, compacted };
}

/**
 * Rolls up, compacts and expires the given series (one transaction); returns the counts. The
 * rolled-up rows are fresh rows (ts_fresh.ts); compaction expects the store to have settled the
 * fresh rows of its windows first.
 */
export function passOver(
  core: TsCore,
  series: Array<[string, number]>,
  w: PassWindows,
  _nowS: number,
): PassCounts {
  let rolled = 0, expired = 0, compacted = 0;
  const oldest = w.expire.map(() => Infinity);
  const db = core.db, levels = core.levels;
  const ins = db.statement(ONE_FRESH);
  const del = db.statement("DELETE FROM points WHERE series = ? AND level = ? AND ts < ?");
  const delChunks = db.statement("DELETE FROM chunks WHERE series = ? AND level = ? AND start <= ?");
  db.transaction(() => {
    for (const [lv, from, end] of w.rollup) {
      const step = levels[lv].step;
      for (let s = 0; s < series.length; s++) {
        const id = series[s][1];
        const rows = rollupRows(levelRows(core, id, lv - 1, from, end), step, core.method(id, series[s][0]));
        for (let r = 0; r < rows.length; r++) {
          ins.run(id, lv, rows[r][0], rows[r][1]);
          core.fresh.put(id, lv, rows[r][0], rows[r][1]);
          lowerOldest(core, lv, rows[r][0]);
          rolled++;
        }
      }
    }
    for (const [lv, from, end] of w.compact) {
      for (const [, id] of series) compacted += compact(core, id, lv, from, end);
    }
    w.expire.forEach(([lv, cutoff, measure], k) => {
      const span = chunkSpan(levels[lv].step);
      if (core.fresh.minTs[lv] < cutoff) { // late points past retention, or a clock that jumped
        expired += core.fresh.dropBefore(lv, cutoff);
        db.run("DELETE FROM fresh WHERE level = ? AND ts < ?", lv, cutoff);
      }
      for (const [, id] of series) {
        expired += Number(del.run(id, lv, cutoff).changes);
        delChunks.run(id, lv, cutoff - span);
        if (measure) oldest[k] = Math.min(oldest[k], oldestLeft(core, id, lv, span));
      }
    });
  });
  return { rolled, expired, compacted, oldest };
}

/** The oldest point time or chunk end of one series on one level (Infinity: none); index seeks. */
function oldestLeft(core: TsCore, id: number, lv: number, span: number): number {
  const p = core.db.get<{ m: number | null }>(
    "SELECT MIN(ts) AS m FROM points WHERE series = ? AND level = ?",
    id,
    lv,
  )?.m;
  const c = core.db.get<{ m: number | null }>(
    "SELECT MIN(start) AS m FROM chunks WHERE series = ? AND level = ?",
    id,
    lv,
  )?.m;
  return Math.min(
    p ?? Infinity,
    c === null || c === undefined ? Infinity : c + span,
    core.fresh.first(id, lv),
  );
}

/** Records the watermarks a finished pass reached and counts its work. */
export function finishPass(core: TsCore, w: PassWindows, r: PassCounts): void {
  // what is left is at or after the cutoff (or measured), or was written during the pass
  w.expire.forEach(([lv, cutoff, measure], k) => {
    core.oldest[lv] = Math.min(core.oldest[lv] ?? Infinity, measure ? r.oldest[k] : cutoff);
  });
  core.db.transaction(() => {
    for (const [lv, , end] of w.rollup) {
      core.doneUntil[lv] = end;
      core.db.run("INSERT OR REPLACE INTO rollup_state (level, done_until) VALUES (?, ?)", lv, end);
    }
    for (const [lv, , end] of w.compact) {
      core.compactedUntil[lv] = end;
      core.db.run("INSERT OR REPLACE INTO compact_state (level, done_until) VALUES (?, ?)", lv, end);
    }
  });
  core.stats.rollups++;
  core.stats.points_rolled += r.rolled;
  core.stats.points_expired += r.expired;
  core.stats.points_compacted += r.compacted;
}
