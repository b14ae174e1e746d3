/**
 * Agent-to-agent metrics traffic over the peers' HTTP port: JSON bodies sealed with the shared
 * `PeerEnvelope` (keyring + replay window), answered sealed by the `peer` routes. Also the batched
 * forwarder: points (and raw statsd lines) bound for another `ts` owner wait per owner and leave
 * together, every flush or when a batch is full; a peer that does not answer keeps its queue up to
 * a bound (the oldest are dropped and counted beyond it).
 */
import type { PeerEnvelope } from "../transport/mod.ts";
import type { MemberRecord } from "../types.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Sends `payload` to `path` on `node` and returns its parsed (opened) answer. */
export async function peerCall(
  envelope: PeerEnvelope | undefined,
  node: Pick<MemberRecord, "addr" | "port" | "name">,
  path: string,
  payload: unknown,
  timeoutMs = 5000,
): Promise<unknown> {
  const plain = encoder.encode(JSON.stringify(payload));
  const body = envelope ? await envelope.seal(plain) : plain;
  const host = node.addr.includes(":") ? `[${node.addr}]` : node.addr;
  const res = await fetch(`http://${host}:${node.port}${path}`, {
    method: "POST",
    body: body as Uint8Array<ArrayBuffer>,
    headers: { "content-type": "application/octet-stream" },
    signal: AbortSignal.timeout(timeoutMs),
  });
  const bytes = new Uint8Array(await res.arrayBuffer());
  if (!res.ok) {
    throw new Error(`${node.name} answered ${res.status} on ${path}: ${decoder.decode(bytes).slice(0, 200)}`);
  }
  let answer: Uint8Array = bytes;
  if (envelope) {
    const opened = await envelope.open(bytes);
    if (!opened.ok) throw new Error(`${node.name}: answer refused (${opened.reason})`);
    answer = opened.plain;
  }
  return JSON.parse(decoder.decode(answer));
}

/** What one forward message carries. */
export interface ForwardBatch {
  points: Array<[string, number, number]>;
  statsd: string[];
}

interface Queue {
  node: MemberRecord;
  batch: ForwardBatch;
  sending: boolean;
}

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
  ) {}

  #queue(node: MemberRecord): Queue {
    let q = this.#queues.get(node.uuid);
    if (!q) this.#queues.set(node.uuid, q = { node, batch: { points: [], statsd: [] }, sending: false });
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

  #bound(q: Queue): void {
    const over = q.batch.points.length + q.batch.statsd.length - this.maxQueued;
    if (over <= 0) return;
    const fromPoints = Math.min(over, q.batch.points.length);
    q.batch.points.splice(0, fromPoints);
    q.batch.statsd.splice(0, over - fromPoints);
    this.stats.forward_dropped += over;
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
    for (const q of this.#queues.values()) n += q.batch.points.length + q.batch.statsd.length;
    return n;
  }

  async #send(q: Queue): Promise<void> {
    if (q.sending) return;
    while (q.batch.points.length + q.batch.statsd.length > 0) {
      q.sending = true;
      const batch = q.batch;
      q.batch = { points: [], statsd: [] };
      try {
        await peerCall(this.envelope, q.node, "/metrics-internal/ingest", batch);
        this.stats.forward_batches++;
        this.stats.forwarded_points += batch.points.length;
        this.stats.forwarded_lines += batch.statsd.length;
      } catch (err) {
        this.stats.forward_errors++;
        this.lastError = `${q.node.name}: ${(err as Error).message}`;
        this.onError(this.lastError);
        // keep them for the next flush (bounded), newest after
        q.batch.points = batch.points.concat(q.batch.points);
        q.batch.statsd = batch.statsd.concat(q.batch.statsd);
        this.#bound(q);
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
      orphans.push(q.batch);
      q.batch = { points: [], statsd: [] };
      this.#queues.delete(uuid);
    }
    return orphans;
  }
}
