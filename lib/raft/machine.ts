/**
 * Raft leader election for one group, as a pure state machine: messages and clock ticks in,
 * messages out plus the next deadline. No timers, sockets or disk here: the caller (node.ts)
 * persists `{term, votedFor}` before sending what a step returns, and wakes the machine at
 * `nextDeadline()`.
 *
 * Rules (Raft §5.2, thesis §9.6 pre-vote, §6.2 check-quorum/leader stickiness):
 * - randomized election timeout; a follower that times out first runs a pre-vote for term+1,
 *   which changes nobody's state, and only with a quorum of pre-votes increments its term;
 * - one vote per term (persisted), granted to the first candidate of a term;
 * - a node that heard a leader less than the minimum election timeout ago refuses (pre-)votes,
 *   so a node coming back from a partition cannot disrupt a working leader;
 * - any message of a higher term (except a pre-vote request) turns the receiver into a follower;
 * - the leader heartbeats every `heartbeatMs` and steps down when it has not heard from a
 *   quorum within the maximum election timeout (so a leader cut off in a minority gives up);
 * - only the group's voters are heard, and a term is bounded (TERM_MAX) and jumps by bounded, rare
 *   steps: without a key any sender can claim a `from`, and one heartbeat at the top term once
 *   parked every group leaderless for good (no term above it, so no election could win).
 *
 * ```ts
 * const m = new RaftMachine({ id: "a", term: 0, votedFor: null, timings, random, now: 0 });
 * let out = m.setVoters(["a", "b", "c"], 0);
 * out = m.tick(clock.now()); // at m.nextDeadline()
 * out = m.receive(msg, clock.now());
 * ```
 */

export type Role = "follower" | "precandidate" | "candidate" | "leader";

/** The highest term decoded or taken: 2^52, so term + 1 is exact and within what peers decode. */
export const TERM_MAX = 2 ** 52;
/** A message may raise our term by this much at any time (elections add one each). */
export const TERM_STEP = 1024;
/**
 * A larger raise (a node that was away, a new node of an old group): by at most TERM_JUMP_MAX, once
 * per TERM_JUMP_GAP_MS; reaching TERM_MAX so takes 2^20 minutes.
 */
export const TERM_JUMP_MAX = 2 ** 32;
export const TERM_JUMP_GAP_MS = 60_000;

export type RaftMsgType =
  | "prevote"
  | "prevote_reply"
  | "vote"
  | "vote_reply"
  | "heartbeat"
  | "heartbeat_reply";

/** A message between members of one group (`term`: the sender's term, or the proposed one for a pre-vote). */
export interface RaftMsg {
  type: RaftMsgType;
  group: string;
  term: number;
  from: string;
  granted?: boolean;
}

export interface RaftTimings {
  heartbeatMs: number;
  electionMinMs: number;
  electionMaxMs: number;
}

/** What a step produced: messages to send (after persisting, if asked) and what changed. */
export interface Output {
  send: Array<{ to: string; msg: RaftMsg }>;
  /** `{term, votedFor}` changed: persist before sending. */
  persist: boolean;
  /** The known leader or the term changed. */
  leaderChanged: boolean;
}

export interface MachineInit {
  id: string;
  group: string;
  term: number;
  votedFor: string | null;
  timings: RaftTimings;
  random: () => number;
  now: number;
  /** Smallest group size counted for the quorum (a lone node of a 3-node group cannot elect itself). */
  minSize?: number;
}

/** Votes needed among `n` voters (at least a majority of `minSize`). */
export function quorum(n: number, minSize = 1): number {
  return Math.floor(Math.max(n, minSize) / 2) + 1;
}

export class RaftMachine {
  readonly id: string;
  readonly group: string;
  role: Role = "follower";
  term: number;
  votedFor: string | null;
  leader: string | null = null;
  /** Group members by id, ourselves included when we carry the tag. */
  voters: string[] = [];
  /** The same, looked up for every message received. */
  #voterSet = new Set<string>();
  /** When our term last rose by more than TERM_STEP because of a message. */
  #termJumpAt = -Infinity;
  minSize: number;
  #timings: RaftTimings;
  #random: () => number;
  /** When we last heard a leader of our term (leader stickiness). */
  #heardLeaderAt = -Infinity;
  #electionAt: number;
  #heartbeatAt = Infinity;
  /** Grants received in the current (pre-)election. */
  #grants = new Set<string>();
  /** Leader only: last time each member answered a heartbeat (check-quorum). */
  #acks = new Map<string, number>();
  #checkQuorumAt = Infinity;

  constructor(init: MachineInit) {
    this.id = init.id;
    this.group = init.group;
    // a term saved above the bound (before it existed) would make every message we send refused
    const saneTerm = Number.isSafeInteger(init.term) && init.term >= 0 && init.term <= TERM_MAX;
    this.term = saneTerm ? init.term : 0;
    this.votedFor = saneTerm ? init.votedFor : null;
    this.#timings = init.timings;
    this.#random = init.random;
    this.minSize = init.minSize ?? 1;
    this.#electionAt = init.now + this.#electionTimeout();
  }

  /** The earliest time `tick` has something to do. */
  nextDeadline(): number {
    return Math.min(this.#electionAt, this.#heartbeatAt, this.#checkQuorumAt);
  }

  /**
   * No election of ours starts while true (we still vote and follow): the agent's start has not
   * joined the cluster yet, and its voters are itself alone.
   */
  held = false;

  /** True when we may take part in elections: a voter of a group large enough. */
  get eligible(): boolean {
    return this.voters.includes(this.id) && this.voters.length >= this.minSize;
  }

  /** The group changed (membership). A leader no longer in the group steps down. */
  setVoters(ids: string[], now: number): Output {
    const out = empty();
    this.#voterSet = new Set(ids);
    this.voters = [...this.#voterSet].sort();
    if (this.leader !== null && !this.voters.includes(this.leader)) {
      this.leader = null;
      out.leaderChanged = true;
    }
    if (!this.eligible && this.role !== "follower") this.#becomeFollower(this.term, now, out);
    return out;
  }

  /** Fires whatever is due at `now`. */
  tick(now: number): Output {
    const out = empty();
    if (this.role === "leader") {
      if (now >= this.#checkQuorumAt) {
        const alive = this.voters.filter((v) =>
          v === this.id || now - (this.#acks.get(v) ?? -Infinity) <= this.#timings.electionMaxMs
        );
        if (alive.length < quorum(this.voters.length, this.minSize) || !this.eligible) {
          this.#becomeFollower(this.term, now, out);
          return out;
        }
        this.#checkQuorumAt = now + this.#timings.electionMinMs;
      }
      if (now >= this.#heartbeatAt) this.#broadcastHeartbeat(now, out);
      return out;
    }
    if (now < this.#electionAt) return out;
    this.#electionAt = now + this.#electionTimeout();
    if (!this.eligible || this.held || this.term >= TERM_MAX) return out;
    // a new election starts with a pre-vote (our own included)
    if (this.leader !== null) out.leaderChanged = true;
    this.leader = null;
    this.role = "precandidate";
    this.#grants = new Set([this.id]);
    this.#broadcast({ type: "prevote", group: this.group, term: this.term + 1, from: this.id }, out);
    this.#maybeWinPrevote(now, out);
    return out;
  }

  /** Handles one message of our group. */
  receive(msg: RaftMsg, now: number): Output {
    const out = empty();
    if (msg.from === this.id || !Number.isSafeInteger(msg.term) || msg.term < 0 || msg.term > TERM_MAX) {
      return out;
    }
    // from outside the group a message counts for nothing (a heartbeat made its sender our leader)
    if (!this.#voterSet.has(msg.from)) return out;
    const jump = msg.term - this.term > TERM_STEP;
    if (jump && (msg.term - this.term > TERM_JUMP_MAX || now - this.#termJumpAt < TERM_JUMP_GAP_MS)) {
      return out;
    }
    if (msg.type === "prevote") {
      const granted = msg.term > this.term && !this.#leaderIsFresh(now) && this.voters.includes(msg.from);
      this.#reply(msg, { type: "prevote_reply", granted }, out);
      return out;
    }
    if (msg.type === "vote" && msg.term > this.term && this.#leaderIsFresh(now)) {
      // stickiness: a working leader exists; neither take the new term nor vote
      this.#reply(msg, { type: "vote_reply", granted: false }, out);
      return out;
    }
    // a higher term always wins (a granted pre-vote reply never carries one)
    if (msg.term > this.term) {
      if (jump) this.#termJumpAt = now;
      this.#becomeFollower(msg.term, now, out);
    }
    switch (msg.type) {
      case "prevote_reply":
        // only the voters' grants count toward the quorum (any sender can claim a `from`)
        if (this.role === "precandidate" && msg.granted && this.voters.includes(msg.from)) {
          this.#grants.add(msg.from);
          this.#maybeWinPrevote(now, out);
        }
        break;
      case "vote": {
        const granted = msg.term === this.term && this.voters.includes(msg.from) &&
          (this.votedFor === null || this.votedFor === msg.from);
        if (granted && this.votedFor === null) {
          this.votedFor = msg.from;
          out.persist = true;
        }
        if (granted) this.#electionAt = now + this.#electionTimeout();
        this.#reply(msg, { type: "vote_reply", granted }, out);
        break;
      }
      case "vote_reply":
        if (
          this.role === "candidate" && msg.term === this.term && msg.granted && this.voters.includes(msg.from)
        ) {
          this.#grants.add(msg.from);
          this.#maybeWin(now, out);
        }
        break;
      case "heartbeat":
        if (msg.term < this.term) {
          this.#reply(msg, { type: "heartbeat_reply" }, out); // the stale leader learns our term
          break;
        }
        if (this.role !== "follower") this.#becomeFollower(this.term, now, out);
        if (this.leader !== msg.from) {
          this.leader = msg.from;
          out.leaderChanged = true;
        }
        this.#heardLeaderAt = now;
        this.#electionAt = now + this.#electionTimeout();
        this.#reply(msg, { type: "heartbeat_reply" }, out);
        break;
      case "heartbeat_reply":
        if (this.role === "leader" && msg.term === this.term && this.voters.includes(msg.from)) {
          this.#acks.set(msg.from, now);
        }
        break;
    }
    return out;
  }

  #leaderIsFresh(now: number): boolean {
    if (this.role === "leader") return true;
    return this.leader !== null && now - this.#heardLeaderAt < this.#timings.electionMinMs;
  }

  #maybeWinPrevote(now: number, out: Output): void {
    if (this.role !== "precandidate" || this.#grants.size < quorum(this.voters.length, this.minSize)) return;
    this.role = "candidate";
    this.term++;
    this.votedFor = this.id;
    out.persist = true;
    out.leaderChanged = true;
    this.#grants = new Set([this.id]);
    this.#electionAt = now + this.#electionTimeout();
    this.#broadcast({ type: "vote", group: this.group, term: this.term, from: this.id }, out);
    this.#maybeWin(now, out);
  }

  #maybeWin(now: number, out: Output): void {
    if (this.role !== "candidate" || this.#grants.size < quorum(this.voters.length, this.minSize)) return;
    this.role = "leader";
    this.leader = this.id;
    out.leaderChanged = true;
    this.#acks = new Map(this.voters.map((v) => [v, now]));
    this.#electionAt = Infinity;
    this.#checkQuorumAt = now + this.#timings.electionMaxMs;
    this.#broadcastHeartbeat(now, out);
  }

  #becomeFollower(term: number, now: number, out: Output): void {
    // a new term has no known leader yet; a leader stepping down is no longer one
    if (term > this.term || this.role === "leader") {
      if (this.leader !== null) out.leaderChanged = true;
      this.leader = null;
    }
    if (term > this.term) {
      this.term = term;
      this.votedFor = null;
      out.persist = true;
      out.leaderChanged = true;
    }
    this.role = "follower";
    this.#grants.clear();
    this.#heartbeatAt = Infinity;
    this.#checkQuorumAt = Infinity;
    this.#electionAt = now + this.#electionTimeout();
  }

  #broadcastHeartbeat(now: number, out: Output): void {
    this.#broadcast({ type: "heartbeat", group: this.group, term: this.term, from: this.id }, out);
    this.#heartbeatAt = now + this.#timings.heartbeatMs;
  }

  #broadcast(msg: RaftMsg, out: Output): void {
    for (const v of this.voters) if (v !== this.id) out.send.push({ to: v, msg });
  }

  #reply(to: RaftMsg, m: { type: RaftMsgType; granted?: boolean }, out: Output): void {
    out.send.push({ to: to.from, msg: { ...m, group: this.group, term: this.term, from: this.id } });
  }

  #electionTimeout(): number {
    const { electionMinMs: lo, electionMaxMs: hi } = this.#timings;
    return lo + Math.floor(this.#random() * Math.max(1, hi - lo));
  }
}

function empty(): Output {
  return { send: [], persist: false, leaderChanged: false };
}
