/**
 * Handler objects (reference §9) as loaded from the configuration, and how a check's handler name
 * finds one. Pure: no I/O.
 */
import { handlerCandidates, type LoadedObject } from "../config/mod.ts";
import { maskUrl } from "./webhook.ts";

export type Severity = "ok" | "warning" | "critical" | "unknown";

/** A validated handler object with its name. */
export interface HandlerDef {
  name: string;
  file: string;
  type: "none" | "mail" | "webhook";
  severities: Severity[];
  contacts: string[];
  addr_from: string;
  smtp_server: string;
  smtp_port: number;
  smtp_user: string;
  smtp_password: string;
  /** Implicit TLS (`smtp_tls` or the reference's `smtps`). */
  smtp_tls: boolean;
  smtp_starttls: "auto" | "require" | "never";
  smtp_tls_verify: boolean;
  smtp_timeout: number;
  subject_template: string;
  text_template: string;
  on_node_change: boolean;
  node_subject_template: string;
  node_text_template: string;
  max_per_hour: number;
  max_queued: number;
  retry_interval: number;
  retry_max_interval: number;
  retry_for: number;
  notes: string;
  /** `webhook`: where to POST, what (`json` or `slack`), extra headers, how long to wait. */
  url: string;
  format: "json" | "slack";
  headers: Record<string, string>;
  timeout: number;
}

/** Builds the definitions from `config.objects.handler` (already validated with defaults). */
export function handlerDefs(objects: Record<string, LoadedObject>): Map<string, HandlerDef> {
  const out = new Map<string, HandlerDef>();
  for (const [id, o] of Object.entries(objects)) {
    const v = o.value as Record<string, unknown>;
    out.set(id, {
      ...(v as unknown as HandlerDef),
      name: id,
      file: o.file,
      smtp_tls: Boolean(v.smtp_tls) || Boolean(v.smtps),
    });
  }
  return out;
}

/**
 * The handler a check names: the exact id; else an id ending in `/<name>` (`handlers/default`);
 * else, for `default` only, the single handler object when there is exactly one (the README
 * defines it in local.json, whose id is `local`).
 */
export function findHandler(defs: Map<string, HandlerDef>, name: string): HandlerDef | undefined {
  const c = handlerCandidates(defs.keys(), name);
  return c.length === 1 ? defs.get(c[0]) : undefined;
}

/**
 * The handler as templates and the API see it: never the SMTP password, a webhook's header values
 * or its URL's path and query (a Slack webhook's path is its secret).
 */
export function publicView(d: HandlerDef): Record<string, unknown> {
  const { smtp_password, headers, url, ...rest } = d;
  return {
    ...rest,
    smtp_password: smtp_password ? "(set)" : "",
    url: url ? maskUrl(url) : "",
    headers: Object.fromEntries(Object.keys(headers ?? {}).map((k) => [k, "(set)"])),
  };
}
