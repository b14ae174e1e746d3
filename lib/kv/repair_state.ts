/**
 * What repair (repair.ts) keeps in `kv.db` besides the records: hints, keys a replica missed,
 * retried until delivered (`kv_hints`), and per-peer anti-entropy marks, how far we pulled each
 * peer's changes (`kv_marks`). KvStorage owns one of each (`storage.hints`, `storage.marks`).
 */
import type { Database } from "../store/mod.ts";

/** Keys a replica missed, retried until delivered. */
export class Hints {
  #db: Database;
  /** True once SQLite said there is no hint (addHint clears it): the hint timer then skips its query. */
  #noHints = false;
  /** Told when a hint is added (the upkeep's timer then runs soon: see KvStorage.onWork). */
  #onAdded: () => void;

  constructor(db: Database, onAdded: () => void) {
    this.#db = db;
    this.#onAdded = onAdded;
  }

  /** True once SQLite said there is no hint: KvStorage.nextWorkAt then waits for the next TTL. */
  get noHints(): boolean {
    return this.#noHints;
  }

  addHint(target: string, key: string): void {
    this.#noHints = false;
    this.#onAdded();
    this.#db.run("INSERT OR IGNORE INTO kv_hints (target, key) VALUES (?, ?)", target, key);
  }

  hintTargets(): string[] {
    if (this.#noHints) return [];
    const targets = this.#db.all<{ target: string }>("SELECT DISTINCT target FROM kv_hints").map((r) =>
      r.target
    );
    this.#noHints = targets.length === 0;
    return targets;
  }

  hintsFor(target: string, limit: number): string[] {
    return this.#db.all<{ key: string }>("SELECT key FROM kv_hints WHERE target = ? LIMIT ?", target, limit)
      .map((r) => r.key);
  }

  removeHints(target: string, keys: string[]): void {
    this.#db.transaction(() => {
      for (const k of keys) this.#db.run("DELETE FROM kv_hints WHERE target = ? AND key = ?", target, k);
    });
  }

  dropHintsFor(target: string): void {
    this.#db.run("DELETE FROM kv_hints WHERE target = ?", target);
  }
}

/** Per-peer anti-entropy marks: the peer's epoch and the last of its apply sequences we pulled. */
export class SyncMarks {
  #db: Database;

  constructor(db: Database) {
    this.#db = db;
  }

  mark(peer: string): { epoch: string; seq: number } | null {
    const r = this.#db.get<{ epoch: string; seq: number }>(
      "SELECT epoch, seq FROM kv_marks WHERE peer = ?",
      peer,
    );
    return r ? { epoch: r.epoch, seq: Number(r.seq) } : null;
  }

  setMark(peer: string, epoch: string, seq: number): void {
    this.#db.run("INSERT OR REPLACE INTO kv_marks (peer, epoch, seq) VALUES (?, ?, ?)", peer, epoch, seq);
  }
}
