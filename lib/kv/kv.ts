/**
 * The KV API of one node: writes routed to the key's owner (coordinated here or forwarded one
 * hop), reads routed to the owner then the replicas, blocking reads, and cluster-wide prefix
 * listings merged by version.
 */
import type { Clock } from "../clock/mod.ts";
import { KvError, validateKey, validatePrefix } from "./keys.ts";
import type { LocalReplica } from "./local.ts";
import type { Placement } from "./placement.ts";
import { type PeerClient, PeerRefused, PeerUnreachable, type ReadAnswer } from "./peers.ts";
import {
  bytesToBase64,
  compareRecords,
  fromListWire,
  fromWire,
  isLive,
  type KvRecord,
  localIndex,
  stampedRecord,
  type WireRecord,
} from "./record.ts";
import { checkInt, checkRecord, checkWrite, type Limits } from "./validate.ts";
import {
  type DeleteOptions,
  type KvApi,
  type ListOptions,
  MAX_WAIT_MS,
  type PutOptions,
  type ReadOptions,
  type WriteRequest,
  type WriteResult,
} from "./api.ts";

export type { DeleteOptions, KvApi, ListOptions, PutOptions, ReadOptions, WriteRequest } from "./api.ts";
export { MAX_WAIT_MS } from "./api.ts";

export interface KvNodeDeps {
  cfg: Limits & { request_timeout: number };
  local: LocalReplica;
  placement: Placement;
  peers: PeerClient;
  /** Coordinates a write of a key this node owns. */
  coordinate(w: WriteRequest, deadline: number): Promise<WriteResult>;
  clock: Clock;
  /**
   * Why the store cannot answer now (null: it can): every node tagged kv is down. Reads, writes
   * and listings then fail with 503 rather than fall back to this node alone (kv/mod.ts).
   */
  unavailable?: () => string | null;
}

export class KvNode implements KvApi {
  #d: KvNodeDeps;
  #stats = { forwarded: 0, reads_remote: 0, reads_fallback: 0 };

  constructor(deps: KvNodeDeps) {
    this.#d = deps;
  }

  /** Counters for info(). */
  stats(): { forwarded: number; reads_remote: number; reads_fallback: number } {
    return { ...this.#stats };
  }

  async put(key: string, value: Uint8Array, opts: PutOptions = {}): Promise<{ ok: boolean; index: number }> {
    const w = checkWrite(
      { op: "put", key, value, flags: opts.flags ?? 0, ttlMs: opts.ttlMs ?? 0, cas: opts.cas },
      this.#d.cfg,
    );
    return await this.routeWrite(w, opts.deadline);
  }

  async delete(key: string, opts: DeleteOptions = {}): Promise<{ ok: boolean; index: number }> {
    return await this.routeWrite(
      checkWrite({ op: "delete", key, cas: opts.cas }, this.#d.cfg),
      opts.deadline,
    );
  }

  /**
   * Coordinates locally when we own the key, else forwards (one hop) to the first reachable owner.
   * When this node holds a copy too (and it is not a CAS), the owner leaves it out of its fan-out
   * and sends the record back: we store it and count our copy, one replication message saved.
   */
  async routeWrite(w: WriteRequest, deadline?: number): Promise<{ ok: boolean; index: number }> {
    const { placement, clock, cfg, peers, local } = this.#d;
    this.#available();
    const until = Math.min(deadline ?? clock.now() + cfg.request_timeout, clock.now() + MAX_WAIT_MS);
    const reasons: string[] = [];
    const owners = placement.owners(w.key);
    const carry = w.cas === undefined && owners.some((o) => placement.isSelf(o))
      ? placement.self.uuid
      : undefined;
    for (const o of owners) {
      if (placement.isSelf(o)) return settle(await this.#d.coordinate(w, until));
      try {
        this.#stats.forwarded++;
        const r = await peers.forward(o, {
          op: w.op,
          key: w.key,
          value: w.value ? bytesToBase64(w.value) : undefined,
          flags: w.flags,
          ttl_ms: w.ttlMs,
          cas: w.cas,
          deadline: until,
          carry,
          lean: carry !== undefined || undefined,
        });
        if (!r.record && !r.stamp) return settle(r);
        const rec = checkRecord(
          r.record ?? stampedRecord(w, { ...r.stamp!, modify_index: r.index }),
          cfg,
          clock.now(),
        );
        await local.applyGrouped(rec);
        const copies = (r.copies ?? 0) + 1;
        if (copies < (r.need ?? 0)) {
          throw new KvError(
            503,
            `write stored on ${copies} of the ${r.need} copies required (kv.write_acks)`,
          );
        }
        return { ok: true, index: rec.modify_index };
      } catch (err) {
        // a compare-and-set the owner may have applied is not sent to the next owner: that one would
        // see the new index and answer false for a write that was made (a lock taken, told not taken)
        if (err instanceof PeerUnreachable && w.cas !== undefined && !err.notSent) {
          throw new KvError(
            503,
            `outcome unknown: the compare-and-set of key ${JSON.stringify(w.key)} went to ${err.message}; ` +
              `read the key to see whether it was applied`,
          );
        }
        if (err instanceof PeerUnreachable) {
          reasons.push(err.message);
          continue;
        }
        throw asKvError(err);
      }
    }
    throw new KvError(503, `no owner of key ${JSON.stringify(w.key)} is reachable: ${reasons.join("; ")}`);
  }

  async get(key: string, opts: ReadOptions = {}): Promise<{ entry: KvRecord | null; index: number }> {
    const { placement, local, peers, clock, cfg } = this.#d;
    validateKey(key, cfg.max_key_bytes);
    this.#available();
    const waitMs = clampWait(opts);
    const reasons: string[] = [];
    let tried = 0;
    let owners = placement.owners(key);
    // just (re)started: our copy may miss writes until the first anti-entropy round; ask others first
    if (local.stale && owners.length > 1) {
      owners = [...owners.filter((o) => !placement.isSelf(o)), ...owners.filter((o) => placement.isSelf(o))];
    }
    // a copy that said it is catching up after a restart: kept, and the next copy asked too
    let behind: ReadAnswer | null = null;
    for (const o of owners) {
      if (tried++ > 0) this.#stats.reads_fallback++;
      if (placement.isSelf(o)) {
        return this.#live(newer(await local.get(key, opts.index, waitMs, opts.signal), behind));
      }
      try {
        this.#stats.reads_remote++;
        if (opts.index === undefined) {
          const ans = await peers.read(o, key);
          if (ans.stale) {
            behind = newer(ans, behind);
            continue;
          }
          return this.#live(newer(ans, behind));
        }
        const ans = await peers.call<{ record: WireRecord | null; index: number }>(
          o,
          "get",
          { key, index: opts.index, wait_ms: waitMs },
          clock.now() + waitMs + cfg.request_timeout,
          opts.signal,
        );
        return this.#live({ record: ans.record ? fromWire(ans.record) : null, index: ans.index });
      } catch (err) {
        if (err instanceof PeerUnreachable) {
          reasons.push(err.message);
          continue;
        }
        throw asKvError(err);
      }
    }
    // only copies that are catching up answered: the best they have beats no answer
    if (behind) return this.#live(behind);
    throw new KvError(503, `no copy of key ${JSON.stringify(key)} is reachable: ${reasons.join("; ")}`);
  }

  /** Throws the 503 of a store whose kv nodes are all down. */
  #available(): void {
    const why = this.#d.unavailable?.();
    if (why) throw new KvError(503, why);
  }

  #live(r: { record: KvRecord | null; index: number }): { entry: KvRecord | null; index: number } {
    return { entry: isLive(r.record, this.#d.clock.now()) ? r.record : null, index: r.index };
  }

  async list(prefix: string, opts: ListOptions = {}): Promise<{ entries: KvRecord[]; index: number }> {
    const { placement, local, peers, clock, cfg } = this.#d;
    validatePrefix(prefix, cfg.max_key_bytes);
    this.#available();
    const waitMs = clampWait(opts);
    const ctl = new AbortController();
    const abort = () => ctl.abort();
    opts.signal?.addEventListener("abort", abort, { once: true });
    const merged = new Map<string, KvRecord>();
    let index = 0, answered = 0;
    const reasons: string[] = [];
    const take = (r: { records: KvRecord[]; index: number }) => {
      answered++;
      index = Math.max(index, r.index);
      for (const rec of r.records) {
        const cur = merged.get(rec.key);
        if (!cur || compareRecords(cur, rec) < 0) merged.set(rec.key, rec);
      }
      // a blocking listing answers as soon as one node saw a change
      if (opts.index !== undefined && r.records.length) ctl.abort();
    };
    await Promise.all(
      placement.holders().map(async (n) => {
        try {
          if (placement.isSelf(n)) return take(await local.list(prefix, opts.index, waitMs, ctl.signal));
          const ans = await peers.call<{ records: WireRecord[]; index: number }>(
            n,
            "list",
            {
              prefix,
              values: !opts.keysOnly,
              index: opts.index,
              wait_ms: opts.index === undefined ? 0 : waitMs,
            },
            clock.now() + waitMs + cfg.request_timeout,
            ctl.signal,
          );
          take({ records: ans.records.map(fromListWire), index: ans.index });
        } catch (err) {
          if (!ctl.signal.aborted) reasons.push((err as Error).message);
        }
      }),
    );
    opts.signal?.removeEventListener("abort", abort);
    if (!answered) throw new KvError(503, `no kv node answered the listing: ${reasons.join("; ")}`);
    const now = clock.now();
    let entries = [...merged.values()].sort((a, b) => a.key < b.key ? -1 : a.key > b.key ? 1 : 0);
    // a blocking listing shows what changed past its index on the copy that listed it, which may be
    // a version from below that index stored there late (localIndex)
    entries = opts.index === undefined
      ? entries.filter((r) => isLive(r, now))
      : entries.filter((r) => localIndex(r) > opts.index!);
    // a loop, not a spread: a listing of more than ~120 000 keys would overflow the call's arguments
    return { entries, index: entries.reduce((m, e) => Math.max(m, localIndex(e)), index) };
  }
}

/** The answer holding the newer record (the higher index of the two). */
function newer(
  a: { record: KvRecord | null; index: number },
  b: { record: KvRecord | null; index: number } | null,
): { record: KvRecord | null; index: number } {
  if (!b) return a;
  const index = Math.max(a.index, b.index);
  if (!b.record) return { record: a.record, index };
  if (!a.record || compareRecords(a.record, b.record) < 0) return { record: b.record, index };
  return { record: a.record, index };
}

/** A coordinator's answer as the API gives it. */
function settle(r: WriteResult): { ok: boolean; index: number } {
  return { ok: r.ok, index: r.index };
}

/** The wait of a blocking read, bounded by MAX_WAIT_MS (0 for a plain read); checks the index. */
export function clampWait(opts: ReadOptions): number {
  if (opts.index === undefined) return 0;
  checkInt("index", opts.index);
  const w = opts.waitMs ?? 30_000;
  if (!Number.isFinite(w) || w < 0) throw new KvError(400, "wait must be a positive duration");
  return Math.min(w, MAX_WAIT_MS);
}

/** Maps a peer's refusal onto our error (same status, its message). */
export function asKvError(err: unknown): Error {
  if (err instanceof KvError) return err;
  if (err instanceof PeerRefused) {
    const s = err.status;
    const status = s === 400 || s === 404 || s === 413 || s === 503 || s === 504 ? s : 503;
    const body = err.body as { error?: string } | null;
    return new KvError(status, body?.error ?? err.message);
  }
  if (err instanceof PeerUnreachable) return new KvError(503, err.message);
  return err as Error;
}
