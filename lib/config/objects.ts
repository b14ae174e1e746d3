/**
 * The typed objects of the configuration (`check`, `service`, `handler`, `generator`,
 * `event_handler`, `detector`), keyed by their top-level key in a config file. Subsystems add their
 * fields here; validation and the README's reference come from it. The agent parameters are in
 * agent_fields.ts, the single listener objects in listeners.ts.
 */
import {
  bool,
  durationMs,
  durationText,
  type Fields,
  int,
  list,
  object,
  oneOf,
  opt,
  record,
  req,
  shown,
  str,
  type Type,
} from "./schema.ts";
import { port } from "./agent_fields.ts";
import { MEMBER_EVENTS } from "../types.ts";

export const checkFields: Fields = {
  interval: opt(durationText(), "10s"),
  script: opt(str(), ""),
  ok_output: opt(str(), ""),
  critical_if: opt(str(), ""),
  critical_output: opt(str(), ""),
  warning_if: opt(str(), ""),
  warning_output: opt(str(), ""),
  notes: opt(str(), ""),
  handlers: opt(list(str()), ["default"]),
  apply_on: opt(str()),
  timeout: opt(durationText()),
  shell: opt(
    bool(),
    undefined,
    "true: through /bin/sh; false: split into arguments; unset: sh when the line holds shell syntax",
  ),
  failures_before_critical: opt(int({ min: 1, max: 100 }), 1),
  successes_before_ok: opt(int({ min: 1, max: 100 }), 1),
  written_by: opt(
    oneOf(["api"] as const),
    undefined,
    "api: written through the HTTP API; reads configuration data as API evaluations do (no secrets)",
  ),
};
export const checkType = object(checkFields, { extra: "keep" });

export const serviceFields: Fields = {
  name: opt(str({ nonEmpty: true })),
  apply_on: opt(str()),
  check: opt(checkType),
  port: opt(port()),
  tags: opt(list(str()), []),
  notes: opt(str(), ""),
  written_by: opt(
    oneOf(["api"] as const),
    undefined,
    "api: written through the HTTP API; its check reads configuration data as API evaluations do",
  ),
};

const severity = oneOf(["ok", "warning", "critical", "unknown"] as const);

/** A handler object whose `type: "webhook"` needs an http(s) `url`. */
function webhookChecked<T extends Type<unknown> & { fields: Fields }>(base: T): T {
  return {
    ...base,
    parse(v, path, issues) {
      const r = base.parse(v, path, issues) as Record<string, unknown> | undefined;
      if (r && r.type === "webhook") {
        let ok = false;
        try {
          ok = ["http:", "https:"].includes(new URL(String(r.url)).protocol);
        } catch { /* not a URL */ }
        if (!ok) {
          issues.push({
            path: path ? `${path}.url` : "url",
            message: `a webhook handler needs an http:// or https:// url, got ${shown(r.url, "url")}`,
          });
          return undefined;
        }
      }
      return r;
    },
  };
}

/** Typed objects, keyed by their top-level key in a config file. */
export const objectTypes = {
  check: checkType,
  service: object(serviceFields, { extra: "keep" }),
  handler: webhookChecked(object({
    type: opt(
      oneOf(["none", "mail", "webhook"] as const),
      "none",
      "none: nothing; mail: mail the contacts; webhook: POST to url",
    ),
    severities: opt(list(severity), ["ok", "warning", "critical", "unknown"], "new states that fire it"),
    contacts: opt(list(str()), [], "mail recipients"),
    addr_from: opt(str(), "kunai@localhost", "From address"),
    smtp_server: opt(str(), "localhost", "SMTP relay host"),
    smtp_port: opt(port(), 25, "SMTP relay port"),
    smtp_user: opt(str(), "", "SMTP AUTH user (empty: no AUTH)"),
    smtp_password: opt(str(), "", "SMTP AUTH password"),
    smtp_tls: opt(bool(), false, "implicit TLS from the first byte (SMTPS, usually port 465)"),
    smtps: opt(bool(), false, "same as smtp_tls (reference name)"),
    smtp_starttls: opt(
      oneOf(["auto", "require", "never"] as const),
      "auto",
      "STARTTLS: when offered, always (fail without), or never",
    ),
    smtp_tls_verify: opt(bool(), true, "verify the server certificate"),
    smtp_timeout: opt(durationMs({ min: 100 }), 30_000, "connection, greeting and socket timeout"),
    subject_template: opt(str(), "email.subject.tpl"),
    text_template: opt(str(), "email.text.tpl"),
    on_node_change: opt(bool(), false, "also mail when another node turns suspect, dead or leaves"),
    node_subject_template: opt(str(), "email.node.subject.tpl"),
    node_text_template: opt(str(), "email.node.text.tpl"),
    max_per_hour: opt(int({ min: 0 }), 12, "mails per check (or node) per hour; 0: no limit"),
    max_queued: opt(
      int({ min: 1 }),
      10_000,
      "notifications waiting for delivery (a relay down for long): past it the oldest is dropped",
    ),
    retry_interval: opt(durationMs({ min: 10 }), 30_000, "first retry after an SMTP failure (doubles)"),
    retry_max_interval: opt(durationMs({ min: 10 }), 900_000, "longest wait between retries"),
    retry_for: opt(durationMs({ min: 10 }), 86_400_000, "give a mail up after this long"),
    email: opt(str(), "", "unused (reference)"),
    notes: opt(str(), ""),
    url: opt(str(), "", "webhook: http(s) URL the notification is POSTed to"),
    format: opt(
      oneOf(["json", "slack"] as const),
      "json",
      'webhook: json (the event as JSON) or slack ({"text": ...} from the mail templates)',
    ),
    headers: opt(record(str()), {}, "webhook: extra request headers (e.g. Authorization)"),
    timeout: opt(durationMs({ min: 100 }), 10_000, "webhook: wait for the answer this long"),
  })),
  generator: object({
    path: req(str({ nonEmpty: true }), "file written"),
    template: req(str({ nonEmpty: true }), "template name (templates/ beside the generator, then cfg-dir)"),
    command: opt(str(), "", "shell command run after the file changed"),
    command_timeout: opt(
      durationMs({ min: 100 }),
      30_000,
      "the command's process group is killed after this",
    ),
    apply_on: opt(str(), undefined, "* or a tag this node must have (default: the generator's name)"),
    notes: opt(str(), ""),
    partial_start: opt(str(), undefined, "only the text between this line and partial_end is replaced"),
    partial_end: opt(str()),
  }),
  event_handler: object({
    events: req(
      eventPatterns(),
      "event names that run it; deploy-* matches a prefix, * every sent event; member-join... membership",
    ),
    command: req(str({ nonEmpty: true }), "shell command; the payload is on its stdin"),
    timeout: opt(durationMs({ min: 100 }), 60_000, "the command's process group is killed after this"),
    apply_on: opt(str(), undefined, "* (default) or a tag this node must have"),
    notes: opt(str(), ""),
  }),
  detector: object({
    tags: req(list(str({ nonEmpty: true }))),
    apply_if: req(str({ nonEmpty: true })),
    interval: opt(durationText(), "10s"),
    apply_on: opt(str()),
    notes: opt(str(), ""),
    remove_when_false: opt(bool(), false),
  }),
} as const;

/**
 * Event names an `event_handler` runs for: names as `kunai event send` takes them (letters, digits,
 * `.`, `_`, `:`, `-`), a trailing `*` for a prefix, `*` for every event; at least one. Names that
 * start with `member-` are membership events: one of MEMBER_EVENTS, or `member-*`.
 */
function eventPatterns(): Type<string[]> {
  const expected = 'a non-empty list of event names like "deploy", "deploy-*" or "*"';
  const pattern = /^(\*|[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}\*?)$/;
  return {
    expected,
    parse(v, path, issues) {
      if (!Array.isArray(v) || v.length === 0) {
        issues.push({ path, message: `expected ${expected}, got ${JSON.stringify(v) ?? String(v)}` });
        return undefined;
      }
      let ok = true;
      v.forEach((x, i) => {
        if (typeof x === "string" && pattern.test(x)) {
          if (
            !x.startsWith("member-") || x === "member-*" || (MEMBER_EVENTS as readonly string[]).includes(x)
          ) return;
          ok = false;
          issues.push({
            path: `${path}[${i}]`,
            message: `${JSON.stringify(x)}: membership events are ${MEMBER_EVENTS.join(", ")} and member-*`,
          });
          return;
        }
        ok = false;
        issues.push({ path: `${path}[${i}]`, message: `${JSON.stringify(x)} is not an event name or name*` });
      });
      return ok ? (v as string[]) : undefined;
    },
  };
}

export type ObjectKind = keyof typeof objectTypes;
export const OBJECT_KINDS = Object.keys(objectTypes) as ObjectKind[];
