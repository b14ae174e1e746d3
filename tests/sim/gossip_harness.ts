/**
 * Many gossip engines on one simulated network and virtual clock, for tests and benchmarks.
 * Deterministic from the seed.
 */
import { VirtualClock } from "../../lib/clock/mod.ts";
import { type GossipConfig, gossipFields, schema } from "../../lib/config/mod.ts";
import { Counters } from "../../lib/counters.ts";
import { silentLogger } from "../../lib/log/mod.ts";
import {
  type LinkProfile,
  PeerEnvelope,
  type Random,
  seededRandom,
  SimNetwork,
} from "../../lib/transport/mod.ts";
import { GossipEngine, Keyring, type SelfSource } from "../../lib/gossip/mod.ts";
import type { MemberRecord, MemberState } from "../../lib/types.ts";

export { AGENT_SERVICES } from "./agent_services.ts";

/** The `gossip` config object with defaults, plus overrides. */
export function gossipConfig(over: Partial<GossipConfig> = {}): GossipConfig {
  const issues: schema.Issue[] = [];
  const cfg = schema.object<GossipConfig>(gossipFields).parse({}, "gossip", issues)!;
  if (issues.length) throw new Error(JSON.stringify(issues));
  return { ...cfg, ...over };
}

class SimSelf implements SelfSource {
  zone = "";
  /** What the agent persists: every bump is saved (lib/identity). */
  incarnation = 0;
  #tags: string[];
  constructor(
    readonly uuid: string,
    readonly name: string,
    readonly addr: string,
    readonly port: number,
    tags: string[],
    private readonly svc: Record<string, unknown> = {},
  ) {
    this.#tags = tags;
  }
  bumpIncarnation(atLeast = 0): number {
    this.incarnation = Math.max(this.incarnation + 1, atLeast);
    return this.incarnation;
  }
  tags(): string[] {
    return this.#tags;
  }
  setTags(t: string[]): void {
    this.#tags = t;
  }
  services(): Record<string, unknown> {
    return this.svc;
  }
}

export interface SimGossipNode {
  index: number;
  /** Replaced by `restart` (a new process). */
  self: SimSelf;
  engine: GossipEngine;
  addr: { addr: string; port: number };
  /** (kind, uuid, at virtual ms) of every change this node saw. */
  changes: Array<{ kind: string; uuid: string; at: number }>;
  killed: boolean;
}

export interface SimClusterOptions {
  nodes: number;
  seed: number;
  config?: Partial<GossipConfig>;
  link?: Partial<LinkProfile>;
  /** Shared keyring (each node gets its own replay-protected envelope over it); default: no key. */
  keyring?: Keyring;
  /** Every node's services (default none); a real agent's one service makes its record ~550 bytes. */
  services?: Record<string, unknown>;
  /** Per-node services (by index), instead of `services`. */
  servicesFor?: (index: number) => Record<string, unknown>;
  /** Per-node overrides of `config` (by index), e.g. agents of an older protocol in a mixed cluster. */
  configFor?: (index: number) => Partial<GossipConfig>;
}

export class SimCluster {
  readonly clock = new VirtualClock(0);
  readonly net: SimNetwork;
  readonly nodes: SimGossipNode[] = [];
  readonly rng: Random;
  readonly config: GossipConfig;
  readonly keyring: Keyring;
  readonly #services: Record<string, unknown>;
  readonly #configFor: (index: number) => Partial<GossipConfig>;
  readonly #servicesFor: ((index: number) => Record<string, unknown>) | undefined;

  constructor(opts: SimClusterOptions) {
    this.#services = opts.services ?? {};
    this.#configFor = opts.configFor ?? (() => ({}));
    this.#servicesFor = opts.servicesFor;
    this.keyring = opts.keyring ?? EMPTY_KEYRING;
    this.net = new SimNetwork({ clock: this.clock, seed: opts.seed, link: opts.link });
    this.rng = seededRandom(opts.seed ^ 0x5eed);
    this.config = gossipConfig(opts.config);
    for (let i = 0; i < opts.nodes; i++) this.add();
  }

  /** Adds a node (not started). */
  add(tags: string[] = []): SimGossipNode {
    const i = this.nodes.length;
    const addr = { addr: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, port: 6768 };
    let uuid = "";
    while (uuid.length < 40) uuid += Math.floor(this.rng() * 16).toString(16);
    const services = this.#servicesFor?.(i) ?? this.#services;
    const self = new SimSelf(uuid, `node-${i}`, addr.addr, addr.port, tags, services);
    const node: SimGossipNode = { index: i, self, addr, changes: [], killed: false, engine: null! };
    this.#attach(node);
    this.nodes.push(node);
    return node;
  }

  /** A new engine for `node` at `node.addr` on the network. */
  #attach(node: SimGossipNode): void {
    const sim = this.net.attach(node.addr);
    node.engine = new GossipEngine({
      self: node.self,
      config: { ...this.config, ...this.#configFor(node.index) },
      transport: sim.transport,
      clock: sim.clock,
      random: seededRandom(Math.floor(this.rng() * 2 ** 31)),
      envelope: new PeerEnvelope(this.keyring, { now: () => sim.clock.now() }),
      log: silentLogger,
      counters: new Counters(),
      onChange: (kind, rec) => node.changes.push({ kind, uuid: rec.uuid, at: this.clock.now() }),
    });
  }

  /**
   * Starts a killed node again as the agent does (lib/agent.ts): a new process with the same uuid
   * and tags, whose incarnation is the saved one plus one (bumpStartIncarnation; every bump is
   * saved), or 0 when its data dir was lost (the uuid from DMI stays). `port`: it listens on another
   * port this time. Not joined: see `join`.
   */
  async restart(n: SimGossipNode, opts: { lostData?: boolean; port?: number } = {}): Promise<void> {
    if (!n.killed) throw new Error(`node-${n.index} is running`);
    const old = n.self;
    const port = opts.port ?? n.addr.port;
    n.addr = { addr: n.addr.addr, port };
    n.self = new SimSelf(old.uuid, old.name, n.addr.addr, port, old.tags(), old.services());
    n.self.incarnation = opts.lostData ? 0 : old.incarnation + 1;
    n.killed = false;
    this.#attach(n);
    await n.engine.start();
  }

  /** Starts every node; each joins a random earlier node, `spacingMs` apart. */
  async startAndJoin(spacingMs = 10): Promise<void> {
    for (const n of this.nodes) {
      await n.engine.start();
      if (n.index > 0) {
        const peer = this.nodes[Math.floor(this.rng() * n.index)];
        void n.engine.join(peer.addr);
      }
      await this.clock.advance(spacingMs);
    }
  }

  /**
   * Starts every node, then all but the first join the first, `spacingMs` apart (as
   * kunai-cluster.sh and `serf join` do: all at once).
   */
  async stormJoin(spacingMs = 2): Promise<void> {
    for (const n of this.nodes) await n.engine.start();
    await this.clock.advance(1000);
    for (const n of this.nodes.slice(1)) {
      void n.engine.join(this.nodes[0].addr);
      await this.clock.advance(spacingMs);
    }
  }

  /** Kills a node without leaving (kill -9). */
  kill(n: SimGossipNode): void {
    n.killed = true;
    this.net.kill(n.addr);
    void n.engine.stop();
  }

  live(): SimGossipNode[] {
    return this.nodes.filter((n) => !n.killed);
  }

  /** State of `uuid` as seen by `viewer` (undefined = unknown). */
  stateOf(viewer: SimGossipNode, uuid: string): MemberState | undefined {
    return viewer.engine.members.get(uuid)?.state;
  }

  /** True when every live node sees exactly the live nodes alive. */
  converged(): boolean {
    const live = this.live();
    for (const v of live) {
      let alive = 0;
      for (const r of v.engine.members.records()) if (r.state === "alive") alive++;
      if (alive !== live.length) return false;
      for (const n of live) if (this.stateOf(v, n.self.uuid) !== "alive") return false;
    }
    return true;
  }

  /** Advances in steps until `pred` holds; returns the virtual ms it took, or -1. */
  async runUntil(pred: () => boolean, maxMs: number, stepMs = 100): Promise<number> {
    const start = this.clock.now();
    while (this.clock.now() - start <= maxMs) {
      if (pred()) return this.clock.now() - start;
      await this.clock.advance(stepMs);
    }
    return pred() ? this.clock.now() - start : -1;
  }

  /**
   * Records every probe from now on: when, by which node, of which member (the scheduled and the
   * urgent ones, not the relays' pings).
   */
  traceProbes(): Array<{ at: number; by: number; target: string }> {
    const out: Array<{ at: number; by: number; target: string }> = [];
    for (const n of this.nodes) {
      const prober = n.engine.prober;
      const probe = prober.probe.bind(prober);
      prober.probe = (target) => {
        out.push({ at: this.clock.now(), by: n.index, target: target.uuid });
        return probe(target);
      };
    }
    return out;
  }

  async stopAll(): Promise<void> {
    for (const n of this.nodes) await n.engine.stop();
  }

  /** Every record of every live viewer about a node. */
  viewsOf(uuid: string): Array<MemberRecord | undefined> {
    return this.live().map((v) => v.engine.members.get(uuid));
  }
}

const EMPTY_KEYRING = await Keyring.create([]);
