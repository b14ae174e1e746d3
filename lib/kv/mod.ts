/**
 * The replicated key/value store: every key on `kv.replicas` (3) `kv`-tagged nodes (owner + 2
 * successors on a SHA1 ring with virtual nodes), any node forwards, the owner coordinates writes
 * and answers after `kv.write_acks` (2) copies; CAS, TTL, tombstones, blocking reads, hinted
 * handoff, anti-entropy and handover.
 *
 * ```ts
 * const kv = createKv(ctx);
 * await kv.start();
 * await kv.put("config/db", new TextEncoder().encode("pg://..."));
 * (await kv.get("config/db")).entry?.value;
 * ```
 */
import type { Hono } from "hono";
import type { Ctx, Subsystem } from "../subsystem.ts";
import type { MembershipView } from "../types.ts";
import { type ApiEnv, newRouter } from "../routing/mod.ts";
import type { TimerId } from "../clock/mod.ts";
import { installCoordinator } from "./coordinator.ts";
import { internalRoutes } from "./internal_routes.ts";
import {
  type DeleteOptions,
  type KvApi,
  KvNode,
  type ListOptions,
  type PutOptions,
  type ReadOptions,
} from "./kv.ts";
import { PeerAuth } from "./peer_auth.ts";
import { PeerClient } from "./peers.ts";
import { Repair } from "./repair.ts";
import { kvMembers, type RingNode } from "./ring.ts";
import { kvRoutes } from "./routes.ts";
import { KV_MIGRATIONS, KvStorage } from "./storage.ts";

export type { DeleteOptions, KvApi, ListOptions, PutOptions, ReadOptions } from "./kv.ts";
export type { KvRecord } from "./record.ts";
export { KvError, validateKey } from "./keys.ts";
export { Ring, type RingNode, ringOwners } from "./ring.ts";
export { INDEX_HEADER } from "./routes.ts";
export { PeerAuth } from "./peer_auth.ts";
export { compareVersion } from "./record.ts";

/** The subsystem, its API, and the node for tests and tools. */
export interface KvSubsystem extends Subsystem, KvApi {
  readonly node: KvNode;
  readonly repair: Repair;
  /** Re-reads membership into the ring (also runs on every membership change). */
  refreshRing(): void;
  routes(): Hono<ApiEnv>;
}

const HINT_INTERVAL = 1000;
const SWEEP_INTERVAL = 1000;
const PURGE_EVERY = 60;

/**
 * Builds the KV subsystem on `ctx.store.open("kv")`; `deps.membership` (from gossip, passed by
 * lib/agent.ts) places the ring, re-read on every `member.*` bus event. Without it: local only.
 */
export function createKv(ctx: Ctx, deps: { membership?: MembershipView } = {}): KvSubsystem {
  const cfg = ctx.config.params.kv;
  const log = ctx.log;
  const storage = new KvStorage(ctx.store.open("kv", KV_MIGRATIONS));
  const self: RingNode = {
    uuid: ctx.node.uuid,
    name: ctx.node.name,
    addr: ctx.node.addr,
    port: ctx.node.port,
  };
  const peers = new PeerClient(PeerAuth.disabled(), ctx.clock, cfg.request_timeout);
  const node = new KvNode({ cfg, self, storage, peers, clock: ctx.clock, log, bus: ctx.bus });
  installCoordinator(node);
  const repair = new Repair(node);
  node.onRingChange = (before, after) => {
    repair.ringChanged(before, after);
    log.info(`kv ring: ${after.nodes.map((n) => n.name || n.uuid.slice(0, 8)).join(", ") || "local only"}`);
    if (started) ctx.clock.setTimeout(() => void repair.antiEntropy(), 300);
  };
  let auth: PeerAuth | null = null;
  let started = false;
  let unsubscribe: (() => void) | null = null;
  let ringQueued = false;
  const timers: TimerId[] = [];
  let sweeps = 0;
  ctx.counters.describe(
    "kv_peer_auth_refused_total",
    "counter",
    "internal KV requests refused by peer authentication",
  );

  const refreshRing = () => {
    const view = deps.membership;
    const nodes = view
      ? kvMembers(view.members()).map((m) => ({ uuid: m.uuid, name: m.name, addr: m.addr, port: m.port }))
      : [];
    node.setRingNodes(nodes);
  };

  /** Follows membership changes on the bus (one ring refresh per burst of events). */
  const bindMembership = () => {
    unsubscribe?.();
    const onChange = () => {
      if (ringQueued) return;
      ringQueued = true;
      queueMicrotask(() => {
        ringQueued = false;
        if (started) refreshRing();
      });
    };
    const events = [
      "member.joined",
      "member.updated",
      "member.suspect",
      "member.dead",
      "member.left",
      "member.reaped",
    ] as const;
    const offs = events.map((e) => ctx.bus.on(e, onChange));
    unsubscribe = () => offs.forEach((off) => off());
    refreshRing();
  };

  const api: KvApi = {
    get: (key: string, opts?: ReadOptions) => node.get(key, opts),
    put: (key: string, value: Uint8Array, opts?: PutOptions) => node.put(key, value, opts),
    delete: (key: string, opts?: DeleteOptions) => node.delete(key, opts),
    list: (prefix: string, opts?: ListOptions) => node.list(prefix, opts),
  };

  return {
    name: "kv",
    node,
    repair,
    refreshRing,
    ...api,

    async start() {
      const p = ctx.config.params;
      auth = await PeerAuth.fromKeys([p.encryption_key, ...(p.encryption_keys ?? [])]);
      peers.auth = auth;
      started = true;
      bindMembership();
      timers.push(ctx.clock.setInterval(() => void repair.deliverHints(), HINT_INTERVAL));
      timers.push(ctx.clock.setInterval(() => void repair.antiEntropy(), cfg.anti_entropy_interval));
      timers.push(ctx.clock.setInterval(() => {
        try {
          repair.sweep(++sweeps % PURGE_EVERY === 0);
        } catch (err) {
          log.warn(`kv sweep failed: ${(err as Error).message}`);
        }
      }, SWEEP_INTERVAL));
      // catch up soon after a restart; meanwhile reads prefer other copies (bounded: alone, we stay the copy)
      node.syncing = true;
      timers.push(ctx.clock.setTimeout(() => void repair.antiEntropy(), 200));
      timers.push(ctx.clock.setTimeout(() => node.syncing = false, Math.max(5000, 2 * cfg.request_timeout)));
      log.info(`kv started: ${storage.counts().keys} keys, peer auth ${auth.enabled ? "on" : "off"}`);
    },

    stop() {
      started = false;
      unsubscribe?.();
      unsubscribe = null;
      for (const t of timers.splice(0)) {
        ctx.clock.clearInterval(t);
        ctx.clock.clearTimeout(t);
      }
      repair.stop();
      node.close();
      return Promise.resolve();
    },

    info() {
      return {
        ...storage.counts(),
        index: node.currentIndex(),
        ring: node.holders().map((n) => n.name || n.uuid),
        replicas: cfg.replicas,
        write_acks: cfg.write_acks,
        peer_auth: auth?.enabled ?? false,
        watchers: node.watchers.size,
        ...node.stats,
        peer_requests: peers.sent,
        peer_batched_items: peers.batched,
        repair: repair.stats,
      };
    },

    routes(): Hono<ApiEnv> {
      const r = newRouter();
      r.route("/", kvRoutes(api, { maxValueBytes: cfg.max_value_bytes }));
      r.route("/", internalRoutes(node, () => auth, () => ctx.counters.inc("kv_peer_auth_refused_total")));
      return r;
    },
  };
}
