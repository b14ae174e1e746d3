/**
 * Handlers at work (reference §9): a check state change (bus `check.changed`) is matched to the
 * handlers the check names, filtered by severity and rate limit, rendered into a mail and queued
 * in SQLite; one delivery loop sends due mails in order and retries failures with backoff.
 */
import type { Ctx } from "../subsystem.ts";
import type { CheckResultEvent, MemberRecord } from "../types.ts";
import {
  defaultTemplateDirs,
  loadTemplateEngine,
  templateEngineLoaded,
  Templates,
} from "../templates/mod.ts";
import { findHandler, type HandlerDef, handlerDefs, publicView, type Severity } from "./handler_def.ts";
import { HourlyLimiter, retryDelay } from "./backoff.ts";
import { MAIL_QUEUE_MIGRATIONS, MailQueue, type QueuedMail } from "./mail_queue.ts";
import { Mailer } from "./mailer.ts";
import { FailureNote } from "../log/failure.ts";
import { maskUrl, postWebhook, queuedWebhookBody } from "./webhook.ts";
import { slackLiteralValues } from "./slack_text.ts";
import { byKey } from "../order.ts";

/** Our own record, for the `node` template variable. */
export interface SelfView {
  self(): MemberRecord;
}

/** Local time as the reference's `_time`: `YYYY-MM-DD HH:MM:SS`. */
export function localTime(ms: number): string {
  const d = new Date(ms);
  const p = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${
    p(d.getMinutes())
  }:${p(d.getSeconds())}`;
}

export type NodeEvent = "suspect" | "dead" | "leave";

/**
 * A check's configured fields by id, secrets masked (the checks subsystem's `definition`):
 * templates see them under the state change's fields as `check`.
 */
export type CheckDefinitions = (id: string) => Record<string, unknown> | undefined;

export class Handlers {
  #ctx: Ctx;
  #membership: SelfView;
  #checkDefinition: CheckDefinitions;
  #defs: Map<string, HandlerDef>;
  #templates: Templates;
  #queue: MailQueue;
  #mailer = new Mailer();
  #limiter = new HourlyLimiter();
  #timer: number | null = null;
  #timerAt = Infinity;
  #draining: Promise<void> | null = null;
  /** Id of the notification being sent (the queue trim leaves it alone). */
  #sending: number | null = null;
  /**
   * Each queued notification's age when this process first tried it, and when that was on the
   * clock that never steps: a wall clock stepped forward past `retry_for` must not make a mail
   * queued a minute ago look a day old and abandon it at its next failure. (Across a restart the
   * wall clock is all there is.)
   */
  #ages = new Map<number, { age: number; at: number }>();
  #stopped = false;
  /** Delivered and abandoned mails since start (info, tests). */
  sent = 0;
  dropped = 0;

  constructor(ctx: Ctx, membership: SelfView, checkDefinition: CheckDefinitions = () => undefined) {
    this.#ctx = ctx;
    this.#membership = membership;
    this.#checkDefinition = checkDefinition;
    this.#defs = handlerDefs(ctx.config.objects.handler ?? {});
    this.#templates = new Templates({ dirs: defaultTemplateDirs(ctx.config.cfgDir) });
    this.#queue = new MailQueue(
      ctx.store.open("handlers", MAIL_QUEUE_MIGRATIONS),
      new FailureNote(ctx.log, "saving the notification queue", 60_000, () => ctx.clock.now()),
    );
  }

  reload(): void {
    this.#defs = handlerDefs(this.#ctx.config.objects.handler ?? {});
    this.#mailer.retain(this.#defs.values());
    // a reload may be the fix (the relay's address, a password): what waits for a retry goes now
    if (this.#queue.retryNow(this.#ctx.clock.now())) this.#kick();
    if (this.#needsTemplates()) {
      loadTemplateEngine().catch((err) =>
        this.#ctx.log.error(`handlers: templates: ${(err as Error).message}`)
      );
    }
  }

  /** Mail and slack-format webhook handlers render templates: nunjucks is loaded only for them. */
  #needsTemplates(): boolean {
    return [...this.#defs.values()].some((d) =>
      d.type === "mail" || (d.type === "webhook" && d.format === "slack")
    );
  }

  defs(): HandlerDef[] {
    return [...this.#defs.values()].sort(byKey((d) => d.name));
  }

  find(name: string): HandlerDef | undefined {
    return findHandler(this.#defs, name);
  }

  queued(): Record<string, number> {
    return this.#queue.counts();
  }

  list(): Array<Record<string, unknown>> {
    const q = this.queued();
    return this.defs().map((d) => ({ ...publicView(d), queued: q[d.name] ?? 0 }));
  }

  /** Bus `check.changed`: mail every matching handler the check names. */
  onCheckChanged(ev: CheckResultEvent): void {
    if (ev.state === ev.old_state || ev.state === "pending") return;
    // The first result after a check was created is not news unless it is a problem.
    if (ev.old_state === "pending" && ev.state === "ok") return;
    if (this.#membership.self().maintenance) {
      return this.#suppressed(`check ${ev.id}: ${ev.state}`, "this node");
    }
    if (ev.silenced) {
      return this.#suppressed(`check ${ev.id}: ${ev.state}`, "the check is silenced", "silenced");
    }
    let configured: Record<string, unknown> | undefined;
    for (const name of new Set(ev.handlers.length ? ev.handlers : ["default"])) {
      const h = this.find(name);
      if (!h) {
        this.#ctx.log.debug(`check ${ev.id}: no handler named ${name}`);
        continue;
      }
      if (!h.severities.includes(ev.state as Severity) || h.type === "none") continue;
      // templates get the whole check as the original rendered it (notes, extra keys); a JSON
      // webhook keeps its documented body, the event itself
      const templated = h.type === "mail" || h.format === "slack";
      if (templated) configured ??= this.#checkDefinition(ev.id) ?? {};
      const check = templated ? { ...configured, ...ev } : { ...ev };
      const vars = { handler: publicView(h), check, node: this.#membership.self() };
      this.#enqueue(h, `check:${ev.id}`, h.subject_template, h.text_template, vars, "check");
    }
  }

  /** Bus `member.suspect/dead/left` of another node: mail handlers with `on_node_change`. */
  onNodeChange(m: MemberRecord, event: NodeEvent): void {
    const me = this.#membership.self();
    if (m.uuid === me.uuid) return;
    if (m.maintenance && this.defs().some((h) => h.type !== "none" && h.on_node_change)) {
      return this.#suppressed(`node ${m.name}: ${event}`, `node ${m.name}`);
    }
    for (const h of this.defs()) {
      if (h.type === "none" || !h.on_node_change) continue;
      const vars = { handler: publicView(h), node: m, self: me, event };
      this.#enqueue(h, `node:${m.uuid}`, h.node_subject_template, h.node_text_template, vars, "node");
    }
  }

  /** A notification not sent (its node in maintenance, the check silenced): counted and logged. */
  #suppressed(what: string, whose: string, why: "maintenance" | "silenced" = "maintenance"): void {
    this.#ctx.counters.inc("handler_notifications_suppressed_total", { why });
    this.#ctx.log.info(
      `${what}: no notification, ${why === "maintenance" ? `${whose} is in maintenance` : whose}`,
    );
  }

  /**
   * Renders and queues one notification (rate limit first): a mail, or a webhook's JSON (the event
   * itself, or `{"text"}` from the templates for `format: "slack"`); logs and drops on template errors.
   */
  #enqueue(
    h: HandlerDef,
    key: string,
    subjectTpl: string,
    textTpl: string,
    vars: Record<string, unknown>,
    event: "check" | "node",
  ): void {
    const rendered = h.type === "mail" || h.format === "slack";
    if (rendered && !templateEngineLoaded()) {
      // a handler added by a reload, before the engine finished loading: render once it has
      loadTemplateEngine().then(
        () => this.#stopped || this.#enqueue(h, key, subjectTpl, textTpl, vars, event),
        (err) =>
          this.#ctx.log.error(`handler ${h.name}: nothing mailed for ${key}: ${(err as Error).message}`),
      );
      return;
    }
    const now = this.#ctx.clock.now();
    if (h.type === "mail" && !h.contacts.length) {
      this.#ctx.log.warn(`handler ${h.name}: no contacts, nothing mailed for ${key}`);
      return;
    }
    let subject: string, body: string;
    try {
      if (rendered) {
        [subject, body] = this.#render(h, subjectTpl, textTpl, { ...vars, _time: localTime(now) });
      } else {
        const what = vars.check as { id: string; state: string } | undefined;
        subject = what
          ? `check ${what.id}: ${what.state}`
          : `node ${(vars.node as MemberRecord).name}: ${vars.event}`;
        body = JSON.stringify({ kind: event, time: now, ...vars });
      }
      if (h.type === "webhook" && rendered) body = JSON.stringify({ text: `${subject}\n${body}` });
    } catch (err) {
      this.#ctx.log.error(`handler ${h.name}: nothing mailed for ${key}: ${(err as Error).message}`);
      this.#ctx.counters.inc("handler_mails_total", { handler: h.name, result: "template_error" });
      return;
    }
    if (!this.#limiter.allow(`${h.name}|${key}`, now, h.max_per_hour)) {
      this.#ctx.log.warn(
        `handler ${h.name}: rate limit (${h.max_per_hour}/hour) reached for ${key}, not mailed`,
      );
      this.#ctx.counters.inc("handler_mails_total", { handler: h.name, result: "rate_limited" });
      return;
    }
    this.#makeRoom(h);
    this.#queue.add({
      kind: h.type === "webhook" ? "webhook" : "mail",
      handler: h.name,
      subject_key: key,
      recipients: h.type === "webhook" ? [maskUrl(h.url)] : h.contacts,
      subject,
      body,
      created: now,
      next_at: now,
    });
    this.#kick();
  }

  /**
   * A handler's queue holds at most `max_queued` notifications (its relay down for long, a flood of
   * node changes): the oldest gives way to the new one, logged and counted.
   */
  #makeRoom(h: HandlerDef): void {
    let n = this.#queue.counts()[h.name] ?? 0;
    for (; n >= h.max_queued; n--) {
      // not the one being sent: dropping it would count as lost a mail that is going out
      const m = this.#queue.oldest(h.name, this.#sending ?? undefined);
      if (!m) return;
      this.#remove(m.id);
      this.dropped++;
      const noun = m.kind === "webhook" ? "webhook" : "mail";
      this.#ctx.counters.inc(m.kind === "webhook" ? "handler_webhooks_total" : "handler_mails_total", {
        handler: h.name,
        result: "queue_full",
      });
      this.#ctx.log.warn(
        `handler ${h.name}: ${n} notification(s) queued (max_queued ${h.max_queued}): dropped the oldest, ` +
          `${noun} "${m.subject}" of ${new Date(m.created).toISOString()}` +
          (m.attempts ? ` (${m.attempts} failed attempt(s): ${m.last_error})` : ""),
      );
    }
  }

  /** Sends a sample notification now (not queued); throws with the relay's or the webhook's reason. */
  async test(name: string): Promise<{ to: string[]; subject: string }> {
    const h = this.find(name);
    if (!h) throw new Error(`no handler named ${name}`);
    if (h.type === "none") throw new Error(`handler ${h.name} is of type none: it sends nothing`);
    if (h.type === "mail" && !h.contacts.length) throw new Error(`handler ${h.name} has no contacts`);
    const now = this.#ctx.clock.now();
    const check = {
      id: "kunai/handler-test",
      name: "kunai/handler-test",
      state: "critical",
      state_id: 2,
      old_state: "ok",
      old_state_id: 0,
      output: `test notification of handler ${h.name}`,
      last_check: Math.floor(now / 1000),
      handlers: [h.name],
    };
    const vars = { handler: publicView(h), check, node: this.#membership.self(), _time: localTime(now) };
    if (h.type === "webhook" && h.format === "json") {
      const { _time: _t, ...rest } = vars;
      await postWebhook(h, JSON.stringify({ kind: "check", time: now, test: true, ...rest }));
      this.#ctx.log.info(`handler ${h.name}: test webhook sent to ${maskUrl(h.url)}`);
      return { to: [maskUrl(h.url)], subject: `check ${check.id}: ${check.state}` };
    }
    await loadTemplateEngine();
    const [subject, text] = this.#render(h, h.subject_template, h.text_template, vars);
    if (h.type === "webhook") {
      await postWebhook(h, JSON.stringify({ text: `${subject}\n${text}` }));
      this.#ctx.log.info(`handler ${h.name}: test webhook sent to ${maskUrl(h.url)}`);
      return { to: [maskUrl(h.url)], subject };
    }
    await this.#mailer.send(h, { from: h.addr_from, to: h.contacts, subject, text });
    this.#ctx.log.info(`handler ${h.name}: test mail sent to ${h.contacts.join(", ")}`);
    return { to: h.contacts, subject };
  }

  /**
   * The subject (one line) and text of a notification. For a Slack-format webhook the values from the
   * cluster (a node's name, tags, a check's output...) are made literal first (slack_text.ts): they can
   * neither link nor mention; the template's own text, the admin's, is sent as written.
   */
  #render(
    h: HandlerDef,
    subjectTpl: string,
    textTpl: string,
    vars: Record<string, unknown>,
  ): [string, string] {
    if (h.type === "webhook") {
      const { handler, _time, ...cluster } = vars;
      vars = { ...slackLiteralValues(cluster), handler, _time };
    }
    const subject = this.#templates.render(subjectTpl, vars).replace(/\s*\n\s*/g, " ").trim();
    return [subject, this.#templates.render(textTpl, vars)];
  }

  async start(): Promise<void> {
    this.#stopped = false;
    if (this.#needsTemplates()) await loadTemplateEngine();
    this.#kick();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer !== null) this.#ctx.clock.clearTimeout(this.#timer);
    this.#timer = null;
    await this.#draining;
    this.#mailer.close();
  }

  /** Drains now if idle; the drain re-arms the timer for the next due mail. */
  #kick(): void {
    if (this.#stopped || this.#draining) return;
    this.#draining = this.#drain().catch((err) => {
      // a queue that cannot even be read (its file gone bad): said, and tried again at the next event
      this.#ctx.log.error(`notification queue: ${(err as Error).message}`);
    }).finally(() => {
      this.#draining = null;
      try {
        this.#arm();
      } catch (err) {
        this.#ctx.log.error(`notification queue: ${(err as Error).message}`);
      }
    });
  }

  #arm(): void {
    if (this.#stopped) return;
    const next = this.#queue.nextTime();
    if (next === null) return;
    if (this.#timer !== null && this.#timerAt <= next) return;
    if (this.#timer !== null) this.#ctx.clock.clearTimeout(this.#timer);
    this.#timerAt = next;
    this.#timer = this.#ctx.clock.setTimeout(() => {
      this.#timer = null;
      this.#timerAt = Infinity;
      this.#kick();
    }, Math.max(0, Math.min(next - this.#ctx.clock.now(), this.#retryHorizon())));
  }

  /** The longest retry interval of the handlers: no retry is planned further ahead, but after a clock step back. */
  #retryHorizon(): number {
    let h = 0;
    for (const d of this.#defs.values()) h = Math.max(h, d.retry_max_interval);
    return h > 0 ? h : Infinity;
  }

  async #drain(): Promise<void> {
    while (!this.#stopped) {
      const m = this.#queue.nextDue(this.#ctx.clock.now(), this.#retryHorizon());
      if (!m) return;
      this.#sending = m.id;
      try {
        await this.#deliver(m);
      } finally {
        this.#sending = null;
      }
    }
  }

  #remove(id: number): void {
    this.#queue.remove(id);
    this.#ages.delete(id);
  }

  /** How long `m` has been queued, stepped wall clocks aside (see #ages). */
  #age(m: QueuedMail): number {
    const clock = this.#ctx.clock;
    let a = this.#ages.get(m.id);
    if (!a) this.#ages.set(m.id, a = { age: Math.max(0, clock.now() - m.created), at: clock.elapsed() });
    return a.age + (clock.elapsed() - a.at);
  }

  async #deliver(m: QueuedMail): Promise<void> {
    this.#age(m); // first try: its age counts from here on the clock that never steps
    const log = this.#ctx.log;
    const h = this.#defs.get(m.handler);
    const noun = m.kind === "webhook" ? "webhook" : "mail";
    if (!h || h.type !== m.kind) {
      log.warn(`${noun} for ${m.subject_key} dropped: handler ${m.handler} is no longer a ${noun} handler`);
      this.#remove(m.id);
      this.dropped++;
      return;
    }
    const counter = m.kind === "webhook" ? "handler_webhooks_total" : "handler_mails_total";
    const to = m.kind === "webhook" ? m.recipients : h.contacts;
    try {
      if (m.kind === "webhook") await postWebhook(h, queuedWebhookBody(h.format, m));
      // to the handler's contacts as configured now: a reload that fixed a typo in one, or removed
      // someone, applies to what is still queued
      else await this.#mailer.send(h, { from: h.addr_from, to, subject: m.subject, text: m.body });
      this.#remove(m.id);
      this.sent++;
      this.#ctx.counters.inc(counter, { handler: h.name, result: "sent" });
      const via = m.kind === "webhook" ? "" : ` via ${h.smtp_server}:${h.smtp_port}`;
      log.info(
        `handler ${h.name}: ${noun} "${m.subject}" sent to ${to.join(", ")}${via}` +
          (m.attempts ? ` after ${m.attempts} failed attempt(s)` : ""),
      );
    } catch (err) {
      const reason = (err as Error).message;
      const now = this.#ctx.clock.now();
      this.#ctx.counters.inc(counter, { handler: h.name, result: "failed" });
      if (this.#age(m) >= h.retry_for) {
        this.#remove(m.id);
        this.dropped++;
        log.error(
          `handler ${h.name}: ${noun} "${m.subject}" abandoned after ${m.attempts + 1} attempt(s): ${reason}`,
        );
        return;
      }
      const wait = retryDelay(m.attempts + 1, h.retry_interval, h.retry_max_interval);
      this.#queue.failed(m.id, now + wait, reason);
      log.warn(
        `handler ${h.name}: ${noun} "${m.subject}" to ${to.join(", ")} failed (${reason}); retry in ${
          Math.round(wait / 1000)
        } s`,
      );
    }
  }
}
