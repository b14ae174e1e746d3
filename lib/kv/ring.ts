/**
 * Key placement: a consistent-hashing ring of the alive/suspect nodes tagged `kv`, each present
 * as `vnodes` virtual nodes at SHA1(`<uuid>#<i>`). A key lives at SHA1(key); its owner is the node
 * of the first virtual node at or after that position (wrapping), its replicas the next distinct
 * nodes clockwise. With no `kv` node at all, the local node owns everything.
 *
 * ```ts
 * const ring = new Ring(members, 64);
 * ring.owners("config/db", 3); // [owner, successor, successor]
 * ```
 */
import type { MemberRecord } from "../types.ts";
import { ringPosition } from "./sha1.ts";

/** What placement needs of a node. */
export interface RingNode {
  uuid: string;
  name: string;
  addr: string;
  port: number;
}

/** Alive or suspect members carrying the `kv` tag, sorted by uuid. */
export function kvMembers(members: MemberRecord[]): MemberRecord[] {
  return members
    .filter((m) => (m.state === "alive" || m.state === "suspect") && m.tags.includes("kv"))
    .sort((a, b) => a.uuid < b.uuid ? -1 : a.uuid > b.uuid ? 1 : 0);
}

/** Placements remembered per ring (every request places its key, often twice: SHA1 costs µs). */
const OWNERS_CACHE_MAX = 16384;

/**
 * An immutable ring built once per membership change; `owners()` is a binary search, remembered
 * for the most recent keys until the ring is replaced.
 */
export class Ring<N extends RingNode = RingNode> {
  /** Distinct nodes, sorted by uuid. */
  readonly nodes: N[];
  // virtual node positions (sorted) and the node index owning each
  #positions: Float64Array;
  #owner: Int32Array;
  #cache = new Map<string, readonly N[]>();
  #cacheN = -1;

  constructor(nodes: N[], vnodes: number) {
    const seen = new Set<string>();
    this.nodes = [...nodes].filter((n) => !seen.has(n.uuid) && seen.add(n.uuid))
      .sort((a, b) => a.uuid < b.uuid ? -1 : a.uuid > b.uuid ? 1 : 0);
    const v = Math.max(1, Math.floor(vnodes));
    const points: Array<[number, number]> = [];
    this.nodes.forEach((n, idx) => {
      for (let i = 0; i < v; i++) points.push([ringPosition(`${n.uuid}#${i}`), idx]);
    });
    points.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    this.#positions = Float64Array.from(points, (p) => p[0]);
    this.#owner = Int32Array.from(points, (p) => p[1]);
  }

  /**
   * Up to `n` distinct nodes for `key`: owner first, then successors clockwise. The array is
   * shared (frozen): copy it to change it.
   */
  owners(key: string, n: number): readonly N[] {
    if (n !== this.#cacheN) {
      this.#cache.clear();
      this.#cacheN = n;
    }
    let out = this.#cache.get(key);
    if (!out) {
      out = Object.freeze(this.#place(key, n));
      if (this.#cache.size >= OWNERS_CACHE_MAX) this.#cache.clear();
      this.#cache.set(key, out);
    }
    return out;
  }

  #place(key: string, n: number): N[] {
    const count = Math.min(n, this.nodes.length);
    if (count <= 0) return [];
    const pos = ringPosition(key);
    const p = this.#positions;
    let lo = 0, hi = p.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (p[mid] < pos) lo = mid + 1;
      else hi = mid;
    }
    const out: N[] = [];
    const taken = new Set<number>();
    for (let i = 0; i < p.length && out.length < count; i++) {
      const idx = this.#owner[(lo + i) % p.length];
      if (!taken.has(idx)) {
        taken.add(idx);
        out.push(this.nodes[idx]);
      }
    }
    return out;
  }

  /** True when both rings hold the same nodes (uuid, address and port). */
  sameAs(other: Ring<N>): boolean {
    return this.nodes.length === other.nodes.length &&
      this.nodes.every((n, i) => {
        const o = other.nodes[i];
        return n.uuid === o.uuid && n.addr === o.addr && n.port === o.port;
      });
  }
}

/**
 * Pure placement: the `n` nodes holding `key` among `members` (kv-tagged, alive or suspect), or
 * `[local]` when there is no kv node.
 */
export function ringOwners<N extends RingNode>(
  key: string,
  members: Array<N & { state?: string; tags?: string[] }>,
  n: number,
  vnodes: number,
  local?: N,
): N[] {
  const kv = members.filter((m) =>
    (m.state === undefined || m.state === "alive" || m.state === "suspect") &&
    (m.tags?.includes("kv") ?? true)
  );
  if (!kv.length) return local ? [local] : [];
  return [...new Ring<N>(kv, vnodes).owners(key, n)];
}
