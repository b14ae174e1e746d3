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
  value: Uint8Array;
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
  "key, value, flags, modify_index, origin, modify_time, expires, deleted, seq, local_index";
/** Largest expiry or time in ms (its tombstone index stays within MAX_INDEX). */
export const MAX_MS = MAX_INDEX / 1000;

/** An integer column read as -1 when out of range: SQLite's 64-bit values above 2^53 would throw. */
export function bounded(col: string, max: number): string {
  return `CASE WHEN typeof(${col}) = 'integer' AND ${col} BETWEEN 0 AND ${max} THEN ${col} ELSE -1 END AS ${col}`;
}

/** COLS as read: every number a safe integer or -1 (a row written before the bounds existed). */
export const READ_COLS = [
  "key",
  "value",
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

/** A record's values in COLS order. */
export function rowValues(rec: KvRecord, seq: number): SqlValue[] {
  return [
    rec.key,
    rec.value,
    rec.flags,
    rec.modify_index,
    rec.origin,
    rec.modify_time,
    rec.expires,
    rec.deleted ? 1 : 0,
    seq,
    rec.local_index ?? null,
  ];
}

export function toRecord(r: Row): KvRecord {
  if (typeof r.key !== "string" || typeof r.origin !== "string") throw new Error("key or origin is not text");
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
