/**
 * The serving side of KV peer messages, whatever carried them (HTTP routes or the simulated
 * network): every field is checked with the bounds of client requests (validate.ts) before it
 * reaches the store: keys, values, TTLs, indexes (none from the future), waits and batch sizes.
 */
import type { Clock } from "../clock/mod.ts";
import { KvError, validateKey, validatePrefix } from "./keys.ts";
import type { WriteRequest, WriteResult } from "./api.ts";
import { asKvError, MAX_WAIT_MS } from "./kv.ts";
import { type LocalReplica, MAX_GRANT_MS } from "./local.ts";
import type { Placement } from "./placement.ts";
import type { ApplyItem } from "./peers.ts";
import {
  base64ToBytes,
  fromWire,
  type KvRecord,
  localIndex,
  toListWire,
  toWire,
  type Version,
  type WireRecord,
} from "./record.ts";
import { applyItems, changedFor } from "./replica.ts";
import type { KvMessage, KvServe } from "./transport.ts";
import { checkInt, checkRecord, checkWrite, type Limits, MAX_BATCH, MAX_ORIGIN } from "./validate.ts";

export interface PeerServerDeps {
  local: LocalReplica;
  placement: Placement;
  coordinate(w: WriteRequest, deadline: number): Promise<WriteResult>;
  clock: Clock;
  cfg: Limits & { request_timeout: number };
}

/** Most versions one anti-entropy pull may ask for. */
const MAX_PULL = 5000;
/**
 * Largest `reads` answer, as estimated before encoding (a 4 KB message naming one 35 KB value 1 024
 * times made 47 MB and 0.9 s of CPU). Beyond it, an asker that said `partial: true` gets the reads
 * that fit (`truncated: true`) and asks again for the rest; to another the message is refused 413 and
 * it splits its batch in halves (peers.ts), down to one key a message.
 */
export const READS_ANSWER_MAX = 4 * 1024 * 1024;

/** Builds the function that answers KV peer messages. */
export function peerServer(d: PeerServerDeps): KvServe {
  const handlers: Record<KvMessage, (b: Obj, signal?: AbortSignal) => Promise<unknown> | unknown> = {
    // forwarded writes, batched: each is coordinated here (one hop: never forwarded again)
    writes: async (b) => {
      const writes = batch(b, "writes");
      const now = d.clock.now();
      const results = await Promise.all(writes.map(async (raw, i) => {
        try {
          const { w, deadline, timeoutMs, lean } = parseWrite(raw, i, d.cfg);
          // the time left, on this node's clock; an absolute deadline only from agents before timeout_ms
          const until = Math.min(
            timeoutMs !== undefined ? now + timeoutMs : deadline ?? now + d.cfg.request_timeout,
            now + MAX_WAIT_MS,
          );
          const r = await d.coordinate(w, until);
          if (!r.record) return r;
          const { record, ...rest } = r;
          // a lean forwarder rebuilds the record from its write: only the stamp goes back
          if (lean) {
            return {
              ...rest,
              stamp: { origin: record.origin, modify_time: record.modify_time, expires: record.expires },
            };
          }
          return { ...rest, record: toWire(record) };
        } catch (err) {
          const e = asKvError(err);
          return { error: e.message, status: e instanceof KvError ? e.status : 500 };
        }
      }));
      return { results };
    },
    apply: async (b) => {
      const now = d.clock.now();
      const items: ApplyItem[] = batch(b, "items").map((raw, i) => {
        const o = obj(raw, `items[${i}]`);
        let record;
        try {
          record = checkRecord(fromWire(o.record), d.cfg, now);
        } catch (err) {
          throw new KvError(
            err instanceof KvError ? err.status : 400,
            `items[${i}]: ${(err as Error).message}`,
          );
        }
        return {
          record,
          prev: version(o.prev, `items[${i}].prev`),
          checkOnly: o.check_only === true,
          // agents before grant_ms: a grant as long as one request may take here
          grantMs: o.grant_ms === undefined
            ? d.cfg.request_timeout
            : checkInt(`items[${i}].grant_ms`, o.grant_ms, MAX_GRANT_MS),
          replaceIf: version(o.replace_if, `items[${i}].replace_if`) ?? undefined,
          drop: o.drop === true,
        };
      });
      const results = await applyItems(d.local, items);
      return {
        results: results.map((x) =>
          x.ok
            ? { ok: true }
            : "busy" in x
            ? { ok: false, busy: true }
            : { ok: false, current: toWire(x.current) }
        ),
      };
    },
    // non-blocking owner reads, batched
    reads: (b) => {
      const keys = batch(b, "keys");
      // a frame of keys is small, the values it names are not: the answer's size is checked before
      // any value is encoded (1 024 reads of one 1 MiB value made 1.4 GB of base64 for one frame).
      // A key named twice (two callers' reads in one batch) is looked up and encoded once; it still
      // counts each time, as the answer repeats it. The first key is always served: a value larger
      // than the bound (kv.max_value_bytes may be) is read one key a message.
      const seen = new Map<string, ReadHit>();
      let size = 0;
      const hits: ReadHit[] = [];
      for (let i = 0; i < keys.length; i++) {
        const k = keys[i];
        let hit = typeof k === "string" ? seen.get(k) : undefined;
        if (!hit) {
          hit = { rec: d.local.record(key(k, `keys[${i}]`, d.cfg)), answer: null };
          seen.set(k as string, hit);
        }
        if (hit.rec) size += Math.ceil(hit.rec.value.length / 3) * 4 + hit.rec.key.length * 2 + 200;
        if (size > READS_ANSWER_MAX && i > 0) {
          // the first i fit: an asker that takes part of an answer asks again for the rest
          if (b.partial === true) break;
          throw new KvError(
            413,
            `the values of these ${keys.length} reads pass ${READS_ANSWER_MAX} bytes: ask for fewer at a time`,
          );
        }
        hits.push(hit);
      }
      const results = hits.map((h) =>
        h.answer ??= {
          record: h.rec ? toWire(h.rec) : null,
          index: h.rec ? localIndex(h.rec) : d.local.currentIndex(),
        }
      );
      // just restarted, our copy may miss writes made meanwhile: the asker tries the next copy too
      const stale = d.local.stale || undefined;
      return hits.length < keys.length ? { results, truncated: true, stale } : { results, stale };
    },
    get: async (b, signal) => {
      const k = key(b.key, "key", d.cfg);
      const ans = await d.local.get(k, optIndex(b.index), wait(b.wait_ms), signal);
      return { record: ans.record ? toWire(ans.record) : null, index: ans.index };
    },
    list: async (b, signal) => {
      const prefix = b.prefix ?? "";
      if (typeof prefix !== "string") throw new KvError(400, "prefix: expected a string");
      validatePrefix(prefix, d.cfg.max_key_bytes);
      const ans = await d.local.list(prefix, optIndex(b.index), wait(b.wait_ms), signal);
      const empty = new Uint8Array();
      const records = b.values === false ? ans.records.map((r) => ({ ...r, value: empty })) : ans.records;
      return { records: records.map(toListWire), index: ans.index };
    },
    changed: (b) => {
      const forUuid = str(b.for, "for", MAX_ORIGIN);
      // an empty epoch: the asker has no mark yet (its first pull)
      const epoch = b.epoch === undefined || b.epoch === "" ? "" : str(b.epoch, "epoch", 64);
      const since = b.since === undefined ? 0 : checkInt("since", b.since, Number.MAX_SAFE_INTEGER);
      const limit = Math.min(b.limit === undefined ? 500 : checkInt("limit", b.limit), MAX_PULL);
      const ans = changedFor(d.local, d.placement, since, epoch, forUuid, Math.max(1, limit));
      if (!ans) throw new KvError(503, `node ${forUuid} is not on this node's kv ring yet`);
      return ans;
    },
  };
  return async (kind, body, signal) => {
    const h = handlers[kind];
    if (!h) throw new KvError(404, `unknown kv peer message ${JSON.stringify(kind)}`);
    return await h(obj(body, kind), signal);
  };
}

type Obj = Record<string, unknown>;

/** One key of a `reads` message: looked up once, encoded once however many times it is named. */
interface ReadHit {
  rec: KvRecord | null;
  answer: { record: WireRecord | null; index: number } | null;
}

function obj(v: unknown, what: string): Obj {
  if (!v || typeof v !== "object" || Array.isArray(v)) throw new KvError(400, `${what}: expected an object`);
  return v as Obj;
}

function batch(b: Obj, field: string): unknown[] {
  const v = b[field];
  if (!Array.isArray(v)) throw new KvError(400, `${field}: expected an array`);
  if (v.length > MAX_BATCH) throw new KvError(413, `${field}: ${v.length} items, more than ${MAX_BATCH}`);
  return v;
}

function str(v: unknown, field: string, max: number): string {
  if (typeof v !== "string" || !v || v.length > max) {
    throw new KvError(400, `${field}: expected a non-empty string of at most ${max} characters`);
  }
  return v;
}

function key(v: unknown, field: string, lim: Limits): string {
  if (typeof v !== "string") throw new KvError(400, `${field}: expected a string`);
  validateKey(v, lim.max_key_bytes);
  return v;
}

function optIndex(v: unknown): number | undefined {
  return v === undefined || v === null ? undefined : checkInt("index", v);
}

function wait(v: unknown): number {
  return v === undefined ? 0 : Math.min(checkInt("wait_ms", v, Number.MAX_SAFE_INTEGER), MAX_WAIT_MS);
}

function version(v: unknown, field: string): Version | null | undefined {
  if (v === undefined) return undefined;
  if (v === null) return null;
  const o = obj(v, field);
  return {
    modify_index: checkInt(`${field}.modify_index`, o.modify_index),
    origin: str(o.origin, `${field}.origin`, MAX_ORIGIN),
  };
}

/** A forwarded write from its wire form, checked like a client's. */
function parseWrite(
  raw: unknown,
  i: number,
  lim: Limits,
): { w: WriteRequest; deadline?: number; timeoutMs?: number; lean: boolean } {
  const b = obj(raw, `writes[${i}]`);
  if (b.op !== "put" && b.op !== "delete") throw new KvError(400, `writes[${i}].op: expected put or delete`);
  if (typeof b.key !== "string") throw new KvError(400, `writes[${i}].key: expected a string`);
  let value: Uint8Array | undefined;
  if (b.value !== undefined) {
    if (typeof b.value !== "string") throw new KvError(400, `writes[${i}].value: expected base64`);
    try {
      value = base64ToBytes(b.value);
    } catch {
      throw new KvError(400, `writes[${i}].value: not base64`);
    }
  }
  const w: WriteRequest = {
    op: b.op,
    key: b.key,
    value,
    flags: b.flags === undefined ? 0 : (b.flags as number),
    ttlMs: b.ttl_ms === undefined ? 0 : (b.ttl_ms as number),
    cas: b.cas === undefined ? undefined : (b.cas as number),
    carry: b.carry === undefined ? undefined : str(b.carry, `writes[${i}].carry`, MAX_ORIGIN),
  };
  checkWrite(w, lim);
  const deadline = b.deadline === undefined
    ? undefined
    : checkInt("deadline", b.deadline, Number.MAX_SAFE_INTEGER);
  const timeoutMs = b.timeout_ms === undefined
    ? undefined
    : checkInt(`writes[${i}].timeout_ms`, b.timeout_ms, Number.MAX_SAFE_INTEGER);
  return { w, deadline, timeoutMs, lean: b.lean === true };
}
