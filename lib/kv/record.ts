/**
 * The replicated unit: one key's latest version (value or tombstone) and the pure rules that
 * order versions. A version is (modify_index, origin): indexes come from a hybrid logical clock
 * (milliseconds × 1000 + counter, see `nextIndex`) so they grow across nodes in real-time order
 * and a later write anywhere wins over an earlier one.
 */
import { MAX_INDEX } from "./validate.ts";

/** One key as stored and replicated. */
export interface KvRecord {
  key: string;
  value: Uint8Array;
  flags: number;
  /** Hybrid-logical-clock index assigned by the coordinator of the write. */
  modify_index: number;
  /** uuid of the node that assigned the index: breaks ties between equal indexes. */
  origin: string;
  /** Milliseconds since the epoch, set by the coordinator. */
  modify_time: number;
  /** Absolute expiry in ms (0: never). */
  expires: number;
  /** Tombstone: the key was deleted (kept so deletes replicate and are not resurrected). */
  deleted: boolean;
  /**
   * This copy's own: the index its readers see the record at, when it was stored at or below an
   * index they may have been shown already (see KvStorage.freshIndex). Never replicated.
   */
  local_index?: number;
}

/** The part of a record that orders it. */
export interface Version {
  modify_index: number;
  origin: string;
}

/** <0, 0, >0 as `a` is older than, the same as, newer than `b`. */
export function compareVersion(a: Version, b: Version): number {
  if (a.modify_index !== b.modify_index) return a.modify_index < b.modify_index ? -1 : 1;
  return a.origin < b.origin ? -1 : a.origin > b.origin ? 1 : 0;
}

/** The next hybrid-logical-clock index after `last` at wall time `nowMs`. */
export function nextIndex(last: number, nowMs: number): number {
  return Math.max(last + 1, Math.floor(nowMs) * 1000);
}

/** True when the record is a live value at `nowMs` (not a tombstone, not expired). */
export function isLive(r: KvRecord | null | undefined, nowMs: number): r is KvRecord {
  return !!r && !r.deleted && (r.expires === 0 || r.expires > nowMs);
}

/**
 * The tombstone an expired record turns into. Deterministic, so every replica that expires the
 * key on its own produces the same record. It keeps the version of the write it ends (and its
 * expiry): between replicas it beats only that write and older ones (`compareRecords`), so a
 * renewal written before the expiry still wins wherever the old copy expired while cut off.
 * Readers see it at the expiry time (`seenIndex`), past every index handed out before.
 */
export function expiredTombstone(r: KvRecord): KvRecord {
  return { ...r, value: new Uint8Array(), modify_time: r.expires, deleted: true };
}

/** True for the tombstone a TTL left (a delete's tombstone never has an expiry). */
export function isExpiryTombstone(r: KvRecord): boolean {
  return r.deleted && r.expires > 0;
}

/**
 * The index readers see a record at (blocking reads, X-Kunai-Index, listings): its version's
 * index, or for an expiry tombstone the expiry time on the index clock.
 */
export function seenIndex(r: KvRecord): number {
  return isExpiryTombstone(r) ? Math.max(r.modify_index + 1, r.expires * 1000) : r.modify_index;
}

/**
 * The index this copy's readers see the record at (blocking reads, X-Kunai-Index): `seenIndex`, or
 * the later one it was stored at (`local_index`). Entries still show `seenIndex` (a CAS names it).
 */
export function localIndex(r: KvRecord): number {
  const s = seenIndex(r);
  return r.local_index !== undefined && r.local_index > s ? r.local_index : s;
}

/**
 * <0, 0, >0 as record `a` is older than, the same as, newer than `b`: by version, then the
 * expiry tombstone of a write over the write itself. A total order, so replicas converge.
 */
export function compareRecords(a: KvRecord, b: KvRecord): number {
  return compareVersion(a, b) || (a.deleted === b.deleted ? 0 : a.deleted ? 1 : -1);
}

/** What the coordinator of a write stamps on it: its version, time and absolute expiry. */
export interface WriteStamp extends Version {
  modify_time: number;
  expires: number;
}

/**
 * The record a put or delete becomes once stamped. The coordinator builds it so; a lean forwarder
 * rebuilds the same one from the write it sent and the owner's stamp.
 */
export function stampedRecord(
  w: { op: "put" | "delete"; key: string; value?: Uint8Array; flags?: number },
  s: WriteStamp,
): KvRecord {
  const put = w.op === "put";
  return {
    key: w.key,
    value: put ? (w.value ?? new Uint8Array()) : new Uint8Array(),
    flags: put ? (w.flags ?? 0) : 0,
    modify_index: s.modify_index,
    origin: s.origin,
    modify_time: s.modify_time,
    expires: s.expires,
    deleted: !put,
  };
}

/** JSON form for agent-to-agent traffic (value in base64). */
export interface WireRecord {
  key: string;
  value: string;
  flags: number;
  modify_index: number;
  origin: string;
  modify_time: number;
  expires: number;
  deleted: boolean;
  /** Only in a listing's answer: the record's `local_index` there (older agents ignore it). */
  local_index?: number;
}

/** The wire form of a record; its `local_index` stays on this copy. */
export function toWire(r: KvRecord): WireRecord {
  return {
    key: r.key,
    value: bytesToBase64(r.value),
    flags: r.flags,
    modify_index: r.modify_index,
    origin: r.origin,
    modify_time: r.modify_time,
    expires: r.expires,
    deleted: r.deleted,
  };
}

/**
 * A listed record as a peer answers a listing: with its `local_index`, so that the node merging
 * the answers shows a blocking listing what changed there below the index it was asked.
 */
export function toListWire(r: KvRecord): WireRecord {
  const w = toWire(r);
  if (r.local_index !== undefined) w.local_index = r.local_index;
  return w;
}

/** Parses a listed record (`toListWire`); a `local_index` out of bounds is left out. */
export function fromListWire(w: unknown): KvRecord {
  const r = fromWire(w);
  const li = (w as { local_index?: unknown }).local_index;
  if (typeof li === "number" && Number.isSafeInteger(li) && li > 0 && li <= MAX_INDEX) r.local_index = li;
  return r;
}

/** Parses a wire record; throws naming the field when malformed. */
export function fromWire(w: unknown): KvRecord {
  if (!w || typeof w !== "object") throw new Error("record: expected an object");
  const o = w as Record<string, unknown>;
  const need = (f: string, t: "string" | "number" | "boolean") => {
    const ok = t === "string"
      ? typeof o[f] === "string"
      : t === "number"
      ? typeof o[f] === "number"
      : typeof o[f] === "boolean";
    if (!ok) throw new Error(`record.${f}: expected ${t}`);
    return o[f];
  };
  return {
    key: need("key", "string") as string,
    value: base64ToBytes(need("value", "string") as string),
    flags: need("flags", "number") as number,
    modify_index: need("modify_index", "number") as number,
    origin: need("origin", "string") as string,
    modify_time: need("modify_time", "number") as number,
    expires: need("expires", "number") as number,
    deleted: need("deleted", "boolean") as boolean,
  };
}

// Uint8Array.prototype.toBase64 / Uint8Array.fromBase64 (ES2026, in Deno's V8): native speed
type B64Array = Uint8Array & { toBase64(): string };
type B64Ctor = { fromBase64(s: string): Uint8Array };

export function bytesToBase64(b: Uint8Array): string {
  return (b as B64Array).toBase64();
}

/** Decodes base64; throws on invalid input. */
export function base64ToBytes(s: string): Uint8Array {
  return (Uint8Array as unknown as B64Ctor).fromBase64(s);
}
