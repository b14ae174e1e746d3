/**
 * The replicated key/value store: every key on `kv.replicas` (3) `kv`-tagged nodes (owner + 2
 * successors on a SHA1 ring with virtual nodes), any node forwards, the owner coordinates writes
 * and answers after `kv.write_acks` (2) copies; CAS, TTL, tombstones, blocking reads, hinted
 * handoff, anti-entropy and handover. Peer traffic goes through a KvTransport: HTTP sealed in the
 * agent's PeerEnvelope, or a simulated network in tests.
 *
 * ```ts
 * const kv = createKv(ctx, { membership, envelope });
 * await kv.start();
 * await kv.put("config/db", new TextEncoder().encode("pg://..."));
 * (await kv.get("config/db")).entry?.value;
 * ```
 */
import type { Ctx, Subsystem } from "../subsystem.ts";
import type { MembershipView } from "../types.ts";
import type { PeerEnvelope } from "../transport/mod.ts";
import { RouteTable } from "../routing/mod.ts";
import { LazyInterval, type TimerId } from "../clock/mod.ts";
import { Coordinator } from "./coordinator.ts";
import { StreamKvTransport } from "./stream.ts";
import { internalRoutes } from "./internal_routes.ts";
import { type KvApi, KvNode } from "./kv.ts";
import { LocalReplica } from "./local.ts";
import { peerServer } from "./peer_server.ts";
import { PeerClient } from "./peers.ts";
import { Placement } from "./placement.ts";
import { Repair } from "./repair.ts";
import { kvMembers, type RingNode } from "./ring.ts";
import { kvRoutes } from "./routes.ts";
import { KV_MIGRATIONS, KvStorage } from "./storage.ts";
import { KvUpkeep } from "./upkeep.ts";
import { KV_CACHE_KIB, KV_PAGE_SIZE } from "../store/mod.ts";
import type { KvServe, KvTransport } from "./transport.ts";
import type { KvRecord } from "./record.ts";

export type { DeleteOptions, KvApi, ListOptions, PutOptions, ReadOptions } from "./kv.ts";
export type { KvRecord } from "./record.ts";
export { KvError, validateKey } from "./keys.ts";
export { Ring, type RingNode, ringOwners } from "./ring.ts";
export { INDEX_HEADER, ISOLATED_HEADER } from "./routes.ts";
export { compareVersion } from "./record.ts";
export { HttpKvTransport } from "./http_transport.ts";
export { StreamKvTransport } from "./stream.ts";
export { SimKvNetwork, type SimKvStats } from "./sim_transport.ts";
export {
  KV_MESSAGES,
  type KvMessage,
  type KvServe,
  type KvTransport,
  PeerRefused,
  PeerUnreachable,
} from "./transport.ts";
export { MAX_INDEX, MAX_TTL_MS } from "./validate.ts";

/** What the KV needs of membership: our record and every known one (changes come on the bus). */
export type KvMembership = Pick<MembershipView, "self" | "members" | "joining">;

export interface KvDeps {
  /** The cluster's members (absent: no gossip, this node alone holds every key). */
  membership?: KvMembership;
  /** Seals KV peer traffic (the agent's one envelope: key rotation covers KV). */
  envelope: PeerEnvelope;
  /**
   * How peer messages travel (default: HTTP through `envelope`). Tests pass a SimKvNetwork's:
   * the factory receives this node's serving function.
   */
  transport?: (serve: KvServe) => KvTransport;
}

/** The subsystem, its API, and its parts for tests and tools. */
export interface KvSubsystem extends Subsystem, KvApi {
  readonly node: KvNode;
  readonly local: LocalReplica;
  readonly placement: Placement;
  readonly repair: Repair;
  /** Re-reads membership into the ring (also runs on every membership event). */
  refreshRing(): void;
  /** Answers a KV peer message (what the internal routes call). */
  serve: KvServe;
  /**
   * Why keys written here stay on this node alone (other members live, none tagged `kv`), or null.
   */
  isolated(): string | null;
  /**
   * A key as `member` holds it in its own store (a sealed peer read), whoever owns the key: what
   * another node wrote into its own store while the cluster has no `kv` node.
   */
  getFrom(member: RingNode, key: string): Promise<{ entry: KvRecord | null }>;
  routes(): RouteTable;
}

/** How old the key counts of `info()` may be (each is a scan of the whole table). */
const INFO_COUNTS_MS = 2000;

/** Builds the KV subsystem on `ctx.store.open("kv")`. */
export function createKv(ctx: Ctx, deps: KvDeps): KvSubsystem {
  const cfg = ctx.config.params.kv;
  const log = ctx.log;
  ctx.counters.describe(
    "kv_bad_rows_total",
    "counter",
    "stored KV rows skipped because a value is out of bounds",
  );
  const storage = new KvStorage(
    ctx.store.open("kv", KV_MIGRATIONS, KV_CACHE_KIB, KV_PAGE_SIZE),
    (key, problem) => {
      ctx.counters.inc("kv_bad_rows_total");
      log.warn(
        `kv: skipping stored key ${
          JSON.stringify(key.slice(0, 200))
        }: ${problem} (a write or delete replaces it)`,
      );
    },
  );
  storage.flushWalInBackground((err) => log.warn(`kv: background sync of the WAL failed: ${err.message}`));
  storage.checkpointInBackground((msg) => log.warn(msg));
  const local = new LocalReplica(storage, ctx.clock, ctx.bus);
  let started = false;
  // anti-entropy every interval while another node holds copies; alone, it waits for a ring change
  // (no wake-up of its own: an agent alone has no one to pull from)
  const antiEntropyTicks = new LazyInterval(ctx.clock, cfg.anti_entropy_interval, () => {
    void repair.antiEntropy();
    return placement.holders().some((n) => !placement.isSelf(n));
  });
  const placement = new Placement(
    { uuid: ctx.node.uuid, name: ctx.node.name, addr: ctx.node.addr, port: ctx.node.port },
    cfg,
    (before, after) => {
      repair.ringChanged(before, after);
      const nodes = after.nodes.map((n) => n.name || n.uuid.slice(0, 8)).join(", ");
      if (nodes) log.info(`kv ring: ${nodes}`);
      else if (kvDown.length) log.warn(`kv ring: empty: ${unavailable()}`);
      else log.info("kv ring: local only");
      if (started) ctx.clock.setTimeout(() => void repair.antiEntropy(), 300);
      antiEntropyTicks.poke();
    },
  );
  // the transport (tests: a simulated network) takes our serving side, which needs the coordinator
  // that needs the transport: it gets a reference filled in once everything is built, below
  let serve: KvServe = () => Promise.reject(new Error("kv is still being built"));
  const serveRef: KvServe = (kind, body, signal) => serve(kind, body, signal);
  const stream = deps.transport ? null : new StreamKvTransport(deps.envelope, ctx.clock);
  const transport = deps.transport?.(serveRef) ?? stream!;
  const peers = new PeerClient(transport, ctx.clock, cfg.request_timeout);
  const coordinator = new Coordinator({
    local,
    placement,
    replicate: (p, item, deadline) => peers.replicate(p, item, deadline),
    clock: ctx.clock,
    log,
    cfg,
  });
  const coordinate = coordinator.write.bind(coordinator);
  /**
   * Members tagged kv that are all down (dead or left, until reaped) while none is alive: the store
   * is then unavailable (503) rather than this node alone. The reference's "no kv member: the local
   * node owns every key" is for a cluster without kv nodes; here it would take writes the kv nodes
   * never see (a node cut off from them by a partition, all of them stopped) and answer "not found"
   * for keys they hold (a generator would render its file without them).
   */
  let kvDown: string[] = [];
  const unavailable = (): string | null => {
    if (kvDown.length) {
      return `the KV store is unavailable: no node tagged kv is alive (${kvDown.join(", ")}); ` +
        `reads and writes resume when one of them is back`;
    }
    // before the start's join the kv nodes are not known yet: this node alone is not the store
    if (deps.membership?.joining?.() && !placement.ring.nodes.length) {
      return "the KV store is not reachable yet: this agent is still joining the cluster (its seeds); " +
        "ask again in a moment (kunai wait members N waits for the join)";
    }
    return null;
  };
  const node = new KvNode({ cfg, local, placement, peers, coordinate, clock: ctx.clock, unavailable });
  const repair = new Repair({ local, placement, peers, clock: ctx.clock, log, cfg });
  serve = peerServer({ local, placement, coordinate, clock: ctx.clock, cfg });

  /**
   * Other live members while none is tagged `kv` (0: not isolated). The reference's rule, kept:
   * this node then holds every key written through it, alone, and the others never see them. Said
   * once in the log at the first write of such a time, in `info()` and to the CLI (a header).
   */
  let isolatedFrom = 0;
  let isolationSaid = false;
  const refreshRing = () => {
    const members = deps.membership?.members() ?? [];
    const ring = kvMembers(members);
    kvDown = ring.length > 0 ? [] : members
      .filter((m) => m.uuid !== ctx.node.uuid && m.tags.includes("kv"))
      .map((m) => `${m.name || m.uuid.slice(0, 8)} ${m.state === "leave" ? "left" : m.state}`)
      .sort();
    placement.setNodes(ring.map((m) => ({ uuid: m.uuid, name: m.name, addr: m.addr, port: m.port })));
    const others = ring.length > 0 || kvDown.length > 0
      ? 0
      : members.filter((m) => m.uuid !== ctx.node.uuid && (m.state === "alive" || m.state === "suspect"))
        .length;
    if ((others > 0) !== (isolatedFrom > 0)) isolationSaid = false;
    isolatedFrom = others;
  };
  const isolated = (): string | null =>
    isolatedFrom > 0
      ? `no live member of the cluster is tagged kv: keys written through ${ctx.node.name} stay on it alone, ` +
        `unseen by the ${isolatedFrom} other member(s); tag at least ${cfg.replicas} nodes kv to replicate them`
      : null;
  const sayIsolation = () => {
    if (isolatedFrom === 0 || isolationSaid) return;
    isolationSaid = true;
    log.warn(`kv: ${isolated()}`);
  };
  // membership events come in bursts (a join storm): rebuild once per burst
  let ringQueued = false;
  const onMember = () => {
    if (ringQueued) return;
    ringQueued = true;
    queueMicrotask(() => {
      ringQueued = false;
      if (started) refreshRing();
    });
  };
  const offs: Array<() => void> = [];
  const timers: TimerId[] = [];
  // hints, the expiry sweep and the tombstone purge: one timer, planned only when something is due
  const upkeep = new KvUpkeep(ctx.clock, storage, (purge) => {
    void repair.deliverHints();
    try {
      repair.sweep(purge);
    } catch (err) {
      log.warn(`kv sweep failed: ${(err as Error).message}`);
    }
  });

  const api: KvApi = {
    get: (key, opts) => node.get(key, opts),
    put: (key, value, opts) => {
      sayIsolation();
      return node.put(key, value, opts);
    },
    delete: (key, opts) => {
      sayIsolation();
      return node.delete(key, opts);
    },
    list: (prefix, opts) => node.list(prefix, opts),
  };

  return {
    name: "kv",
    node,
    local,
    placement,
    repair,
    refreshRing,
    serve: serveRef,
    ...api,
    isolated,
    getFrom: async (member, key) => {
      const ans = await peers.read(member, key);
      return { entry: ans.record && !ans.record.deleted ? ans.record : null };
    },

    start() {
      started = true;
      offs.push(ctx.bus.onMembers(onMember));
      refreshRing();
      upkeep.start();
      antiEntropyTicks.start(true);
      // catch up soon after a restart; meanwhile reads prefer other copies (bounded: alone, we stay the copy)
      local.markStale();
      timers.push(ctx.clock.setTimeout(() => void repair.antiEntropy(), 200));
      timers.push(ctx.clock.setTimeout(() => local.markFresh(), Math.max(5000, 2 * cfg.request_timeout)));
      log.info(
        `kv started: ${storage.counts().keys} keys, peer traffic ${
          deps.envelope.enabled ? "sealed" : "plain (no key)"
        }`,
      );
      return Promise.resolve();
    },

    stop() {
      started = false;
      offs.splice(0).forEach((off) => off());
      for (const t of timers.splice(0)) {
        ctx.clock.clearInterval(t);
        ctx.clock.clearTimeout(t);
      }
      upkeep.stop();
      antiEntropyTicks.stop();
      repair.stop();
      stream?.close();
      local.close();
      return Promise.all([storage.stopCheckpoints(), storage.stopWalFlush()]).then(() => {});
    },

    info() {
      return {
        ...storage.counts(INFO_COUNTS_MS),
        index: local.currentIndex(),
        ring: placement.holders().map((n) => n.name || n.uuid),
        isolated_from: isolatedFrom,
        unavailable: unavailable(),
        replicas: cfg.replicas,
        write_acks: cfg.write_acks,
        peer_encryption: deps.envelope.enabled,
        watchers: local.watchers.size,
        coordinated: coordinator.count,
        replicated_in: local.replicatedIn,
        group_commits: local.commits,
        bad_rows: storage.badRows,
        record_cache: storage.cacheStats(),
        checkpoints: storage.checkpointStats(),
        ...node.stats(),
        ...peers.stats(),
        repair: repair.stats(),
      };
    },

    routes(): RouteTable {
      const r = new RouteTable("kv");
      kvRoutes(r, api, { maxValueBytes: cfg.max_value_bytes, isolatedFrom: () => isolatedFrom });
      internalRoutes(r, serveRef, cfg.max_value_bytes, log);
      return r;
    },
  };
}
