/**
 * Input bounds of the KV store (pure): what a write, a blocking read and a stored or replicated
 * record may look like. Client writes, forwarded writes and replicated records go through the
 * same checks, so a peer cannot store what a client could not.
 *
 * Indexes come from a hybrid logical clock (ms × 1000 + counter): `MAX_INDEX` (2^52, the year
 * ~2112) keeps every index, and every expiry turned into a tombstone index, a safe integer; an
 * incoming index more than `FUTURE_SKEW_MS` ahead of our clock is refused (it would drag every
 * later write of this node to it).
 */
import { KvError, validateKey } from "./keys.ts";
import type { KvRecord } from "./record.ts";
import type { WriteRequest } from "./api.ts";

/** Highest index accepted anywhere. */
export const MAX_INDEX = 2 ** 52;
/** Longest TTL (10 years): its expiry, as a tombstone index, stays below MAX_INDEX. */
export const MAX_TTL_MS = 10 * 365 * 86_400_000;
/** Largest `flags` (unsigned 32-bit, as the reference's API documents it). */
export const MAX_FLAGS = 2 ** 32 - 1;
/** How far ahead of our clock a peer's index or time may be. */
export const FUTURE_SKEW_MS = 60_000;
/** Most items in one peer message (writes, records, keys). */
export const MAX_BATCH = 1024;
/** Longest node uuid accepted as a record's origin. */
export const MAX_ORIGIN = 128;

/** What the bounds depend on. */
export interface Limits {
  max_key_bytes: number;
  max_value_bytes: number;
}

/** A non-negative safe integer no larger than `max`, else KvError 400 naming `name`. */
export function checkInt(name: string, v: unknown, max = MAX_INDEX): number {
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0 || v > max) {
    throw new KvError(400, `${name} must be an integer between 0 and ${max}, got ${JSON.stringify(v)}`);
  }
  return v;
}

/** TTL in ms: finite, non-negative, at most MAX_TTL_MS. */
export function checkTtl(ms: unknown): number {
  if (typeof ms !== "number" || !Number.isFinite(ms) || ms < 0) {
    throw new KvError(400, `ttl must be a non-negative duration, got ${JSON.stringify(ms)}`);
  }
  if (ms > MAX_TTL_MS) {
    throw new KvError(400, `ttl is longer than the maximum of ${MAX_TTL_MS / 86_400_000} days`);
  }
  return Math.floor(ms);
}

/** Checks a write (client or forwarded) and returns it; KvError 400/413 naming the field. */
export function checkWrite(w: WriteRequest, lim: Limits): WriteRequest {
  validateKey(w.key, lim.max_key_bytes);
  if (w.value && w.value.length > lim.max_value_bytes) {
    throw new KvError(
      413,
      `value is ${w.value.length} bytes, larger than kv.max_value_bytes (${lim.max_value_bytes})`,
    );
  }
  if (w.flags !== undefined) checkInt("flags", w.flags, MAX_FLAGS);
  if (w.cas !== undefined) checkInt("cas", w.cas);
  // whole milliseconds: a stored expiry must be an integer (replicas refused `ttl=1.5ms`'s copies)
  if (w.ttlMs !== undefined) w.ttlMs = checkTtl(w.ttlMs);
  return w;
}

/**
 * Why a stored row cannot be served (hard bounds only: no clock), or null when it is sound.
 * Rows written before these checks existed (a huge TTL, a 2^53 index) fail here.
 */
export function storedProblem(r: KvRecord, lim: Limits): string | null {
  try {
    validateKey(r.key, lim.max_key_bytes);
  } catch (err) {
    return (err as Error).message;
  }
  if (!okInt(r.modify_index, MAX_INDEX)) return `modify_index ${r.modify_index} out of range`;
  if (!okInt(r.modify_time, MAX_INDEX / 1000)) return `modify_time ${r.modify_time} out of range`;
  if (!okInt(r.expires, MAX_INDEX / 1000)) return `expires ${r.expires} out of range`;
  if (!okInt(r.flags, MAX_FLAGS)) return `flags ${r.flags} out of range`;
  if (typeof r.origin !== "string" || r.origin.length > MAX_ORIGIN) return "origin too long";
  if (r.value.length > lim.max_value_bytes) return `value of ${r.value.length} bytes is too large`;
  return null;
}

/**
 * Checks a record received from a peer (replication, repair) like a client write: key, value
 * size, bounds, and nothing from the future (index, time or expiry beyond `now` + skew + TTL).
 */
export function checkRecord(r: KvRecord, lim: Limits, now: number): KvRecord {
  const bad = storedProblem(r, lim);
  if (bad) throw new KvError(bad.startsWith("value") ? 413 : 400, `record ${JSON.stringify(r.key)}: ${bad}`);
  const horizon = now + FUTURE_SKEW_MS;
  if (r.modify_index > horizon * 1000) {
    throw new KvError(
      400,
      `record ${JSON.stringify(r.key)}: modify_index ${r.modify_index} is from the future`,
    );
  }
  if (r.modify_time > horizon) {
    throw new KvError(400, `record ${JSON.stringify(r.key)}: modify_time is from the future`);
  }
  if (r.expires > horizon + MAX_TTL_MS) {
    throw new KvError(400, `record ${JSON.stringify(r.key)}: expires beyond the longest ttl`);
  }
  return r;
}

function okInt(v: unknown, max: number): boolean {
  return typeof v === "number" && Number.isSafeInteger(v) && v >= 0 && v <= max;
}
