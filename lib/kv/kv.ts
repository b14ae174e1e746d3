/**
 * One node of the replicated KV store: placement on the ring, reads routed to the owner (then the
 * replicas), writes routed to the owner which coordinates them (see coordinator.ts), local apply
 * with last-writer-wins by version, blocking reads and cluster-wide prefix listings.
 */
import { setImmediate } from "node:timers";
import type { Clock } from "../clock/mod.ts";
import type { EventBus } from "../bus.ts";
import type { KvConfig } from "../config/mod.ts";
import type { Logger } from "../log/mod.ts";
import { KvError, validateKey, validatePrefix } from "./keys.ts";
import { PeerClient, PeerRefused, PeerUnreachable } from "./peers.ts";
import {
  bytesToBase64,
  compareVersion,
  expiredTombstone,
  fromWire,
  isLive,
  type KvRecord,
  nextIndex,
  type WireRecord,
} from "./record.ts";
import { Ring, type RingNode } from "./ring.ts";
import type { KvStorage } from "./storage.ts";
import { KeyLocks, Watchers } from "./watch.ts";
import {
  type DeleteOptions,
  type KvApi,
  type ListOptions,
  MAX_WAIT_MS,
  type PutOptions,
  type ReadOptions,
  type WriteRequest,
} from "./api.ts";

export type { DeleteOptions, KvApi, ListOptions, PutOptions, ReadOptions, WriteRequest } from "./api.ts";
export { MAX_WAIT_MS } from "./api.ts";

export interface KvNodeDeps {
  cfg: KvConfig;
  self: RingNode;
  storage: KvStorage;
  peers: PeerClient;
  clock: Clock;
  log: Logger;
  bus?: EventBus;
}

/** Coordinator of writes; set by coordinator.ts to keep this file about routing and reads. */
export type Coordinate = (w: WriteRequest, deadline: number) => Promise<{ ok: boolean; index: number }>;

export class KvNode implements KvApi {
  readonly cfg: KvConfig;
  readonly self: RingNode;
  readonly storage: KvStorage;
  readonly peers: PeerClient;
  readonly clock: Clock;
  readonly log: Logger;
  readonly watchers = new Watchers();
  readonly locks = new KeyLocks();
  coordinate: Coordinate = () => Promise.reject(new KvError(503, "kv coordinator not ready"));
  /** Called after the ring changed (repair hooks handover here). */
  onRingChange: (before: Ring, after: Ring) => void = () => {};
  #bus?: EventBus;
  #ring: Ring;
  #ringSig = "";
  /** Storage work waiting for the next group commit. */
  #group: Array<{ work: () => unknown; resolve: (out: unknown) => void; reject: (e: Error) => void }> = [];
  #last = 0;
  /** Stopping: blocking reads answer at once instead of waiting again. */
  closed = false;
  /** Catching up after start (until an anti-entropy round reached a peer): reads prefer other copies. */
  syncing = false;
  /** Counters for info(). */
  stats = { forwarded: 0, coordinated: 0, replicated_in: 0, reads_remote: 0, reads_fallback: 0 };

  constructor(d: KvNodeDeps) {
    this.cfg = d.cfg;
    this.self = d.self;
    this.storage = d.storage;
    this.peers = d.peers;
    this.clock = d.clock;
    this.log = d.log;
    this.#bus = d.bus;
    this.#ring = new Ring([], d.cfg.vnodes);
  }

  get ring(): Ring {
    return this.#ring;
  }

  /** Releases blocking reads (stop). */
  close(): void {
    this.closed = true;
    this.watchers.clear();
  }

  /** Replaces the ring's nodes (kv members; empty = this node alone). Returns true if it changed. */
  setRingNodes(nodes: RingNode[]): boolean {
    // membership changes often (services, checks); rebuild only when the kv nodes changed
    const sig = nodes.map((n) => `${n.uuid}@${n.addr}:${n.port}`).sort().join(",");
    if (sig === this.#ringSig) return false;
    this.#ringSig = sig;
    const next = new Ring(nodes, this.cfg.vnodes);
    if (next.sameAs(this.#ring)) return false;
    const before = this.#ring;
    this.#ring = next;
    this.onRingChange(before, next);
    return true;
  }

  /** Owner first, then replicas; this node alone when the ring is empty. */
  owners(key: string): readonly RingNode[] {
    if (!this.#ring.nodes.length) return [this.self];
    return this.#ring.owners(key, this.cfg.replicas);
  }

  /** Distinct nodes holding data (for listings and anti-entropy). */
  holders(): RingNode[] {
    return this.#ring.nodes.length ? this.#ring.nodes : [this.self];
  }

  /** A fresh hybrid-logical-clock index, above everything seen. */
  nextIndex(): number {
    this.#last = nextIndex(Math.max(this.#last, this.storage.maxIndex), this.clock.now());
    return this.#last;
  }

  /** Highest index this node has produced or stored. */
  currentIndex(): number {
    return Math.max(this.#last, this.storage.maxIndex);
  }

  /**
   * Runs synchronous storage work in one transaction together with every other write of this
   * moment (coordinated writes, replicated batches): group commit, since a commit costs far more
   * than a row. Resolves with the work's result once committed; rejects (all of the group) when
   * the transaction fails.
   */
  inGroupCommit<T>(work: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.#group.push({ work, resolve: resolve as (out: unknown) => void, reject });
      // a deferral, not a delay: setImmediate (µs; setTimeout(0) costs ~2 ms), never the virtual clock
      if (this.#group.length === 1) setImmediate(() => this.#flushGroup());
    });
  }

  #flushGroup(): void {
    const batch = this.#group;
    this.#group = [];
    let out: unknown[];
    try {
      out = this.storage.transaction(() => batch.map((b) => b.work()));
    } catch (err) {
      for (const b of batch) b.reject(err as Error);
      return;
    }
    batch.forEach((b, i) => b.resolve(out[i]));
  }

  /** Stores `rec` in the next group commit; resolves once committed, true when it was newer than ours. */
  async applyLocalGrouped(rec: KvRecord): Promise<boolean> {
    const stored = await this.inGroupCommit(() => this.storage.merge(rec));
    if (stored) this.changed(rec);
    return stored;
  }

  /** Stores a record when newer than ours and tells watchers; true when stored. */
  applyLocal(rec: KvRecord): boolean {
    if (!this.storage.merge(rec)) return false;
    this.changed(rec);
    return true;
  }

  /** Wakes blocking reads and emits `kv.changed`. */
  changed(rec: KvRecord): void {
    this.watchers.notify(rec.key);
    this.#bus?.emit("kv.changed", { key: rec.key, modify_index: rec.modify_index, deleted: rec.deleted });
  }

  /** Our stored record, with an expired value turned into its tombstone first. */
  localRecord(key: string): KvRecord | null {
    const cur = this.storage.getRecord(key);
    if (cur && !cur.deleted && cur.expires > 0 && cur.expires <= this.clock.now()) {
      const t = expiredTombstone(cur);
      this.applyLocal(t);
      return t;
    }
    return cur;
  }

  // --- public operations ---

  async put(key: string, value: Uint8Array, opts: PutOptions = {}): Promise<{ ok: boolean; index: number }> {
    validateKey(key, this.cfg.max_key_bytes);
    if (value.length > this.cfg.max_value_bytes) {
      throw new KvError(
        413,
        `value is ${value.length} bytes, larger than kv.max_value_bytes (${this.cfg.max_value_bytes})`,
      );
    }
    checkCount("flags", opts.flags);
    checkCount("cas", opts.cas);
    if (opts.ttlMs !== undefined && (!Number.isFinite(opts.ttlMs) || opts.ttlMs < 0)) {
      throw new KvError(400, "ttl must be a positive duration");
    }
    return await this.routeWrite(
      { op: "put", key, value, flags: opts.flags ?? 0, ttlMs: opts.ttlMs ?? 0, cas: opts.cas },
      opts.deadline,
    );
  }

  async delete(key: string, opts: DeleteOptions = {}): Promise<{ ok: boolean; index: number }> {
    validateKey(key, this.cfg.max_key_bytes);
    checkCount("cas", opts.cas);
    return await this.routeWrite({ op: "delete", key, cas: opts.cas }, opts.deadline);
  }

  /** Coordinates locally when we own the key, else forwards (one hop) to the first reachable owner. */
  async routeWrite(w: WriteRequest, deadline?: number): Promise<{ ok: boolean; index: number }> {
    const until = deadline ?? this.clock.now() + this.cfg.request_timeout;
    const reasons: string[] = [];
    for (const o of this.owners(w.key)) {
      if (o.uuid === this.self.uuid) {
        this.stats.coordinated++;
        return await this.coordinate(w, until);
      }
      try {
        this.stats.forwarded++;
        return await this.peers.forward(o, {
          op: w.op,
          key: w.key,
          value: w.value ? bytesToBase64(w.value) : undefined,
          flags: w.flags,
          ttl_ms: w.ttlMs,
          cas: w.cas,
          deadline: until,
        });
      } catch (err) {
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
    validateKey(key, this.cfg.max_key_bytes);
    const waitMs = clampWait(opts);
    const reasons: string[] = [];
    let tried = 0;
    let owners = this.owners(key);
    // just (re)started: our copy may miss writes until the first anti-entropy round; ask others first
    if (this.syncing && owners.length > 1) {
      owners = [
        ...owners.filter((o) => o.uuid !== this.self.uuid),
        ...owners.filter((o) => o.uuid === this.self.uuid),
      ];
    }
    for (const o of owners) {
      if (tried++ > 0) this.stats.reads_fallback++;
      if (o.uuid === this.self.uuid) {
        return this.#live(await this.localGet(key, opts.index, waitMs, opts.signal));
      }
      try {
        this.stats.reads_remote++;
        if (opts.index === undefined) return this.#live(await this.peers.read(o, key));
        const q = new URLSearchParams({ key });
        q.set("index", String(opts.index));
        q.set("wait_ms", String(waitMs));
        const ans = await this.peers.request<{ record: WireRecord | null; index: number }>(
          o,
          "GET",
          `/kv-internal/get?${q}`,
          undefined,
          this.clock.now() + waitMs + this.cfg.request_timeout,
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
    throw new KvError(503, `no copy of key ${JSON.stringify(key)} is reachable: ${reasons.join("; ")}`);
  }

  #live(r: { record: KvRecord | null; index: number }): { entry: KvRecord | null; index: number } {
    return { entry: isLive(r.record, this.clock.now()) ? r.record : null, index: r.index };
  }

  /** Our copy of a key; with `index`, waits up to `waitMs` for a version past it. */
  async localGet(
    key: string,
    index: number | undefined,
    waitMs: number,
    signal?: AbortSignal,
  ): Promise<{ record: KvRecord | null; index: number }> {
    const until = this.clock.now() + waitMs;
    while (true) {
      const cur = this.localRecord(key);
      const remaining = until - this.clock.now();
      if (
        index === undefined || (cur && cur.modify_index > index) || remaining <= 0 || signal?.aborted ||
        this.closed
      ) {
        return { record: cur, index: cur ? cur.modify_index : this.currentIndex() };
      }
      await this.watchers.wait(this.clock, key, true, remaining, signal);
    }
  }

  /** Our records under `prefix` (tombstones included); with `index`, waits for changes past it. */
  async localList(
    prefix: string,
    index: number | undefined,
    waitMs: number,
    signal?: AbortSignal,
  ): Promise<{ records: KvRecord[]; index: number }> {
    const until = this.clock.now() + waitMs;
    while (true) {
      const now = this.clock.now();
      const records = this.storage.scanPrefix(prefix, { sinceIndex: index })
        .map((r) => !r.deleted && r.expires > 0 && r.expires <= now ? expiredTombstone(r) : r);
      const remaining = until - now;
      if (index === undefined || records.length || remaining <= 0 || signal?.aborted || this.closed) {
        return { records, index: this.currentIndex() };
      }
      await this.watchers.wait(this.clock, prefix, false, remaining, signal);
    }
  }

  async list(prefix: string, opts: ListOptions = {}): Promise<{ entries: KvRecord[]; index: number }> {
    validatePrefix(prefix, this.cfg.max_key_bytes);
    const waitMs = clampWait(opts);
    const nodes = this.holders();
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
        if (!cur || compareVersion(cur, rec) < 0) merged.set(rec.key, rec);
      }
      // a blocking listing answers as soon as one node saw a change
      if (opts.index !== undefined && r.records.length) ctl.abort();
    };
    await Promise.all(nodes.map(async (n) => {
      try {
        if (n.uuid === this.self.uuid) {
          return take(await this.localList(prefix, opts.index, waitMs, ctl.signal));
        }
        const q = new URLSearchParams({ prefix });
        if (opts.keysOnly) q.set("values", "0");
        if (opts.index !== undefined) {
          q.set("index", String(opts.index));
          q.set("wait_ms", String(waitMs));
        }
        const ans = await this.peers.request<{ records: WireRecord[]; index: number }>(
          n,
          "GET",
          `/kv-internal/list?${q}`,
          undefined,
          this.clock.now() + waitMs + this.cfg.request_timeout,
          ctl.signal,
        );
        take({ records: ans.records.map(fromWire), index: ans.index });
      } catch (err) {
        if (!ctl.signal.aborted) reasons.push((err as Error).message);
      }
    }));
    opts.signal?.removeEventListener("abort", abort);
    if (!answered) throw new KvError(503, `no kv node answered the listing: ${reasons.join("; ")}`);
    const now = this.clock.now();
    let entries = [...merged.values()].sort((a, b) => a.key < b.key ? -1 : a.key > b.key ? 1 : 0);
    entries = opts.index === undefined
      ? entries.filter((r) => isLive(r, now))
      : entries.filter((r) => r.modify_index > opts.index!);
    return { entries, index: Math.max(index, ...entries.map((e) => e.modify_index)) };
  }
}

function clampWait(opts: ReadOptions): number {
  if (opts.index === undefined) return 0;
  const w = opts.waitMs ?? 30_000;
  if (!Number.isFinite(w) || w < 0) throw new KvError(400, "wait must be a positive duration");
  return Math.min(w, MAX_WAIT_MS);
}

function checkCount(name: string, v: number | undefined): void {
  if (v === undefined) return;
  if (!Number.isSafeInteger(v) || v < 0) {
    throw new KvError(400, `${name} must be a non-negative integer, got ${v}`);
  }
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
