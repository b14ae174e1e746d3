/**
 * One election group as a running thing: a RaftMachine driven by the injected clock, its
 * `{term, votedFor}` persisted before any message leaves, messages sent through a RaftTransport,
 * and leader changes reported once each.
 *
 * ```ts
 * const g = new RaftGroup({ id, group: "db", clock, random: Math.random, timings, store, transport, onLeader });
 * g.start(["uuid-a", "uuid-b", "uuid-c"]);
 * g.receive(msg); // from the transport
 * ```
 */
import type { Clock, TimerId } from "../clock/mod.ts";
import { type Output, quorum, RaftMachine, type RaftMsg, type RaftTimings, type Role } from "./machine.ts";

/** How messages leave a node: fire and forget (the protocol tolerates loss). */
export interface RaftTransport {
  send(to: string, msg: RaftMsg): void;
}

/** Where `{term, votedFor}` survive a restart (SQLite in the agent, memory in simulations). */
export interface RaftPersistence {
  load(group: string): { term: number; votedFor: string | null };
  save(group: string, term: number, votedFor: string | null): void;
}

export interface LeaderChange {
  group: string;
  leader: string | null;
  term: number;
}

export interface RaftGroupOptions {
  id: string;
  group: string;
  clock: Clock;
  random: () => number;
  timings: RaftTimings;
  minSize?: number;
  store: RaftPersistence;
  transport: RaftTransport;
  onLeader: (change: LeaderChange) => void;
}

/** A group's state as `/raft/:group` shows it. */
export interface GroupStatus {
  group: string;
  member: boolean;
  role: Role;
  term: number;
  leader: string | null;
  voted_for: string | null;
  voters: string[];
  quorum: number;
  min_size: number;
  /** No election of ours starts: the start's join to the cluster is on its way. */
  waiting_for_join: boolean;
}

export class RaftGroup {
  readonly machine: RaftMachine;
  #opts: RaftGroupOptions;
  #timer: TimerId | null = null;
  #timerAt = Infinity;
  #stopped = true;
  #reported: string | null = null;

  constructor(opts: RaftGroupOptions) {
    this.#opts = opts;
    const p = opts.store.load(opts.group);
    this.machine = new RaftMachine({
      id: opts.id,
      group: opts.group,
      term: p.term,
      votedFor: p.votedFor,
      timings: opts.timings,
      random: opts.random,
      now: opts.clock.elapsed(),
      minSize: opts.minSize,
    });
  }

  start(voters: string[]): void {
    this.#stopped = false;
    this.#apply(this.machine.setVoters(voters, this.#opts.clock.elapsed()));
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer !== null) this.#opts.clock.clearTimeout(this.#timer);
    this.#timer = null;
  }

  /** Holds our elections (the start's join on its way) or lets them go. */
  hold(held: boolean): void {
    this.machine.held = held;
  }

  setVoters(voters: string[]): void {
    if (this.#stopped) return;
    this.#apply(this.machine.setVoters(voters, this.#opts.clock.elapsed()));
  }

  receive(msg: RaftMsg): void {
    if (this.#stopped) return;
    this.#apply(this.machine.receive(msg, this.#opts.clock.elapsed()));
  }

  status(): GroupStatus {
    const m = this.machine;
    return {
      group: m.group,
      member: m.voters.includes(m.id),
      role: m.role,
      term: m.term,
      leader: m.leader,
      voted_for: m.votedFor,
      voters: [...m.voters],
      quorum: quorum(m.voters.length, m.minSize),
      min_size: m.minSize,
      waiting_for_join: m.held,
    };
  }

  #apply(out: Output): void {
    const m = this.machine;
    // durable before anything leaves: a vote must survive a crash right after it is sent
    if (out.persist) this.#opts.store.save(m.group, m.term, m.votedFor);
    for (const s of out.send) this.#opts.transport.send(s.to, s.msg);
    if (out.leaderChanged) {
      const key = `${m.leader}`;
      if (key !== this.#reported) {
        this.#reported = key;
        this.#opts.onLeader({ group: m.group, leader: m.leader, term: m.term });
      }
    }
    this.#schedule();
  }

  #schedule(): void {
    if (this.#stopped) return;
    const at = this.machine.nextDeadline();
    if (at === this.#timerAt && this.#timer !== null) return;
    if (this.#timer !== null) this.#opts.clock.clearTimeout(this.#timer);
    this.#timer = null;
    this.#timerAt = at;
    if (!Number.isFinite(at)) return;
    this.#timer = this.#opts.clock.setTimeout(() => {
      this.#timer = null;
      this.#timerAt = Infinity;
      if (!this.#stopped) this.#apply(this.machine.tick(this.#opts.clock.elapsed()));
    }, Math.max(0, at - this.#opts.clock.elapsed()));
  }
}
