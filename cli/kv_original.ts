/**
 * `kunai kv export --from-original URL`: the keys a running Python kunai agent holds, read through
 * its HTTP API (`GET /kv/` lists that node's local keys, internal ones included; `GET /kv/<key>`
 * answers a value, asked of its owner), as entries `kv import` writes. The original's own
 * bookkeeping is left out: `__meta/` (its per-key index, which kunai keeps itself), `__health/`
 * (check results, rewritten by every run), `__exec/` (an hour of command outputs), `__libexec/` and
 * `__configuration` (propagated files: propagate again with `kunai propagate`) and its time-series
 * archives (`<metric>::m<minute>`, `::h<hour>`, `::d<day>`: kunai's metrics have their own store).
 * The result is `kv export`'s shape, for `kv import` once the kunai agents run (the two do not share
 * a cluster: their gossip is sealed differently).
 *
 * ```ts
 * const plan = await readOriginal("http://10.0.0.5:6768");
 * plan.entries; // [{key, flags: 0, value (base64)}], plan.skipped, plan.missing, plan.refused
 * ```
 */
import { validateKey } from "../lib/kv/keys.ts";
import { bytesToBase64 } from "../lib/kv/record.ts";
import { UsageError } from "./types.ts";

/** What the original keeps for itself, and why it is not imported. */
const INTERNAL: Array<[RegExp, string]> = [
  [/^__meta\//, "the original's key metadata"],
  [/^__health(\/|$)/, "check results"],
  [/^__exec\//, "command outputs"],
  [/^__libexec\//, "propagated libexec files"],
  [/^__configuration(\/|$)/, "propagated configuration"],
  [/::[mhd]\d+$/, "time-series archive"],
];

export interface OriginalPlan {
  /** The agent's base URL, as read. */
  url: string;
  entries: Array<{ key: string; flags: number; value: string }>;
  /** Internal keys left out, with why. */
  skipped: Array<{ key: string; why: string }>;
  /** Listed, then not found when read (deleted or expired meanwhile). */
  missing: string[];
  /** Keys kunai refuses (empty, too long, a `.` segment...), with why. */
  refused: Array<{ key: string; why: string }>;
}

/** Why `key` is the original's bookkeeping, or null for a user's key. */
export function internalKey(key: string): string | null {
  for (const [re, why] of INTERNAL) if (re.test(key)) return why;
  return null;
}

function baseUrl(raw: string): URL {
  const text = /^[a-z]+:\/\//i.test(raw) ? raw : `http://${raw}`;
  let u: URL;
  try {
    u = new URL(text);
  } catch {
    throw new UsageError(`--from-original ${raw}: not a URL (http://host:port of the original agent)`);
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") {
    throw new UsageError(`--from-original ${raw}: http:// or https:// only`);
  }
  u.pathname = u.pathname.replace(/\/+$/, "");
  u.search = "";
  u.hash = "";
  return u;
}

async function get(url: string, timeoutMs: number): Promise<Response> {
  try {
    return await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  } catch (err) {
    const e = err as Error;
    const why = e.name === "TimeoutError" ? `no answer within ${timeoutMs / 1000} s` : e.message;
    throw new Error(`${url}: ${why}`);
  }
}

/** Lists the original agent's keys and reads every user key; throws naming the URL when it cannot. */
export async function readOriginal(raw: string, prefix = "", timeoutMs = 10_000): Promise<OriginalPlan> {
  const base = baseUrl(raw);
  const root = base.href.replace(/\/$/, "");
  const listRes = await get(`${root}/kv/`, timeoutMs);
  const listText = await listRes.text();
  if (!listRes.ok) throw new Error(`${root}/kv/: HTTP ${listRes.status} ${listText.slice(0, 200)}`);
  let keys: unknown;
  try {
    keys = JSON.parse(listText);
  } catch {
    throw new Error(
      `${root}/kv/: not the original's key list (not JSON: ${JSON.stringify(listText.slice(0, 80))})`,
    );
  }
  if (!Array.isArray(keys) || !keys.every((k) => typeof k === "string")) {
    throw new Error(`${root}/kv/: not the original's key list (expected a JSON array of key names)`);
  }
  const plan: OriginalPlan = { url: root, entries: [], skipped: [], missing: [], refused: [] };
  for (const key of [...new Set(keys as string[])].sort()) {
    if (!key.startsWith(prefix)) continue;
    const why = internalKey(key);
    if (why) {
      plan.skipped.push({ key, why });
      continue;
    }
    try {
      validateKey(key, Infinity);
    } catch (err) {
      plan.refused.push({ key, why: (err as Error).message });
      continue;
    }
    // the original's route is /kv/<key:path>: '/' stays a separator, every other byte is escaped
    const res = await get(`${root}/kv/${key.split("/").map(encodeURIComponent).join("/")}`, timeoutMs);
    if (res.status === 404) {
      await res.body?.cancel();
      plan.missing.push(key);
      continue;
    }
    const body = new Uint8Array(await res.arrayBuffer());
    if (!res.ok) throw new Error(`${root}/kv/${key}: HTTP ${res.status}`);
    plan.entries.push({ key, flags: 0, value: bytesToBase64(body) });
  }
  return plan;
}
