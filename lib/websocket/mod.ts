/**
 * The live feed (reference §10.5): every member change, check transition, KV change and RAFT
 * leader change is pushed to websocket clients as `{"channel": ..., "payload": ...}`, so the UI
 * needs no polling. Served on `websocket.port` when the `websocket` object enables it, and always
 * upgradeable at `/ws` on the API port.
 *
 * ```ts
 * const ws = createWebsocket(ctx);
 * await ws.start();          // subscribes to the bus, opens websocket.port if enabled
 * ws.routes();               // RouteTable with GET /ws
 * ```
 */
import type { Ctx, Subsystem } from "../subsystem.ts";
import { RouteTable } from "../routing/mod.ts";
import type { MemberRecord } from "../types.ts";
import { WsHub } from "./hub.ts";
import { LastingServer } from "../http/serve.ts";
import { TcpFront } from "../http/mod.ts";
import { join } from "node:path";
import { hostPort } from "../host_port.ts";

export { feedMessage, overBudget, WsHub } from "./hub.ts";

export interface WebsocketOptions {
  /** Bytes one client may leave unread before it is dropped (default 1 MiB). */
  maxBuffered?: number;
  /** Seconds without a pong before a client is closed (default 30). */
  idleTimeout?: number;
  /** Clients at once (default MAX_CLIENTS); more are refused with 503. */
  maxClients?: number;
}

/** Feed clients at once by default (on `websocket.port` and /ws together): each holds a socket. */
export const MAX_CLIENTS = 1024;

export interface WebsocketApi {
  /** Connected clients. */
  connections(): number;
  /** The hub (tests). */
  readonly hub: WsHub;
  /** GET /ws on the API port. */
  routes(): RouteTable;
}

export function createWebsocket(ctx: Ctx, opts: WebsocketOptions = {}): Subsystem & WebsocketApi {
  const hub = new WsHub({
    maxBuffered: opts.maxBuffered ?? 1024 * 1024,
    idleTimeout: opts.idleTimeout ?? 30,
    maxClients: opts.maxClients ?? MAX_CLIENTS,
    counters: ctx.counters,
    log: ctx.log,
  });
  const offs: Array<() => void> = [];
  let server: TcpFront | null = null;
  /** The port served since start: a reload's new `websocket` object applies at the next restart. */
  let servedPort: number | null = null;
  const conf = () =>
    ctx.config.listeners.websocket as { enabled?: boolean; port?: number; bind?: string } | undefined;

  const gossip = (m: MemberRecord) => hub.broadcast("gossip", m);

  return {
    name: "ws",
    hub,
    connections: () => hub.size,
    async start() {
      offs.push(ctx.bus.onMembers(gossip));
      offs.push(ctx.bus.on("check.changed", (c) => hub.broadcast("check", { node: ctx.node.name, ...c })));
      offs.push(
        ctx.bus.on(
          "kv.changed",
          (k) => hub.broadcast("kv", { key: k.key, index: k.modify_index, deleted: k.deleted }),
        ),
      );
      offs.push(ctx.bus.on("raft.leader", (l) => hub.broadcast("leader", l)));
      offs.push(ctx.bus.on("cluster.event", (e) => hub.broadcast("event", e)));
      const c = conf();
      if (c?.enabled) {
        const hostname = c.bind || ctx.config.params.bind;
        const port = c.port ?? 6769;
        // behind a TCP front, as the API port: header and idle deadlines, a cap per client address
        // (Deno.serve alone has none: clients sending a byte now and then held connections forever)
        const p = ctx.config.params;
        const sock = join(p.data, "ws-front.sock");
        try {
          server = await TcpFront.start({
            hostname,
            port,
            headerTimeoutMs: p.http.header_timeout,
            idleTimeoutMs: p.http.idle_timeout,
            maxConnections: opts.maxClients ?? MAX_CLIENTS,
            maxPerClient: p.http.max_conns_per_client,
            privateSocket: sock.length < 100 ? sock : undefined,
            log: ctx.log,
            counters: ctx.counters,
            serve: (path) =>
              LastingServer.start(
                {
                  path,
                  onListen: () => {},
                  onError: (err) => {
                    ctx.log.error("websocket listener error:", err);
                    return new Response("internal error", { status: 500 });
                  },
                },
                (req) => hub.upgrade(req, `on port ${port}`),
                ctx.log,
                "serving the websocket feed behind its TCP front",
                { bits: 0o600 },
              ),
          });
        } catch (err) {
          throw new Error(
            `websocket: cannot listen on ${hostPort(hostname, port)}: ${(err as Error).message}`,
          );
        }
        servedPort = port;
        ctx.log.info(`websocket feed on ${hostPort(hostname, port)} and /ws of the API port`);
      }
    },
    async stop() {
      for (const off of offs.splice(0)) off();
      hub.closeAll();
      if (server) await server.close();
      server = null;
      servedPort = null;
    },
    info() {
      return {
        enabled: servedPort !== null,
        port: servedPort,
        path: "/ws",
        nb_connexions: hub.size,
        dropped: hub.dropped,
      };
    },
    routes() {
      const r = new RouteTable("websocket");
      r.read(
        "GET",
        "/ws",
        "live feed (websocket): gossip, check, kv, leader and event messages",
        (c) => hub.upgrade(c.req.raw, "api"),
      );
      return r;
    },
  };
}
