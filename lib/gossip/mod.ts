/**
 * Cluster membership (SWIM + Lifeguard gossip) as an agent subsystem: the only door of
 * lib/gossip. Builds the keyring and the UDP transport, runs the engine, joins the seeds in the
 * background, maps member changes to bus events and exposes `ctx.views.membership`.
 *
 * ```ts
 * const gossip = await createGossip(ctx);
 * await gossip.start();
 * ctx.views.membership!.members(); // every known node
 * ```
 */
import { join as joinPath } from "node:path";
import type { Hono } from "hono";
import type { Ctx, Subsystem } from "../subsystem.ts";
import type { MemberRecord, MembershipView } from "../types.ts";
import type { ApiEnv } from "../routing/mod.ts";
import { HttpError } from "../routing/mod.ts";
import { parsePeer, type PeerAddr, peerKey, shuffle, UdpTransport } from "../transport/mod.ts";
import { type ChangeKind } from "./members.ts";
import { GossipEngine } from "./engine.ts";
import { KeyError, type PeerEnvelope, saveKeyring as saveKeyringFile } from "../transport/mod.ts";
import { gossipRoutes } from "./routes.ts";
import { loadPeers, savePeers } from "./peers_file.ts";

export { type EngineDeps, GossipEngine, pushPullInterval, type SelfSource } from "./engine.ts";
export { decodeKey, generateKey, KeyError, Keyring, SEAL_OVERHEAD } from "../transport/mod.ts";
export type { ChangeKind } from "./members.ts";
export { decodePacket, decodePushPull, encodePacket, type GossipMsg } from "./codec.ts";
export { gossipRoutes } from "./routes.ts";

/** What routes and other code may ask of gossip. */
export interface GossipApi {
  self(): MemberRecord;
  members(): MemberRecord[];
  /** Joins through `addr[:port]`; HttpError 400 when malformed; false when unreachable. */
  join(target: string): Promise<boolean>;
  /** Makes a node (by name or uuid) leave; false when unknown. */
  leave(nameOrUuid: string): boolean;
  servePushPull(body: Uint8Array): Promise<Uint8Array>;
  keys(): { enabled: boolean; primary: string | null; keys: string[] };
  keyOp(op: "install" | "use" | "remove", key: string): Promise<void>;
  /** Spreads a payload of another subsystem to every member. */
  broadcastUser(kind: string, payload: unknown): string;
  onUser(kind: string, fn: (payload: unknown, id: string) => void): () => void;
}

const BUS_EVENT = {
  joined: "member.joined",
  updated: "member.updated",
  suspect: "member.suspect",
  dead: "member.dead",
  left: "member.left",
} as const;

/** Builds the gossip subsystem and sets `ctx.views.membership`. */
export function createGossip(
  ctx: Ctx,
  deps: { envelope: PeerEnvelope },
): Subsystem & GossipApi & { engine: GossipEngine } {
  const p = ctx.config.params;
  const cfg = p.gossip;
  const keyFile = joinPath(p.data, "keyring.json");
  const peersFile = joinPath(p.data, "gossip-peers.json");
  const keyring = deps.envelope.keyring;
  const transport = new UdpTransport({
    bind: p.bind,
    port: p.port,
    advertise: ctx.node.addr,
    onError: (where, err) => {
      ctx.counters.inc("gossip_socket_errors_total", { where });
      ctx.log.debug(`udp ${where}: ${(err as Error).message ?? err}`);
    },
  });
  const listeners = new Set<(m: MemberRecord) => void>();
  let stopping = false;
  const engine = new GossipEngine({
    self: ctx.node,
    config: cfg,
    transport,
    clock: ctx.clock,
    random: Math.random,
    keyring,
    log: ctx.log,
    counters: ctx.counters,
    onChange: (kind: ChangeKind, rec: MemberRecord) => {
      if (kind !== "reaped") {
        if (rec.uuid !== ctx.node.uuid || kind === "updated" || kind === "left") {
          ctx.bus.emit(BUS_EVENT[kind], rec);
        }
        if (kind !== "updated") ctx.log.info(`member ${rec.name} (${rec.addr}:${rec.port}) ${kind}`);
      }
      for (const fn of [...listeners]) {
        try {
          fn(rec);
        } catch (err) {
          ctx.log.warn(`membership listener failed: ${(err as Error).message}`);
        }
      }
    },
    onLeft: () => {
      if (!stopping) ctx.requestStop("left the cluster");
    },
    onKeyringChange: () => saveKeyring(),
  });

  function saveKeyring(): void {
    try {
      saveKeyringFile(keyFile, keyring);
    } catch (err) {
      ctx.log.warn(`cannot save the keyring to ${keyFile}: ${(err as Error).message}`);
    }
  }

  const view: MembershipView = {
    self: () => engine.members.self(),
    members: () => [...engine.members.records()],
    onChange: (fn) => {
      listeners.add(fn);
      return () => listeners.delete(fn);
    },
  };
  ctx.views.membership = view;

  const offs: Array<() => void> = [];
  let peersTimer: number | null = null;
  const abort = new AbortController();

  async function joinSeeds(): Promise<void> {
    const seeds = p.seeds
      .map((s) => ({ text: s, peer: parsePeer(s, p.port) }))
      .filter((s) => {
        if (!s.peer) {
          ctx.log.warn(`seeds: ignoring malformed seed ${JSON.stringify(s.text)} (expected addr[:port])`);
        }
        return s.peer && peerKey(s.peer) !== peerKey({ addr: ctx.node.addr, port: p.port });
      })
      .map((s) => s.peer!);
    // peers remembered from the last run, after the configured seeds
    const self = peerKey({ addr: ctx.node.addr, port: p.port });
    const known = new Set(seeds.map(peerKey));
    const saved = loadPeers(peersFile, p.port).filter((s) => peerKey(s) !== self && !known.has(peerKey(s)));
    if (!seeds.length && !saved.length) return;
    if (saved.length) ctx.log.info(`will also try ${saved.length} peer(s) known from the last run`);
    let backoff = 1000;
    while (!abort.signal.aborted) {
      if (engine.members.size > 1) return; // somebody joined us meanwhile
      for (const s of [...shuffle(Math.random, [...seeds]), ...shuffle(Math.random, [...saved])]) {
        if (await engine.join(s)) {
          ctx.log.info(`joined the cluster through ${peerKey(s)} (${engine.members.size} node(s) known)`);
          return;
        }
      }
      const msg = `no seed answered; retrying in ${Math.round(backoff / 1000)} s`;
      if (seeds.length) ctx.log.warn(msg);
      else ctx.log.info(`${msg} (peers known from the last run)`);
      await ctx.clock.sleep(backoff, abort.signal);
      backoff = Math.min(backoff * 2, cfg.join_retry_max);
    }
  }

  function findMember(nameOrUuid: string): MemberRecord | undefined {
    return engine.members.get(nameOrUuid) ?? engine.members.records().find((r) => r.name === nameOrUuid);
  }

  const api: Subsystem & GossipApi & { engine: GossipEngine } = {
    name: "gossip",
    engine,
    async start() {
      await engine.start();
      offs.push(ctx.bus.on("tags.changed", () => engine.localUpdate()));
      offs.push(ctx.bus.on("services.changed", () => engine.localUpdate()));
      ctx.log.info(
        `gossip on udp ${p.bind}:${transport.local.port}${
          keyring.enabled ? `, encrypted (${keyring.list().keys.length} key(s))` : ", unencrypted"
        }`,
      );
      void joinSeeds();
      peersTimer = ctx.clock.setInterval(
        () => savePeers(peersFile, engine.members.records(), ctx.node.uuid, Math.random),
        60_000,
      );
    },
    async stop() {
      stopping = true;
      abort.abort();
      if (peersTimer !== null) ctx.clock.clearInterval(peersTimer);
      if (engine.members.size > 1) savePeers(peersFile, engine.members.records(), ctx.node.uuid, Math.random);
      offs.forEach((f) => f());
      if (engine.running && !engine.leaving && engine.members.size > 1) await engine.leave();
      await engine.stop();
    },
    info() {
      engine.flushCounters();
      const counts: Record<string, number> = { alive: 0, suspect: 0, dead: 0, leave: 0 };
      for (const r of engine.members.records()) counts[r.state]++;
      return {
        members: counts,
        incarnation: ctx.node.incarnation,
        health_score: engine.awareness.score,
        encryption: keyring.enabled,
        keys: keyring.list().keys.length,
        label: cfg.label,
        broadcast_queue: engine.queue.length,
        traffic: { ...engine.traffic },
      };
    },
    routes(): Hono<ApiEnv> {
      return gossipRoutes(api);
    },
    self: () => engine.members.self(),
    members: () => [...engine.members.records()],
    async join(target: string) {
      const peer = parsePeer(target, p.port);
      if (!peer) {
        throw new HttpError(
          400,
          `invalid join target ${JSON.stringify(target)}; expected addr[:port], e.g. 192.168.0.1:6768`,
        );
      }
      return await engine.join(peer);
    },
    leave(nameOrUuid: string) {
      const m = findMember(nameOrUuid);
      return m ? engine.forceLeave(m.uuid) : false;
    },
    servePushPull: (body: Uint8Array) => transport.serveRequest(body, { addr: "", port: 0 } as PeerAddr),
    keys: () => ({ enabled: keyring.enabled, ...keyring.list() }),
    async keyOp(op, key) {
      if (!keyring.enabled) {
        throw new HttpError(
          400,
          "encryption is off on this agent: set encryption_key in the configuration first",
        );
      }
      try {
        await engine.keyOp(op, key);
      } catch (err) {
        if (err instanceof KeyError) throw new HttpError(400, err.message);
        throw err;
      }
    },
    broadcastUser: (kind, payload) => engine.broadcastUser(kind, payload),
    onUser: (kind, fn) => engine.onUser(kind, fn),
  };
  return api;
}
