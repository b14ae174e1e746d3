/**
 * Rendered mails (and webhook notifications) waiting for delivery, in `handlers.db`: each is queued
 * before the first try and deleted once the relay (or the webhook) accepted it, so an agent restart
 * loses nothing.
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

export class MailQueue {
  constructor(readonly db: Database) {}

  add(
    m: Omit<QueuedMail, "id" | "attempts" | "last_error" | "kind"> & { kind?: QueuedMail["kind"] },
  ): number {
    return this.db.run(
      "INSERT INTO mail_queue (kind, handler, subject_key, recipients, subject, body, created, next_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
      m.kind ?? "mail",
      m.handler,
      m.subject_key,
      JSON.stringify(m.recipients),
      m.subject,
      m.body,
      m.created,
      m.next_at,
    ).lastInsertRowid;
  }

  /** The oldest mail due at `now`, if any. */
  nextDue(now: number): QueuedMail | undefined {
    const r = this.db.get<Row>(
      "SELECT * FROM mail_queue WHERE next_at <= ? ORDER BY next_at, id LIMIT 1",
      now,
    );
    return r ? { ...r, recipients: JSON.parse(r.recipients) } : undefined;
  }

  /** When the next mail becomes due (ms), or null when the queue is empty. */
  nextTime(): number | null {
    const r = this.db.get<{ t: number | null }>("SELECT MIN(next_at) AS t FROM mail_queue");
    return r?.t ?? null;
  }

  failed(id: number, nextAt: number, error: string): void {
    this.db.run(
      "UPDATE mail_queue SET attempts = attempts + 1, next_at = ?, last_error = ? WHERE id = ?",
      nextAt,
      error,
      id,
    );
  }

  remove(id: number): void {
    this.db.run("DELETE FROM mail_queue WHERE id = ?", id);
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
    return out;
  }
}
