/**
 * The read path of the time-series store: a series between two times at the finest level that
 * reaches back far enough, from chunk blobs and rows (a row wins), completing the buckets of a
 * coarse level not rolled up yet by aggregating the finer level on the fly.
 */
import { chunkSpan, chunkValues, decodeChunk, mergeRows } from "./chunks.ts";
import { bucketOf, levelFor, rollupRows } from "./retention.ts";
import { type FetchedSeries, SELECT_ROWS, type TsCore } from "./ts_schema.ts";

/**
 * The series between `from` and `until` (Unix seconds) at the finest level that reaches back
 * to `from`, whisper-style: buckets after `from` up to and including `until`'s. `id` undefined: an
 * unknown series (all nulls).
 */
export function fetchSeries(
  core: TsCore,
  id: number | undefined,
  name: string,
  from: number,
  until: number,
): FetchedSeries {
  const nowS = Math.floor(core.now() / 1000);
  // as whisper does: nothing after now, nothing before the oldest level keeps. It also bounds the
  // answer (a year at the coarsest step): `until=99999999999` or `from=0` asked for billions of
  // empty slots, enough to take the agent down from a read route.
  until = Math.min(until, nowS);
  from = Math.max(from, nowS - core.levels[core.levels.length - 1].keep);
  if (from > until) from = until;
  const level = levelFor(core.levels, nowS, from);
  const step = core.levels[level].step;
  const start = bucketOf(from, step) + step;
  const end = Math.max(start, bucketOf(until, step) + step);
  const values: Array<number | null> = new Array((end - start) / step).fill(null);
  if (id === undefined) return { name, start, end, step, values };
  if (level === 0 || end <= core.doneUntil[level]) {
    // the common case, straight into `values`: chunk blobs first, then rows (a row wins)
    fillFromChunks(core, id, level, start, end, values);
    for (const [ts, v] of selectRows(core, id, level, start, end)) {
      const i = Math.floor((ts - start) / step);
      if (i >= 0 && i < values.length) values[i] = v;
    }
    return { name, start, end, step, values };
  }
  for (const [ts, v] of readLevel(core, id, name, level, start, end)) {
    const i = (ts - start) / step;
    if (i >= 0 && i < values.length) values[i] = v;
  }
  return { name, start, end, step, values };
}

/** The chunk blobs of one series and level that may hold points of [start, end), or null when none can. */
function chunksOf(
  core: TsCore,
  id: number,
  level: number,
  start: number,
  end: number,
): Array<{ start: number; step: number; data: Uint8Array }> | null {
  if (core.compactedUntil[level] === -Infinity || start >= core.compactedUntil[level]) return null;
  const span = chunkSpan(core.levels[level].step);
  return core.db.all<{ start: number; step: number; data: Uint8Array }>(
    "SELECT start, step, data FROM chunks WHERE series = ? AND level = ? AND start >= ? AND start < ? ORDER BY start",
    id,
    level,
    bucketOf(start, span) - span,
    end,
  );
}

/** Copies the chunk values of [start, end) into `values` (index = (ts - start) / level step). */
function fillFromChunks(
  core: TsCore,
  id: number,
  level: number,
  start: number,
  end: number,
  values: Array<number | null>,
): void {
  const chunks = chunksOf(core, id, level, start, end);
  if (!chunks) return;
  const step = core.levels[level].step;
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
function readLevel(
  core: TsCore,
  id: number,
  name: string,
  level: number,
  start: number,
  end: number,
): Array<[number, number]> {
  const rows = levelRows(core, id, level, start, end);
  if (level === 0) return rows;
  const done = core.doneUntil[level];
  if (end <= done) return rows;
  const from = Math.max(start, done);
  const kept = rows.filter(([ts]) => ts < from);
  const finer = readLevel(core, id, name, level - 1, from, end);
  return kept.concat(rollupRows(finer, core.levels[level].step, core.method(id, name)));
}

/** Points of one series and level in [start, end) from chunks and rows (a row wins), in time order. */
export function levelRows(
  core: TsCore,
  id: number,
  level: number,
  start: number,
  end: number,
): Array<[number, number]> {
  const rows = selectRows(core, id, level, start, end);
  const chunks = chunksOf(core, id, level, start, end);
  if (!chunks || chunks.length === 0) return rows;
  const fromChunks = chunks.flatMap((c) => decodeChunk(c.start, c.step, c.data, start, end));
  return mergeRows(fromChunks, rows);
}

/**
 * `[ts, value]` rows of one series and level in [start, end), in time order: the settled rows of
 * `points` (read only when the window reaches back to what they may hold) and the fresh ones (a
 * fresh row wins: it is the newer).
 */
export function selectRows(
  core: TsCore,
  id: number,
  level: number,
  start: number,
  end: number,
): Array<[number, number]> {
  const fresh = core.fresh.rows(id, level, start, end);
  if (start > core.settledMax[level]) return fresh ?? [];
  const settled = settledRows(core, id, level, start, end);
  return fresh ? mergeRows(settled, fresh) : settled;
}

/** `[ts, value]` rows of `points` for one series and level in [start, end), in time order. */
function settledRows(
  core: TsCore,
  id: number,
  level: number,
  start: number,
  end: number,
): Array<[number, number]> {
  const stmt = core.db.statement(SELECT_ROWS) as unknown as {
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
