/**
 * A simulated network for many-node tests: every node gets a SimTransport and its own clock
 * view on one shared VirtualClock. Links have loss, delay and jitter drawn from a seeded RNG;
 * partitions cut groups apart; a paused node (a stalled process) neither runs timers nor reads
 * packets until it resumes, then catches up on everything queued meanwhile.
 *
 * ```ts
 * const clock = new VirtualClock();
 * const net = new SimNetwork({ clock, seed: 1, link: { loss: 0.05, delayMs: 2, jitterMs: 1 } });
 * const a = net.attach({ addr: "10.0.0.1", port: 6768 });
 * a.transport.sendPacket({ addr: "10.0.0.2", port: 6768 }, bytes);
 * ```
 */
import type { Clock, TimerId, VirtualClock } from "../clock/mod.ts";
import { type Random, seededRandom } from "./rng.ts";
import {
  type PacketHandler,
  type PeerAddr,
  peerKey,
  type RequestHandler,
  type Transport,
  TransportError,
} from "./types.ts";

/** Behaviour of a one-way link. */
export interface LinkProfile {
  /** Probability that a datagram is lost (streams are never lost, only cut by partitions). */
  loss: number;
  delayMs: number;
  /** Extra uniform random delay in [0, jitterMs). */
  jitterMs: number;
}

export interface SimNetworkOptions {
  clock: VirtualClock;
  seed: number;
  link?: Partial<LinkProfile>;
}

/** Traffic counters of the whole network, per node sent bytes included. */
export interface SimStats {
  packetsSent: number;
  packetsDelivered: number;
  packetsLost: number;
  bytesSent: number;
  requests: number;
}

/** A clock for one node: timers that fire while the node is paused run when it resumes. */
export class NodeClock implements Clock {
  #base: VirtualClock;
  #paused = false;
  #deferred = new Map<number, () => void>();
  #stopped = false;
  /** Timer callbacks run so far: how often the node woke up (an idle node should not). */
  fired = 0;

  constructor(base: VirtualClock) {
    this.#base = base;
  }
  now(): number {
    return this.#base.now();
  }
  elapsed(): number {
    return this.#base.elapsed();
  }
  get paused(): boolean {
    return this.#paused;
  }
  setTimeout(fn: () => void, ms: number): TimerId {
    const id: TimerId = this.#base.setTimeout(() => this.#fire(id, fn), ms);
    return id;
  }
  clearTimeout(id: TimerId): void {
    this.#base.clearTimeout(id);
    this.#deferred.delete(id);
  }
  setInterval(fn: () => void, ms: number): TimerId {
    const id: TimerId = this.#base.setInterval(() => this.#fire(id, fn), ms);
    return id;
  }
  clearInterval(id: TimerId): void {
    this.#base.clearInterval(id);
    this.#deferred.delete(id);
  }
  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      if (signal?.aborted) return resolve();
      const id = this.setTimeout(done, ms);
      const onAbort = () => {
        this.clearTimeout(id);
        resolve();
      };
      function done() {
        signal?.removeEventListener("abort", onAbort);
        resolve();
      }
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }
  #fire(id: number, fn: () => void): void {
    if (this.#stopped) return;
    // an interval firing several times during a pause runs once on resume (coalesced by id)
    if (this.#paused) this.#deferred.set(id, fn);
    else {
      this.fired++;
      fn();
    }
  }
  /** Stops firing anything (a killed process). */
  stop(): void {
    this.#stopped = true;
    this.#deferred.clear();
  }
  pause(): void {
    this.#paused = true;
  }
  resume(): void {
    this.#paused = false;
    const due = [...this.#deferred.values()];
    this.#deferred.clear();
    for (const fn of due) if (!this.#stopped) fn();
  }
}

/** One attached node: its transport and its pausable clock. */
export interface SimNode {
  transport: SimTransport;
  clock: NodeClock;
}

export class SimNetwork {
  readonly clock: VirtualClock;
  readonly rng: Random;
  readonly stats: SimStats = {
    packetsSent: 0,
    packetsDelivered: 0,
    packetsLost: 0,
    bytesSent: 0,
    requests: 0,
  };
  /** Bytes sent per node key, for bandwidth figures. */
  readonly bytesByNode = new Map<string, number>();
  #link: LinkProfile;
  #links = new Map<string, LinkProfile>();
  #nodes = new Map<string, SimTransport>();
  /** node key -> partition group id; nodes in different groups cannot talk. */
  #group = new Map<string, number>();

  constructor(opts: SimNetworkOptions) {
    this.clock = opts.clock;
    this.rng = seededRandom(opts.seed);
    this.#link = { loss: 0, delayMs: 1, jitterMs: 1, ...opts.link };
  }

  /** Adds a node listening at `at`. */
  attach(at: PeerAddr): SimNode {
    const clock = new NodeClock(this.clock);
    const t = new SimTransport(this, { ...at }, clock);
    this.#nodes.set(peerKey(at), t);
    return { transport: t, clock };
  }

  /** Default profile of every link. */
  setDefaultLink(p: Partial<LinkProfile>): void {
    this.#link = { ...this.#link, ...p };
  }

  /** Profile of the one-way link a -> b. */
  setLink(a: PeerAddr, b: PeerAddr, p: Partial<LinkProfile>): void {
    this.#links.set(`${peerKey(a)}>${peerKey(b)}`, { ...this.#link, ...p });
  }

  /** Splits the network: each list is a group; nodes not listed stay in group 0. */
  partition(groups: PeerAddr[][]): void {
    this.#group.clear();
    groups.forEach((g, i) => g.forEach((p) => this.#group.set(peerKey(p), i + 1)));
  }

  /** Ends every partition. */
  heal(): void {
    this.#group.clear();
  }

  /** Stalls a node for `ms` (timers and inbound packets wait), like a GC pause or SIGSTOP. */
  pause(at: PeerAddr, ms: number): void {
    const t = this.#nodes.get(peerKey(at));
    if (!t || t.clock.paused) return;
    t.clock.pause();
    this.clock.setTimeout(() => t.resume(), ms);
  }

  /** Kills a node: it stops sending, receiving and running timers. */
  kill(at: PeerAddr): void {
    const t = this.#nodes.get(peerKey(at));
    if (!t) return;
    t.clock.stop();
    this.#nodes.delete(peerKey(at));
  }

  isReachable(from: PeerAddr, to: PeerAddr): boolean {
    if (!this.#group.size) return true;
    return (this.#group.get(peerKey(from)) ?? 0) === (this.#group.get(peerKey(to)) ?? 0);
  }

  #profile(from: PeerAddr, to: PeerAddr): LinkProfile {
    if (!this.#links.size) return this.#link;
    return this.#links.get(`${peerKey(from)}>${peerKey(to)}`) ?? this.#link;
  }

  #delay(p: LinkProfile): number {
    return p.delayMs + (p.jitterMs > 0 ? this.rng() * p.jitterMs : 0);
  }

  /** @internal datagram from a transport. */
  _send(from: SimTransport, to: PeerAddr, data: Uint8Array): void {
    this.stats.packetsSent++;
    this.stats.bytesSent += data.length;
    const k = from.key;
    this.bytesByNode.set(k, (this.bytesByNode.get(k) ?? 0) + data.length);
    const p = this.#profile(from.local, to);
    if (!this.isReachable(from.local, to) || (p.loss > 0 && this.rng() < p.loss)) {
      this.stats.packetsLost++;
      return;
    }
    const src = { ...from.local };
    this.clock.setTimeout(() => {
      const dst = this.#nodes.get(peerKey(to));
      if (!dst || !this.isReachable(src, to)) {
        this.stats.packetsLost++;
        return;
      }
      this.stats.packetsDelivered++;
      dst._deliver(data, src);
    }, this.#delay(p));
  }

  /** @internal connection attempt from a transport: refused when nobody is attached at `to`. */
  _refused(from: SimTransport, to: PeerAddr, timeoutMs: number): Promise<boolean> {
    const src = { ...from.local };
    const p = this.#profile(src, to);
    const rtt = 2 * this.#delay(p);
    return new Promise((resolve) => {
      // cut off: no answer at all, the caller gives up (no evidence)
      if (!this.isReachable(src, to) || rtt > timeoutMs) {
        return from.clock.setTimeout(() => resolve(false), timeoutMs);
      }
      from.clock.setTimeout(() => resolve(!this.#nodes.has(peerKey(to))), rtt);
    });
  }

  /** @internal stream request from a transport. */
  _request(from: SimTransport, to: PeerAddr, data: Uint8Array, timeoutMs: number): Promise<Uint8Array> {
    this.stats.requests++;
    const k = peerKey(from.local);
    this.bytesByNode.set(k, (this.bytesByNode.get(k) ?? 0) + data.length);
    const src = { ...from.local };
    return new Promise((resolve, reject) => {
      let done = false;
      const timer = from.clock.setTimeout(() => {
        if (done) return;
        done = true;
        reject(new TransportError(to, `no answer within ${timeoutMs} ms`));
      }, timeoutMs);
      const finish = (fn: () => void) => {
        if (done) return;
        done = true;
        from.clock.clearTimeout(timer);
        fn();
      };
      const p = this.#profile(src, to);
      this.clock.setTimeout(() => {
        const dst = this.#nodes.get(peerKey(to));
        if (!dst) return finish(() => reject(new TransportError(to, "connection refused")));
        if (!this.isReachable(src, to)) return; // packets vanish: the caller times out
        dst._serve(data, src).then((answer) => {
          const dk = peerKey(to);
          this.bytesByNode.set(dk, (this.bytesByNode.get(dk) ?? 0) + answer.length);
          this.clock.setTimeout(() => {
            if (this.isReachable(to, src) && this.#nodes.has(peerKey(src))) finish(() => resolve(answer));
          }, this.#delay(p));
        }, (err) => finish(() => reject(new TransportError(to, (err as Error).message))));
      }, this.#delay(p));
    });
  }
}

/** The transport of one simulated node. */
export class SimTransport implements Transport {
  readonly local: PeerAddr;
  /** `addr:port`, computed once. */
  readonly key: string;
  readonly clock: NodeClock;
  #net: SimNetwork;
  #onPacket: PacketHandler = () => {};
  #onRequest: RequestHandler | null = null;
  #running = false;
  /** Packets and requests that arrived while paused, in order. */
  #backlog: Array<() => void> = [];

  constructor(net: SimNetwork, local: PeerAddr, clock: NodeClock) {
    this.#net = net;
    this.local = local;
    this.key = peerKey(local);
    this.clock = clock;
  }
  onPacket(handler: PacketHandler): void {
    this.#onPacket = handler;
  }
  onRequest(handler: RequestHandler): void {
    this.#onRequest = handler;
  }
  start(): Promise<void> {
    this.#running = true;
    return Promise.resolve();
  }
  close(): Promise<void> {
    this.#running = false;
    return Promise.resolve();
  }
  sendPacket(to: PeerAddr, data: Uint8Array): void {
    if (!this.#running) return;
    this.#net._send(this, to, data);
  }
  refused(to: PeerAddr, timeoutMs: number): Promise<boolean> {
    if (!this.#running) return Promise.resolve(false);
    return this.#net._refused(this, to, timeoutMs);
  }
  request(to: PeerAddr, data: Uint8Array, timeoutMs: number): Promise<Uint8Array> {
    if (!this.#running) return Promise.reject(new TransportError(to, "transport closed"));
    return this.#net._request(this, to, data, timeoutMs);
  }
  /** @internal */
  _deliver(data: Uint8Array, from: PeerAddr): void {
    if (!this.#running) return;
    const run = () => {
      try {
        this.#onPacket(data, from);
      } catch { /* a handler bug must not stop the simulation */ }
    };
    if (this.clock.paused) this.#backlog.push(run);
    else run();
  }
  /** @internal */
  _serve(data: Uint8Array, from: PeerAddr): Promise<Uint8Array> {
    if (!this.#running || !this.#onRequest) return Promise.reject(new Error("connection refused"));
    const h = this.#onRequest;
    if (!this.clock.paused) return h(data, from);
    return new Promise((resolve, reject) => this.#backlog.push(() => h(data, from).then(resolve, reject)));
  }
  /** @internal end of a pause: timers first (they were due earlier), then queued traffic. */
  resume(): void {
    this.clock.resume();
    const backlog = this.#backlog;
    this.#backlog = [];
    for (const run of backlog) run();
  }
}
