/**
 * Cluster membership (SWIM + Lifeguard gossip) as an agent subsystem: the only door of
 * lib/gossip. Builds the UDP transport and the engine over the shared peer envelope, joins the
 * seeds in the background (seeds.ts), keeps the peers file and the keyring on disk, maps member
 * changes to bus events and hands out a `membership` view for the composition root to pass on.
 *
 * ```ts
 * const gossip = createGossip(ctx, { envelope });
 * await gossip.start();
 * createKv(ctx, { membership: gossip.membership }); // changes arrive as member.* bus events
 * ```
 */
import { join as joinPath } from "node:path";
import { nextOnGrid } from "../clock/mod.ts";
import type { Ctx, Subsystem } from "../subsystem.ts";
import type { MemberRecord, MembershipView } from "../types.ts";
import { HttpError, type RouteTable } from "../routing/mod.ts";
import { parsePeer, type PeerAddr, type PeerEnvelope, peerKey, UdpTransport } from "../transport/mod.ts";
import type { ChangeKind } from "./members.ts";
import { GossipEngine } from "./engine.ts";
import type { GossipApi } from "./api.ts";
import { gossipRoutes } from "./routes.ts";
import { loadPeers, savePeers } from "./peers_file.ts";
import { joinSeeds, keepSeedsJoined } from "./seeds.ts";
import { GossipKeys } from "./keys.ts";
import { MAX_DETECT_MS } from "./detect.ts";
import { ClusterEvents } from "./events.ts";
import { MemberHistory } from "./history.ts";
import { FailureNote } from "../log/failure.ts";
import { hostPort } from "../host_port.ts";

export type { GossipApi } from "./api.ts";
export { type EngineDeps, GossipEngine, pushPullInterval, type SelfSource } from "./engine.ts";
export { decodeKey, generateKey, KeyError, Keyring, SEAL_OVERHEAD } from "../transport/mod.ts";
export type { ChangeKind } from "./members.ts";
export { type DetectedAgent, detectParams } from "./detect.ts";
export type { HistoryRow } from "./history.ts";
export { type ClusterEvent, EVENT_NAME, MAX_PAYLOAD as MAX_EVENT_PAYLOAD } from "./events.ts";
export {
  aliveOf,
  decodePacket,
  decodePushPull,
  encodePacket,
  encodePushPull,
  type GossipMsg,
  PROTOCOL_VERSION,
  recordOf,
} from "./codec.ts";
export { gossipRoutes } from "./routes.ts";

const BUS_EVENT = {
  joined: "member.joined",
  updated: "member.updated",
  suspect: "member.suspect",
  dead: "member.dead",
  left: "member.left",
  reaped: "member.reaped",
} as const;

const PEERS_SAVE_INTERVAL = 60_000;

/** The warning an agent without a key logs at start (anyone on the network is a member). */
export const NO_KEY_WARNING = "GOSSIP IS NOT ENCRYPTED: no encryption_key is set, so anyone who can reach " +
  "this agent's port can join the cluster, stop members (spoofed leave/dead claims are refuted, " +
  "but forged records are accepted) and write data; set encryption_key (create one with 'kunai keygen') on every agent";

export type GossipSubsystem = Omit<Subsystem, "routes"> & GossipApi & {
  engine: GossipEngine;
  routes(): RouteTable;
};

/** Builds the gossip subsystem; `membership` is handed to other subsystems by lib/agent.ts. */
export function createGossip(ctx: Ctx, deps: { envelope: PeerEnvelope }): GossipSubsystem {
  const p = ctx.config.params;
  const cfg = p.gossip;
  const peersFile = joinPath(p.data, "gossip-peers.json");
  const keys = new GossipKeys(deps.envelope.keyring, joinPath(p.data, "keyring.json"), ctx.log);
  const transport = new UdpTransport({
    bind: p.bind,
    port: p.port,
    advertise: ctx.node.addr,
    listenBroadcast: cfg.detect_listen || undefined,
    onError: (where, err) => {
      ctx.counters.inc("gossip_socket_errors_total", { where });
      ctx.log.debug(`udp ${where}: ${(err as Error).message ?? err}`);
    },
  });
  let stopping = false;
  const engine = new GossipEngine({
    self: ctx.node,
    config: cfg,
    transport,
    clock: ctx.clock,
    random: Math.random,
    envelope: deps.envelope,
    log: ctx.log,
    counters: ctx.counters,
    onChange: (kind: ChangeKind, rec: MemberRecord) => publish(kind, rec),
    onLeft: () => {
      if (!stopping) ctx.requestStop("left the cluster");
    },
    onKeyringChange: () => keys.save(),
  });

  const history = new MemberHistory(
    ctx.store,
    ctx.clock,
    new FailureNote(ctx.log, "saving the membership history", 60_000, () => ctx.clock.now()),
  );

  // the events of earlier runs join the log when it is first read or an event arrives (gossip.db
  // stays closed until then)
  const events = new ClusterEvents(engine, engine.messages, (e) => {
    history.recordEvent(e);
    ctx.bus.emit("cluster.event", e);
    ctx.log.info(`event ${e.name} from ${e.from} (${e.payload.length} character(s) of payload)`);
  }, () => history.events());

  function publish(kind: ChangeKind, rec: MemberRecord): void {
    // our own joined/suspect/dead are not news (we refute them); our updates and leave are
    if (rec.uuid !== ctx.node.uuid || kind === "updated" || kind === "left") {
      ctx.bus.emit(BUS_EVENT[kind], rec);
      history.record(kind, rec);
    }
    if (kind !== "updated") ctx.log.info(`member ${rec.name} (${hostPort(rec.addr, rec.port)}) ${kind}`);
  }

  /** The start's join is on its way (seeds or peers of the last run to try, and joinSeeds not returned). */
  let joining = false;
  const membership: MembershipView = {
    self: () => engine.members.self(),
    members: () => [...engine.members.records()],
    // until joinSeeds returns: the first members come before the push-pull that brings the rest
    joining: () => joining,
  };

  const offs: Array<() => void> = [];
  let peersTimer: number | null = null;
  const abort = new AbortController();
  const selfAddr = (): PeerAddr => ({ addr: ctx.node.addr, port: transport.local.port || p.port });
  const saveKnownPeers = () => {
    const saved = savePeers(peersFile, engine.members.records(), ctx.node.uuid, Math.random);
    if (!saved.ok) ctx.log.warn(`cannot save known peers to ${peersFile}: ${saved.why}`);
  };

  /** True when `peer` is this agent's own gossip address (joining it would be a no-op that says OK). */
  function isSelf(peer: PeerAddr): boolean {
    if (peer.port !== selfAddr().port) return false;
    const wildcard = p.bind === "0.0.0.0" || p.bind === "::";
    const loopback = peer.addr === "localhost" || peer.addr === "::1" || peer.addr.startsWith("127.");
    return peer.addr === ctx.node.addr || peer.addr === p.bind || peer.addr === "0.0.0.0" ||
      (loopback && (wildcard || p.bind === "127.0.0.1" && peer.addr === "localhost"));
  }

  function findMember(nameOrUuid: string): MemberRecord | undefined {
    return engine.members.get(nameOrUuid) ?? engine.members.records().find((r) => r.name === nameOrUuid);
  }

  const api: GossipSubsystem = {
    name: "gossip",
    engine,
    membership,
    async start() {
      await engine.start();
      offs.push(ctx.bus.on("tags.changed", () => engine.localUpdate()));
      offs.push(ctx.bus.on("services.changed", () => engine.localUpdate()));
      offs.push(ctx.bus.on("zone.changed", () => engine.localUpdate()));
      offs.push(ctx.bus.on("maintenance.changed", () => engine.localUpdate()));
      // traffic counts and members by state reach /metrics when it is read, not only at the 10 s reap round
      offs.push(ctx.counters.onRender(() => engine.flushCounters()));
      const ring = deps.envelope.keyring;
      ctx.log.info(
        `gossip on udp ${hostPort(p.bind, transport.local.port)}${
          ring.enabled ? `, encrypted (${ring.list().keys.length} key(s))` : ", unencrypted"
        }`,
      );
      if (!ring.enabled) ctx.log.warn(NO_KEY_WARNING);
      joining = true;
      void joinSeeds({
        seeds: p.seeds,
        saved: loadPeers(peersFile, p.port, (msg) => ctx.log.warn(msg)),
        defaultPort: p.port,
        self: selfAddr(),
        size: () => engine.members.size,
        join: (peer) => engine.join(peer),
        clock: ctx.clock,
        random: Math.random,
        log: ctx.log,
        maxBackoffMs: cfg.join_retry_max,
        signal: abort.signal,
      }).then((joined) => {
        joining = false;
        return joined
          ? keepSeedsJoined({
            seeds: p.seeds,
            defaultPort: p.port,
            self: selfAddr(),
            members: () => engine.members.records(),
            join: (peer) => engine.join(peer),
            clock: ctx.clock,
            random: Math.random,
            log: ctx.log,
            everyMs: cfg.seed_check_interval,
            signal: abort.signal,
          })
          : undefined;
      }).catch((err) => {
        joining = false;
        ctx.log.error(`joining the seeds failed: ${(err as Error).message}`);
      });
      // every minute, on the epoch minute grid (the other minute jobs' wake-up), the first 30-90 s on
      const savePeriodically = () => {
        const now = ctx.clock.now();
        peersTimer = ctx.clock.setTimeout(() => {
          saveKnownPeers();
          savePeriodically();
        }, nextOnGrid(now + PEERS_SAVE_INTERVAL / 2, PEERS_SAVE_INTERVAL) - now);
      };
      savePeriodically();
    },
    async stop() {
      stopping = true;
      abort.abort();
      if (peersTimer !== null) ctx.clock.clearTimeout(peersTimer);
      if (engine.members.size > 1) saveKnownPeers();
      offs.forEach((f) => f());
      events.stop();
      history.flush();
      if (engine.running && !engine.leaving && engine.members.size > 1) await engine.leave();
      await engine.stop();
    },
    info() {
      const counts = engine.flushCounters();
      const ring = deps.envelope.keyring;
      return {
        members: counts,
        incarnation: ctx.node.incarnation,
        health_score: engine.awareness.score,
        encryption: ring.enabled,
        keys: ring.list().keys.length,
        label: cfg.label,
        broadcast_queue: engine.queue.length,
        traffic: { ...engine.traffic, dropped: { ...engine.traffic.dropped } },
        /** Event-loop slip: how late probe rounds and suspicion timers ran. */
        timing: {
          probe_lag: engine.prober.lag.toJSON(),
          probe_stretch: engine.prober.stretch.toJSON(),
          suspicion_lag: engine.members.suspicionLag.toJSON(),
        },
        /** Every peer message the shared envelope refused (gossip, push-pull, KV...), by reason. */
        peer_envelope_dropped: { ...deps.envelope.dropped },
      };
    },
    routes: () => gossipRoutes(api),
    self: () => engine.members.self(),
    members: () => [...engine.members.records()],
    async join(target: string) {
      const peer = parsePeer(target, p.port);
      if (!peer) {
        throw new HttpError(
          400,
          `invalid join target ${
            JSON.stringify(target)
          }; expected addr[:port], e.g. 192.168.0.1:6768 or [fd00::1]:6768`,
        );
      }
      if (isSelf(peer)) {
        throw new HttpError(400, `${peerKey(peer)} is this agent itself; join another agent's address`);
      }
      const reason = await engine.tryJoin(peer);
      return reason === null ? { joined: true } : { joined: false, reason };
    },
    leave(nameOrUuid: string) {
      const m = findMember(nameOrUuid);
      return m ? engine.forceLeave(m.uuid) : false;
    },
    servePushPull: (plain, from) => engine.sync.serve(plain, from),
    keys: () => keys.list(),
    keyOp: (op, key) => keys.op(op, key, (o, k) => engine.keyOp(o, k)),
    async detect(o) {
      if (p.bind.includes(":")) {
        throw new HttpError(
          409,
          `detection broadcasts over IPv4; this agent's gossip socket is bound to ${p.bind} (IPv6 has no broadcast)`,
        );
      }
      const addr = o.addr ?? cfg.detect_addr;
      const port = o.port ?? (transport.local.port || p.port);
      const timeoutMs = Math.min(o.timeoutMs ?? cfg.detect_timeout, MAX_DETECT_MS);
      const agents = await engine.detect({ addr, port }, timeoutMs);
      ctx.log.info(
        `detection on udp ${addr}:${port}: ${agents.length} agent(s) answered within ${timeoutMs} ms`,
      );
      return { sent_to: `${addr}:${port}`, timeout_ms: timeoutMs, agents };
    },
    async ping(node, o) {
      const m = findMember(node);
      if (!m) {
        throw new HttpError(404, `no member ${JSON.stringify(node.slice(0, 80))} (kunai members lists them)`);
      }
      if (m.uuid === ctx.node.uuid) throw new HttpError(400, `${m.name} is this agent itself`);
      const rtt: Array<number | null> = [];
      for (let i = 0; i < o.count; i++) {
        if (i) await new Promise((r) => setTimeout(r, o.intervalMs));
        const t = await engine.prober.pingOnce(m, o.timeoutMs, () => performance.now());
        rtt.push(t === null ? null : Math.round(t * 1000) / 1000);
      }
      const received = rtt.filter((t) => t !== null).length;
      ctx.log.info(`ping ${m.name} (${hostPort(m.addr, m.port)}): ${received}/${o.count} answered`);
      return {
        node: m.name,
        uuid: m.uuid,
        addr: hostPort(m.addr, m.port),
        state: m.state,
        rtt_ms: rtt,
        sent: o.count,
        received,
      };
    },
    history: (o) => history.list(o),
    historyBetween: (fromMs, untilMs, changes, limit) => history.between(fromMs, untilMs, changes, limit),
    sendEvent: (name, payload, tags) =>
      events.send(name, payload, (k, p) => engine.broadcastUser(k, p), tags),
    events: (name) => events.list(name),
    broadcastUser: (kind, payload) => engine.broadcastUser(kind, payload),
    onUser: (kind, fn) => engine.onUser(kind, fn),
  };
  return api;
}
