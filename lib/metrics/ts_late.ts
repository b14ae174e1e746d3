/**
 * Rows written after the background pass took their time: below the coarser level's rollup
 * watermark (its buckets there were rolled up without them) or below their level's compaction
 * watermark (their span was moved into a chunk without them). A backfill (history replayed from
 * carbon, a relay's buffer), points older than the finest level landing on a coarser one, a sender
 * minutes late. Coarse graphs would miss them and they would stay one row each for good. They are
 * remembered here by series and level, and a later pass rolls the coarser levels' buckets over
 * them again and compacts their spans (merging the chunk already there), once the series has been
 * quiet for a pass, or after LATE_MAX_PASSES passes of a sender that never stops being late.
 * The marks are kept in `metrics.db` (table `late`), written in the transaction of the rows they
 * mark, so a restart in between loses none.
 */

import type { Database } from "../store/mod.ts";

/** Passes a series that keeps sending late rows waits at most before its spans are compacted. */
export const LATE_MAX_PASSES = 10;
/**
 * Rows (points of the late windows' ranges, counted as their buckets) a pass takes on at most: a
 * backfill of a day for 100 series (830 000 rows) took ~0.9 s of one pass here; what is over waits
 * for the next pass.
 */
export const LATE_ROWS_PER_PASS = 1_000_000;
/** Rows per transaction of that work, the event loop served between them (~0.1 s). */
export const LATE_SLICE_ROWS = 100_000;

/** `[level, series id, series name, from, to]`: the first and last buckets of one series' late rows on a level. */
export type LateWindow = [number, number, string, number, number];

interface Entry {
  name: string;
  from: number;
  to: number;
  /** The passes (this.#pass) of its first and last marks. */
  first: number;
  last: number;
}

export class LateRows {
  #levels: Array<Map<number, Entry>>;
  #pass = 0;
  /** Marks not in the `late` table yet: `level:series` → the window they widen it to. */
  #unsaved = new Map<string, LateWindow>();

  constructor(levels: number) {
    this.#levels = Array.from({ length: levels }, () => new Map());
  }

  /** A row of series `id` (`name`) at bucket `ts` of level `lv` came after the pass took its time. */
  mark(lv: number, id: number, name: string, ts: number): void {
    const e = this.#levels[lv].get(id);
    if (!e) this.#levels[lv].set(id, { name, from: ts, to: ts, first: this.#pass, last: this.#pass });
    else {
      if (ts < e.from) e.from = ts;
      if (ts > e.to) e.to = ts;
      e.last = this.#pass;
    }
    const key = `${lv}:${id}`, u = this.#unsaved.get(key);
    if (!u) this.#unsaved.set(key, [lv, id, name, ts, ts]);
    else {
      if (ts < u[3]) u[3] = ts;
      if (ts > u[4]) u[4] = ts;
    }
  }

  /** Writes the marks made since the last call into the `late` table (inside the rows' transaction). */
  save(db: Database): void {
    if (!this.#unsaved.size) return;
    const up = db.statement(UPSERT);
    for (const [lv, id, name, from, to] of this.#unsaved.values()) up.run(lv, id, name, from, to);
    this.#unsaved.clear();
  }

  /** The windows the `late` table holds (a restart): due at the next pass. */
  load(db: Database): void {
    const rows = db.all<{ level: number; series: number; name: string; first_ts: number; last_ts: number }>(
      "SELECT level, series, name, first_ts, last_ts FROM late",
    );
    const n = this.#levels.length;
    this.giveBack(
      rows.filter((r) => r.level < n).map((r) => [r.level, r.series, r.name, r.first_ts, r.last_ts]),
    );
    this.#unsaved.clear(); // they are in the table
  }

  /** Series waiting, all levels. */
  get size(): number {
    return this.#levels.reduce((n, m) => n + m.size, 0);
  }

  /**
   * The windows due at this pass, up to `budget` rows (`steps`: each level's; taken: `giveBack`
   * if the pass fails). One window over the budget is taken alone rather than never.
   */
  take(steps: number[], budget = LATE_ROWS_PER_PASS): LateWindow[] {
    const out: LateWindow[] = [];
    let rows = 0;
    this.#levels.forEach((m, lv) => {
      for (const [id, e] of m) {
        // still coming (marked since the last pass), for fewer than LATE_MAX_PASSES passes: waits
        if (e.last >= this.#pass && this.#pass - e.first + 1 < LATE_MAX_PASSES) continue;
        const cost = lateRows([lv, id, e.name, e.from, e.to], steps);
        if (out.length && rows + cost > budget) continue; // the next pass
        rows += cost;
        m.delete(id);
        out.push([lv, id, e.name, e.from, e.to]);
      }
    });
    this.#pass++;
    return out;
  }

  /** Windows of a pass that failed: due again at the next one. */
  giveBack(windows: LateWindow[]): void {
    for (const [lv, id, name, from, to] of windows) {
      this.mark(lv, id, name, from);
      this.mark(lv, id, name, to);
      this.#levels[lv].get(id)!.last = -Infinity;
    }
  }
}

const UPSERT = `INSERT INTO late (level, series, name, first_ts, last_ts) VALUES (?, ?, ?, ?, ?)
  ON CONFLICT (level, series) DO UPDATE SET first_ts = min(first_ts, excluded.first_ts), last_ts = max(last_ts, excluded.last_ts)`;

/** Forgets a window done (inside its pass's transaction), unless later marks widened it since. */
export function dropLate(db: Database, w: LateWindow): void {
  db.run(
    "DELETE FROM late WHERE level = ? AND series = ? AND first_ts >= ? AND last_ts <= ?",
    w[0],
    w[1],
    w[3],
    w[4],
  );
}

/** The buckets a window spans on its level: what its work is measured by. */
export function lateRows(w: LateWindow, steps: number[]): number {
  return (w[4] - w[3]) / steps[w[0]] + 1;
}

/** The windows cut into runs of about `rows` rows each (one transaction each). */
export function lateSlices(windows: LateWindow[], steps: number[], rows = LATE_SLICE_ROWS): LateWindow[][] {
  const out: LateWindow[][] = [];
  let cur: LateWindow[] = [], n = 0;
  for (const w of windows) {
    const cost = lateRows(w, steps);
    if (cur.length && n + cost > rows) {
      out.push(cur);
      cur = [];
      n = 0;
    }
    cur.push(w);
    n += cost;
  }
  if (cur.length) out.push(cur);
  return out;
}
