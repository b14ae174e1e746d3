/**
 * The KV side of `kunai lock` (cli/lock.ts): the lock's key and value (who holds it), the options'
 * checks, and the agent calls that acquire, read, renew and release it by CAS.
 */
import { type AgentClient, AgentHttpError, AgentUnreachable } from "../lib/client/mod.ts";
import { parseDuration } from "../lib/clock/mod.ts";
import type { MemberRecord } from "../lib/types.ts";
import { UsageError } from "./types.ts";

/** Where the locks live in KV (kunai's own keys all start with `__`). */
export const LOCK_PREFIX = "__lock/";
const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;
export const DEFAULT_TTL = 15_000;
export const MIN_TTL = 3_000;
export const MAX_TTL = 86_400_000;
export const MAX_WAIT = 365 * 86_400_000;
/** Longest single blocking read while waiting (then the key is read and tried again). */
export const MAX_BLOCK = 5_000;

/** What a lock's value says about its holder. */
export interface Holder {
  id: string;
  node: string;
  host: string;
  pid: number;
  since: string;
}

export interface Meta {
  key: string;
  value: string | null;
  modify_index: number;
  expires?: number;
}

/** NAME checked (1-128 letters, digits, `.`, `_`, `:`, `-`, starting with a letter or digit). */
export function lockName(raw: string | undefined): string {
  if (!raw) {
    throw new UsageError("missing lock name, e.g. kunai lock nightly-backup -- /usr/local/bin/backup");
  }
  if (!NAME_RE.test(raw)) {
    throw new UsageError(
      `invalid lock name ${JSON.stringify(raw)}: 1-128 letters, digits, '.', '_', ':' or '-', ` +
        "starting with a letter or digit",
    );
  }
  return raw;
}

export function durationOpt(v: unknown, flag: string, dflt: number, min: number, max: number): number {
  if (v === undefined) return dflt;
  const ms = parseDuration(v);
  if (ms === null || ms < min || ms > max) {
    throw new UsageError(
      `--${flag}: expected a duration between ${fmtMs(min)} and ${fmtMs(max)} (e.g. ${
        max >= 600_000 ? "15s, 10m" : "500ms, 5s"
      }), got ${v}`,
    );
  }
  return Math.floor(ms);
}

export function fmtMs(ms: number): string {
  if (ms % 86_400_000 === 0 && ms) return `${ms / 86_400_000}d`;
  if (ms % 3_600_000 === 0 && ms) return `${ms / 3_600_000}h`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}

/** The holder a lock value names, or null when the value is not one (written by hand). */
export function holderOf(value: string | null): Holder | null {
  if (value === null) return null;
  try {
    const h = JSON.parse(new TextDecoder().decode(Uint8Array.from(atob(value), (c) => c.charCodeAt(0))));
    if (h && typeof h === "object" && typeof h.id === "string" && typeof h.node === "string") return h;
  } catch { /* not a lock value */ }
  return null;
}

/** `node web-1 (host h1, pid 42, since ...)`, or what the value holds when it names no holder. */
export function describeHolder(m: Meta): string {
  const h = holderOf(m.value);
  if (h) return `node ${h.node} (host ${h.host}, pid ${h.pid}, since ${h.since})`;
  const raw = m.value === null ? "" : atob(m.value).slice(0, 80);
  return `a value that names no holder (${JSON.stringify(raw)}, index ${m.modify_index})`;
}

/**
 * Why a lock taken through this agent would not be shared with the other nodes, or null: with no alive or
 * suspect member tagged `kv`, every node keeps its own keys (a node alone is the whole cluster).
 */
export function unsharedReason(members: MemberRecord[]): string | null {
  const live = members.filter((m) => m.state === "alive" || m.state === "suspect");
  if (live.length <= 1 || live.some((m) => (m.tags ?? []).includes("kv"))) return null;
  return `no member of the cluster is tagged kv: each of its ${live.length} nodes keeps its own keys, ` +
    "so the lock would not be shared (tag some nodes kv, see Key/value store)";
}

export const keyPath = (key: string) => `/kv/${encodeURIComponent(key)}`;

/** An agent error answer as an AgentHttpError (its `error` field when JSON). */
export async function failure(res: Response): Promise<AgentHttpError> {
  const text = await res.text();
  try {
    return new AgentHttpError(res.status, String(JSON.parse(text).error ?? text));
  } catch {
    return new AgentHttpError(res.status, text || `HTTP ${res.status}`);
  }
}

/** Worth trying again: the agent did not answer, or answered that no copy could (5xx). */
export function transient(err: unknown): err is Error {
  return err instanceof AgentUnreachable || (err instanceof AgentHttpError && err.status >= 500);
}

export class LockKv {
  constructor(readonly c: AgentClient, readonly key: string) {}

  async write(
    method: "PUT" | "DELETE",
    cas: number,
    timeoutMs: number,
    body?: Uint8Array,
    ttlMs?: number,
  ): Promise<{ ok: boolean; index: number }> {
    const q = new URLSearchParams({ cas: String(cas) });
    if (ttlMs !== undefined) q.set("ttl", `${ttlMs}ms`);
    const res = await this.c.request(method, `${keyPath(this.key)}?${q}`, body as BodyInit, {}, timeoutMs);
    if (!res.ok) throw await failure(res);
    const ok = await res.json() === true;
    return { ok, index: Number(res.headers.get("x-kunai-index") ?? 0) };
  }

  /** The key's entry (null when absent) and the index to block on; `waitMs` blocks past `index`. */
  async read(index?: number, waitMs?: number): Promise<{ meta: Meta | null; index: number }> {
    const q = waitMs !== undefined && index !== undefined
      ? `&index=${index}&wait=${Math.ceil(waitMs)}ms`
      : "";
    const timeout = (waitMs ?? 0) + 10_000;
    const res = await this.c.request("GET", `${keyPath(this.key)}?meta${q}`, undefined, {}, timeout);
    const at = Number(res.headers.get("x-kunai-index") ?? 0);
    if (res.status === 404) {
      await res.body?.cancel();
      return { meta: null, index: at };
    }
    if (!res.ok) throw await failure(res);
    return { meta: await res.json() as Meta, index: at };
  }
}
