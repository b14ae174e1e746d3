/**
 * Agent-to-agent metrics traffic over the peers' HTTP port (`peerCall`, lib/peer_call.ts): the batched
 * forwarder: points (and raw statsd lines) bound for another `ts` owner wait per owner and leave
 * together, every flush or when a batch is full; a peer that does not answer keeps its queue up to
 * a bound (the oldest are dropped and counted beyond it). A batch whose answer did not come back
 * (a timeout, a reset, an answer sealed with a key not installed here yet) may have been taken:
 * it is sent again as it was, with its id, which the owner remembers (`IngestedBatches`), so that
 * a statsd counter is not counted twice.
 */
import type { PeerEnvelope } from "../transport/mod.ts";
import type { MemberRecord } from "../types.ts";
import type { Database } from "../store/mod.ts";
import { peerCall } from "../peer_call.ts";
export { PEER_ANSWER_MAX, peerCall, PeerStatusError } from "../peer_call.ts";

/** What one forward message carries. */
export interface ForwardBatch {
  points: Array<[string, number, number]>;
  statsd: string[];
}

/** A batch on the wire: its id is the same each time it is sent again. */
export interface SentBatch extends ForwardBatch {
  id: string;
}

interface Queue {
  node: MemberRecord;
  batch: ForwardBatch;
  /** Sent, not confirmed: goes again, unchanged, before anything newer. */
  unconfirmed: SentBatch | null;
  sending: boolean;
  /** The send loop in progress (a flush waits for it: stop must not cut it off). */
  running: Promise<void> | null;
}

const size = (b: ForwardBatch | null) => b ? b.points.length + b.statsd.length : 0;

export interface ForwarderStats {
  forwarded_points: number;
  forwarded_lines: number;
  forward_batches: number;
  forward_errors: number;
  forward_dropped: number;
}

export class Forwarder {
  readonly stats: ForwarderStats = {
    forwarded_points: 0,
    forwarded_lines: 0,
    forward_batches: 0,
    forward_errors: 0,
    forward_dropped: 0,
  };
  lastError = "";
  #queues = new Map<string, Queue>();

  constructor(
    readonly envelope: PeerEnvelope | undefined,
    readonly batchSize: number,
    /** Items kept per owner while it does not answer. */
    readonly maxQueued: number,
    readonly onError: (msg: string) => void,
    /** How long an owner has to answer a batch. */
    readonly timeoutMs = 5000,
  ) {}

  #queue(node: MemberRecord): Queue {
    let q = this.#queues.get(node.uuid);
    if (!q) {
      this.#queues.set(
        node.uuid,
        q = { node, batch: { points: [], statsd: [] }, unconfirmed: null, sending: false, running: null },
      );
    }
    q.node = node;
    return q;
  }

  point(node: MemberRecord, name: string, value: number, ts: number): void {
    const q = this.#queue(node);
    q.batch.points.push([name, value, ts]);
    this.#bound(q);
    if (q.batch.points.length + q.batch.statsd.length >= this.batchSize) void this.#send(q);
  }

  statsdLine(node: MemberRecord, line: string): void {
    const q = this.#queue(node);
    q.batch.statsd.push(line);
    this.#bound(q);
    if (q.batch.points.length + q.batch.statsd.length >= this.batchSize) void this.#send(q);
  }

  /** Past maxQueued, the oldest go: the unconfirmed batch's first (what is left keeps its id). */
  #bound(q: Queue): void {
    let over = size(q.unconfirmed) + size(q.batch) - this.maxQueued;
    if (over <= 0) return;
    this.stats.forward_dropped += over;
    for (const b of [q.unconfirmed, q.batch]) {
      if (!b || over <= 0) continue;
      const fromPoints = Math.min(over, b.points.length);
      b.points.splice(0, fromPoints);
      over -= fromPoints;
      const fromLines = Math.min(over, b.statsd.length);
      b.statsd.splice(0, fromLines);
      over -= fromLines;
    }
    if (q.unconfirmed && size(q.unconfirmed) === 0) q.unconfirmed = null;
  }

  /** Sends every waiting batch (the flush timer calls this). */
  async flush(): Promise<void> {
    await Promise.all([...this.#queues.values()].map((q) => this.#send(q)));
  }

  /** A batch is on its way to an owner (it comes back to `waiting` if the send fails). */
  get sending(): boolean {
    for (const q of this.#queues.values()) if (q.sending) return true;
    return false;
  }

  /** Items waiting, all owners together. */
  get waiting(): number {
    let n = 0;
    for (const q of this.#queues.values()) n += size(q.unconfirmed) + size(q.batch);
    return n;
  }

  /** Sends the queue's batches, or waits for the send in progress (which takes what comes meanwhile). */
  #send(q: Queue): Promise<void> {
    if (q.running) return q.running;
    q.running = this.#sendAll(q).finally(() => q.running = null);
    return q.running;
  }

  async #sendAll(q: Queue): Promise<void> {
    while (q.unconfirmed || size(q.batch) > 0) {
      q.sending = true;
      let batch = q.unconfirmed;
      if (!batch) {
        batch = { id: crypto.randomUUID(), ...q.batch };
        q.batch = { points: [], statsd: [] };
        q.unconfirmed = batch;
      }
      try {
        await peerCall(this.envelope, q.node, "/metrics-internal/ingest", batch, this.timeoutMs);
        if (q.unconfirmed === batch) q.unconfirmed = null;
        this.stats.forward_batches++;
        this.stats.forwarded_points += batch.points.length;
        this.stats.forwarded_lines += batch.statsd.length;
      } catch (err) {
        // kept as it is for the next flush: the owner may have taken it (its answer lost)
        this.stats.forward_errors++;
        this.lastError = `${q.node.name}: ${(err as Error).message}`;
        this.onError(this.lastError);
        q.sending = false;
        return;
      }
      q.sending = false;
    }
  }

  /** Forgets owners that left the ring; returns what was waiting for them, to route again. */
  retain(uuids: Set<string>): ForwardBatch[] {
    const orphans: ForwardBatch[] = [];
    for (const [uuid, q] of this.#queues) {
      if (uuids.has(uuid)) continue;
      // what the owner may have taken already goes to the next one too: better twice than lost
      if (q.unconfirmed) orphans.push({ points: q.unconfirmed.points, statsd: q.unconfirmed.statsd });
      orphans.push(q.batch);
      q.batch = { points: [], statsd: [] };
      q.unconfirmed = null;
      this.#queues.delete(uuid);
    }
    return orphans;
  }
}

/**
 * The ids of the batches an owner took lately, so that one sent again (its answer was lost) is
 * answered without being taken twice. Kept TTL_MS (a sender tries again at its next flush,
 * seconds later), at most MAX (the oldest forgotten first). A stop hands them to the next start
 * (`saveIngested`/`takeIngested`): what a batch brought was flushed or carried over by that stop,
 * and a sender whose answer was cut by the restart sends it again to the new process.
 */
export class IngestedBatches {
  static readonly TTL_MS = 10 * 60_000;
  static readonly MAX = 50_000;
  /** Batch id → when it was taken; insertion order = age. */
  #ids = new Map<string, number>();

  /** True when `id` was taken already; else remembers it (the caller then takes the batch). */
  seen(id: string, now: number): boolean {
    for (const [k, at] of this.#ids) {
      if (at > now - IngestedBatches.TTL_MS && this.#ids.size < IngestedBatches.MAX) break;
      this.#ids.delete(k);
    }
    if (this.#ids.has(id)) return true;
    this.#ids.set(id, now);
    return false;
  }

  get size(): number {
    return this.#ids.size;
  }

  /** The ids still remembered at `now`, oldest first, with when each was taken. */
  live(now: number): Array<[string, number]> {
    const out: Array<[string, number]> = [];
    for (const [id, at] of this.#ids) if (at > now - IngestedBatches.TTL_MS) out.push([id, at]);
    return out.slice(-IngestedBatches.MAX);
  }

  /** Remembers what a stop handed over (entries not a `[id, at]` pair, or too old, are skipped). */
  restore(entries: unknown[], now: number): number {
    let n = 0;
    for (const e of entries) {
      if (!Array.isArray(e) || typeof e[0] !== "string" || e[0].length > 64 || typeof e[1] !== "number") {
        continue;
      }
      if (!(e[1] > now - IngestedBatches.TTL_MS) || this.#ids.has(e[0])) continue;
      this.#ids.set(e[0], Math.min(e[1], now));
      n++;
    }
    return n;
  }
}

const INGESTED_KEY = "ingested_batches";

/** Hands the ids remembered at `now` to the next start (in metrics.db's `meta`); how many. */
export function saveIngested(db: Database, batches: IngestedBatches, now: number): number {
  const live = batches.live(now);
  if (live.length) {
    db.run("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", INGESTED_KEY, JSON.stringify(live));
  } else db.run("DELETE FROM meta WHERE key = ?", INGESTED_KEY);
  return live.length;
}

/**
 * Puts back into `batches` the ids the last stop handed over, deleting them as they are read; how
 * many were still young enough. A row that is not a JSON list is dropped (said by the caller).
 */
export function takeIngested(db: Database, batches: IngestedBatches, now: number): number {
  const row = db.transaction(() => {
    const r = db.get<{ value: unknown }>("SELECT value FROM meta WHERE key = ?", INGESTED_KEY);
    if (r) db.run("DELETE FROM meta WHERE key = ?", INGESTED_KEY);
    return r;
  });
  if (!row) return 0;
  const list = typeof row.value === "string" ? JSON.parse(row.value) : null;
  if (!Array.isArray(list)) throw new Error("the batch ids the last stop handed over are not a list");
  return batches.restore(list, now);
}
