/**
 * How KV records map to SQLite rows (pure): the column list, the values of an insert, and the
 * guarded read of a row. Integers are read through `bounded()`, so a value stored before the bounds
 * existed (above 2^53, which node:sqlite refuses to hand to JS) reads as -1 and the row is
 * reported instead of failing the whole query.
 */
import type { SqlValue } from "../store/mod.ts";
import type { KvRecord } from "./record.ts";
import { MAX_FLAGS, MAX_INDEX } from "./validate.ts";

export interface Row {
  key: string;
  /** Null only when the row says its value is in kv_big and kv_big has no row for it (damaged). */
  value: Uint8Array | null;
  flags: number;
  modify_index: number;
  origin: string;
  modify_time: number;
  expires: number;
  deleted: number;
  seq: number;
  local_index: number;
}

export const COLS =
  "key, value, flags, modify_index, origin, modify_time, expires, deleted, seq, local_index, big";

/**
 * Values out of line. `kv` is a WITHOUT ROWID table (schema.ts, v2), an index b-tree: a row longer
 * than its page's local payload spills onto overflow pages, and SQLite compares a key against such
 * a row by loading the whole row. A few large values then slowed every lookup that passed them
 * (measured with 1 KiB pages and 10 000 keys of 100 bytes: 40 values of 1 MiB made a lookup of a
 * small key 4x dearer and its update 8x; 400 of 64 KiB, 2-3x), and reading or replacing a 1 MiB
 * value itself cost 10 and 24 ms. A row that would spill keeps an empty value and `big = 1`; the
 * value is in `kv_big`, a rowid table (its b-tree compares small keys; a blob's overflow pages are
 * read once, in order), kept in step by triggers (a row deleted, or rewritten inline, drops it).
 */
export const ROW_OVERHEAD = 32;

/** SQLite's largest payload kept on an index b-tree page of `pageSize` bytes (file format, 1.6). */
export function localPayload(pageSize: number): number {
  return Math.floor(((pageSize - 12) * 64) / 255) - 23;
}

/**
 * True when `rec`'s row fits its page (`limit`: localPayload of the page size): header, integers and
 * origin estimated at ROW_OVERHEAD bytes beyond the key and origin; a key in UTF-16 units (a key
 * with multi-byte characters may spill a little: only slower).
 */
export function storedInline(rec: KvRecord, limit: number): boolean {
  return rec.key.length + rec.value.length + rec.origin.length + ROW_OVERHEAD <= limit;
}

/** The value of an out-of-line row, for rowValues. */
const EMPTY = new Uint8Array(0);
/** Largest expiry or time in ms (its tombstone index stays within MAX_INDEX). */
export const MAX_MS = MAX_INDEX / 1000;

/** An integer column read as -1 when out of range: SQLite's 64-bit values above 2^53 would throw. */
export function bounded(col: string, max: number): string {
  return `CASE WHEN typeof(${col}) = 'integer' AND ${col} BETWEEN 0 AND ${max} THEN ${col} ELSE -1 END AS ${col}`;
}

/** COLS as read: every number a safe integer or -1 (a row written before the bounds existed). */
export const READ_COLS = [
  "key",
  "CASE WHEN big = 1 THEN (SELECT b.value FROM kv_big b WHERE b.key = kv.key) ELSE value END AS value",
  bounded("flags", MAX_FLAGS),
  bounded("modify_index", MAX_INDEX),
  "origin",
  bounded("modify_time", MAX_MS),
  bounded("expires", MAX_MS),
  "deleted",
  bounded("seq", Number.MAX_SAFE_INTEGER),
  bounded("local_index", MAX_INDEX), // NULL (most rows: see KvRecord.local_index) reads as -1
].join(", ");

/** A stored row with a value out of bounds is replaced by any write (it cannot be ordered). */
export const ROW_IS_BAD =
  `NOT (typeof(kv.modify_index) = 'integer' AND kv.modify_index BETWEEN 0 AND ${MAX_INDEX})
  OR NOT (typeof(kv.expires) = 'integer' AND kv.expires BETWEEN 0 AND ${MAX_MS})`;

/** A record's values in COLS order; `big`: its value goes to kv_big (the row keeps an empty one). */
export function rowValues(rec: KvRecord, seq: number, big: boolean): SqlValue[] {
  return [
    rec.key,
    big ? EMPTY : rec.value,
    rec.flags,
    rec.modify_index,
    rec.origin,
    rec.modify_time,
    rec.expires,
    rec.deleted ? 1 : 0,
    seq,
    rec.local_index ?? null,
    big ? 1 : 0,
  ];
}

export function toRecord(r: Row): KvRecord {
  if (typeof r.key !== "string" || typeof r.origin !== "string") throw new Error("key or origin is not text");
  if (r.value === null) throw new Error("its value is missing (no row in kv_big)");
  const rec: KvRecord = {
    key: r.key,
    value: r.value instanceof Uint8Array ? r.value : new Uint8Array(r.value as ArrayBufferLike),
    flags: Number(r.flags),
    modify_index: Number(r.modify_index),
    origin: r.origin,
    modify_time: Number(r.modify_time),
    expires: Number(r.expires),
    deleted: Number(r.deleted) === 1,
  };
  if (Number(r.local_index) > 0) rec.local_index = Number(r.local_index);
  return rec;
}
