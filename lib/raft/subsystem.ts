/**
 * The RAFT subsystem: one RaftGroup per configured group, voters taken from the membership table
 * (nodes carrying the group's tag, `*` = all, in any state but `leave`: a dead node still counts
 * toward the quorum, so a minority partition that sees the others as dead cannot elect), messages
 * over the `/raft/msg` peer route, leader changes on the bus as `raft.leader`.
 */
import type { Ctx, Subsystem } from "../subsystem.ts";
import type { MemberRecord, MembershipView } from "../types.ts";
import { HttpError, peerResponse, readPeerBody, RouteTable } from "../routing/mod.ts";
import type { PeerEnvelope } from "../transport/mod.ts";
import { type GroupStatus, RaftGroup } from "./group.ts";
import { decodeMsg, HttpRaftTransport, RAFT_PATH } from "./http_transport.ts";
import { RAFT_MIGRATIONS, SqliteRaftStore } from "./sqlite_store.ts";
import { KV_CACHE_KIB } from "../store/mod.ts";
import type { TimerId } from "../clock/mod.ts";

/** While the start's join is on its way, how often the hold of our elections looks again. */
const JOIN_POLL_MS = 500;

/** A group's status with names next to uuids (what `/raft/:group` and the CLI show). */
export interface GroupView extends GroupStatus {
  self: string;
  leader_name: string | null;
  voters_detail: Array<{ uuid: string; name: string; state: string }>;
}

export interface RaftApi {
  groups(): Record<string, GroupView>;
  group(name: string): GroupView | null;
}

export function createRaft(
  ctx: Ctx,
  deps: { membership: Pick<MembershipView, "members" | "joining">; envelope: PeerEnvelope },
): Subsystem & RaftApi {
  const cfg = ctx.config.params.raft;
  const c = ctx.counters;
  c.describe("raft_messages_received_total", "counter", "RAFT messages received, by type");
  c.describe("raft_messages_dropped_total", "counter", "RAFT messages not delivered, by reason");
  c.describe("raft_leader_changes_total", "counter", "leader changes seen, by group");
  const byUuid = () => new Map(deps.membership.members().map((m) => [m.uuid, m]));
  const transport = new HttpRaftTransport({
    envelope: deps.envelope,
    locate: (id) => {
      const m = byUuid().get(id);
      return m ? { addr: m.addr, port: m.port } : null;
    },
    onDrop: (reason) => c.inc("raft_messages_dropped_total", { reason }),
  });
  const groups = new Map<string, RaftGroup>();
  const offs: Array<() => void> = [];
  let joinTimer: TimerId | null = null;
  let store: SqliteRaftStore | null = null;

  function votersOf(group: string, members: MemberRecord[]): string[] {
    return members.filter((m) => m.state !== "leave" && (group === "*" || m.tags.includes(group))).map((m) =>
      m.uuid
    );
  }

  function refresh(): void {
    const members = deps.membership.members();
    for (const [name, g] of groups) g.setVoters(votersOf(name, members));
  }
  // member events come in bursts (a datagram of 256 joins): the voters are computed once per burst,
  // not once per event (each run copies and filters the whole table, then sorts the voters)
  let refreshQueued = false;
  function queueRefresh(): void {
    if (refreshQueued) return;
    refreshQueued = true;
    queueMicrotask(() => {
      refreshQueued = false;
      if (offs.length) refresh();
    });
  }

  function view(g: RaftGroup): GroupView {
    const s = g.status();
    const members = byUuid();
    return {
      ...s,
      self: ctx.node.uuid,
      leader_name: s.leader ? members.get(s.leader)?.name ?? null : null,
      voters_detail: s.voters.map((u) => ({
        uuid: u,
        name: members.get(u)?.name ?? "?",
        state: members.get(u)?.state ?? "unknown",
      })),
    };
  }

  const api: RaftApi = {
    groups: () => Object.fromEntries([...groups].map(([n, g]) => [n, view(g)])),
    group: (name) => {
      const g = groups.get(name);
      return g ? view(g) : null;
    },
  };

  return {
    name: "raft",
    ...api,
    start() {
      store = new SqliteRaftStore(ctx.store.open("raft", RAFT_MIGRATIONS, KV_CACHE_KIB));
      if (cfg.heartbeat * 2 > cfg.election_timeout) {
        ctx.log.warn(
          `raft.heartbeat (${cfg.heartbeat} ms) should be under half of raft.election_timeout ` +
            `(${cfg.election_timeout} ms): followers may start elections between heartbeats`,
        );
      }
      for (const name of new Set(cfg.groups)) {
        const g = new RaftGroup({
          id: ctx.node.uuid,
          group: name,
          clock: ctx.clock,
          random: Math.random,
          timings: {
            heartbeatMs: cfg.heartbeat,
            electionMinMs: cfg.election_timeout,
            electionMaxMs: cfg.election_timeout * 2,
          },
          minSize: cfg.min_size,
          store,
          transport,
          onLeader: (change) => {
            c.inc("raft_leader_changes_total", { group: change.group });
            const who = change.leader ? byUuid().get(change.leader)?.name ?? change.leader : "none";
            ctx.log.info(`raft group ${change.group}: leader ${who} (term ${change.term})`);
            ctx.bus.emit("raft.leader", change);
          },
        });
        groups.set(name, g);
      }
      // until the start's join returns we know ourselves alone: a group of one we would lead at once
      // (a node restarted apart from the others, or whose seeds do not answer, became a second
      // leader): no election of ours until then; we still vote and follow
      const held = () => deps.membership.joining?.() === true;
      const members = deps.membership.members();
      for (const [name, g] of groups) {
        g.hold(held());
        g.start(votersOf(name, members));
      }
      if (held()) {
        ctx.log.info("raft: no election of ours until the join to the cluster");
        const release = () => {
          joinTimer = null;
          if (!offs.length) return;
          if (held()) return void (joinTimer = ctx.clock.setTimeout(release, JOIN_POLL_MS));
          for (const g of groups.values()) g.hold(false);
          ctx.log.info("raft: joined the cluster: elections may start");
        };
        joinTimer = ctx.clock.setTimeout(release, JOIN_POLL_MS);
      }
      offs.push(ctx.bus.onMembers(queueRefresh));
      offs.push(ctx.bus.on("tags.changed", queueRefresh));
      if (groups.size) ctx.log.info(`raft: ${groups.size} group(s): ${[...groups.keys()].join(", ")}`);
      return Promise.resolve();
    },
    stop() {
      if (joinTimer !== null) ctx.clock.clearTimeout(joinTimer);
      joinTimer = null;
      for (const off of offs.splice(0)) off();
      for (const g of groups.values()) g.stop();
      transport.close();
      return Promise.resolve();
    },
    info() {
      const out: Record<string, unknown> = {};
      for (const [n, g] of groups) {
        const s = g.status();
        out[n] = { role: s.role, term: s.term, leader: s.leader, voters: s.voters.length };
      }
      return { enabled: groups.size > 0, groups: out };
    },
    routes() {
      const r = new RouteTable("raft");
      r.read(
        "GET",
        "/raft",
        "every RAFT group: role, term, leader, voters",
        (ctx2) => ctx2.json(api.groups()),
      );
      r.read("GET", "/raft/:group", "one RAFT group: role, term, leader, voters", (ctx2) => {
        const name = ctx2.req.param("group") ?? "";
        const v = api.group(name);
        if (!v) throw new HttpError(404, `no RAFT group ${JSON.stringify(name)} (configured: raft.groups)`);
        return ctx2.json(v);
      });
      r.peer("POST", RAFT_PATH, "a RAFT message from another agent", async (ctx2) => {
        const msg = decodeMsg(await readPeerBody(ctx2));
        if (typeof msg === "string") {
          c.inc("raft_messages_dropped_total", { reason: "malformed" });
          throw new HttpError(400, `malformed RAFT message: ${msg}`);
        }
        c.inc("raft_messages_received_total", { type: msg.type });
        groups.get(msg.group)?.receive(msg);
        return await peerResponse(ctx2, new Uint8Array(0));
      });
      return r;
    },
  };
}
