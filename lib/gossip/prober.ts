/**
 * SWIM failure detection with Lifeguard: each probe interval, ping one member; without an ack,
 * ask k random peers to ping it by uuid (they answer ack or nack); without any ack, suspect it.
 * Our awareness score stretches the timeouts when the missing answers point at us rather than at
 * the target.
 *
 * Who probes whom: the members (alive and suspect, ourselves included) sorted by uuid form a
 * ring; in probe slot `s` (the probe interval's count since the epoch) each member probes the
 * one `1 + s mod (n - 1)` places after it (`slotTarget`). That is SWIM's round robin (every
 * member probed by us once every n - 1 intervals) with the rounds of all members interleaved:
 * the same shift for all in a slot, so every member is probed by exactly one peer in every
 * interval. memberlist's independent shuffles probe a member about once an interval on average
 * but in clumps (simulated: a gap of 2.8 s or more between two probes of a member one time in
 * ten; docs/benchmarks.md, "failure detection at 20 agents"). Each member probes at its own
 * random phase within the interval, so the probes of one member are spread, not simultaneous.
 *
 * A probe fails at the end of the interval without an ack, or as soon as a TCP connection to the
 * target's port is refused (nothing listens there: the agent is gone). That check starts when the
 * direct ping is still unanswered at `REFUSED_CHECK_AT` of the probe timeout: on a reachable host a
 * killed agent is suspected a round trip later instead of after the direct timeout and the
 * indirect pings. One refusal only starts the suspicion; Lifeguard's timeout keeps running for it.
 * The port is asked again `GONE_CONFIRM_INTERVALS` probe intervals later, and when the member is
 * still suspect at the same incarnation (it neither answered nor refuted) and the port refuses
 * again, it is declared dead then. A live agent always listens on that port, even stalled or
 * overloaded (its kernel accepts the connection), so Lifeguard's protection of slow and unreachable
 * members, which never refuse, is whole; what skips it is an agent that is gone (killed, crashed,
 * stopped), detected in about one probe interval after its first failed probe instead of the
 * suspicion's timeout (5.2 s at 20 members).
 */
import type { TimerId } from "../clock/mod.ts";
import type { MemberRecord } from "../types.ts";
import { shuffle } from "../transport/mod.ts";
import type { GossipMsg } from "./codec.ts";
import type { EngineCore } from "./core.ts";
import { type ProbeResult, ProbeTracker } from "./probe.ts";
import { LagStats } from "./members.ts";
import { slotTarget } from "./probe_schedule.ts";
import { hostPort } from "../host_port.ts";

/** Share of the probe timeout after which a relay answers `nack` when the target stayed silent. */
export const NACK_AT = 0.8;

/**
 * Share of the probe timeout after which an unanswered direct ping also checks whether anything
 * listens on the target's port (one TCP connect; a live agent always listens there). A live agent on
 * loopback acks within a millisecond or two, under load within tens: at 0.2 (100 ms by default) the
 * extra connect is rare, and a killed agent's refusal arrives ~400 ms sooner than after the full
 * direct timeout (measured on 20 agents: see docs/benchmarks.md, "failure detection").
 */
export const REFUSED_CHECK_AT = 0.2;

/** Probe intervals between a refusal that started a suspicion and the second ask of the port. */
export const GONE_CONFIRM_INTERVALS = 1;

export class Prober {
  readonly tracker: ProbeTracker;
  /** How late the event loop woke the probe loop up after its sleep (ms): a loaded process. */
  readonly lag = new LagStats();
  /**
   * How long a probe round ran past `probe_interval` (ms): Lifeguard stretching our own timeouts
   * while our health score is up (missed acks or nacks), or a slow failing probe.
   */
  readonly stretch = new LagStats();
  /** When in each probe interval we probe (ms after the interval's start), drawn once. */
  readonly phase: number;
  #core: EngineCore;
  /** Uuids of the alive and suspect members and ours, sorted (null: rebuild at the next probe). */
  #ring: string[] | null = null;
  #selfAt = 0;
  /** Suspects to probe before the schedule continues. */
  #urgent: string[] = [];
  /** Second asks of a refusing port, by member uuid (see GONE_CONFIRM_INTERVALS). */
  #goneChecks = new Map<string, TimerId>();

  constructor(core: EngineCore) {
    this.#core = core;
    this.tracker = new ProbeTracker(core.deps.clock);
    this.phase = Math.floor(core.deps.random() * Math.max(1, core.deps.config.probe_interval));
  }

  /** The first instant at or after `t` on our grid (`phase` + a multiple of the interval). */
  #tickAfter(t: number): number {
    const every = Math.max(1, this.#core.deps.config.probe_interval);
    return this.phase + Math.ceil((t - this.phase) / every) * every;
  }

  /** Probes until the engine stops; alone (nobody to probe), sleeps until a member shows up. */
  async run(signal: AbortSignal): Promise<void> {
    const { clock, config, log } = this.#core.deps;
    const every = Math.max(1, config.probe_interval);
    let tick = this.#tickAfter(clock.now());
    while (this.#core.running) {
      let wait = tick - clock.now();
      // never more than an interval ahead unless the wall clock stepped back (an NTP step, a VM
      // resumed): the grid is taken again from now, or the prober would sleep for the whole step
      if (wait > every) {
        tick = this.#tickAfter(clock.now());
        wait = tick - clock.now();
      }
      if (wait > 0) {
        await clock.sleep(wait, signal);
        if (!this.#core.running) return;
        this.lag.add(Math.max(0, clock.now() - tick));
      }
      let probed = true;
      try {
        probed = await this.probeOnce(Math.floor(tick / every));
      } catch (err) {
        log.warn(`probe failed: ${(err as Error).message}`);
      }
      if (!this.#core.running) return;
      if (!probed) {
        await this.#peerShowsUp(signal);
        tick = this.#tickAfter(clock.now());
        continue;
      }
      const ended = clock.now();
      this.stretch.add(Math.max(0, ended - (tick + every)));
      // the next slot of our grid; a stretched probe (health score up) skips the slots it overran
      tick += every;
      while (tick + every / 2 < ended) tick += every;
    }
  }

  #wake: (() => void) | null = null;

  /** Resolves at the next membership change (`wake()`) or when the engine stops: no timer while alone. */
  #peerShowsUp(signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      if (signal.aborted) return resolve();
      const done = () => {
        signal.removeEventListener("abort", done);
        this.#wake = null;
        resolve();
      };
      this.#wake = done;
      signal.addEventListener("abort", done, { once: true });
    });
  }

  /**
   * The membership changed: a prober waiting alone starts again; `ringChanged` (a member joined,
   * died, left or was reaped) rebuilds the ring at the next probe.
   */
  wake(ringChanged = true): void {
    if (ringChanged) this.#ring = null;
    this.#wake?.();
  }

  /** Probes `uuid` next: a fresh suspect gets checked (and told, buddy-style) right away. */
  prioritize(uuid: string): void {
    if (!this.#urgent.includes(uuid)) this.#urgent.push(uuid);
  }

  #buildRing(): string[] {
    const self = this.#core.members.selfUuid;
    const ring = this.#core.members.records()
      .filter((r) => r.uuid === self || r.state === "alive" || r.state === "suspect")
      .map((r) => r.uuid)
      .sort();
    this.#selfAt = ring.indexOf(self);
    return ring;
  }

  /** Whom to probe in `slot`: a fresh suspect first, else our target of the ring. */
  nextTarget(slot: number): MemberRecord | null {
    const members = this.#core.members;
    while (this.#urgent.length) {
      const rec = members.get(this.#urgent.shift()!);
      if (rec && rec.state === "suspect") return rec;
    }
    for (let tries = 0; tries < 2; tries++) {
      const ring = this.#ring ??= this.#buildRing();
      if (ring.length < 2) return null;
      const rec = members.get(ring[slotTarget(ring.length, this.#selfAt, slot)]);
      if (rec && (rec.state === "alive" || rec.state === "suspect")) return rec;
      this.#ring = null; // changed without a notice: rebuild once
    }
    return null;
  }

  /** One probe in `slot` (default: the current interval); false when there was nobody to probe. */
  async probeOnce(slot?: number): Promise<boolean> {
    const core = this.#core;
    const { clock, config } = core.deps;
    if (core.members.leaving) return true;
    const target = this.nextTarget(slot ?? Math.floor(clock.now() / Math.max(1, config.probe_interval)));
    if (!target) return false;
    await this.probe(target);
    return true;
  }

  /** One SWIM probe of `target` with Lifeguard's awareness updates (suspects it when nothing answers). */
  async probe(target: MemberRecord): Promise<void> {
    const core = this.#core;
    const { clock, config, counters, random } = core.deps;
    const selfUuid = core.members.selfUuid;
    const interval = core.awareness.scale(config.probe_interval);
    const deadline = clock.elapsed() + interval;
    // is anything listening on its port at all? Asked once, early (see REFUSED_CHECK_AT); the answer
    // also serves the indirect phase below
    const { direct, port } = this.#ping(target, interval, deadline);
    const first = await Promise.race([
      direct.result,
      port.then((refused) => refused ? "refused" as const : new Promise<never>(() => {})),
    ]);
    if (first !== "refused" && first.acked) {
      core.awareness.apply(-1);
      return;
    }
    if (!core.running) return;
    if (first === "refused") return this.#suspectGone(target);
    // indirect: k random alive peers ping the target by uuid for us
    const peers = shuffle(
      random,
      core.members.records().filter((r) =>
        r.state === "alive" && r.uuid !== selfUuid && r.uuid !== target.uuid
      ),
    ).slice(0, config.indirect_checks);
    const indirect = this.tracker.expect(this.tracker.nextSeq(), Math.max(1, deadline - clock.elapsed()));
    for (const p of peers) {
      core.send(p, [{
        type: "ping-relay",
        seqno: indirect.seq,
        tgt: target.uuid,
        addr: target.addr,
        port: target.port,
        from: selfUuid,
        nack: true,
      }]);
    }
    // a second direct try on the same sequence number (memberlist uses a TCP fallback here)
    core.send(target, [{ type: "ping", seqno: indirect.seq, node: target.uuid, from: selfUuid }]);
    // A refused connection (the host answers, the agent's port is closed: a crashed or killed agent)
    // is as good as the rest of the interval without an ack. A live agent always listens there
    // (push-pull needs it), and the suspicion still has to run Lifeguard's full timeout.
    const gone = port.then((refused): Promise<ProbeResult | "refused"> =>
      refused ? Promise.resolve("refused") : indirect.result
    );
    const r = await Promise.race([indirect.result, gone]);
    if (!core.running) return;
    if (r === "refused") return this.#suspectGone(target);
    if (r.acked) {
      counters.inc("gossip_probes_indirect_ok_total");
      return;
    }
    // no ack at all: if relays did not even nack, the problem may be us (Lifeguard)
    core.awareness.apply(peers.length ? peers.length - r.nacks : 1);
    this.#suspect(target);
  }

  /**
   * The direct ping of a probe (with the suspicion when the target is suspect: Lifeguard's buddy
   * system, it learns it is suspected from the probe itself and refutes at once); its ack is awaited
   * for the probe timeout, at most `intervalMs`. `port`: true when a TCP connection to the target's
   * port is refused; the connection is tried once the ping is still unanswered at REFUSED_CHECK_AT
   * of its timeout and waits until `deadline` (on `clock.elapsed()`; default: the ping's timeout).
   * False when it was not refused, or not tried: an ack before the check cancels it (the tracker arms
   * one timer at a time, so a healthy probe wakes the agent once, at the check's time).
   */
  #ping(
    target: MemberRecord,
    intervalMs: number,
    deadline?: number,
  ): { direct: { seq: number; result: Promise<ProbeResult> }; port: Promise<boolean> } {
    const core = this.#core;
    const { clock, transport } = core.deps;
    const selfUuid = core.members.selfUuid;
    const directMs = Math.min(core.awareness.scale(core.deps.config.probe_timeout), intervalMs);
    const until = deadline ?? clock.elapsed() + directMs;
    let checked = false;
    let answer: (refused: boolean) => void = () => {};
    const port = new Promise<boolean>((resolve) => answer = resolve);
    const direct = this.tracker.expect(this.tracker.nextSeq(), directMs, {
      atMs: Math.max(1, Math.floor(directMs * REFUSED_CHECK_AT)),
      run: () => {
        checked = true;
        if (!core.running) return answer(false);
        transport.refused(target, Math.max(1, until - clock.elapsed())).then(answer, () => answer(false));
      },
    });
    // acked, or given up without the check (the engine stopped): nothing was refused
    direct.result.then((r) => {
      if (r.acked || !checked) answer(false);
    });
    const ping: GossipMsg[] = [{ type: "ping", seqno: direct.seq, node: target.uuid, from: selfUuid }];
    if (target.state === "suspect") {
      ping.push({ type: "suspect", uuid: target.uuid, incarnation: target.incarnation, from: selfUuid });
    }
    core.send(target, ping);
    return { direct, port };
  }

  /**
   * Nothing listens on the target's port: suspected now (Lifeguard's suspicion timeout runs), and
   * the port asked again a probe interval later (#confirmGone).
   */
  #suspectGone(target: MemberRecord): void {
    this.#core.deps.counters.inc("gossip_probes_refused_total");
    if (this.#suspect(target, true)) this.#confirmGone(target.uuid, target.incarnation);
  }

  /**
   * Probes suspect `uuid` again after GONE_CONFIRM_INTERVALS (a ping, its port asked while the ping
   * is unanswered); refused again, its ping unanswered, and still suspect at the same incarnation
   * (no refutation in between): dead now. A live agent whose TCP port is not reachable (a NAT that
   * forwards only UDP) answers the ping, and is not declared dead by this.
   */
  #confirmGone(uuid: string, inc: number): void {
    const core = this.#core;
    const { clock, config, counters, log } = core.deps;
    const rec = core.members.get(uuid);
    if (!rec || rec.state !== "suspect" || rec.incarnation !== inc || this.#goneChecks.has(uuid)) return;
    const every = Math.max(1, config.probe_interval);
    const still = () => {
      const now = core.members.get(uuid);
      return core.running && now?.state === "suspect" && now.incarnation === inc ? now : null;
    };
    const timer = clock.setTimeout(async () => {
      try {
        const now = still();
        if (!now) return;
        // the first phase of a probe again: a ping, and the port asked only while it is unanswered
        const { direct, port } = this.#ping(now, core.awareness.scale(every));
        const refused = await port;
        const after = refused && !this.tracker.isAcked(direct.seq) ? still() : null;
        if (!after || !core.members.declareDead(uuid, inc)) return;
        counters.inc("gossip_dead_by_refusal_total");
        log.info(
          `${after.name} (${
            hostPort(after.addr, after.port)
          }) refused connections twice ${every} ms apart; declared dead`,
        );
      } finally {
        if (this.#goneChecks.get(uuid) === timer) this.#goneChecks.delete(uuid);
      }
    }, GONE_CONFIRM_INTERVALS * every);
    this.#goneChecks.set(uuid, timer);
  }

  /** Cancels the pending second asks (the engine stops). */
  stop(): void {
    for (const t of this.#goneChecks.values()) this.#core.deps.clock.clearTimeout(t);
    this.#goneChecks.clear();
  }

  /**
   * Suspects the member at its current incarnation: a probe unanswered for its whole interval is
   * evidence against the process even if it refuted someone else meanwhile (Lifeguard: a slow node
   * keeps learning that it is slow, and stops accusing healthy peers). With `probed`, only at the
   * incarnation the probe found: a refused port is evidence against the process that was probed,
   * and a newer incarnation heard meanwhile may be its restart. True when it was suspected.
   */
  #suspect(target: MemberRecord, probed = false): boolean {
    const core = this.#core;
    core.deps.counters.inc("gossip_probes_failed_total");
    const now = core.members.get(target.uuid);
    if (!now || (now.state !== "alive" && now.state !== "suspect")) return false;
    if (probed && now.incarnation !== target.incarnation) return false;
    core.deps.log.debug(`${target.name} did not answer a probe; suspecting it`);
    core.members.handleSuspect({
      type: "suspect",
      uuid: target.uuid,
      incarnation: now.incarnation,
      from: core.members.selfUuid,
    });
    return true;
  }

  /**
   * `kunai ping`: one direct ping of `target` at the address we hold for it, outside the probe
   * schedule (no state change follows: a failure here suspects nobody). Resolves with the round
   * trip in ms (`now` is the caller's clock, sub-millisecond), or null after `timeoutMs`.
   */
  async pingOnce(target: MemberRecord, timeoutMs: number, now: () => number): Promise<number | null> {
    const core = this.#core;
    const seq = this.tracker.nextSeq();
    const wait = this.tracker.expect(seq, timeoutMs);
    const t0 = now();
    core.send(target, [{ type: "ping", seqno: seq, node: target.uuid, from: core.members.selfUuid }], false);
    const r = await wait.result;
    return r.acked ? now() - t0 : null;
  }

  /**
   * Pings `tgt` for the member `requester` (ping-relay); answers ack, or nack after the probe
   * timeout. Both must be members we know, and both are reached at the addresses we hold for
   * them, never at one named in the packet: a relay cannot be turned into a reflector towards an
   * arbitrary address. Returns false when refused.
   */
  relay(seqno: number, tgt: string, requester: string, wantNack: boolean): boolean {
    const core = this.#core;
    const self = core.members.selfUuid;
    const target = core.members.get(tgt);
    const asker = core.members.get(requester);
    const live = (r: MemberRecord | undefined) => !!r && (r.state === "alive" || r.state === "suspect");
    if (!target || tgt === self || target.state === "leave" || !live(asker) || requester === self) {
      core.traffic.relaysRefused++;
      return false;
    }
    const seq = this.tracker.nextSeq();
    const timeout = core.awareness.scale(core.deps.config.probe_timeout);
    // the asker sent this request one probe_timeout into its round and stops counting nacks at
    // probe_interval: a nack after our full timeout lands on that deadline and is often missed,
    // which reads as *its* fault and stretches its probing (Lifeguard). Nack at 80 % instead.
    const nack = wantNack
      ? {
        atMs: Math.max(1, Math.floor(timeout * NACK_AT)),
        run: () => {
          if (core.running) core.send(asker!, [{ type: "nack", seqno }], false);
        },
      }
      : undefined;
    this.tracker.expect(seq, timeout, nack).result.then((r) => {
      if (r.acked && core.running) core.send(asker!, [{ type: "ack", seqno }]);
    });
    core.send(target, [{ type: "ping", seqno: seq, node: tgt, from: self }]);
    return true;
  }
}
