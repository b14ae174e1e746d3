/**
 * SMTP delivery through nodemailer: one transport per handler settings, reused while they do not
 * change. `send` resolves when the relay accepted the message and throws with the relay's reason.
 */
import type nodemailerType from "nodemailer";
import type { HandlerDef } from "./handler_def.ts";

/** What is sent: From/To/Subject headers and a text body. */
export interface MailMessage {
  from: string;
  to: string[];
  subject: string;
  text: string;
}

type Transport = ReturnType<typeof nodemailerType.createTransport>;

/** nodemailer takes ~300 ms to import: loaded on the first mail, not at agent start. */
let nodemailer: Promise<typeof nodemailerType> | null = null;
function loadNodemailer(): Promise<typeof nodemailerType> {
  return nodemailer ??= import("nodemailer").then((m) => m.default);
}

/** nodemailer options for a handler's relay, TLS and auth settings. */
export function transportOptions(h: HandlerDef): Record<string, unknown> {
  return {
    host: h.smtp_server,
    port: h.smtp_port,
    secure: h.smtp_tls,
    requireTLS: !h.smtp_tls && h.smtp_starttls === "require",
    ignoreTLS: !h.smtp_tls && h.smtp_starttls === "never",
    auth: h.smtp_user ? { user: h.smtp_user, pass: h.smtp_password } : undefined,
    connectionTimeout: h.smtp_timeout,
    greetingTimeout: h.smtp_timeout,
    socketTimeout: h.smtp_timeout,
    tls: { rejectUnauthorized: h.smtp_tls_verify },
  };
}

export class Mailer {
  /** Transports by the JSON of their options, so a config reload picks up new settings. */
  #transports = new Map<string, Transport>();

  async send(h: HandlerDef, msg: MailMessage): Promise<void> {
    const opts = transportOptions(h);
    const key = JSON.stringify(opts);
    let t = this.#transports.get(key);
    if (!t) {
      const nm = await loadNodemailer();
      t = this.#transports.get(key) ?? nm.createTransport(opts);
      this.#transports.set(key, t);
    }
    const info = await t.sendMail({ from: msg.from, to: msg.to, subject: msg.subject, text: msg.text });
    const rejected = (info.rejected ?? []) as unknown[];
    if (rejected.length && rejected.length >= msg.to.length) {
      throw new Error(`every recipient was rejected: ${rejected.map(String).join(", ")}`);
    }
  }

  /** Closes the transports of settings no handler of `defs` has any more (a reload changed them). */
  retain(defs: Iterable<HandlerDef>): void {
    const keep = new Set<string>();
    for (const h of defs) if (h.type === "mail") keep.add(JSON.stringify(transportOptions(h)));
    for (const [key, t] of this.#transports) {
      if (keep.has(key)) continue;
      t.close();
      this.#transports.delete(key);
    }
  }

  /** Transports open (tests, info). */
  get size(): number {
    return this.#transports.size;
  }

  close(): void {
    for (const t of this.#transports.values()) t.close();
    this.#transports.clear();
  }
}
