/**
 * Check state persistence in its own SQLite database (`checks.db`): the last state of every check
 * (restored at start so nothing re-runs at once) and a short history of transitions. Writes are
 * batched: `save()` marks a row dirty, `flush()` writes all dirty rows in one transaction.
 */
import type { Database, Migration, Store } from "../store/mod.ts";
import type { CheckStateName } from "../types.ts";

export const CHECKS_MIGRATIONS: Migration[] = [
  {
    version: 1,
    sql: `CREATE TABLE check_state (
      id TEXT PRIMARY KEY,
      state TEXT NOT NULL,
      state_id INTEGER NOT NULL,
      output TEXT NOT NULL,
      last_check INTEGER NOT NULL,
      failures INTEGER NOT NULL DEFAULT 0,
      successes INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE check_history (
      id TEXT NOT NULL,
      ts INTEGER NOT NULL,
      state TEXT NOT NULL,
      state_id INTEGER NOT NULL,
      output TEXT NOT NULL
    );
    CREATE INDEX check_history_id_ts ON check_history (id, ts);`,
  },
  {
    version: 2,
    sql: `CREATE TABLE check_silence (
      id TEXT PRIMARY KEY,
      reason TEXT NOT NULL,
      since INTEGER NOT NULL,
      until INTEGER
    );`,
  },
];

/**
 * A check's notifications silenced (`kunai checks silence`): until `until` (epoch ms), or, when
 * null, until the check is OK again (a Nagios acknowledgement).
 */
export interface Silence {
  reason: string;
  since: number;
  until: number | null;
}

/** How many transitions are kept per check. */
const HISTORY_KEEP = 50;
/**
 * A check whose state did not change (nor its counters outside a soft state, where they decide
 * nothing) is written at most this often (seconds of `last_check`), its newest output and time then,
 * and at a clean stop: the pack's checks wrote their rows every 10 s, one transaction each, for a
 * figure in the output ("load is at 1.44"). After a crash the stored row may be this much older than
 * the last run: the check runs at once at the next start and shows that older output until then
 * (Nagios saves its retention file once an hour).
 */
export const UNCHANGED_WRITE_S = 60;
/** Transitions held in memory while they cannot be written (a full disk). */
const PENDING_KEEP = 10_000;

/** The persisted part of a check's runtime state. */
export interface StoredState {
  id: string;
  state: CheckStateName;
  state_id: number;
  output: string;
  /** Unix seconds. */
  last_check: number;
  failures: number;
  successes: number;
}

export interface HistoryEntry {
  ts: number;
  state: CheckStateName;
  state_id: number;
  output: string;
}

export class CheckStateStore {
  #db: Database;
  #dirty = new Map<string, StoredState>();
  /** The rows as written (or loaded), by id. */
  #written = new Map<string, StoredState>();
  /** The newest run of checks whose row waits (same state, within UNCHANGED_WRITE_S): for a final flush. */
  #unchanged = new Map<string, StoredState>();
  #transitions: Array<StoredState> = [];
  /** Deletions the database refused (a full disk), written by the next flush: states, silences. */
  #removed = new Set<string>();
  #silenceEnds = new Set<string>();

  constructor(store: Store) {
    this.#db = store.open("checks", CHECKS_MIGRATIONS);
  }

  /** Every stored state, by id. */
  loadAll(): Map<string, StoredState> {
    const out = new Map<string, StoredState>();
    for (const r of this.#db.all<StoredState>("SELECT * FROM check_state")) {
      out.set(r.id, r);
      this.#written.set(r.id, { ...r });
    }
    return out;
  }

  /**
   * Marks a state for the next flush; `transition` also records it in the history. A `quiet` one
   * (the caller's word: its counters decide nothing) in the same state, less than UNCHANGED_WRITE_S
   * newer than the row to be written, waits for a final flush (its output too: in memory and in the
   * API it is the newest at once).
   */
  save(s: StoredState, transition: boolean, quiet = false): void {
    const base = this.#dirty.get(s.id) ?? this.#written.get(s.id);
    if (
      quiet && !transition && base && base.state === s.state &&
      s.last_check >= base.last_check && s.last_check - base.last_check < UNCHANGED_WRITE_S
    ) {
      this.#unchanged.set(s.id, { ...s });
      return;
    }
    this.#unchanged.delete(s.id);
    this.#dirty.set(s.id, { ...s });
    if (transition) this.#transitions.push({ ...s });
  }

  /** Forgets a check (deleted); a deletion the database refuses is written by the next flush. */
  remove(id: string): void {
    this.#dirty.delete(id);
    this.#written.delete(id);
    this.#unchanged.delete(id);
    if (!this.#db.isOpen) return;
    try {
      this.#db.run("DELETE FROM check_state WHERE id = ?", id);
    } catch {
      this.#removed.add(id);
    }
  }

  /**
   * Writes pending rows in one transaction; returns how many. `final` (a stop) also writes the
   * newest run of the checks whose row waits.
   */
  flush(final = false): number {
    if (final) {
      for (const [id, s] of this.#unchanged) this.#dirty.set(id, s);
      this.#unchanged.clear();
    }
    if (!this.#dirty.size && !this.#transitions.length && !this.#removed.size && !this.#silenceEnds.size) {
      return 0;
    }
    if (!this.#db.isOpen) return 0;
    const rows = [...this.#dirty.values()];
    const trans = this.#transitions;
    this.#dirty.clear();
    this.#transitions = [];
    try {
      this.#write(rows, trans);
      for (const r of rows) this.#written.set(r.id, r);
      this.#removed.clear();
      this.#silenceEnds.clear();
    } catch (err) {
      // nothing was written (a full disk): keep the rows for the next flush, the latest state of a
      // check winning, and at most PENDING_KEEP transitions
      for (const r of rows) if (!this.#dirty.has(r.id)) this.#dirty.set(r.id, r);
      this.#transitions = trans.concat(this.#transitions).slice(-PENDING_KEEP);
      throw err;
    }
    return rows.length;
  }

  #write(rows: StoredState[], trans: StoredState[]): void {
    this.#db.transaction(() => {
      for (const id of this.#removed) this.#db.run("DELETE FROM check_state WHERE id = ?", id);
      for (const id of this.#silenceEnds) this.#db.run("DELETE FROM check_silence WHERE id = ?", id);
      for (const s of rows) {
        this.#db.run(
          "INSERT OR REPLACE INTO check_state (id, state, state_id, output, last_check, failures, successes) VALUES (?, ?, ?, ?, ?, ?, ?)",
          s.id,
          s.state,
          s.state_id,
          s.output,
          s.last_check,
          s.failures,
          s.successes,
        );
      }
      for (const t of trans) {
        this.#db.run(
          "INSERT INTO check_history (id, ts, state, state_id, output) VALUES (?, ?, ?, ?, ?)",
          t.id,
          t.last_check,
          t.state,
          t.state_id,
          t.output,
        );
        this.#db.run(
          "DELETE FROM check_history WHERE id = ? AND rowid NOT IN (SELECT rowid FROM check_history WHERE id = ? ORDER BY ts DESC, rowid DESC LIMIT ?)",
          t.id,
          t.id,
          HISTORY_KEEP,
        );
      }
    });
  }

  /** Every stored silence, by check id. */
  loadSilences(): Map<string, Silence> {
    const out = new Map<string, Silence>();
    for (const r of this.#db.all<Silence & { id: string }>("SELECT * FROM check_silence")) {
      out.set(r.id, { reason: r.reason, since: r.since, until: r.until ?? null });
    }
    return out;
  }

  /**
   * Saves (or, null, removes) a check's silence at once: it is rare and must outlive a crash. Throws
   * when the database refuses it (the API answers 507).
   */
  saveSilence(id: string, s: Silence | null): void {
    if (!this.#db.isOpen) return;
    this.#silenceEnds.delete(id);
    if (!s) this.#db.run("DELETE FROM check_silence WHERE id = ?", id);
    else {
      this.#db.run(
        "INSERT OR REPLACE INTO check_silence (id, reason, since, until) VALUES (?, ?, ?, ?)",
        id,
        s.reason,
        s.since,
        s.until,
      );
    }
  }

  /**
   * Ends a silence that ended by itself (its `until` passed, or the check recovered): never throws;
   * a deletion the database refuses is written by the next flush.
   */
  endSilence(id: string): void {
    try {
      this.saveSilence(id, null);
    } catch {
      this.#silenceEnds.add(id);
    }
  }

  /** Recent transitions of one check, newest first. */
  history(id: string, limit = HISTORY_KEEP): HistoryEntry[] {
    // transitions not written yet (a full disk) first
    const waiting = this.#transitions.filter((t) => t.id === id).reverse()
      .map((t) => ({ ts: t.last_check, state: t.state, state_id: t.state_id, output: t.output }));
    return waiting.concat(this.#historyOnDisk(id, limit)).slice(0, limit);
  }

  #historyOnDisk(id: string, limit: number): HistoryEntry[] {
    return this.#db.all<HistoryEntry>(
      "SELECT ts, state, state_id, output FROM check_history WHERE id = ? ORDER BY ts DESC, rowid DESC LIMIT ?",
      id,
      limit,
    );
  }
}
