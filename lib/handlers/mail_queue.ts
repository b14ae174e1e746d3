/**
 * Rendered mails (and webhook notifications) waiting for delivery, in `handlers.db`: each is queued
 * before the first try and deleted once the relay (or the webhook) accepted it, so an agent restart
 * loses nothing. A write the database refuses (a full disk) does not lose the mail either: it waits in
 * memory (sent from there; only a restart before there is room loses it) and is written, or its
 * deletion done, at the next write that works.
 */
import type { Database, Migration } from "../store/mod.ts";

export const MAIL_QUEUE_MIGRATIONS: Migration[] = [{
  version: 1,
  sql: `CREATE TABLE mail_queue (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    handler TEXT NOT NULL,
    subject_key TEXT NOT NULL,
    recipients TEXT NOT NULL,
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    created INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_at INTEGER NOT NULL,
    last_error TEXT NOT NULL DEFAULT ''
  );
  CREATE INDEX mail_queue_next ON mail_queue (next_at);`,
}, {
  // webhook notifications share the queue (order, retries, restarts): what a row is
  version: 2,
  sql: `ALTER TABLE mail_queue ADD COLUMN kind TEXT NOT NULL DEFAULT 'mail';`,
}, {
  // a handler's queue is counted, and its oldest found, at each new notification (max_queued)
  version: 3,
  sql: `CREATE INDEX mail_queue_handler ON mail_queue (handler, id);`,
}];

/** One queued mail. */
export interface QueuedMail {
  id: number;
  handler: string;
  /** What the mail is about (`check:<id>` or `node:<uuid>`), for logs. */
  subject_key: string;
  recipients: string[];
  subject: string;
  body: string;
  created: number;
  attempts: number;
  next_at: number;
  last_error: string;
  /** `mail`, or `webhook` (body: the JSON to POST; recipients: the masked URL, for logs). */
  kind: "mail" | "webhook";
}

interface Row extends Omit<QueuedMail, "recipients"> {
  recipients: string;
}

/** Hears each write the database refused, and each write that worked. */
export interface WriteNote {
  fail(err: Error): void;
  ok(): void;
}

export class MailQueue {
  /** Mails whose row could not be written (or updated): ids of their row, or negative ones. */
  #mem = new Map<number, QueuedMail>();
  /** Rows sent, or superseded by a mail in #mem, whose DELETE has not been written yet. */
  #hidden = new Set<number>();
  #nextMemId = -1;

  constructor(readonly db: Database, private note: WriteNote = { fail() {}, ok() {} }) {}

  /** Runs a write; false (and the note told) when the database refused it. */
  #write(fn: () => void): boolean {
    try {
      fn();
    } catch (err) {
      this.note.fail(err as Error);
      return false;
    }
    this.note.ok();
    return true;
  }

  /** Writes what waits in memory, as far as the database takes it. */
  #catchUp(): boolean {
    for (const id of [...this.#hidden]) {
      if (!this.#write(() => this.db.run("DELETE FROM mail_queue WHERE id = ?", id))) return false;
      this.#hidden.delete(id);
    }
    for (const [id, m] of [...this.#mem]) {
      if (!this.#write(() => this.#insert(m))) return false;
      this.#mem.delete(id);
    }
    return true;
  }

  #insert(m: Omit<QueuedMail, "id">): number {
    return this.db.run(
      "INSERT INTO mail_queue (kind, handler, subject_key, recipients, subject, body, created, attempts, next_at, last_error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
      m.kind,
      m.handler,
      m.subject_key,
      JSON.stringify(m.recipients),
      m.subject,
      m.body,
      m.created,
      m.attempts,
      m.next_at,
      m.last_error,
    ).lastInsertRowid;
  }

  add(
    m: Omit<QueuedMail, "id" | "attempts" | "last_error" | "kind"> & { kind?: QueuedMail["kind"] },
  ): number {
    const mail = { ...m, kind: m.kind ?? "mail", attempts: 0, last_error: "" };
    let id = 0;
    if (this.#catchUp() && this.#write(() => id = this.#insert(mail))) return id;
    id = this.#nextMemId--;
    this.#mem.set(id, { ...mail, id });
    return id;
  }

  /**
   * The oldest mail due at `now`, if any. A retry planned more than `horizonMs` ahead (the longest
   * retry interval: only a wall clock stepped back since it was planned puts one there) is due too.
   */
  nextDue(now: number, horizonMs = Infinity): QueuedMail | undefined {
    this.#catchUp();
    const late = now + horizonMs;
    let best: QueuedMail | undefined;
    for (const m of this.#mem.values()) {
      if ((m.next_at <= now || m.next_at > late) && (!best || m.next_at < best.next_at)) best = m;
    }
    const rows = this.db.all<Row>(
      "SELECT * FROM mail_queue WHERE next_at <= ? OR next_at > ? ORDER BY next_at, id LIMIT ?",
      now,
      Number.isFinite(late) ? late : Number.MAX_SAFE_INTEGER,
      this.#hidden.size + 1,
    );
    const r = rows.find((r) => !this.#hidden.has(r.id));
    if (r && (!best || r.next_at <= best.next_at)) return { ...r, recipients: JSON.parse(r.recipients) };
    return best;
  }

  /** When the next mail becomes due (ms), or null when the queue is empty. */
  nextTime(): number | null {
    let t: number | null = null;
    for (const m of this.#mem.values()) t = t === null ? m.next_at : Math.min(t, m.next_at);
    const rows = this.db.all<{ id: number; next_at: number }>(
      "SELECT id, next_at FROM mail_queue ORDER BY next_at, id LIMIT ?",
      this.#hidden.size + 1,
    );
    const r = rows.find((r) => !this.#hidden.has(r.id));
    return r ? (t === null ? r.next_at : Math.min(t, r.next_at)) : t;
  }

  failed(id: number, nextAt: number, error: string): void {
    const m = this.#mem.get(id);
    if (m) {
      this.#mem.set(id, { ...m, attempts: m.attempts + 1, next_at: nextAt, last_error: error });
      return;
    }
    const ok = this.#write(() =>
      this.db.run(
        "UPDATE mail_queue SET attempts = attempts + 1, next_at = ?, last_error = ? WHERE id = ?",
        nextAt,
        error,
        id,
      )
    );
    if (ok) return;
    // the row keeps its old retry time: it is hidden, and the mail waits in memory with the new one
    const r = this.db.get<Row>("SELECT * FROM mail_queue WHERE id = ?", id);
    if (!r) return;
    this.#hidden.add(id);
    const newId = this.#nextMemId--;
    this.#mem.set(newId, {
      ...r,
      id: newId,
      recipients: JSON.parse(r.recipients),
      attempts: r.attempts + 1,
      next_at: nextAt,
      last_error: error,
    });
  }

  /** Makes every notification waiting for a later retry due at `now`; true when there was one. */
  retryNow(now: number): boolean {
    let any = false;
    for (const [id, m] of this.#mem) {
      if (m.next_at > now) {
        this.#mem.set(id, { ...m, next_at: now });
        any = true;
      }
    }
    let changed = 0;
    this.#write(() =>
      changed = this.db.run("UPDATE mail_queue SET next_at = ? WHERE next_at > ?", now, now).changes
    );
    return any || changed > 0;
  }

  remove(id: number): void {
    if (this.#mem.delete(id)) return;
    if (!this.#write(() => this.db.run("DELETE FROM mail_queue WHERE id = ?", id))) this.#hidden.add(id);
  }

  /** The oldest notification queued for `handler` (by when it was created), if any, `except` aside. */
  oldest(handler: string, except?: number): QueuedMail | undefined {
    let best: QueuedMail | undefined;
    for (const m of this.#mem.values()) {
      if (m.handler === handler && m.id !== except && (!best || m.created < best.created)) best = m;
    }
    const rows = this.db.all<Row>(
      "SELECT * FROM mail_queue WHERE handler = ? ORDER BY id LIMIT ?",
      handler,
      this.#hidden.size + 2,
    );
    const r = rows.find((r) => !this.#hidden.has(r.id) && r.id !== except);
    if (r && (!best || r.created <= best.created)) return { ...r, recipients: JSON.parse(r.recipients) };
    return best;
  }

  /** Mails waiting in memory for the database to take them (a full disk). */
  get unsaved(): number {
    return this.#mem.size;
  }

  /** Queued mails per handler name. */
  counts(): Record<string, number> {
    const out: Record<string, number> = {};
    for (
      const r of this.db.all<{ handler: string; n: number }>(
        "SELECT handler, COUNT(*) AS n FROM mail_queue GROUP BY handler",
      )
    ) {
      out[r.handler] = r.n;
    }
    if (this.#hidden.size) {
      for (const r of this.db.all<{ id: number; handler: string }>("SELECT id, handler FROM mail_queue")) {
        if (this.#hidden.has(r.id)) out[r.handler]--;
      }
    }
    for (const m of this.#mem.values()) out[m.handler] = (out[m.handler] ?? 0) + 1;
    for (const [h, n] of Object.entries(out)) if (!n) delete out[h];
    return out;
  }
}
