/**
 * Many RaftGroups on one VirtualClock with a simulated network (delay, loss, partitions, kills,
 * restarts from the persisted state), deterministic from a seed, and an invariant checker that
 * watches every persisted vote and every leader elected:
 * - at most one leader per term;
 * - a node never votes for two candidates in one term (even across restarts);
 * - a leader holds the votes of a quorum of the group for its term.
 */
import { type Clock, VirtualClock } from "../../lib/clock/mod.ts";
import {
  quorum,
  RaftGroup,
  type RaftMsg,
  type RaftPersistence,
  type RaftTimings,
} from "../../lib/raft/mod.ts";
import { randomInt, seededRandom } from "../../lib/transport/mod.ts";

export const SIM_TIMINGS: RaftTimings = { heartbeatMs: 150, electionMinMs: 500, electionMaxMs: 1000 };

interface SimNode {
  id: string;
  group: RaftGroup | null;
  store: MemStore;
}

class MemStore implements RaftPersistence {
  term = 0;
  votedFor: string | null = null;
  constructor(private onSave: (term: number, votedFor: string | null) => void) {}
  load() {
    return { term: this.term, votedFor: this.votedFor };
  }
  save(_group: string, term: number, votedFor: string | null) {
    if (term < this.term) throw new Error(`term went back from ${this.term} to ${term}`);
    this.term = term;
    this.votedFor = votedFor;
    this.onSave(term, votedFor);
  }
}

export class RaftSim {
  readonly clock = new VirtualClock();
  readonly rng: () => number;
  readonly ids: string[];
  readonly nodes = new Map<string, SimNode>();
  /** Invariant violations found so far (empty = good). */
  readonly violations: string[] = [];
  /** term → leader elected in it. */
  readonly leadersByTerm = new Map<number, string>();
  /** term → voter → candidate. */
  readonly votes = new Map<number, Map<string, string>>();
  #side = new Map<string, number>();
  /** A node's own clock (e.g. a wall clock that steps); the others run on `clock`. */
  readonly clocks = new Map<string, Clock>();
  loss = 0;
  messages = 0;

  constructor(n: number, seed: number, readonly timings: RaftTimings = SIM_TIMINGS, readonly minSize = 1) {
    this.rng = seededRandom(seed);
    this.ids = Array.from({ length: n }, (_, i) => `n${String(i).padStart(2, "0")}`);
    for (const id of this.ids) {
      const node: SimNode = { id, group: null, store: new MemStore((t, v) => this.#recordVote(id, t, v)) };
      this.nodes.set(id, node);
    }
  }

  start(): void {
    for (const id of this.ids) this.restart(id);
  }

  /** (Re)starts a node from its persisted state. */
  restart(id: string): void {
    const node = this.nodes.get(id)!;
    node.group?.stop();
    node.group = new RaftGroup({
      id,
      group: "g",
      clock: this.clocks.get(id) ?? this.clock,
      random: this.rng,
      timings: this.timings,
      minSize: this.minSize,
      store: node.store,
      transport: { send: (to, msg) => this.#send(id, to, msg) },
      onLeader: (c) => {
        if (c.leader === id) this.#recordLeader(id, c.term);
      },
    });
    node.group.start(this.ids);
  }

  kill(id: string): void {
    const node = this.nodes.get(id)!;
    node.group?.stop();
    node.group = null;
  }

  alive(id: string): boolean {
    return this.nodes.get(id)!.group !== null;
  }

  partition(sides: string[][]): void {
    this.#side.clear();
    sides.forEach((s, i) => s.forEach((id) => this.#side.set(id, i)));
  }

  heal(): void {
    this.#side.clear();
  }

  #reachable(a: string, b: string): boolean {
    return (this.#side.get(a) ?? -1) === (this.#side.get(b) ?? -1);
  }

  #send(from: string, to: string, msg: RaftMsg): void {
    this.messages++;
    if (this.loss && this.rng() < this.loss) return;
    const copy = { ...msg };
    this.clock.setTimeout(() => {
      const node = this.nodes.get(to);
      if (!node?.group || !this.alive(from) || !this.#reachable(from, to)) return;
      node.group.receive(copy);
    }, 1 + randomInt(this.rng, 10));
  }

  #recordVote(voter: string, term: number, votedFor: string | null): void {
    if (votedFor === null) return;
    let m = this.votes.get(term);
    if (!m) this.votes.set(term, m = new Map());
    const prev = m.get(voter);
    if (prev !== undefined && prev !== votedFor) {
      this.violations.push(`${voter} voted for ${prev} and ${votedFor} in term ${term}`);
    }
    m.set(voter, votedFor);
  }

  #recordLeader(id: string, term: number): void {
    const prev = this.leadersByTerm.get(term);
    if (prev !== undefined && prev !== id) {
      this.violations.push(`two leaders in term ${term}: ${prev} and ${id}`);
    }
    this.leadersByTerm.set(term, id);
    const votes = [...(this.votes.get(term) ?? new Map()).entries()].filter(([, c]) => c === id).length;
    const need = quorum(this.ids.length, this.minSize);
    if (votes < need) this.violations.push(`${id} leads term ${term} with ${votes} votes, needs ${need}`);
  }

  /** Alive nodes that believe they lead, with their terms. */
  leaders(among: string[] = this.ids): Array<{ id: string; term: number }> {
    const out: Array<{ id: string; term: number }> = [];
    for (const id of among) {
      const m = this.nodes.get(id)!.group?.machine;
      if (m?.role === "leader") out.push({ id, term: m.term });
    }
    return out;
  }

  /** Runs until `pred` holds (checked every 10 ms of virtual time) or `ms` pass; returns the time taken or -1. */
  async until(pred: () => boolean, ms: number): Promise<number> {
    const t0 = this.clock.now();
    while (this.clock.now() - t0 < ms) {
      if (pred()) return this.clock.now() - t0;
      await this.clock.advance(10);
    }
    return pred() ? this.clock.now() - t0 : -1;
  }

  async run(ms: number): Promise<void> {
    await this.clock.advance(ms);
  }

  /** The leader every alive node of `among` agrees on (a single leader, known by all), else null. */
  agreedLeader(among: string[]): string | null {
    const ls = this.leaders(among);
    if (ls.length !== 1) return null;
    const l = ls[0];
    for (const id of among) {
      const m = this.nodes.get(id)!.group?.machine;
      if (m && (m.leader !== l.id || m.term !== l.term)) return null;
    }
    return l.id;
  }

  stop(): void {
    for (const id of this.ids) this.kill(id);
  }
}
