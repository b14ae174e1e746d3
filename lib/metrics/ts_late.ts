/**
 * Rows written after the background pass took their time: below the coarser level's rollup
 * watermark (its buckets there were rolled up without them) or below their level's compaction
 * watermark (their span was moved into a chunk without them). A backfill (history replayed from
 * carbon, a relay's buffer), points older than the finest level landing on a coarser one, a sender
 * minutes late. Coarse graphs would miss them and they would stay one row each for good. They are
 * remembered here by series and level, and a later pass rolls the coarser levels' buckets over
 * them again and compacts their spans (merging the chunk already there), once the series has been
 * quiet for a pass, or after LATE_MAX_PASSES passes of a sender that never stops being late.
 */

/** Passes a series that keeps sending late rows waits at most before its spans are compacted. */
export const LATE_MAX_PASSES = 10;

/** `[level, series id, from, to]`: the first and last buckets of one series' late rows on a level. */
export type LateWindow = [number, number, number, number];

interface Entry {
  from: number;
  to: number;
  /** The passes (this.#pass) of its first and last marks. */
  first: number;
  last: number;
}

export class LateRows {
  #levels: Array<Map<number, Entry>>;
  #pass = 0;

  constructor(levels: number) {
    this.#levels = Array.from({ length: levels }, () => new Map());
  }

  /** A row of series `id` at bucket `ts` of level `lv` went below the level's watermark. */
  mark(lv: number, id: number, ts: number): void {
    const e = this.#levels[lv].get(id);
    if (!e) this.#levels[lv].set(id, { from: ts, to: ts, first: this.#pass, last: this.#pass });
    else {
      if (ts < e.from) e.from = ts;
      if (ts > e.to) e.to = ts;
      e.last = this.#pass;
    }
  }

  /** Series waiting, all levels. */
  get size(): number {
    return this.#levels.reduce((n, m) => n + m.size, 0);
  }

  /** The windows due at this pass (taken: `giveBack` if the pass fails). */
  take(): LateWindow[] {
    const out: LateWindow[] = [];
    this.#levels.forEach((m, lv) => {
      for (const [id, e] of m) {
        // still coming (marked since the last pass), for fewer than LATE_MAX_PASSES passes: waits
        if (e.last >= this.#pass && this.#pass - e.first + 1 < LATE_MAX_PASSES) continue;
        m.delete(id);
        out.push([lv, id, e.from, e.to]);
      }
    });
    this.#pass++;
    return out;
  }

  /** Windows of a pass that failed: due again at the next one. */
  giveBack(windows: LateWindow[]): void {
    for (const [lv, id, from, to] of windows) {
      this.mark(lv, id, from);
      this.mark(lv, id, to);
      this.#levels[lv].get(id)!.last = -Infinity;
    }
  }
}
