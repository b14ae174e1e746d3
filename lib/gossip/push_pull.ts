/**
 * Push-pull: full state exchange over the transport's stream (HTTP POST in real agents),
 * sealed in the replay-protected peer envelope (a captured body cannot be played again). Periodic with a random alive node, on join, and towards one random
 * dead node per period so partitions heal (the peer's own record counts as strong evidence).
 */
import type { TimerId } from "../clock/mod.ts";
import type { MemberRecord } from "../types.ts";
import { explainDrop, type PeerAddr, peerKey } from "../transport/mod.ts";
import { decodePushPull, encodePushPull, PROTO_PUSH, PROTOCOL_VERSION, type PushMsg } from "./codec.ts";
import type { EngineCore } from "./core.ts";

/**
 * Follow-up syncs after a join, in gossip intervals (200 ms by default: 0.4 s and 2 s). The seed's
 * catch-up (below) normally delivers the members who joined after us sooner; these are the net
 * under it (a seed of an older version, a lost catch-up). A follow-up other than the last is
 * skipped when the seed pushed its table to us since our join or the previous follow-up: we then
 * hold what it held, and what it learned since it pushes again (CATCH_UP_PUSHES); the last one
 * always runs. In a join storm that is one full exchange less per joiner, in the very moments the
 * members are first read.
 */
export const JOIN_FOLLOW_UPS = [2, 10];

/**
 * The seed's catch-up after a burst of joins, in gossip intervals: once no join arrived for
 * CATCH_UP_QUIET (20 ms by default), or at the latest CATCH_UP_MAX after the first one waiting
 * (100 ms), the seed sends each node that joined through it within CATCH_UP_WINDOW (2 s), and
 * was told fewer members than it now holds, the members it was not told: a push, not an exchange
 * (the joiner answers with its own record, not its table; in a storm of 20 the full exchanges were
 * ~2.4 per joiner, each table ~11 KB both ways, while joins still waited to be served). Within a
 * burst a joiner is pushed again
 * only after a pause that doubles from CATCH_UP_MAX (0.1, 0.2, 0.4 s...); once the burst is over
 * (the quiet time passed) it is pushed whatever its pause when the seed holds CATCH_UP_BEHIND
 * times the members it was told of (many alives to learn: gossip carries about two ~550-byte
 * records per datagram, so a long burst reaches the first joiners slowly), and at most
 * CATCH_UP_PUSHES times in all (a long storm costs a few exchanges per joiner, like the joiner's
 * own follow-ups). 50 agents through one seed on a 2-core box: joins answered over ~0.8 s.
 *
 * A joiner whose record says it reads `push` messages (PROTO_PUSH) is sent those members as
 * datagrams (one `push` message a record, compressed; default records ~8 a datagram, at most CATCH_UP_DATAGRAM_BYTES)
 * instead of an exchange: a TCP connection and an HTTP request on both sides cost several times the
 * CPU, in the very moments a storm of joins fills the box. There is no answer, so such a push does
 * not count as taken (a later push carries its members again), and a joiner that holds fewer members
 * than the seed said it had does not count it as pushed: a lost datagram is made up by its early
 * follow-up, a later push, its last follow-up or gossip. Larger news goes by exchange.
 */
export const CATCH_UP_QUIET = 0.1;
export const CATCH_UP_MAX = 0.5;
export const CATCH_UP_WINDOW = 10;
export const CATCH_UP_BEHIND = 1.25;
export const CATCH_UP_PUSHES = 6;
/** Most serialised bytes of records a catch-up sends as datagrams (see above). */
export const CATCH_UP_DATAGRAM_BYTES = 32 * 1024;

/** Deadline of one push-pull exchange. */
export const PUSH_PULL_TIMEOUT = 5000;

/** `interval` stretched above 32 nodes like memberlist, so push-pull load stays flat. */
export function pushPullInterval(interval: number, nodes: number): number {
  if (nodes <= 32) return interval;
  return interval * (Math.ceil(Math.log2(nodes) - Math.log2(32)) + 1);
}

/** A node that joined through us: where it listens, when, how many members we told it of, its pushes. */
interface Joiner {
  peer: PeerAddr;
  at: number;
  told: number;
  /**
   * It has from us every member we had numbered up to this (see PushPull.#learned): our answer to
   * its join held them all, and each push it took raises it. A push carries those numbered above.
   */
  has: number;
  pushes: number;
  /** Not pushed again before this time (the doubling pause after each push). */
  next: number;
}

export class PushPull {
  #core: EngineCore;
  #joiners = new Map<string, Joiner>();
  #catchUpTimer: TimerId | null = null;
  #catchUpSince = 0;
  /** When the last join was served (the burst is over once CATCH_UP_QUIET passed since). */
  #lastJoin = -Infinity;
  /** The next end of a joiner's pause, when one that is behind waits for it. */
  #wakeTimer: TimerId | null = null;
  #wakeAt = Infinity;
  /**
   * While nodes join through us: each member numbered in the order we first listed it for a joiner
   * (an answer to a join or a catch-up), so what a joiner has is one number, not a set per joiner
   * (a 1 000-node storm keeps ~400 joiners within the window). Emptied with the joiners.
   */
  #learned = new Map<string, number>();
  /** Numbers every member not numbered yet; returns the highest. */
  #number(): number {
    for (const r of this.#core.members.records()) {
      if (!this.#learned.has(r.uuid)) this.#learned.set(r.uuid, this.#learned.size + 1);
    }
    return this.#learned.size;
  }
  /** Seeds we joined through (by uuid): whether one pushed its table to us since our last sync with it. */
  #seeds = new Map<string, { pushed: boolean }>();

  constructor(core: EngineCore) {
    this.#core = core;
  }

  /** Periodic sync with a random alive node. */
  async run(signal: AbortSignal): Promise<void> {
    const { clock, config, random, log } = this.#core.deps;
    const members = this.#core.members;
    while (this.#core.running) {
      await clock.sleep(pushPullInterval(config.push_pull_interval, members.size), signal);
      if (!this.#core.running || members.leaving) continue;
      const peers = members.records().filter((r) => r.state === "alive" && r.uuid !== members.selfUuid);
      if (!peers.length) {
        await this.#membersChange(signal); // alone: no timer until someone shows up
        continue;
      }
      const p = peers[Math.floor(random() * peers.length)];
      await this.exchange(p, false).catch((err) => log.debug(`push-pull with ${p.name}: ${err.message}`));
    }
  }

  /** Tries one random dead node each period: heals partitions and revives paused nodes. */
  async reconnect(signal: AbortSignal): Promise<void> {
    const { clock, config, random } = this.#core.deps;
    const members = this.#core.members;
    while (this.#core.running) {
      await clock.sleep(config.push_pull_interval, signal);
      if (!this.#core.running || members.leaving) continue;
      const dead = members.records().filter((r) => r.state === "dead");
      if (!dead.length) {
        await this.#membersChange(signal); // nobody dead: no timer until a member changes state
        continue;
      }
      const d = dead[Math.floor(random() * dead.length)];
      await this.exchange(d, false).catch((err) => {
        this.#core.deps.counters.inc("gossip_reconnect_failures_total");
        this.#core.deps.log.debug(`reconnect to ${d.name}: ${err.message}`);
      });
    }
  }

  /** Loops waiting for a membership change (see membersChanged). */
  #waiters = new Set<() => void>();

  /**
   * Resolves at the next membership change or when `signal` aborts: a loop with no one to talk to
   * (push-pull alone, reconnect with no dead node) waits here instead of waking every period.
   */
  #membersChange(signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      if (signal.aborted) return resolve();
      const done = () => {
        signal.removeEventListener("abort", done);
        this.#waiters.delete(done);
        resolve();
      };
      this.#waiters.add(done);
      signal.addEventListener("abort", done, { once: true });
    });
  }

  /** A member joined, changed state or went away: the waiting loops start their period again. */
  membersChanged(): void {
    for (const w of [...this.#waiters]) w();
  }

  /** Loops waiting for a membership change (tests). */
  get waiting(): number {
    return this.#waiters.size;
  }

  /** Our table, or (a catch-up push) only `records` and our own record. */
  #body(join: boolean, records?: MemberRecord[]): Uint8Array {
    const nodes: Record<string, MemberRecord> = {};
    if (records) {
      const self = this.#core.members.self();
      nodes[self.uuid] = self;
      for (const r of records) nodes[r.uuid] = r;
    } else {
      for (const r of this.#core.members.records()) nodes[r.uuid] = r;
    }
    return encodePushPull({
      type: "push-pull-msg",
      protocol: PROTOCOL_VERSION,
      join,
      push: records ? true : undefined,
      nodes,
      from: this.#core.members.selfUuid,
    });
  }

  /** Full state exchange with a peer; resolves true when its table was merged. */
  async exchange(peer: PeerAddr, join: boolean): Promise<boolean> {
    return (await this.#exchange(peer, join)) !== null;
  }

  /**
   * An exchange (a catch-up push when `push` is given: only those records, and the peer answers
   * with its own record); resolves the peer's uuid ("" when it did not say) once merged, null when
   * stopped.
   */
  async #exchange(peer: PeerAddr, join: boolean, push?: MemberRecord[]): Promise<string | null> {
    const { envelope, transport, counters } = this.#core.deps;
    // a fresh agent's join: the seed's table is what its members know already, or (a join storm)
    // what the seed spreads and catches its joiners up with; ours would only echo it (in a cluster
    // of N, N alive records sent log N times each, by every joiner). Two clusters meeting (we knew
    // others before) is news on our side: relayed as gossip, as memberlist does.
    const relayHearsay = !join || this.#core.members.size > 1;
    const body = await envelope.seal(this.#body(join, push));
    const answer = await transport.request({ addr: peer.addr, port: peer.port }, body, PUSH_PULL_TIMEOUT);
    const r = await envelope.open(answer);
    if (!r.ok) {
      this.#core.traffic.dropped[r.reason]++;
      throw new Error(`the peer's answer was refused: ${explainDrop(r.reason)}`);
    }
    const d = decodePushPull(r.plain);
    if (!d.ok) throw new Error(`bad push-pull answer: ${d.error}`);
    if (d.value.from === this.#core.members.selfUuid) {
      throw new Error(`${peerKey(peer)} is this agent itself`);
    }
    if (!this.#core.running) return null;
    this.#core.members.merge(Object.values(d.value.nodes), d.value.from ?? null, relayHearsay);
    counters.inc("gossip_push_pull_total", { role: "client" });
    return d.value.from ?? "";
  }

  /**
   * Answers a peer's push-pull (body already opened by the caller: the HTTP peer route or the
   * simulated stream): merge its table, return ours. Throws when malformed or stopped.
   */
  serve(plain: Uint8Array, from: PeerAddr | null): Uint8Array {
    const { counters, log } = this.#core.deps;
    const d = decodePushPull(plain);
    if (!d.ok) {
      this.#core.traffic.dropped.malformed++;
      throw new Error(`bad push-pull: ${d.error}`);
    }
    if (!this.#core.running) throw new Error("gossip is stopped");
    const sender = d.value.from ? d.value.nodes[d.value.from] : undefined;
    // the HTTP route does not see the socket's peer: the requester's own record says where it listens
    const requester = from ?? (sender ? { addr: sender.addr, port: sender.port } : null);
    // a catch-up push carries what the seed spreads to all its joiners: applied, not echoed
    this.#core.members.merge(Object.values(d.value.nodes), d.value.from ?? null, !d.value.push);
    counters.inc("gossip_push_pull_total", { role: "server" });
    const seed = !d.value.join && d.value.from ? this.#seeds.get(d.value.from) : undefined;
    if (seed) seed.pushed = true;
    if (d.value.join) log.debug(`join push-pull from ${requester ? peerKey(requester) : "an unnamed peer"}`);
    // a catch-up push needs no table back: the seed holds what we could tell it, or learns it at our follow-up
    const answer = this.#body(false, d.value.push ? [] : undefined);
    if (d.value.join && d.value.from && requester) {
      this.#lastJoin = this.#core.deps.clock.elapsed();
      this.#joiners.set(d.value.from, {
        peer: requester,
        at: this.#core.deps.clock.elapsed(),
        told: this.#core.members.size,
        has: this.#number(),
        pushes: 0,
        next: 0,
      });
    }
    if (this.#joiners.size > 1) this.#scheduleCatchUp();
    return answer;
  }

  /** Cancels the pending catch-up (engine stop). */
  stop(): void {
    if (this.#catchUpTimer !== null) this.#core.deps.clock.clearTimeout(this.#catchUpTimer);
    if (this.#wakeTimer !== null) this.#core.deps.clock.clearTimeout(this.#wakeTimer);
    this.#catchUpTimer = this.#wakeTimer = null;
    this.#wakeAt = Infinity;
    this.#joiners.clear();
    this.#learned.clear();
    this.#seeds.clear();
  }

  /**
   * When several nodes join through us at once, the first ones answered do not know the later
   * ones. Gossip would tell them, but slowly: every alive of the burst competes for the same few
   * packets per round (a record with one service is ~550 bytes: two per datagram). So once the
   * burst is over we push our table to each of them: an exchange like the joiner's own follow-up,
   * but sent when we actually hold the news. A pause within a burst (a loaded box) may send one
   * before the burst is over: the joiner is then pushed again once we hold more.
   */
  #scheduleCatchUp(): void {
    const { clock, config } = this.#core.deps;
    const now = clock.elapsed();
    if (this.#catchUpTimer === null) this.#catchUpSince = now;
    else clock.clearTimeout(this.#catchUpTimer);
    const latest = this.#catchUpSince + CATCH_UP_MAX * config.gossip_interval;
    const wait = Math.max(0, Math.min(CATCH_UP_QUIET * config.gossip_interval, latest - now));
    this.#catchUpTimer = clock.setTimeout(() => {
      this.#catchUpTimer = null;
      this.#catchUp();
    }, wait);
  }

  #catchUp(): void {
    const core = this.#core;
    const { clock, config, log, counters } = core.deps;
    if (!core.running || core.members.leaving) return;
    const size = core.members.size;
    const now = clock.elapsed();
    const window = CATCH_UP_WINDOW * config.gossip_interval;
    const over = now - this.#lastJoin >= CATCH_UP_QUIET * config.gossip_interval;
    let wake = Infinity;
    const top = this.#number(); // the table does not change during this loop
    for (const [uuid, j] of this.#joiners) {
      if (j.at < now - window) {
        this.#joiners.delete(uuid);
        continue;
      }
      if (j.told >= size) continue;
      if (j.next > now && !(over && size >= j.told * CATCH_UP_BEHIND)) {
        if (j.next <= j.at + window) wake = Math.min(wake, j.next);
        continue;
      }
      const news = core.members.records().filter((r) =>
        this.#learned.get(r.uuid)! > j.has && r.uuid !== uuid
      );
      j.told = size;
      if (!news.length) continue;
      j.next = now + CATCH_UP_MAX * config.gossip_interval * 2 ** j.pushes++;
      if (j.pushes >= CATCH_UP_PUSHES) this.#joiners.delete(uuid);
      counters.inc("gossip_join_catch_ups_total");
      if (this.#pushDatagrams(uuid, j.peer, news)) continue;
      // only what it was not told; counted as told once it took them (else a later push carries them)
      this.#exchange(j.peer, false, news).then(
        () => void (j.has = Math.max(j.has, top)),
        (err) => log.debug(`join catch-up with ${peerKey(j.peer)}: ${err.message}`),
      );
    }
    if (!this.#joiners.size) this.#learned.clear();
    if (wake < this.#wakeAt) {
      if (this.#wakeTimer !== null) clock.clearTimeout(this.#wakeTimer);
      this.#wakeAt = wake;
      this.#wakeTimer = clock.setTimeout(() => {
        this.#wakeTimer = null;
        this.#wakeAt = Infinity;
        this.#catchUp();
      }, Math.min(wake - now, window)); // within the window even if the wall clock stepped back
    }
  }

  /** Sends a catch-up as `push` datagrams when the joiner reads them and it is small; false when not sent. */
  #pushDatagrams(uuid: string, peer: PeerAddr, news: MemberRecord[]): boolean {
    const core = this.#core;
    if (!core.deps.config.compress || (core.members.get(uuid)?.proto ?? 0) < PROTO_PUSH) return false;
    const from = core.members.selfUuid;
    const of = core.members.size;
    const parts: string[] = [];
    let bytes = 0;
    for (const node of news) {
      const msg: PushMsg = { type: "push", from, of, node };
      const s = JSON.stringify(msg);
      bytes += s.length;
      if (bytes > CATCH_UP_DATAGRAM_BYTES) return false;
      parts.push(s);
    }
    core.sendPacked(peer, parts);
    core.deps.counters.inc("gossip_join_catch_up_datagrams_total");
    return true;
  }

  /**
   * A record of a seed's catch-up sent as datagrams: merged like a push's (not gossiped on); once we
   * hold as many members as the seed did, a seed we joined through counts as having pushed (our
   * early follow-up is skipped).
   */
  onPush(msg: PushMsg): void {
    const members = this.#core.members;
    members.merge([msg.node], msg.from, false);
    const seed = this.#seeds.get(msg.from);
    if (seed && members.size >= msg.of) seed.pushed = true;
  }

  /**
   * Joins through one peer (`kunai join`, seeds); false when it fails. When several nodes join the
   * same peer at once, the ones that reached it first learn of the later ones only from gossip,
   * whose few retransmits can all go to nodes that already know (the news then waits for the
   * next periodic push-pull, ~30 s). So the joiner syncs with the same peer again shortly after
   * (JOIN_FOLLOW_UPS), which by then holds everyone who joined with it.
   */
  async join(peer: PeerAddr): Promise<boolean> {
    return (await this.tryJoin(peer)) === null;
  }

  /** Joins through one peer: null once joined, else why not (also logged). */
  async tryJoin(peer: PeerAddr): Promise<string | null> {
    try {
      const seed = await this.#exchange(peer, true);
      if (seed === null) return "gossip is stopped";
      this.#followUp(peer, seed);
      return null;
    } catch (err) {
      const reason = (err as Error).message;
      this.#core.deps.log.info(`join ${peerKey(peer)} failed: ${reason}`);
      return reason;
    }
  }

  #followUp(peer: PeerAddr, seedUuid: string): void {
    const { clock, config, log, counters } = this.#core.deps;
    const state = { pushed: false };
    if (seedUuid) this.#seeds.set(seedUuid, state);
    JOIN_FOLLOW_UPS.forEach((mult, i) => {
      const last = i === JOIN_FOLLOW_UPS.length - 1;
      clock.setTimeout(() => {
        const pushed = state.pushed;
        state.pushed = false;
        if (last && this.#seeds.get(seedUuid) === state) this.#seeds.delete(seedUuid);
        if (!this.#core.running || this.#core.members.leaving) return;
        if (pushed && !last) return void counters.inc("gossip_join_follow_ups_skipped_total");
        this.exchange(peer, false).catch((err) =>
          log.debug(`join follow-up with ${peerKey(peer)}: ${err.message}`)
        );
      }, mult * config.gossip_interval);
    });
  }
}
