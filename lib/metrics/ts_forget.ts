/**
 * Forgetting the series of the time-series store that hold nothing any more: once every point of a
 * name has expired past every level, its row in `series` (and its entry in the store's name index)
 * goes, so names that came and went (per container, per interface) do not fill `max_series`.
 *
 * The background pass sweeps the series by id, FORGET_BATCH of them per transaction and at most
 * FORGET_PER_PASS per pass, from where the previous pass stopped. A series is forgotten only when
 * it has no row in `points`, no chunk, no fresh row and no point waiting in memory (`busy`); a
 * point for its name afterwards makes a new series with a new id (ids are not reused: see
 * migration 4 in ts_schema.ts).
 */
import type { TsCore } from "./ts_schema.ts";

/**
 * Series checked per transaction, as many as a rollup slice: the write lock is held for one batch
 * (2-12 ms when all 500 are forgotten, on a loaded 2-core machine), and the async pass yields
 * between batches.
 */
export const FORGET_BATCH = 500;

/**
 * Series checked per pass at most (two index seeks each): a store of a million series is gone
 * through every 50 passes (50 min at the default `rollup_interval`).
 */
export const FORGET_PER_PASS = 20_000;

/** What one batch of the sweep did. */
export interface ForgetBatch {
  /** Series looked at (fewer than asked: the sweep reached the last id). */
  checked: number;
  /** The last id looked at (where the next batch goes on). */
  last: number;
  /** The series forgotten, by name and id. */
  forgotten: Array<[string, number]>;
}

/**
 * One transaction of the sweep: looks at up to `limit` series after id `after` and deletes the
 * rows of those holding nothing at any level and not `busy` (points waiting in memory: asked only
 * once a series looks empty, as walking the waiting points costs one lookup per point).
 */
export function forgetBatch(
  core: TsCore,
  after: number,
  limit: number,
  busy: () => ReadonlySet<number>,
): ForgetBatch {
  const db = core.db;
  const out: ForgetBatch = { checked: 0, last: after, forgotten: [] };
  const inPoints = db.statement("SELECT 1 FROM points WHERE series = ? LIMIT 1");
  const inChunks = db.statement("SELECT 1 FROM chunks WHERE series = ? LIMIT 1");
  const del = db.statement("DELETE FROM series WHERE id = ? RETURNING name");
  db.transaction(() => {
    const ids = db.all<{ id: number }>(
      "SELECT id FROM series WHERE id > ? ORDER BY id LIMIT ?",
      after,
      limit,
    );
    out.checked = ids.length;
    let waiting: ReadonlySet<number> | null = null;
    for (const { id } of ids) {
      out.last = id;
      // memory first: a series written to lately has fresh rows, and costs no seek
      if (core.fresh.holds(id)) continue;
      if (inPoints.get(id) !== undefined || inChunks.get(id) !== undefined) continue;
      if ((waiting ??= busy()).has(id)) continue;
      const row = del.get(id) as { name: string } | undefined;
      if (row) out.forgotten.push([row.name, id]);
    }
  });
  return out;
}
