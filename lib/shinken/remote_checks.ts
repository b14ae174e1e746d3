/**
 * Other nodes' own checks for the export. A gossip record carries a node's services (and their
 * checks), not its other checks (`linux/cpu`...): every `poll_interval` each other live node is
 * asked for all of its checks (the sealed peer route behind `kunai state NODE`), and a change of
 * one's list or of a state is handed on (its host file rewritten, its results pushed). A node that
 * does not answer keeps what it answered last (Nagios shows it dead or stale, not emptied); one that
 * leaves the membership is forgotten.
 *
 * ```ts
 * const remote = new RemoteCheckCache(ctx, ask, membership, (m, listChanged) => ..., 30_000);
 * remote.start();
 * remote.get(uuid); // CheckBrief[] | undefined
 * ```
 */
import type { Ctx } from "../subsystem.ts";
import type { MemberRecord } from "../types.ts";
import type { CheckBrief, RemoteChecks, ShinkenMembership } from "./types.ts";

/** Nodes asked at once (a poll of a large cluster is a few requests in flight, not hundreds). */
const PARALLEL = 8;

/** While the start's join is on its way, how often the first poll looks again. */
const JOIN_POLL_MS = 1000;

interface Known {
  checks: CheckBrief[];
  /** The ids, sorted: a change means other services in the host file. */
  ids: string;
  /** The states in the ids' order: a change means results to push. */
  states: string;
}

export class RemoteCheckCache {
  #ctx: Ctx;
  #ask: RemoteChecks;
  #membership: ShinkenMembership;
  #onChange: (m: MemberRecord, listChanged: boolean) => void;
  #intervalMs: number;
  #known = new Map<string, Known>();
  #timer: number | null = null;
  #polling: Promise<void> | null = null;
  #stopped = false;
  stats = { polls: 0, asked: 0, unanswered: 0 };

  constructor(
    ctx: Ctx,
    ask: RemoteChecks,
    membership: ShinkenMembership,
    onChange: (m: MemberRecord, listChanged: boolean) => void,
    intervalMs: number,
  ) {
    this.#ctx = ctx;
    this.#ask = ask;
    this.#membership = membership;
    this.#onChange = onChange;
    this.#intervalMs = intervalMs;
  }

  /** The checks a node answered last, or undefined when it never did. */
  get(uuid: string): CheckBrief[] | undefined {
    return this.#known.get(uuid)?.checks;
  }

  /** Polls now (or once the start's join returned), then every interval (nothing when it is 0). */
  start(): void {
    if (!(this.#intervalMs > 0) || this.#stopped) return;
    this.#next(0);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer !== null) this.#ctx.clock.clearTimeout(this.#timer);
    this.#timer = null;
    await this.#polling;
  }

  /** A member left the membership for good: what it answered goes too. */
  forget(uuid: string): void {
    this.#known.delete(uuid);
  }

  #next(delay: number): void {
    this.#timer = this.#ctx.clock.setTimeout(() => {
      this.#timer = null;
      // the start's join on its way: the first poll goes once the members are known
      if (this.#membership.joining?.()) return this.#next(JOIN_POLL_MS);
      this.#polling = this.poll().finally(() => {
        this.#polling = null;
        if (!this.#stopped) this.#next(this.#intervalMs);
      });
    }, delay);
  }

  /** Asks every other live node once; resolves when all answered or failed. */
  async poll(): Promise<void> {
    this.stats.polls++;
    const self = this.#membership.self().uuid;
    const members = this.#membership.members();
    const present = new Set(members.map((m) => m.uuid));
    for (const uuid of this.#known.keys()) if (!present.has(uuid)) this.#known.delete(uuid);
    const asked = members.filter((m) => m.uuid !== self && (m.state === "alive" || m.state === "suspect"));
    for (let i = 0; i < asked.length && !this.#stopped; i += PARALLEL) {
      await Promise.all(asked.slice(i, i + PARALLEL).map((m) => this.#askOne(m)));
    }
  }

  async #askOne(m: MemberRecord): Promise<void> {
    this.stats.asked++;
    let checks: CheckBrief[] | null = null;
    try {
      checks = await this.#ask(m);
    } catch { /* unanswered: below */ }
    if (this.#stopped) return;
    if (checks === null) {
      this.stats.unanswered++;
      return;
    }
    const sorted = [...checks].sort((a, b) => a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
    const ids = sorted.map((c) => c.id).join("\n");
    // outputs change at every run (`cpu is great: 86.04%`): kept, but only a state makes a change
    const states = sorted.map((c) => c.state_id).join("");
    const had = this.#known.get(m.uuid);
    this.#known.set(m.uuid, { checks: sorted, ids, states });
    if (had?.ids === ids && had.states === states) return;
    // the record of now: the host file and the results are written from the current membership
    const now = this.#membership.members().find((x) => x.uuid === m.uuid) ?? m;
    this.#onChange(now, had?.ids !== ids);
  }
}
