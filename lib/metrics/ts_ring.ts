/**
 * Who stores which series: a consistent-hashing ring of the alive/suspect members tagged `ts`,
 * each present as `vnodes` virtual nodes at SHA1(`<uuid>#<i>`); a metric lives on the node of the
 * first virtual node at or after SHA1(name). With no `ts` member, everything is local (`null`).
 * Placement is pure and remembered per name until the ring changes.
 *
 * ```ts
 * const ring = TsRing.of(members, 64);
 * ring.owner("web1.cpu.user"); // MemberRecord | null (null: no ts node)
 * ```
 */
import { first48, sha1 } from "../digest/mod.ts";
import type { MemberRecord } from "../types.ts";

/** First 6 bytes of SHA1 as a number: a position on the ring. */
export function ringPosition(key: string): number {
  return first48(sha1(key));
}

/** Alive or suspect members carrying the `ts` tag, sorted by uuid. */
export function tsMembers(members: MemberRecord[]): MemberRecord[] {
  return members
    .filter((m) => (m.state === "alive" || m.state === "suspect") && m.tags.includes("ts"))
    .sort((a, b) => a.uuid < b.uuid ? -1 : a.uuid > b.uuid ? 1 : 0);
}

const CACHE_MAX = 100_000;

export class TsRing {
  #positions: Float64Array;
  #owner: Int32Array;
  #cache = new Map<string, MemberRecord>();

  private constructor(readonly nodes: MemberRecord[], vnodes: number) {
    const points: Array<[number, number]> = [];
    nodes.forEach((n, idx) => {
      for (let i = 0; i < vnodes; i++) points.push([ringPosition(`${n.uuid}#${i}`), idx]);
    });
    points.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    this.#positions = Float64Array.from(points, (p) => p[0]);
    this.#owner = Int32Array.from(points, (p) => p[1]);
  }

  /** The ring of the `ts` members among `members`. */
  static of(members: MemberRecord[], vnodes = 64): TsRing {
    return new TsRing(tsMembers(members), Math.max(1, vnodes));
  }

  /** True when no node is tagged `ts`: everything stays local. */
  get empty(): boolean {
    return this.nodes.length === 0;
  }

  /** The owner of a metric name, or null without `ts` nodes. */
  owner(name: string): MemberRecord | null {
    if (this.nodes.length === 0) return null;
    if (this.nodes.length === 1) return this.nodes[0];
    const hit = this.#cache.get(name);
    if (hit) return hit;
    const pos = ringPosition(name);
    let lo = 0, hi = this.#positions.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.#positions[mid] < pos) lo = mid + 1;
      else hi = mid;
    }
    const owner = this.nodes[this.#owner[lo % this.#positions.length]];
    if (this.#cache.size >= CACHE_MAX) this.#cache.clear();
    this.#cache.set(name, owner);
    return owner;
  }
}
