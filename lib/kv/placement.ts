/**
 * Where keys live right now: the ring of kv members (rebuilt when they change), this node alone
 * when there is none.
 */
import { Ring, type RingNode } from "./ring.ts";

export class Placement {
  readonly self: RingNode;
  #replicas: number;
  #vnodes: number;
  #ring: Ring;
  #sig = "";
  #onChange: (before: Ring, after: Ring) => void;

  constructor(
    self: RingNode,
    opts: { replicas: number; vnodes: number },
    onChange: (before: Ring, after: Ring) => void = () => {},
  ) {
    this.self = self;
    this.#replicas = opts.replicas;
    this.#vnodes = opts.vnodes;
    this.#ring = new Ring([], opts.vnodes);
    this.#onChange = onChange;
  }

  get ring(): Ring {
    return this.#ring;
  }

  /** Number of copies of each key. */
  get replicas(): number {
    return this.#replicas;
  }

  /** Replaces the ring's nodes (kv members; empty = this node alone). Returns true if it changed. */
  setNodes(nodes: RingNode[]): boolean {
    // membership changes often (services, checks); rebuild only when the kv nodes changed
    const sig = nodes.map((n) => `${n.uuid}@${n.addr}:${n.port}`).sort().join(",");
    if (sig === this.#sig) return false;
    this.#sig = sig;
    const next = new Ring(nodes, this.#vnodes);
    if (next.sameAs(this.#ring)) return false;
    const before = this.#ring;
    this.#ring = next;
    this.#onChange(before, next);
    return true;
  }

  /** Owner first, then replicas; this node alone when the ring is empty. */
  owners(key: string): readonly RingNode[] {
    if (!this.#ring.nodes.length) return [this.self];
    return this.#ring.owners(key, this.#replicas);
  }

  /** Owners of `key` on another ring (null or empty: this node alone). */
  ownersOn(ring: Ring | null, key: string): readonly RingNode[] {
    return ring && ring.nodes.length ? ring.owners(key, this.#replicas) : [this.self];
  }

  /** Distinct nodes holding data (for listings and anti-entropy). */
  holders(): RingNode[] {
    return this.#ring.nodes.length ? this.#ring.nodes : [this.self];
  }

  isSelf(n: RingNode): boolean {
    return n.uuid === this.self.uuid;
  }
}
