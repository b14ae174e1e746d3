/**
 * Membership history (opsbro's `gossip history`): every join, suspicion, death, leave and reap this
 * agent saw, with when, kept in `gossip.db` so that "when did web-3 go dead, and when did it come
 * back" has an answer after the fact, across restarts. The cluster events this agent logged (the
 * newest EVENTS_KEEP) are kept there too, written the same way, so that `kunai event list` and the
 * Graphite events (Grafana's annotations) still show a deploy after a restart. Changes are written
 * in batches, FLUSH_MS after the first unwritten one (never during the burst of a join storm, never
 * on an idle agent) and at stop; the newest KEEP rows are kept. A batch that cannot be written (a
 * full disk) waits in memory (the newest KEEP rows), is listed with the rows on disk and is written
 * at a later flush.
 */
import type { Clock, TimerId } from "../clock/mod.ts";
import type { Database, Migration, Store } from "../store/mod.ts";
import type { ClusterEventRecord, MemberRecord } from "../types.ts";
import { LOG_SIZE } from "./events.ts";
import { hostPort } from "../host_port.ts";

export const HISTORY_MIGRATIONS: Migration[] = [{
  version: 1,
  sql: `CREATE TABLE member_history (
    ts INTEGER NOT NULL,
    uuid TEXT NOT NULL,
    name TEXT NOT NULL,
    addr TEXT NOT NULL,
    change TEXT NOT NULL,
    incarnation INTEGER NOT NULL
  );
  CREATE INDEX member_history_name ON member_history (name, ts);`,
}, {
  version: 2,
  sql: `CREATE TABLE cluster_events (
    id TEXT NOT NULL,
    name TEXT NOT NULL,
    payload TEXT NOT NULL,
    from_name TEXT NOT NULL,
    from_uuid TEXT NOT NULL,
    at INTEGER NOT NULL,
    received INTEGER NOT NULL,
    tags TEXT,
    authenticated INTEGER NOT NULL
  );`,
}];

/** Cluster events kept (as many as the in-memory log holds). */
export const EVENTS_KEEP = LOG_SIZE;

/** Rows kept. */
export const KEEP = 10_000;
/** Delay of a batch after its first change. */
export const FLUSH_MS = 10_000;
/** Page cache of gossip.db (it is written every few seconds at most, read on demand). */
const CACHE_KIB = 64;

export interface HistoryRow {
  /** Epoch ms. */
  ts: number;
  uuid: string;
  name: string;
  addr: string;
  /** joined, suspect, dead, left or reaped (`updated`, a new incarnation of a live node, is not kept). */
  change: string;
  incarnation: number;
}

export class MemberHistory {
  #store: Store;
  #clock: Clock;
  #db: Database | null = null;
  #pending: HistoryRow[] = [];
  #pendingEvents: ClusterEventRecord[] = [];
  #timer: TimerId | null = null;
  #note: { fail(err: Error): void; ok(): void };

  /** `note` hears each failed write and each success (a FailureNote logs them without a flood). */
  constructor(store: Store, clock: Clock, note: { fail(err: Error): void; ok(): void }) {
    this.#store = store;
    this.#clock = clock;
    this.#note = note;
  }

  record(change: string, rec: MemberRecord): void {
    if (change === "updated") return;
    this.#pending.push({
      ts: this.#clock.now(),
      uuid: rec.uuid,
      name: rec.name,
      addr: hostPort(rec.addr, rec.port),
      change,
      incarnation: rec.incarnation,
    });
    if (this.#pending.length > KEEP) this.#pending.splice(0, this.#pending.length - KEEP);
    this.#arm();
  }

  /** Keeps a cluster event (written with the next batch). */
  recordEvent(e: ClusterEventRecord): void {
    this.#pendingEvents.push(e);
    if (this.#pendingEvents.length > EVENTS_KEEP) {
      this.#pendingEvents.splice(0, this.#pendingEvents.length - EVENTS_KEEP);
    }
    this.#arm();
  }

  /**
   * The newest EVENTS_KEEP cluster events kept, oldest first: what gossip.db holds and what waits to
   * be written (a full disk); only what waits when gossip.db cannot be opened.
   */
  events(): ClusterEventRecord[] {
    this.flush();
    let saved: ClusterEventRecord[] = [];
    try {
      saved = this.#open().all<EventRow>(
        `SELECT id, name, payload, from_name, from_uuid, at, received, tags, authenticated FROM cluster_events
         ORDER BY rowid DESC LIMIT ?`,
        EVENTS_KEEP,
      ).reverse().map(fromEventRow);
    } catch (err) {
      // gossip.db cannot be opened or read: what waits is all there is, and that is said (the
      // note logs once a minute at most), not taken for an empty history
      this.#note.fail(err as Error);
    }
    // after a failed flush the waiting events are not in the file yet
    return [...saved, ...this.#pendingEvents].slice(-EVENTS_KEEP);
  }

  #arm(): void {
    this.#timer ??= this.#clock.setTimeout(() => {
      this.#timer = null;
      this.flush();
    }, FLUSH_MS);
  }

  #open(): Database {
    return this.#db && this.#db.isOpen
      ? this.#db
      : (this.#db = this.#store.open("gossip", HISTORY_MIGRATIONS, CACHE_KIB));
  }

  /** Writes what is pending (one transaction) and drops rows beyond KEEP; false when it failed. */
  flush(): boolean {
    if (this.#timer !== null) this.#clock.clearTimeout(this.#timer);
    this.#timer = null;
    if (!this.#pending.length && !this.#pendingEvents.length) return true;
    const rows = this.#pending;
    const events = this.#pendingEvents;
    try {
      const db = this.#open();
      db.transaction(() => {
        if (rows.length) {
          const ins = db.statement(
            "INSERT INTO member_history (ts, uuid, name, addr, change, incarnation) VALUES (?, ?, ?, ?, ?, ?)",
          );
          for (const r of rows) ins.run(r.ts, r.uuid, r.name, r.addr, r.change, r.incarnation);
          db.run(
            "DELETE FROM member_history WHERE rowid <= (SELECT MAX(rowid) FROM member_history) - ?",
            KEEP,
          );
        }
        if (events.length) {
          const ins = db.statement(
            `INSERT INTO cluster_events (id, name, payload, from_name, from_uuid, at, received, tags, authenticated)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
          );
          for (const e of events) {
            ins.run(
              e.id,
              e.name,
              e.payload,
              e.from,
              e.from_uuid,
              e.at,
              e.received,
              e.tags ? JSON.stringify(e.tags) : null,
              e.authenticated ? 1 : 0,
            );
          }
          db.run(
            "DELETE FROM cluster_events WHERE rowid <= (SELECT MAX(rowid) FROM cluster_events) - ?",
            EVENTS_KEEP,
          );
        }
      });
    } catch (err) {
      // the batch waits (rows recorded since are already behind it) and is tried again later
      this.#note.fail(err as Error);
      this.#arm();
      return false;
    }
    this.#pending = [];
    this.#pendingEvents = [];
    this.#note.ok();
    return true;
  }

  /** The newest `limit` changes, newest first (one node's only, by name or uuid, when given). */
  list(o: { node?: string; limit: number }): HistoryRow[] {
    if (this.flush()) return this.#listSaved(o);
    // not written yet (a full disk): the waiting rows first, then what the file holds, if it opens
    const waiting = this.#pending.filter((r) =>
      o.node === undefined || r.name === o.node || r.uuid === o.node
    )
      .reverse();
    let saved: HistoryRow[] = [];
    try {
      saved = this.#listSaved(o);
    } catch { /* gossip.db cannot even be opened: what waits is all there is */ }
    return [...waiting, ...saved].slice(0, o.limit);
  }

  #listSaved(o: { node?: string; limit: number }): HistoryRow[] {
    const db = this.#open();
    const cols = "ts, uuid, name, addr, change, incarnation";
    return o.node === undefined
      ? db.all<HistoryRow>(`SELECT ${cols} FROM member_history ORDER BY rowid DESC LIMIT ?`, o.limit)
      : db.all<HistoryRow>(
        `SELECT ${cols} FROM member_history WHERE name = ? OR uuid = ? ORDER BY rowid DESC LIMIT ?`,
        o.node,
        o.node,
        o.limit,
      );
  }

  /**
   * Changes of the kinds in `changes` from `fromMs` to `untilMs` (inclusive), oldest first: the newest
   * `limit` of them, each with its row number as `id`.
   */
  between(
    fromMs: number,
    untilMs: number,
    changes: readonly string[],
    limit: number,
  ): Array<HistoryRow & { id: number }> {
    if (!changes.length) return [];
    this.flush();
    const db = this.#open();
    const rows = db.all<HistoryRow & { id: number }>(
      `SELECT rowid AS id, ts, uuid, name, addr, change, incarnation FROM member_history
       WHERE ts >= ? AND ts <= ? AND change IN (${changes.map(() => "?").join(", ")})
       ORDER BY ts DESC, rowid DESC LIMIT ?`,
      fromMs,
      untilMs,
      ...changes,
      limit,
    );
    return rows.reverse();
  }
}

interface EventRow {
  id: string;
  name: string;
  payload: string;
  from_name: string;
  from_uuid: string;
  at: number;
  received: number;
  tags: string | null;
  authenticated: number;
}

function fromEventRow(r: EventRow): ClusterEventRecord {
  const e: ClusterEventRecord = {
    id: r.id,
    name: r.name,
    payload: r.payload,
    from: r.from_name,
    from_uuid: r.from_uuid,
    at: r.at,
    received: r.received,
    authenticated: r.authenticated === 1,
  };
  if (r.tags) {
    try {
      const tags = JSON.parse(r.tags);
      if (Array.isArray(tags) && tags.every((t) => typeof t === "string")) e.tags = tags;
    } catch { /* a damaged row keeps its event without tags */ }
  }
  return e;
}
