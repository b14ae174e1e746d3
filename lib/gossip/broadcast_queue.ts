/**
 * Messages waiting to be piggybacked on gossip and probe packets. Each is sent a limited number
 * of times (∝ log N); the least-sent go first (newest first among equals) so fresh news spreads
 * fastest; a newer message about the same node replaces the queued older one.
 *
 * Entries live in buckets by transmit count, so taking a packet's worth costs about the number
 * of messages taken, not a sort of the whole queue (join storms queue thousands).
 */
import type { GossipMsg } from "./codec.ts";

const enc = new TextEncoder();
/** No queued message is smaller than this: stop scanning when less room is left. */
const MIN_MESSAGE_BYTES = 16;
/** Stop looking after this many messages in a row did not fit. */
const MAX_MISSES = 8;

/** `mult * ceil(log10(N + 1))`: enough retransmits to reach every node with high probability. */
export function retransmitLimit(mult: number, nodes: number): number {
  return mult * Math.ceil(Math.log10(nodes + 1));
}

interface Entry {
  /** Replacement key (the node uuid for membership messages), null = never replaced. */
  key: string | null;
  msg: GossipMsg;
  /** The message serialised once, reused in every packet that carries it. */
  json: string;
  size: number;
  transmits: number;
  /** Replaced or dropped: skipped and cleaned up lazily. */
  dead: boolean;
}

/** Bytes of a JSON array holding messages of these sizes. */
export function packetSize(sizes: number[]): number {
  if (!sizes.length) return 2;
  return 2 + sizes.reduce((a, b) => a + b, 0) + sizes.length - 1;
}

export class BroadcastQueue {
  /** buckets[t] = entries sent t times, oldest first. */
  #buckets: Entry[][] = [];
  #byKey = new Map<string, Entry>();
  #live = 0;
  /** Upper bound of queued messages (the most sent, oldest dropped first). */
  readonly maxEntries: number;
  /** Told after every push (the engine wakes its gossip rounds, which sleep while the queue is empty). */
  onPush: (() => void) | null = null;

  constructor(maxEntries = 4096) {
    this.maxEntries = maxEntries;
  }

  get length(): number {
    return this.#live;
  }

  /** Queues a message; a queued message with the same key is replaced. */
  push(msg: GossipMsg, key: string | null = null): void {
    if (key !== null) {
      const old = this.#byKey.get(key);
      if (old) this.#kill(old);
    }
    const json = JSON.stringify(msg);
    const e: Entry = { key, msg, json, size: enc.encode(json).length, transmits: 0, dead: false };
    (this.#buckets[0] ??= []).push(e);
    if (key !== null) this.#byKey.set(key, e);
    this.#live++;
    if (this.#live > this.maxEntries) this.#dropOne();
    this.onPush?.();
  }

  /** True when a message with this key is queued. */
  has(key: string): boolean {
    return this.#byKey.has(key);
  }

  /** Drops the queued message with this key, if any. */
  forget(key: string): void {
    const e = this.#byKey.get(key);
    if (e) this.#kill(e);
  }

  #kill(e: Entry): void {
    if (e.dead) return;
    e.dead = true;
    this.#live--;
    if (e.key !== null && this.#byKey.get(e.key) === e) this.#byKey.delete(e.key);
  }

  #dropOne(): void {
    for (let t = this.#buckets.length - 1; t >= 0; t--) {
      const b = this.#buckets[t];
      while (b?.length) {
        const e = b.shift()!;
        if (!e.dead) return this.#kill(e);
      }
    }
  }

  /**
   * Takes messages fitting in `budget` bytes of a JSON array (of which `used` bytes are already
   * taken), counts one transmit each and drops those that reached `limit`. Returns each
   * message's JSON text, ready to be joined into a packet. A message larger than the budget on
   * its own is sent alone in an otherwise empty packet (as the reference did).
   */
  take(budget: number, limit: number, used = 2): string[] {
    if (!this.#live) return [];
    const out: string[] = [];
    const moved: Entry[] = [];
    let size = used;
    let misses = 0;
    scan: for (let t = 0; t < this.#buckets.length; t++) {
      const b = this.#buckets[t];
      if (!b) continue;
      for (let i = b.length - 1; i >= 0; i--) {
        const e = b[i];
        if (e.dead) {
          b.splice(i, 1);
          continue;
        }
        const extra = e.size + (size > 2 ? 1 : 0);
        if (size + extra > budget && !(size === 2 && e.size + 2 > budget)) {
          if (++misses >= MAX_MISSES) break scan; // the packet is as good as full
          continue;
        }
        out.push(e.json);
        size += extra;
        b.splice(i, 1);
        e.transmits++;
        if (e.transmits < limit) moved.push(e);
        else this.#kill(e);
        if (size > budget || budget - size < MIN_MESSAGE_BYTES) break scan; // full (or one oversized message alone)
      }
    }
    // re-file the sent ones one bucket up, oldest first
    for (let i = moved.length - 1; i >= 0; i--) (this.#buckets[moved[i].transmits] ??= []).push(moved[i]);
    return out;
  }

  /** Drops everything (e.g. after leaving). */
  clear(): void {
    this.#buckets = [];
    this.#byKey.clear();
    this.#live = 0;
  }
}
