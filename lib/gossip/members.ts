/**
 * The membership table: one record per uuid, the §3.4 verdicts applied to it, Lifeguard
 * suspicion timers, and change notifications. It owns no network: what must be re-broadcast
 * goes out through `hooks.broadcast`.
 */
import type { Clock } from "../clock/mod.ts";
import type { GossipConfig } from "../config/mod.ts";
import type { MemberRecord, MemberState } from "../types.ts";
import { type AliveMsg, aliveOf, type GossipMsg, type LeaveMsg, recordOf, type SuspectMsg } from "./codec.ts";
import {
  onAlive,
  onDead,
  onLeave,
  onSuspect,
  onSuspicionTimeout,
  refuteTarget,
  riseOf,
  type SelfFacts,
  SMALL_RISE,
  type Verdict,
} from "./state_rules.ts";
import { expectedConfirmations, Suspicion, suspicionBounds } from "./suspicion.ts";

/**
 * A full table makes room for a new node by forgetting dead and left nodes gone at least this long
 * (oldest first): past the 30 s the dead still get gossip, a record's only use is to remember the
 * death until `reap_after`, which made-up nodes (a cluster without a key, or a key holder) could
 * otherwise use to keep real new nodes out for 72 h.
 */
export const EVICT_AFTER_MS = 60_000;
/** Those early reaps run at most this often: each one rebuilds the records' array (O(n)). */
export const EVICT_EVERY_MS = 1_000;

/** What happened to a member, for the bus and the membership view. */
export type ChangeKind = "joined" | "updated" | "suspect" | "dead" | "left" | "reaped";

interface Member {
  rec: MemberRecord;
  /** When the state last changed (reaping, gossip to the recently dead). */
  stateChange: number;
  suspicion: Suspicion | null;
  /** Index of `rec` in the records() array, kept in place so reads never rebuild it. */
  pos: number;
  /** When its incarnation last rose by more than SMALL_RISE (larger rises are rate-limited, see riseOf). */
  bigRiseAt: number;
}

export interface MembershipHooks {
  /**
   * Queue a message for dissemination; `key` replaces older news about the same node; `urgent`
   * (a node joined or died) asks for it to go out before the next gossip tick.
   */
  broadcast(msg: GossipMsg, key: string | null, urgent?: boolean): void;
  /** Drop queued news about this node: we hold newer news of it that we do not pass on. */
  withdraw(key: string): void;
  /** Somebody thinks we are suspect/dead/older: raise our incarnation to at least `n`. */
  refute(n: number): void;
  changed(kind: ChangeKind, rec: MemberRecord): void;
  /**
   * A live node's record was claimed from another address (two nodes with one uuid), or another
   * uuid took the name or address of a live node; the existing record is kept.
   */
  conflict(existing: MemberRecord, claim: AliveMsg, what: "uuid" | "name" | "address"): void;
  /** A new node not taken: the table holds `max_members` records already. */
  full(claim: AliveMsg): void;
  /**
   * A claim raising a known node's incarnation (ours included) beyond the limits of riseOf: refused,
   * or (`capped`, about us) followed only part of the way.
   */
  refusedRise(held: MemberRecord, claimed: number, why: "too-soon" | "too-far" | "capped"): void;
}

export class Membership {
  readonly selfUuid: string;
  #members = new Map<string, Member>();
  /** Cached `records()` (rebuilt after any change). */
  #list: MemberRecord[] = [];
  /**
   * Live (alive or suspect) members by address and by name: a new uuid's clash is looked up, not
   * searched for (a push-pull of 100 000 made-up members scanned the table once per member).
   */
  #liveByAddr = new Map<string, Set<string>>();
  #liveByName = new Map<string, Set<string>>();
  /**
   * Dead and left members by uuid → when they went, in that order (the clock never steps back): the
   * oldest is the first entry, so neither a full table nor the reaper searches the whole table.
   */
  #departed = new Map<string, number>();
  /** When a full table last made room (see EVICT_EVERY_MS). */
  #lastEviction = -Infinity;
  #clock: Clock;
  #cfg: GossipConfig;
  #hooks: MembershipHooks;
  /** Set once we leave: no more refutations. */
  leaving = false;
  /** How late suspicion timers fired (ms): a loaded event loop delays deaths by this much. */
  readonly suspicionLag = new LagStats();

  constructor(opts: { clock: Clock; config: GossipConfig; self: MemberRecord; hooks: MembershipHooks }) {
    this.#clock = opts.clock;
    this.#cfg = opts.config;
    this.#hooks = opts.hooks;
    this.selfUuid = opts.self.uuid;
    const rec = { ...opts.self };
    this.#members.set(opts.self.uuid, {
      rec,
      stateChange: opts.clock.elapsed(),
      suspicion: null,
      pos: 0,
      bigRiseAt: -Infinity,
    });
    this.#list = [rec];
    this.#index(rec.uuid, undefined, rec);
  }

  /** Moves `uuid` in the live indexes from its record `was` to `now` (either absent or not live). */
  #index(uuid: string, was: MemberRecord | undefined, now: MemberRecord | undefined): void {
    const live = (r: MemberRecord | undefined) =>
      r !== undefined && (r.state === "alive" || r.state === "suspect");
    if (live(was)) {
      unindex(this.#liveByAddr, addrKey(was!), uuid);
      unindex(this.#liveByName, was!.name, uuid);
    }
    if (live(now)) {
      let a = this.#liveByAddr.get(addrKey(now!));
      if (!a) this.#liveByAddr.set(addrKey(now!), a = new Set());
      a.add(uuid);
      let n = this.#liveByName.get(now!.name);
      if (!n) this.#liveByName.set(now!.name, n = new Set());
      n.add(uuid);
    }
  }

  get size(): number {
    return this.#members.size;
  }

  get(uuid: string): MemberRecord | undefined {
    return this.#members.get(uuid)?.rec;
  }

  self(): MemberRecord {
    return this.#members.get(this.selfUuid)!.rec;
  }

  /** Every record, ourselves included (the live array and objects: copy before keeping, never mutate). */
  records(): MemberRecord[] {
    return this.#list;
  }

  /** True when a live (alive or suspect) member's record holds this address (what a packet came from). */
  liveAt(addr: { addr: string; port: number }): boolean {
    return this.#liveByAddr.has(addrKey(addr));
  }

  /** When a member's state last changed. */
  stateChangedAt(uuid: string): number {
    return this.#members.get(uuid)?.stateChange ?? 0;
  }

  /** Replaces our own record (new incarnation, tags, services, leave). */
  setSelf(rec: MemberRecord): void {
    const m = this.#members.get(this.selfUuid)!;
    if (m.rec.state !== rec.state) m.stateChange = this.#clock.elapsed();
    if (rec.incarnation - m.rec.incarnation > SMALL_RISE) m.bigRiseAt = this.#clock.elapsed();
    this.#index(this.selfUuid, m.rec, rec);
    m.rec = { ...rec };
    this.#list[m.pos] = m.rec;
  }

  #facts(uuid: string): SelfFacts {
    const me = this.self();
    return { isSelf: uuid === this.selfUuid, incarnation: me.incarnation, leaving: this.leaving };
  }

  /**
   * Checks the rise of a known node's incarnation a message claims (riseOf): null when the rules may
   * apply it, else the verdict refusing it. Without a key anyone can claim any incarnation, and a node
   * pushed to INCARNATION_MAX could never refute again.
   */
  #riseRefused(m: Member | undefined, claimed: number): Verdict | null {
    if (!m || claimed - m.rec.incarnation <= SMALL_RISE) return null; // O(1) on the hot path
    const self = m.rec.uuid === this.selfUuid;
    const why = riseOf(m.rec.incarnation, claimed, this.#clock.elapsed() - m.bigRiseAt, self);
    if (why === "small" || why === "big") return null;
    this.#hooks.refusedRise(m.rec, claimed, why);
    return { action: "ignore", reason: `incarnation rise ${why}`, refused: true };
  }

  /** Our refutation of a claim: at most SELF_RISE_MAX above us (said when it falls short of the claim). */
  #refute(n: number): void {
    const me = this.self();
    const to = refuteTarget(me.incarnation, n);
    if (to < n) this.#hooks.refusedRise(me, n - 1, "capped");
    this.#hooks.refute(to);
  }

  /**
   * Applies an alive message; `strong` when the node itself just answered us; `relay` false when
   * the news is applied but not passed on (hearsay its sender already spreads, see merge).
   */
  handleAlive(msg: AliveMsg, strong = false, relay = true): Verdict {
    const m = this.#members.get(msg.uuid);
    if (msg.uuid === this.selfUuid && !sameAddr(m!.rec, msg) && msg.incarnation >= m!.rec.incarnation) {
      this.#hooks.conflict(m!.rec, msg, "uuid");
    }
    const refused = this.#riseRefused(m, msg.incarnation);
    if (refused) return refused;
    const v = onAlive(m?.rec, msg.incarnation, this.#facts(msg.uuid), strong);
    if (v.action === "refute") this.#refute(v.incarnation);
    if (v.action !== "insert" && v.action !== "update") return v;
    // memberlist's rule: a live node does not move to another address on hearsay; the claim wins
    // only once the record at the old address is dead or left, or when the node answered us itself
    if (m && !strong && !sameAddr(m.rec, msg) && (m.rec.state === "alive" || m.rec.state === "suspect")) {
      this.#hooks.conflict(m.rec, msg, "uuid");
      return { action: "ignore", reason: "address conflict" };
    }
    if (!m) {
      // a bound on what the network can make us hold (made-up nodes: a cluster without a key, or a
      // key holder); the ones we have are still updated, and the long gone make room (#makeRoom)
      if (this.#members.size >= this.#cfg.max_members && this.#makeRoom() === 0) {
        this.#hooks.full(msg);
        return { action: "ignore", reason: "member table full" };
      }
      this.#checkClash(msg);
    }
    const before: MemberState | null = m ? m.rec.state : null;
    const rec = recordOf(msg);
    this.#set(msg.uuid, rec);
    const kind: ChangeKind = before === null || before === "dead" || before === "leave"
      ? "joined"
      : "updated";
    if (relay) this.#hooks.broadcast(msg, msg.uuid, kind === "joined");
    else this.#hooks.withdraw(msg.uuid);
    this.#hooks.changed(kind, rec);
    return v;
  }

  /** Applies a suspect message (also used by our own failed probes, `from` = us). */
  handleSuspect(msg: SuspectMsg): Verdict {
    const m = this.#members.get(msg.uuid);
    const refused = this.#riseRefused(m, msg.incarnation);
    if (refused) return refused;
    const v = onSuspect(m?.rec, msg.incarnation, this.#facts(msg.uuid));
    if (v.action === "refute") this.#refute(v.incarnation);
    if (v.action === "confirm") {
      if (m!.suspicion?.confirm(msg.from)) this.#hooks.broadcast(msg, msg.uuid);
      return v;
    }
    if (v.action !== "update") return v;
    const rec = { ...m!.rec, state: "suspect" as const, incarnation: msg.incarnation };
    this.#set(msg.uuid, rec);
    const n = this.#members.size;
    const { min, max } = suspicionBounds(
      n,
      this.#cfg.suspicion_mult,
      this.#cfg.suspicion_max_timeout_mult,
      this.#cfg.probe_interval,
    );
    const inc = msg.incarnation;
    const member = this.#members.get(msg.uuid)!;
    member.suspicion?.cancel(); // a suspicion at an older incarnation, now replaced
    member.suspicion = new Suspicion({
      clock: this.#clock,
      from: msg.from,
      k: expectedConfirmations(this.#cfg.suspicion_mult, n),
      minMs: min,
      maxMs: max,
      onTimeout: (late) => {
        this.suspicionLag.add(late);
        this.declareDead(msg.uuid, inc);
      },
    });
    this.#hooks.broadcast(msg, msg.uuid);
    this.#hooks.changed("suspect", rec);
    return v;
  }

  /** A new uuid taking the name or the address of a live node: kept (the probe by uuid sorts it out), reported. */
  #checkClash(msg: AliveMsg): void {
    for (
      const [index, key, what] of [
        [this.#liveByAddr, addrKey(msg), "address"],
        [this.#liveByName, msg.name, "name"],
      ] as const
    ) {
      for (const uuid of index.get(key) ?? []) {
        const r = this.#members.get(uuid)?.rec;
        if (r) return this.#hooks.conflict(r, msg, what);
      }
    }
  }

  /**
   * Ends the suspicion of `uuid` at incarnation `inc`: its timer expired, or the prober saw its port
   * refuse connections twice (see prober.ts). False when it is no longer suspect at `inc`.
   */
  declareDead(uuid: string, inc: number): boolean {
    const m = this.#members.get(uuid);
    const v = onSuspicionTimeout(m?.rec, inc);
    if (v.action !== "update") return false;
    return this.handleDead({ type: "dead", uuid, incarnation: inc, from: this.selfUuid }).action === "update";
  }

  handleDead(msg: SuspectMsg): Verdict {
    const m = this.#members.get(msg.uuid);
    const refused = this.#riseRefused(m, msg.incarnation);
    if (refused) return refused;
    const v = onDead(m?.rec, msg.incarnation, this.#facts(msg.uuid));
    if (v.action === "refute") this.#refute(v.incarnation);
    if (v.action !== "update") return v;
    const rec = { ...m!.rec, state: "dead" as const, incarnation: msg.incarnation };
    this.#set(msg.uuid, rec);
    this.#hooks.broadcast({ ...msg, type: "dead" }, msg.uuid, true);
    this.#hooks.changed("dead", rec);
    return v;
  }

  handleLeave(msg: LeaveMsg): Verdict {
    const m = this.#members.get(msg.uuid);
    const refused = this.#riseRefused(m, msg.incarnation);
    if (refused) return refused;
    const v = onLeave(m?.rec, msg.incarnation, this.#facts(msg.uuid));
    if (v.action === "refute") this.#refute(v.incarnation);
    if (v.action !== "update") return v;
    const rec = { ...m!.rec, state: "leave" as const, incarnation: msg.incarnation };
    this.#set(msg.uuid, rec);
    this.#hooks.broadcast(msg, msg.uuid);
    this.#hooks.changed("left", rec);
    return v;
  }

  /**
   * Merges a peer's full table (push-pull). Its own record (`senderUuid`) counts as strong
   * evidence; dead records are only suspected, never trusted as dead, and not learned when unknown
   * (memberlist's choices).
   * `relayHearsay` false: the alive records of others are applied without being queued for gossip
   * (the seed's table in a fresh agent's join: what everyone knows already, or what the seed
   * spreads itself); the sender's own record always is.
   */
  merge(records: MemberRecord[], senderUuid: string | null, relayHearsay = true): void {
    const from = senderUuid ?? "push-pull";
    for (const r of records) {
      const alive = aliveOf(r);
      switch (r.state) {
        case "alive":
          this.handleAlive(alive, r.uuid === senderUuid, relayHearsay || r.uuid === senderUuid);
          break;
        case "dead":
          // a dead node we do not know is not learned (memberlist's choice): nothing says how long
          // ago it died, and taken in again (alive, then suspect, then dead for another reap_after)
          // the nodes that had reaped it got it back from those that had not yet, and so on forever
          if (!this.#members.has(r.uuid)) break;
          this.handleSuspect({ type: "suspect", uuid: r.uuid, incarnation: r.incarnation, from });
          break;
        case "suspect":
          if (!this.#members.has(r.uuid)) this.handleAlive(alive);
          this.handleSuspect({ type: "suspect", uuid: r.uuid, incarnation: r.incarnation, from });
          break;
        case "leave":
          this.handleLeave({ type: "leave", uuid: r.uuid, incarnation: r.incarnation });
          break;
      }
    }
  }

  /** Forgets dead and left nodes whose state is older than `reap_after`; returns how many. */
  reap(): number {
    return this.#forgetDeparted(this.#clock.elapsed() - this.#cfg.reap_after);
  }

  /**
   * A full table: forgets the dead and left nodes gone for EVICT_AFTER_MS (at most once every
   * EVICT_EVERY_MS); returns how many.
   */
  #makeRoom(): number {
    const now = this.#clock.elapsed();
    if (now - this.#lastEviction < EVICT_EVERY_MS) return 0;
    const n = this.#forgetDeparted(now - EVICT_AFTER_MS);
    if (n) this.#lastEviction = now;
    return n;
  }

  /** Forgets the dead and left nodes that went at or before `limit` (elapsed ms); returns how many. */
  #forgetDeparted(limit: number): number {
    let n = 0;
    for (const [uuid, at] of this.#departed) {
      if (at > limit) break; // in the order they went
      const m = this.#members.get(uuid)!;
      m.suspicion?.cancel();
      this.#members.delete(uuid);
      this.#departed.delete(uuid);
      this.#index(uuid, m.rec, undefined);
      this.#hooks.changed("reaped", m.rec);
      n++;
    }
    if (n) this.#reindex();
    return n;
  }

  /** Cancels every timer (stop). */
  close(): void {
    for (const m of this.#members.values()) m.suspicion?.cancel();
  }

  #reindex(): void {
    this.#list = [];
    for (const m of this.#members.values()) {
      m.pos = this.#list.length;
      this.#list.push(m.rec);
    }
  }

  #set(uuid: string, rec: MemberRecord): void {
    const m = this.#members.get(uuid);
    this.#index(uuid, m?.rec, rec);
    if (!m) {
      this.#members.set(uuid, {
        rec,
        stateChange: this.#clock.elapsed(),
        suspicion: null,
        pos: this.#list.length,
        bigRiseAt: -Infinity,
      });
      this.#list.push(rec);
      return;
    }
    this.#list[m.pos] = rec;
    if (m.rec.state !== rec.state) {
      m.stateChange = this.#clock.elapsed();
      this.#departed.delete(uuid); // back alive, or went again: to the end of the order
      if (uuid !== this.selfUuid && (rec.state === "dead" || rec.state === "leave")) {
        this.#departed.set(uuid, m.stateChange);
      }
    }
    if (rec.incarnation - m.rec.incarnation > SMALL_RISE) m.bigRiseAt = this.#clock.elapsed();
    if (rec.state !== "suspect") {
      m.suspicion?.cancel();
      m.suspicion = null;
    }
    m.rec = rec;
  }
}

/** Max and mean of a lateness in ms (timers of a loaded event loop fire late). */
export class LagStats {
  max = 0;
  sum = 0;
  count = 0;
  add(ms: number): void {
    this.max = Math.max(this.max, ms);
    this.sum += ms;
    this.count++;
  }
  toJSON(): { max_ms: number; mean_ms: number; count: number } {
    return {
      max_ms: Math.round(this.max),
      mean_ms: this.count ? Math.round(this.sum / this.count) : 0,
      count: this.count,
    };
  }
}

function addrKey(r: { addr: string; port: number }): string {
  return `${r.addr}:${r.port}`;
}

function unindex(index: Map<string, Set<string>>, key: string, uuid: string): void {
  const set = index.get(key);
  if (!set) return;
  set.delete(uuid);
  if (!set.size) index.delete(key);
}

function sameAddr(a: { addr: string; port: number }, b: { addr: string; port: number }): boolean {
  return a.addr === b.addr && a.port === b.port;
}
