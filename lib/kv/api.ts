/**
 * The KV store's API as other subsystems and the routes see it, and its option shapes.
 */
import type { KvRecord } from "./record.ts";

/** Longest blocking read. */
export const MAX_WAIT_MS = 10 * 60_000;

export interface PutOptions {
  /** Expire this long after the write (ms; 0 or absent: never). */
  ttlMs?: number;
  flags?: number;
  /** Compare-and-set: succeed only if the key's modify_index is this (0: only if absent). */
  cas?: number;
  /** Epoch ms by which the caller needs an answer. */
  deadline?: number;
}

export interface DeleteOptions {
  cas?: number;
  deadline?: number;
}

export interface ReadOptions {
  /** Blocking read: wait until the key (prefix) changes past this index. */
  index?: number;
  /** How long a blocking read may wait (ms). */
  waitMs?: number;
  signal?: AbortSignal;
}

export interface ListOptions extends ReadOptions {
  /** Only keys are needed: peers leave values out. */
  keysOnly?: boolean;
}

/** What other subsystems and the routes call. */
export interface KvApi {
  /** The live record (null if absent) and the index to block on next. */
  get(key: string, opts?: ReadOptions): Promise<{ entry: KvRecord | null; index: number }>;
  put(key: string, value: Uint8Array, opts?: PutOptions): Promise<{ ok: boolean; index: number }>;
  delete(key: string, opts?: DeleteOptions): Promise<{ ok: boolean; index: number }>;
  /**
   * Records under a prefix across the cluster: live ones, or with `index` only those changed
   * past it (tombstones included, `deleted: true`).
   */
  list(prefix: string, opts?: ListOptions): Promise<{ entries: KvRecord[]; index: number }>;
}

/** A write as the coordinator receives it (locally or forwarded). */
export interface WriteRequest {
  op: "put" | "delete";
  key: string;
  value?: Uint8Array;
  flags?: number;
  ttlMs?: number;
  cas?: number;
  /** Forwarded by this owner of the key (uuid), which stores its copy from the answer (not CAS). */
  carry?: string;
}

/**
 * What the coordinator answers. A forwarder that owns a copy (`carry`) is left out of the fan-out:
 * it receives the record here, stores it and counts its own copy towards `need`.
 */
export interface WriteResult {
  ok: boolean;
  index: number;
  /** With carry: the record the forwarder stores before answering its client. */
  record?: KvRecord;
  /** With carry: copies stored so far (the coordinator's included), and copies required. */
  copies?: number;
  need?: number;
}
