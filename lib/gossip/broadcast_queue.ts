/**
 * Messages waiting to be piggybacked on gossip and probe packets. Each is sent a limited number
 * of times (∝ log N); the least-sent go first (newest first among equals) so fresh news spreads
 * fastest; a newer message about the same node replaces the queued older one.
 *
 * Entries live in buckets by transmit count, so taking a packet's worth costs about the number
 * of messages taken, not a sort of the whole queue (join storms queue thousands).
 *
 * Payloads of other subsystems (`user` messages, which any sender can make up with fresh ids when
 * the cluster has no key) live apart: at most a quarter of the queue, a new one evicting another
 * one, and taken only once membership news is (so a flood of them never delays a refutation).
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
  /** A `user` message (its own buckets and quota). */
  user: boolean;
}

/** Bytes of a JSON array holding messages of these sizes. */
export function packetSize(sizes: number[]): number {
  if (!sizes.length) return 2;
  return 2 + sizes.reduce((a, b) => a + b, 0) + sizes.length - 1;
}

/** How a packet being filled stands (take). */
interface Filling {
  out: string[];
  moved: Entry[];
  size: number;
  misses: number;
  full: boolean;
}

export class BroadcastQueue {
  /** buckets[t] = entries sent t times, oldest first (membership news, key operations). */
  #buckets: Entry[][] = [];
  /** The same for `user` messages. */
  #userBuckets: Entry[][] = [];
  #byKey = new Map<string, Entry>();
  #live = 0;
  #userLive = 0;
  /** Upper bound of queued messages (the most sent, oldest dropped first). */
  readonly maxEntries: number;
  /** Upper bound of queued `user` messages: a new one beyond evicts the most sent, oldest one. */
  readonly maxUser: number;
  /** Messages dropped before their last transmit to make room, by kind (flushed into /metrics). */
  readonly evicted = { membership: 0, user: 0 };
  /** Told after every push (the engine wakes its gossip rounds, which sleep while the queue is empty). */
  onPush: (() => void) | null = null;

  constructor(maxEntries = 4096) {
    this.maxEntries = maxEntries;
    this.maxUser = Math.max(1, Math.floor(maxEntries / 4));
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
    const user = msg.type === "user";
    // a user message makes room among its own kind: never at the expense of membership news
    if (user && this.#userLive >= this.maxUser) this.#dropOne(true);
    const e: Entry = { key, msg, json, size: enc.encode(json).length, transmits: 0, dead: false, user };
    ((user ? this.#userBuckets : this.#buckets)[0] ??= []).push(e);
    if (key !== null) this.#byKey.set(key, e);
    this.#live++;
    if (user) this.#userLive++;
    if (this.#live > this.maxEntries) this.#dropOne(user);
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
    if (e.user) this.#userLive--;
    if (e.key !== null && this.#byKey.get(e.key) === e) this.#byKey.delete(e.key);
  }

  /** Drops the most sent, oldest message: a user one when `userOnly`, else either (user ones first). */
  #dropOne(userOnly: boolean): void {
    const sets = userOnly ? [this.#userBuckets] : [this.#userBuckets, this.#buckets];
    const top = Math.max(...sets.map((s) => s.length));
    for (let t = top - 1; t >= 0; t--) {
      for (const set of sets) {
        const b = set[t];
        while (b?.length) {
          const e = b.shift()!;
          if (e.dead) continue;
          this.evicted[e.user ? "user" : "membership"]++;
          return this.#kill(e);
        }
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
    const f: Filling = { out: [], moved: [], size: used, misses: 0, full: false };
    if (this.#live > this.#userLive) this.#fill(this.#buckets, f, budget, limit);
    if (!f.full && this.#userLive) this.#fill(this.#userBuckets, f, budget, limit);
    // re-file the sent ones one bucket up, oldest first
    for (let i = f.moved.length - 1; i >= 0; i--) {
      const e = f.moved[i];
      ((e.user ? this.#userBuckets : this.#buckets)[e.transmits] ??= []).push(e);
    }
    return f.out;
  }

  /** Takes from one set of buckets, least sent and newest first, into the packet `f`. */
  #fill(buckets: Entry[][], f: Filling, budget: number, limit: number): void {
    for (let t = 0; t < buckets.length; t++) {
      const b = buckets[t];
      if (!b) continue;
      for (let i = b.length - 1; i >= 0; i--) {
        const e = b[i];
        if (e.dead) {
          b.splice(i, 1);
          continue;
        }
        const extra = e.size + (f.size > 2 ? 1 : 0);
        if (f.size + extra > budget && !(f.size === 2 && e.size + 2 > budget)) {
          if (++f.misses >= MAX_MISSES) return void (f.full = true); // the packet is as good as full
          continue;
        }
        f.out.push(e.json);
        f.size += extra;
        b.splice(i, 1);
        e.transmits++;
        if (e.transmits < limit) f.moved.push(e);
        else this.#kill(e);
        // full (or one oversized message alone)
        if (f.size > budget || budget - f.size < MIN_MESSAGE_BYTES) return void (f.full = true);
      }
    }
  }

  /** Drops everything (e.g. after leaving). */
  clear(): void {
    this.#buckets = [];
    this.#userBuckets = [];
    this.#byKey.clear();
    this.#live = 0;
    this.#userLive = 0;
  }
}
