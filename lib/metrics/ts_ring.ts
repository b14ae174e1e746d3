/**
 * Who stores which series: a consistent-hashing ring of the alive/suspect members tagged `ts`,
 * each present as `vnodes` virtual nodes at SHA1(`<uuid>#<i>`); a metric lives on the node of the
 * first virtual node at or after SHA1(name). With no `ts` member, everything is local (`null`).
 * Placement is pure and remembered per name until the ring changes. A ring built from the previous
 * one hashes only the nodes that joined it (64 SHA1 each) and merges: members change one by one
 * (each death of thousands of made-up `ts` nodes, without a key, is a rebuild).
 *
 * ```ts
 * const ring = TsRing.of(members, 64);
 * ring.owner("web1.cpu.user"); // MemberRecord | null (null: no ts node)
 * const next = TsRing.of(newMembers, 64, ring); // the same ring as a fresh build, cheaper
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
  /** Nodes whose virtual nodes this build hashed (the others' came from the previous ring). */
  readonly hashed: number;

  private constructor(readonly nodes: MemberRecord[], readonly vnodes: number, previous?: TsRing) {
    const kept = previous?.vnodes === vnodes ? previous : undefined;
    // points of the nodes the previous ring did not hold, sorted by (position, node index)
    const had = new Set(kept?.nodes.map((n) => n.uuid));
    const points: Array<[number, number]> = [];
    nodes.forEach((n, idx) => {
      if (had.has(n.uuid)) return;
      for (let i = 0; i < vnodes; i++) points.push([ringPosition(`${n.uuid}#${i}`), idx]);
    });
    points.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    this.hashed = points.length / vnodes;
    if (!kept) {
      this.#positions = Float64Array.from(points, (p) => p[0]);
      this.#owner = Int32Array.from(points, (p) => p[1]);
      return;
    }
    // the previous ring's points of the nodes still here, renumbered: both lists are sorted by uuid,
    // so they stay sorted by (position, index), and a merge gives what a fresh sort would
    const index = new Map(nodes.map((n, i) => [n.uuid, i]));
    const renumber = Int32Array.from(kept.nodes, (n) => index.get(n.uuid) ?? -1);
    const size = nodes.length * vnodes;
    this.#positions = new Float64Array(size);
    this.#owner = new Int32Array(size);
    const oldPos = kept.#positions, oldOwner = kept.#owner;
    let i = 0, j = 0, k = 0;
    const skipGone = () => {
      while (i < oldPos.length && renumber[oldOwner[i]] < 0) i++;
    };
    skipGone();
    while (i < oldPos.length || j < points.length) {
      const takeOld = j >= points.length ||
        (i < oldPos.length &&
          (oldPos[i] < points[j][0] || (oldPos[i] === points[j][0] && renumber[oldOwner[i]] < points[j][1])));
      if (takeOld) {
        this.#positions[k] = oldPos[i];
        this.#owner[k++] = renumber[oldOwner[i++]];
        skipGone();
      } else {
        this.#positions[k] = points[j][0];
        this.#owner[k++] = points[j++][1];
      }
    }
  }

  /**
   * The ring of the `ts` members among `members`; with `previous` (the ring before a membership
   * change) only the nodes new to it are hashed.
   */
  static of(members: MemberRecord[], vnodes = 64, previous?: TsRing): TsRing {
    return new TsRing(tsMembers(members), Math.max(1, vnodes), previous);
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
