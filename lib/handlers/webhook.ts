/**
 * Webhook delivery: a handler of type `webhook` POSTs each notification to its `url` — a JSON
 * document of the event (`format: "json"`), or `{"text": ...}` rendered from the mail templates
 * (`format: "slack"`: what Slack, Mattermost, Rocket.Chat and Teams' incoming webhooks read). Any
 * 2xx is delivered; anything else is a failure the queue retries with backoff, like a mail.
 */
import { VERSION } from "../version.ts";
import type { HandlerDef } from "./handler_def.ts";
import { readHead } from "../read_capped.ts";
import { slackLiteral } from "./slack_text.ts";

/** Most of a refusal's body kept for the log. */
const REASON_BYTES = 200;

/** The URL as logs and the API show it: its path and query may be the secret (Slack's are). */
export function maskUrl(url: string): string {
  try {
    const u = new URL(url);
    return u.pathname === "/" && !u.search ? u.origin : `${u.origin}/…`;
  } catch {
    return "(invalid URL)";
  }
}

/**
 * `text` with the handler's URL, in every form an error may print it (as configured, normalized and
 * percent-encoded, without its password, query or fragment), replaced by `maskUrl`'s: Deno's fetch
 * says "error sending request for url (http://host/services/T000/B000/SECRET)" on a network error.
 */
export function scrubUrl(text: string, url: string): string {
  const masked = maskUrl(url);
  let out = url ? text.split(url).join(masked) : text;
  try {
    const u = new URL(url);
    const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    // scheme, any userinfo, the host; then whatever follows (path, query, fragment) is the secret part
    const re = new RegExp(
      `${esc(u.protocol)}//(?:[^\\s/@]*@)?${esc(u.host)}(?=$|[/?#\\s)"'<>])[^\\s)"'<>]*`,
      "gi",
    );
    out = out.replace(re, masked);
  } catch { /* not a URL: nothing more to find */ }
  return out;
}

/** POSTs `body` (JSON) to the handler's url; throws with the HTTP status or the network's reason. */
export async function postWebhook(h: HandlerDef, body: string): Promise<void> {
  let res: Response;
  try {
    res = await fetch(h.url, {
      method: "POST",
      headers: { "content-type": "application/json", "user-agent": `kunai/${VERSION}`, ...h.headers },
      body,
      redirect: "manual",
      signal: AbortSignal.timeout(h.timeout),
    });
  } catch (err) {
    const e = err as Error;
    const cause = (e as { cause?: unknown }).cause;
    const reason = e.name === "TimeoutError"
      ? `no answer within ${h.timeout} ms`
      : cause instanceof Error
      ? cause.message
      : e.message;
    throw new Error(`${maskUrl(h.url)}: ${scrubUrl(reason, h.url)}`);
  }
  // a refusal is quoted, not read whole: an endpoint that answers without end must not fill memory
  const head = new TextDecoder().decode(await readHead(res, REASON_BYTES));
  const text = head.replace(/\s+/g, " ").trim();
  if (res.status < 200 || res.status > 299) {
    throw new Error(
      `${maskUrl(h.url)} answered HTTP ${res.status}${text ? `: ${scrubUrl(text, h.url)}` : ""}`,
    );
  }
}

/**
 * The body to POST for a notification queued as `body`, in the handler's format as configured now: a
 * reload that changed `format` while notifications waited (the endpoint down) must not send the old
 * shape to the new endpoint, which would refuse it until `retry_for` dropped it. A JSON document
 * becomes Slack's `{"text"}` from its subject and the check's output; a Slack text becomes a JSON
 * document `{kind, time, subject, text}`. A body already in the right shape is sent as it is.
 */
export function queuedWebhookBody(
  format: "json" | "slack",
  m: { subject: string; body: string; subject_key: string; created: number },
): string {
  let doc: Record<string, unknown> | null = null;
  try {
    const v = JSON.parse(m.body);
    if (v && typeof v === "object" && !Array.isArray(v)) doc = v;
  } catch { /* not ours: sent as it is */ }
  if (!doc) return m.body;
  const isSlack = Object.keys(doc).length === 1 && typeof doc.text === "string";
  if (format === "slack" && !isSlack) {
    const output = (doc.check as { output?: unknown } | undefined)?.output;
    const lines = [m.subject, ...(typeof output === "string" && output ? [output] : [])];
    return JSON.stringify({ text: lines.map(slackLiteral).join("\n") });
  }
  if (format === "json" && isSlack) {
    const kind = m.subject_key.split(":")[0];
    return JSON.stringify({ kind, time: m.created, subject: m.subject, text: doc.text });
  }
  return m.body;
}
