/**
 * The SWIM + Lifeguard engine: packets in and out (sealed by the replay-protected peer envelope), dispatch to the
 * membership rules, piggybacked dissemination, our own incarnation (updates, refutation,
 * leave) and reaping. Probing lives in prober.ts, full sync in push_pull.ts. Runs unchanged on
 * the UDP and the simulated transport; time comes from the injected clock, randomness from
 * `random`.
 */
import { LazyInterval, type TimerId } from "../clock/mod.ts";
import type { GossipConfig } from "../config/mod.ts";
import type { MemberRecord } from "../types.ts";
import { type PeerAddr, peerKey, shuffle } from "../transport/mod.ts";
import { Awareness } from "./awareness.ts";
import { BroadcastQueue, packetSize, retransmitLimit } from "./broadcast_queue.ts";
import {
  type AliveMsg,
  aliveOf,
  decodePacket,
  encodedSize,
  encodePacket,
  GOSSIP_PROTO,
  type GossipMsg,
  type KeyOpMsg,
  LIMITS,
  PROTO_LZ,
} from "./codec.ts";
import { LZ_HEADER, packLz } from "./lz.ts";
import { ClusterMessages } from "./cluster_messages.ts";
import { type DetectedAgent, Detection } from "./detect.ts";
import { ConflictLog, flushTraffic } from "./conflicts.ts";
import type { EngineCore, EngineDeps, Traffic } from "./core.ts";
import { type DropReason, ENVELOPE_OVERHEAD, explainDrop } from "../transport/mod.ts";
import { Membership } from "./members.ts";
import { Prober } from "./prober.ts";
import { PushPull } from "./push_pull.ts";
import { hostPort } from "../host_port.ts";

export type { EngineDeps, SelfSource } from "./core.ts";
export { pushPullInterval } from "./push_pull.ts";

/** Delay of the eager gossip round after fresh membership news (lets a burst share packets). */
const EAGER_DELAY_MS = 10;

/** Keep gossiping to a freshly dead node this long so it can learn it must refute. */
const GOSSIP_TO_THE_DEAD = 30_000;

/**
 * What one datagram asks of us: at most one answer to its source (an agent's packet holds one ping,
 * one ping-relay and one stale suspicion of us at most; a crafted one of 256 got 256 answers).
 */
interface Asked {
  /** seqno of its ping, to ack. */
  ack: number | null;
  /** It held a stale suspicion of us: our current record goes with the answer. */
  alive: boolean;
  /** A ping-relay was taken from it. */
  relayed: boolean;
  /** Further pings, relays or stale suspicions in it, not answered. */
  extra: number;
}

/**
 * Filling compressed packets (#lzFill): the ratio assumed before any was measured, the share of the
 * measured one used (a packet that still comes out too large is split in two), and the ceiling.
 * Ten records of a default agent (~550 bytes each) compress ~6x; two of them ~2x.
 */
const LZ_START_RATIO = 3;
const LZ_FILL_MARGIN = 0.85;
const LZ_MAX_FILL = 8;

export class GossipEngine implements EngineCore {
  readonly deps: EngineDeps;
  readonly members: Membership;
  readonly awareness: Awareness;
  readonly queue = new BroadcastQueue();
  /** Hot-path traffic counts (copied into ctx.counters at every /metrics render, reap round and info()). */
  readonly traffic: Traffic = {
    packetsSent: 0,
    bytesSent: 0,
    packetsCompressed: 0,
    packetsReceived: 0,
    bytesReceived: 0,
    dropped: { auth: 0, stale: 0, replay: 0, malformed: 0 },
    relaysRefused: 0,
    conflicts: 0,
  };
  readonly prober: Prober;
  readonly sync: PushPull;
  readonly messages: ClusterMessages;
  readonly detection: Detection;
  #cfg: GossipConfig;
  #running = false;
  #timers: TimerId[] = [];
  #abort = new AbortController();
  #leavePromise: Promise<void> | null = null;
  #conflicts: ConflictLog;
  /**
   * The gossip interval's rounds, asleep while nothing is queued or nobody is there to tell (an
   * idle agent does not wake 5 times a second for nothing); on the same grid as a plain interval.
   */
  #rounds: LazyInterval;
  #reaper: LazyInterval | null = null;

  constructor(deps: EngineDeps) {
    this.deps = deps;
    this.#cfg = deps.config;
    this.awareness = new Awareness(deps.config.awareness_max_multiplier);
    this.#conflicts = new ConflictLog(deps.clock, deps.log, () => this.members.selfUuid, this.traffic);
    this.members = new Membership({
      clock: deps.clock,
      config: deps.config,
      self: this.#selfRecord("alive"),
      hooks: {
        broadcast: (msg, key, urgent) => {
          this.queue.push(msg, key);
          if (urgent) this.#eagerRound();
        },
        withdraw: (key) => this.queue.forget(key),
        refute: (n) => this.#refute(n),
        conflict: (existing, claim, what) => this.#conflicts.report(existing, claim, what),
        full: (claim) => this.#refuseMember(claim),
        refusedRise: (held, claimed, why) => this.#refusedRise(held, claimed, why),
        changed: (kind, rec) => {
          if (kind === "suspect") this.prober.prioritize(rec.uuid);
          this.#rounds.poke(); // a new peer may be a target for what is queued
          this.prober.wake(kind !== "updated" && kind !== "suspect"); // and someone to probe
          this.sync.membersChanged(); // and to push-pull with, or to reconnect to
          deps.counters.inc("gossip_member_changes_total", { kind });
          deps.onChange?.(kind, rec);
        },
      },
    });
    this.#rounds = new LazyInterval(deps.clock, deps.config.gossip_interval, () => this.#gossipRound());
    this.queue.onPush = () => this.#rounds.poke();
    this.prober = new Prober(this);
    this.sync = new PushPull(this);
    this.messages = new ClusterMessages(this);
    this.detection = new Detection(this);
    deps.transport.onPacket((data, from) => this.#onPacket(data, from));
    // the simulated network's stream (real agents serve push-pull on the HTTP peer route instead)
    deps.transport.onRequest(async (wire, from) => {
      const r = await deps.envelope.open(wire);
      if (!r.ok) {
        this.traffic.dropped[r.reason]++;
        throw new Error(`push-pull refused: ${r.reason}`);
      }
      return await deps.envelope.seal(this.sync.serve(r.plain, from));
    });
  }

  get running(): boolean {
    return this.#running;
  }

  get leaving(): boolean {
    return this.members.leaving;
  }

  #selfRecord(state: MemberRecord["state"]): MemberRecord {
    const s = this.deps.self;
    const maintenance = s.maintenance?.();
    return {
      uuid: s.uuid,
      name: s.name,
      addr: s.addr,
      port: this.deps.transport.local.port,
      incarnation: s.incarnation,
      state,
      tags: s.tags(),
      services: s.services(),
      zone: s.zone ?? "",
      ...(this.#cfg.compress ? { proto: GOSSIP_PROTO } : {}),
      ...(maintenance ? { maintenance } : {}),
    };
  }

  /** Starts the transport and the loops (probe, gossip, push-pull, reconnect, reap). */
  async start(): Promise<void> {
    await this.deps.transport.start();
    this.#running = true;
    const self = this.#selfRecord("alive");
    this.members.setSelf(self);
    // announce ourselves as soon as we know peers (the join push-pull tells us who they are)
    this.queue.push(aliveOf(self), self.uuid);
    const c = this.deps.clock;
    this.#rounds.start(true);
    // on the epoch grid: the agent's other 10 s jobs wake it at the same instants
    this.#reaper = new LazyInterval(c, Math.min(this.#cfg.reap_after, 10_000), () => {
      this.#reapRound();
      return true;
    });
    this.#reaper.start(true, 0);
    void this.prober.run(this.#abort.signal);
    void this.sync.run(this.#abort.signal);
    void this.sync.reconnect(this.#abort.signal);
  }

  /** Stops every loop and closes the transport (no leave: see `leave()`). */
  async stop(): Promise<void> {
    if (!this.#running) return;
    this.#running = false;
    this.#abort.abort();
    for (const t of this.#timers) this.deps.clock.clearInterval(t);
    this.#timers = [];
    this.#rounds.stop();
    this.#reaper?.stop();
    if (this.#eagerTimer !== null) this.deps.clock.clearTimeout(this.#eagerTimer);
    this.#eagerTimer = null;
    this.prober.tracker.cancelAll();
    this.prober.stop();
    this.sync.stop();
    this.detection.stop();
    this.members.close();
    await this.deps.transport.close();
  }

  /** Joins through one peer (`kunai join`, seeds); false when it fails. */
  join(peer: PeerAddr): Promise<boolean> {
    return this.sync.join(peer);
  }

  /** The same join: null once joined, else why not. */
  tryJoin(peer: PeerAddr): Promise<string | null> {
    return this.sync.tryJoin(peer);
  }

  /** Full state exchange with a peer. */
  pushPull(peer: PeerAddr, join: boolean): Promise<boolean> {
    return this.sync.exchange(peer, join);
  }

  /** Our tags, services, zone or maintenance changed: new incarnation, spread it. */
  localUpdate(): void {
    if (this.members.leaving) return;
    this.deps.self.bumpIncarnation();
    this.#announceSelf();
  }

  #refute(n: number): void {
    this.deps.self.bumpIncarnation(n);
    this.awareness.apply(1);
    this.deps.counters.inc("gossip_refutations_total");
    this.#announceSelf();
  }

  #announceSelf(): void {
    const rec = this.#selfRecord("alive");
    this.members.setSelf(rec);
    this.queue.push(aliveOf(rec), rec.uuid);
    this.deps.onChange?.("updated", rec);
  }

  /**
   * Leaves gracefully: new incarnation in state `leave`, broadcast, keep gossiping for
   * `leave_propagate_wait`, then `onLeft`. Idempotent.
   */
  leave(): Promise<void> {
    if (this.#leavePromise) return this.#leavePromise;
    this.members.leaving = true;
    this.#leavePromise = (async () => {
      this.deps.self.bumpIncarnation();
      const rec = this.#selfRecord("leave");
      this.members.setSelf(rec);
      this.queue.push({ type: "leave", uuid: rec.uuid, incarnation: rec.incarnation }, rec.uuid);
      this.deps.onChange?.("left", rec);
      this.deps.log.info(`leaving the cluster (incarnation ${rec.incarnation})`);
      if (this.#running) this.#gossipRound(); // push the news right away
      await this.deps.clock.sleep(this.#cfg.leave_propagate_wait);
      this.deps.onLeft?.();
    })();
    return this.#leavePromise;
  }

  /** Marks another node `leave` and spreads it (ourselves: a graceful leave); false if unknown. */
  forceLeave(uuid: string): boolean {
    const rec = this.members.get(uuid);
    if (!rec) return false;
    if (uuid === this.members.selfUuid) {
      void this.leave();
      return true;
    }
    this.members.handleLeave({ type: "leave", uuid, incarnation: rec.incarnation });
    return true;
  }

  /** Applies a key operation locally and spreads it to every member. */
  keyOp(op: KeyOpMsg["op"], key: string): Promise<void> {
    return this.messages.keyOp(op, key);
  }

  /** Spreads a payload of another subsystem to every member (at most once each). */
  broadcastUser(kind: string, payload: unknown): string {
    return this.messages.broadcast(kind, payload);
  }

  /** Asks who answers at `to` (a broadcast address or one agent) within `timeoutMs`. */
  detect(to: PeerAddr, timeoutMs: number): Promise<DetectedAgent[]> {
    if (!this.#running) return Promise.resolve([]);
    return this.detection.run(to, timeoutMs);
  }

  /** Receives user payloads of a kind; returns the unsubscribe function. */
  onUser(kind: string, fn: (payload: unknown, id: string) => void): () => void {
    return this.messages.on(kind, fn);
  }

  // ---------------------------------------------------------------- packets

  #budget(): number {
    return this.#cfg.max_packet_bytes - (this.deps.envelope.enabled ? ENVELOPE_OVERHEAD : 0);
  }

  #limit(): number {
    return retransmitLimit(this.#cfg.retransmit_mult, this.members.size);
  }

  send(to: PeerAddr, msgs: GossipMsg[], piggyback = true): void {
    const queued = piggyback
      ? this.queue.take(this.#budget(), this.#limit(), packetSize(msgs.map(encodedSize)))
      : [];
    this.#sendRaw(to, msgs, queued);
  }

  sendPacked(to: PeerAddr, serialised: string[]): void {
    if (serialised.length) this.#sendPacked(to, serialised, this.#budget());
  }

  #sendRaw(to: PeerAddr, msgs: GossipMsg[], queued: string[]): void {
    if (!msgs.length && !queued.length) return;
    this.#sendBytes(to, encodePacket(msgs, queued), false);
  }

  /** Sends a packet's payload (sealed when the cluster has a key). */
  #sendBytes(to: PeerAddr, payload: Uint8Array, compressed: boolean): void {
    const t = this.traffic;
    if (compressed) t.packetsCompressed++;
    const out = (bytes: Uint8Array) => {
      t.packetsSent++;
      t.bytesSent += bytes.length;
      this.deps.transport.sendPacket(to, bytes);
    };
    if (!this.deps.envelope.enabled) return out(payload);
    this.deps.envelope.seal(payload).then(out, (err) => this.deps.log.warn(`seal failed: ${err}`));
  }

  /**
   * Raw bytes of queued messages taken for one compressed packet: the budget times what our packets
   * shrank to lately, with a margin (an over-full one is split, see #sendPacked).
   */
  #lzFill(budget: number): number {
    const ratio = Math.min(LZ_MAX_FILL, Math.max(1, this.#lzRatio * LZ_FILL_MARGIN));
    // what it unpacks to is held to a plain datagram's limit by every receiver
    return Math.min(LIMITS.datagram, Math.floor((budget - LZ_HEADER) * ratio));
  }

  /** Raw / compressed size of our recent full packets (moving average), for #lzFill. */
  #lzRatio = LZ_START_RATIO;

  /**
   * Sends queued messages compressed, in as many packets as they need to fit `budget` and the
   * receivers' count of messages per packet (halves until they do); a lone message over the budget
   * goes alone, as in plain packets, in whichever form is smaller.
   */
  #sendPacked(to: PeerAddr, queued: string[], budget: number): void {
    const plain = encodePacket([], queued);
    const packed = packLz(plain);
    if (plain.length >= budget) {
      this.#lzRatio = 0.8 * this.#lzRatio + 0.2 * (plain.length / packed.length);
    }
    const fits = packed.length <= budget && queued.length <= LIMITS.messagesPerPacket;
    if (fits || queued.length === 1) {
      const smaller = packed.length < plain.length;
      return this.#sendBytes(to, smaller ? packed : plain, smaller);
    }
    const half = queued.length >> 1;
    this.#sendPacked(to, queued.slice(0, half), budget);
    this.#sendPacked(to, queued.slice(half), budget);
  }

  #drop(reason: DropReason): void {
    this.traffic.dropped[reason]++;
  }

  /** Per reason: when a sealed datagram's drop was last said, and how many since. */
  #dropSaid = new Map<DropReason, { at: number; n: number }>();

  /**
   * A sealed datagram that does not open (another key, a clock out of the window): counted, and
   * said once a minute per reason with the last sender (a host whose clock stepped drops every one).
   */
  #dropSealed(reason: DropReason, from: PeerAddr): void {
    this.#drop(reason);
    if (reason !== "stale" && reason !== "auth") return;
    const now = this.deps.clock.elapsed();
    const said = this.#dropSaid.get(reason);
    if (said && now - said.at < 60_000) {
      said.n++;
      return;
    }
    const n = (said?.n ?? 0) + 1;
    this.#dropSaid.set(reason, { at: now, n: 0 });
    this.deps.log.warn(
      `dropped ${n} gossip packet(s)${said ? " in the last minute" : ""}, the last from ${peerKey(from)}: ` +
        explainDrop(reason),
    );
  }

  /** New nodes refused since the member table filled (`max_members`), and when that was last said. */
  #fullSaid = { at: -Infinity, n: 0 };

  /** A new node refused, the table being full: counted, said at once and then once a minute. */
  #refuseMember(claim: AliveMsg): void {
    this.deps.counters.inc("gossip_members_refused_total");
    const said = this.#fullSaid;
    said.n++;
    const now = this.deps.clock.elapsed();
    if (now - said.at < 60_000) return;
    this.deps.log.warn(
      `member table full (gossip.max_members ${this.#cfg.max_members}): refused ${said.n} new node(s), ` +
        `the latest ${JSON.stringify(claim.name.slice(0, 64))} at ${hostPort(claim.addr, claim.port)}; ` +
        `known nodes are still updated; a dead or left node makes room once gone a minute`,
    );
    said.at = now;
    said.n = 0;
  }

  #onPacket(data: Uint8Array, from: PeerAddr): void {
    if (!this.#running) return;
    const t = this.traffic;
    t.packetsReceived++;
    t.bytesReceived += data.length;
    if (!this.deps.envelope.enabled) return this.#handlePlain(data, from);
    this.deps.envelope.open(data).then((r) => {
      if (!r.ok) return this.#dropSealed(r.reason, from);
      this.#handlePlain(r.plain, from);
    }, () => this.#dropSealed("auth", from));
  }

  /** Refused (or capped) rises of an incarnation since the last said, and when that was. */
  #riseSaid = { at: -Infinity, n: 0 };

  /** A claim raising an incarnation past the limits (state_rules.riseOf): counted, said once a minute. */
  #refusedRise(held: MemberRecord, claimed: number, why: "too-soon" | "too-far" | "capped"): void {
    this.deps.counters.inc("gossip_incarnation_rises_refused_total", { why });
    const said = this.#riseSaid;
    said.n++;
    const now = this.deps.clock.elapsed();
    if (now - said.at < 60_000) return;
    const who = held.uuid === this.members.selfUuid ? "this node" : JSON.stringify(held.name.slice(0, 64));
    const what = why === "capped"
      ? "followed only part of the way"
      : why === "too-soon"
      ? "refused (one large rise per node per interval)"
      : "refused (too large a rise at once)";
    this.deps.log.warn(
      `${said.n} claim(s) raising an incarnation far above what this agent holds, the latest about ${who} ` +
        `(${held.incarnation} → ${claimed}): ${what}; without an encryption_key anyone can send such claims`,
    );
    said.at = now;
    said.n = 0;
  }

  #handlePlain(data: Uint8Array, from: PeerAddr): void {
    if (!this.#running) return;
    const d = decodePacket(data);
    if (!d.ok) {
      this.#drop("malformed");
      this.deps.log.debug(`dropped a packet from ${peerKey(from)}: ${d.error}`);
      return;
    }
    // each message's share of the datagram: what its answer, if any, may weigh (see detect.ts)
    const share = Math.floor(data.length / d.value.length);
    const asked: Asked = { ack: null, alive: false, relayed: false, extra: 0 };
    for (const msg of d.value) {
      try {
        this.#dispatch(msg, from, share, asked);
      } catch (err) {
        this.deps.counters.inc("gossip_handler_errors_total");
        this.deps.log.warn(`handling ${msg.type} from ${peerKey(from)} failed: ${(err as Error).message}`);
      }
    }
    if (asked.ack !== null || asked.alive) this.#answer(from, asked, data.length);
    if (asked.extra) {
      this.deps.counters.inc("gossip_requests_unanswered_total", { why: "extra" }, asked.extra);
    }
  }

  /**
   * The answer to one datagram, in one packet to its source: the ack of its ping and, when it held a
   * stale suspicion of us, our current record. Queued news rides along only to a live member at that
   * address: without a key the source may be spoofed, and anyone else (a victim's address, or a node
   * we do not know yet, whose ack must not wait) gets no more bytes than it sent.
   */
  #answer(to: PeerAddr, asked: Asked, requestBytes: number): void {
    const msgs: GossipMsg[] = [];
    if (asked.ack !== null) msgs.push({ type: "ack", seqno: asked.ack });
    if (asked.alive) msgs.push(aliveOf(this.members.self()));
    const member = this.members.liveAt(to);
    if (!member) {
      // our record is left out first, then the ack
      while (msgs.length && packetSize(msgs.map(encodedSize)) > requestBytes) {
        msgs.pop();
        this.deps.counters.inc("gossip_requests_unanswered_total", { why: "larger_than_request" });
      }
      if (!msgs.length) return;
    }
    this.send(to, msgs, member);
  }

  /**
   * `size`: the message's share of the bytes of the datagram it came in (opened, still compressed);
   * `asked`: what the datagram asked so far (one answer per datagram, see #answer).
   */
  #dispatch(msg: GossipMsg, from: PeerAddr, size: number, asked: Asked): void {
    switch (msg.type) {
      case "ping":
        if (msg.node !== this.members.selfUuid) {
          return void this.deps.counters.inc("gossip_misdirected_pings_total");
        }
        if (asked.ack !== null) return void asked.extra++;
        asked.ack = msg.seqno;
        return;
      case "ping-relay":
        if (asked.relayed) return void asked.extra++;
        asked.relayed = true;
        return void this.prober.relay(msg.seqno, msg.tgt, msg.from, msg.nack);
      case "ack":
        return this.prober.tracker.ack(msg.seqno);
      case "nack":
        return this.prober.tracker.nack(msg.seqno);
      case "alive":
        return void this.members.handleAlive(msg);
      case "suspect":
      case "dead": {
        const v = msg.type === "suspect" ? this.members.handleSuspect(msg) : this.members.handleDead(msg);
        // the sender holds a stale suspicion of us: answer it directly with our current record
        // (not a refused rise: a forgery, its sender gets nothing)
        if (
          msg.uuid === this.members.selfUuid && v.action === "ignore" && !v.refused && !this.members.leaving
        ) {
          if (asked.alive) asked.extra++;
          asked.alive = true;
        }
        return;
      }
      case "leave":
        return void this.members.handleLeave(msg);
      case "keyop":
        return void this.messages.onKeyOp(msg);
      case "push":
        return this.sync.onPush(msg);
      case "user":
        return this.messages.onUser(msg);
      case "detect":
        return this.detection.onRequest(msg, from, size);
      case "detect-reply":
        return this.detection.onReply(msg, from);
    }
  }

  // ---------------------------------------------------------------- gossip and reaping

  /** Up to `n` random peers worth gossiping to (alive, suspect, or dead for less than 30 s). */
  #gossipTargets(n: number): MemberRecord[] {
    const now = this.deps.clock.elapsed();
    const self = this.members.selfUuid;
    const all = this.members.records();
    const ok = (r: MemberRecord) =>
      r.uuid !== self && (r.state === "alive" || r.state === "suspect" ||
        (r.state === "dead" && now - this.members.stateChangedAt(r.uuid) < GOSSIP_TO_THE_DEAD));
    if (all.length <= 4 * n) return shuffle(this.deps.random, all.filter(ok)).slice(0, n);
    // large tables: sample random indices instead of filtering everything every round
    const picked = new Set<MemberRecord>();
    for (let tries = 0; tries < 8 * n && picked.size < n; tries++) {
      const r = all[Math.floor(this.deps.random() * all.length)];
      if (ok(r)) picked.add(r);
    }
    return [...picked];
  }

  #eagerTimer: TimerId | null = null;
  #lastEager = -Infinity;

  /**
   * Joins and deaths go out within EAGER_DELAY_MS instead of waiting for the next tick of the
   * gossip interval (on average half of it per hop, ~3 hops for 20 nodes); at most one extra
   * round per quarter interval, so churn costs at most 4x the packets of the plain interval.
   */
  #eagerRound(): void {
    if (!this.#running || this.#eagerTimer !== null) return;
    const c = this.deps.clock;
    // at most a quarter interval even when the wall clock stepped back since the last one
    const quarter = this.#cfg.gossip_interval / 4;
    const wait = Math.max(EAGER_DELAY_MS, Math.min(quarter, this.#lastEager + quarter - c.elapsed()));
    this.#eagerTimer = c.setTimeout(() => {
      this.#eagerTimer = null;
      this.#lastEager = c.elapsed();
      this.#gossipRound();
    }, wait);
  }

  /** One round; true while something is left to send and someone to send it to. */
  #gossipRound(): boolean {
    if (!this.#running || !this.queue.length) return false;
    const targets = this.#gossipTargets(this.#cfg.gossip_nodes);
    const budget = this.#budget();
    for (const t of targets) {
      // members whose record says they read compressed packets get as many records as fit compressed
      const lz = this.#cfg.compress && (t.proto ?? 0) >= PROTO_LZ;
      const queued = this.queue.take(lz ? this.#lzFill(budget) : budget, this.#limit());
      if (!queued.length) break;
      if (lz) this.#sendPacked(t, queued, budget);
      else this.#sendRaw(t, [], queued);
    }
    return targets.length > 0 && this.queue.length > 0;
  }

  #reapRound(): void {
    const n = this.members.reap();
    if (n) this.deps.log.info(`reaped ${n} dead/left node(s) after ${this.#cfg.reap_after} ms`);
    this.messages.expire();
    this.flushCounters();
  }

  /** Copies the hot-path traffic counts and the members by state into ctx.counters; returns the latter. */
  flushCounters(): Record<MemberRecord["state"], number> {
    flushTraffic(this.deps.counters, this.traffic, this.deps.envelope.dropped, this.awareness.score);
    for (const [kind, n] of Object.entries(this.queue.evicted)) {
      this.deps.counters.set("gossip_broadcasts_evicted_total", n, { kind });
    }
    const counts = { alive: 0, suspect: 0, dead: 0, leave: 0 };
    for (const r of this.members.records()) counts[r.state]++;
    for (const [state, v] of Object.entries(counts)) this.deps.counters.set("gossip_members", v, { state });
    return counts;
  }
}
