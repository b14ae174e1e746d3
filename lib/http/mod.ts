/**
 * The HTTP API server: one Hono app served on TCP `bind:port` (behind a front that drops slow and
 * idle clients) and on the unix socket. The route tables say who may call each route; this file
 * applies that policy per request: trust (unix socket, or TCP + bearer token), what a write needs
 * when no token is set, CORS by access, JSON errors. No business logic lives here.
 */
import { Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import { TrieRouter } from "hono/router/trie-router";
import { digestEqual, sha256 } from "../digest/mod.ts";
import {
  type Access,
  type ApiEnv,
  HttpError,
  type RouteDoc,
  RouteTable,
  type WritePolicy,
} from "../routing/mod.ts";
import type { Logger } from "../log/mod.ts";
import type { Counters } from "../counters.ts";
import type { PeerEnvelope } from "../transport/mod.ts";
import { TcpFront } from "./front.ts";
import { LastingServer, removeLeftoverDirs } from "./serve.ts";
import { corsHeaders, EXPOSE_HEADERS } from "./cors.ts";

/** Methods counted by name in `http_route_requests_total`; any other is counted as `other`. */
const KNOWN_METHODS = new Set(["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"]);

export { TcpFront } from "./front.ts";
export { type FastDispatch, fastDispatcher, isUpgrade } from "./fast.ts";
import type { FastDispatch } from "./fast.ts";
import { matchedRoutes } from "hono/route";
import { methodIndex } from "./allowed.ts";
import { hostPort } from "../host_port.ts";

export interface HttpServerOptions {
  bind: string;
  port: number;
  /** Unix socket path ("" = none). */
  socket: string;
  /** Serve TCP at all. */
  tcp: boolean;
  token: string;
  maxBody: number;
  log: Logger;
  counters: Counters;
  /** A TCP client must finish a request's headers this long after its first byte (ms). */
  headerTimeoutMs?: number;
  /** A TCP connection with no request in flight and no byte either way is closed after this (ms). */
  idleTimeoutMs?: number;
  /** TCP connections kept open at most; more are closed at once (default 4096). */
  maxConnections?: number;
  /** TCP connections one client address may hold (default 256, 0: no limit). */
  maxPerClient?: number;
  /** Private unix socket between the TCP front and the app (default: in a temp dir). */
  frontSocket?: string;
  /** Plain requests of fast routes answered by the TCP front itself (`fastDispatcher`). */
  fast?: FastDispatch | null;
  /** A websocket of the app whose client sent nothing for this long is closed (default 60 s). */
  tunnelSilenceMs?: number;
}

/** What lib/http needs to apply the route policy. */
export interface PolicyOptions {
  /** `http.token`: unlocks write routes over TCP (empty: none). */
  token: string;
  /** `http.open_writes`: write routes over TCP need nothing (the reference's behaviour). */
  openWrites?: boolean;
  /** `http.cors_origins`: origins a browser page may call write routes from. */
  corsOrigins?: string[];
  maxBody: number;
  log: Logger;
  counters: Counters;
  peerEnvelope?: PeerEnvelope;
}

const ALLOW_HEADERS = [
  "Origin",
  "X-Requested-With",
  "Content-Type",
  "Accept",
  "Authorization",
  "X-Kunai-Index",
];

/** Constant-time comparison for tokens (hashes first so lengths do not leak either). */
export function safeEqual(a: string, b: string): boolean {
  return digestEqual(sha256(a), sha256(b));
}

/**
 * `safeEqual(candidate, token)` with the token's digest computed once (a request then hashes only
 * its own candidate: half the cost on every authenticated request).
 */
export function tokenMatcher(token: string): (candidate: string) => boolean {
  const want = sha256(token);
  // The candidate that last matched is remembered in a Set: a client sends the same token on every
  // request, and hashing it each time was ~1 % of a KV agent's CPU under load. A Set lookup hashes
  // the whole string and compares characters only on an equal hash, so a wrong guess learns nothing
  // from its timing about how much of it was right.
  const matched = new Set<string>();
  return (candidate) => {
    if (matched.has(candidate)) return true;
    if (!digestEqual(sha256(candidate), want)) return false;
    matched.clear();
    matched.add(candidate);
    return true;
  };
}

/** Every declared route of these route tables. */
export function routeDocs(routers: RouteTable[]): RouteDoc[] {
  return routers.flatMap((r) => r.routes);
}

/** The access of the route a request will reach (undefined: no declared route). */
function accessLookup(docs: RouteDoc[]): (method: string, path: string) => Access | undefined {
  const router = new TrieRouter<Access>();
  for (const d of docs) router.add(d.method, d.path, d.access);
  return (method, path) => {
    const m = method === "HEAD" ? "GET" : method;
    const [found] = router.match(m, path);
    return found[0]?.[0];
  };
}

/** The write policy from the configuration. */
export function writePolicy(token: string, openWrites = false): WritePolicy {
  if (openWrites) return "open";
  return token ? "token" : "closed";
}

/** What a Host header's name and port never hold: path, query, fragment, userinfo, blanks. */
const BAD_HOST = /[/?#@\\\s]/;

/** Builds the app from routers; `transport` is injected per listener. */
export function buildApp(routers: RouteTable[], opts: PolicyOptions): Hono<ApiEnv> {
  const app = new Hono<ApiEnv>();
  const accessOf = accessLookup(routeDocs(routers));
  const writes = writePolicy(opts.token, opts.openWrites);
  const origins = new Set(opts.corsOrigins ?? []);
  const isToken = tokenMatcher(opts.token);
  // what a browser request would reach: reads may be read from any page; writes only from the
  // configured origins; peer routes never
  const effectiveAccess = (method: string, path: string): Access => {
    const a = accessOf(method, path);
    if (a) return a;
    return method === "GET" || method === "HEAD" ? "read" : "write";
  };
  // Deno.serve builds a request's URL from its Host header as sent: `Host: x/kv/y?` would move the path
  // the routes see and the query they read; no client sends such a name
  app.use("*", (c, next) => {
    const host = c.req.header("host");
    if (host && BAD_HOST.test(host)) return Promise.resolve(c.json({ error: "bad Host header" }, 400));
    return next();
  });
  app.use(
    "*",
    corsHeaders({
      origin: (origin, c) => {
        const method = c.req.method === "OPTIONS"
          ? (c.req.header("access-control-request-method") ?? "GET").toUpperCase()
          : c.req.method;
        const access = effectiveAccess(method, c.req.path);
        if (access === "peer") return null;
        if (origins.has(origin)) return origin;
        return access === "read" ? "*" : null;
      },
      allowMethods: ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH"],
      allowHeaders: ALLOW_HEADERS,
      exposeHeaders: EXPOSE_HEADERS,
      maxAge: 600,
    }),
  );
  app.use("*", async (c, next) => {
    const transport = c.env?.transport === "unix" ? "unix" : "tcp";
    c.set("transport", transport);
    let trusted = transport === "unix";
    const auth = c.req.header("authorization");
    if (!trusted && opts.token && auth?.startsWith("Bearer ")) {
      trusted = isToken(auth.slice(7).trim());
    }
    c.set("trusted", trusted);
    c.set("writes", writes);
    c.set("maxBody", opts.maxBody);
    if (opts.peerEnvelope) c.set("peerEnvelope", opts.peerEnvelope);
    opts.counters.inc("http_requests_total", { transport });
    const t0 = performance.now();
    await next();
    // per-route request count and latency (route = the registered pattern: bounded label values)
    const route = matchedRoutes(c).findLast((r) => r.method !== "ALL")?.path ?? "(unmatched)";
    opts.counters.inc("http_route_requests_total", {
      // any token is a method: a client inventing new ones must not add series without end
      method: KNOWN_METHODS.has(c.req.method) ? c.req.method : "other",
      route,
      code: String(c.res.status),
    });
    opts.counters.observe("http_request_duration_seconds", (performance.now() - t0) / 1000, { route });
  });
  for (const r of routers) app.route("/", r.app);
  let allowed: ((path: string) => Promise<string[]>) | null = null;
  app.notFound(async (c) => {
    allowed ??= methodIndex(app.routes);
    const methods = await allowed(c.req.path);
    if (methods.length) {
      const res = c.json(
        { error: "method not allowed", detail: { method: c.req.method, allow: methods } },
        405,
      );
      res.headers.set("allow", methods.join(", "));
      return res;
    }
    return c.json({ error: "not found", detail: { method: c.req.method, path: c.req.path } }, 404);
  });
  app.onError((err, c) => {
    const { status, body } = errorAnswer(err, opts, `${c.req.method} ${c.req.path}`);
    return c.json(body, status as 400);
  });
  // the routing table compiled now rather than by the first request (hono's SmartRouter builds it
  // then): every route is declared above, and no route may be added once it is built
  app.router.match("GET", "/");
  return app;
}

/** How an error thrown by a route is answered (status, JSON body); counted, and logged when unexpected. */
export function errorAnswer(
  err: Error,
  opts: Pick<PolicyOptions, "log" | "counters">,
  what: string,
): { status: number; body: { error: string; detail?: unknown } } {
  let status = 500;
  let body: { error: string; detail?: unknown };
  if (err instanceof HttpError) {
    status = err.status;
    body = { error: err.message, detail: err.detail };
  } else if (err instanceof HTTPException) {
    status = err.status;
    body = { error: err.message || "request error" };
  } else if (err.name === "ConfigError") {
    status = 400;
    body = { error: err.message };
  } else if (err.name === "StoreFullError" || err.name === "DiskFullError") {
    // the disk is full: a condition of the host, said once per request and logged without a trace
    status = 507;
    body = { error: err.message };
    opts.log.error(`${what} refused: ${err.message}`);
  } else if (err.name === "ReadOnlyFsError") {
    // a file system remounted read-only: a condition of the host too, in one line
    status = 503;
    body = { error: err.message };
    opts.log.error(`${what} refused: ${err.message}`);
  } else if (err instanceof URIError) {
    // decodeURIComponent of a client's path or query: always bad input
    status = 400;
    body = { error: `malformed percent-encoding in the request: ${err.message}` };
  } else {
    opts.log.error(`${what} failed:`, err);
    body = { error: `internal error: ${err.message}` };
  }
  opts.counters.inc("http_errors_total", { status: String(status) });
  return { status, body };
}

/** Listening servers; `close()` stops both. */
export class HttpServer {
  #servers: LastingServer[] = [];
  #front: TcpFront | null = null;
  #socket = "";
  tcpAddr: Deno.NetAddr | null = null;
  /** The app being served (its `routes` are what the API really answers: the OpenAPI test reads them). */
  app: Hono<ApiEnv> | null = null;

  private constructor() {}

  /** Starts the listeners. Throws a clear error when a port or socket is taken. */
  static async start(app: Hono<ApiEnv>, opts: HttpServerOptions): Promise<HttpServer> {
    const s = new HttpServer();
    s.app = app;
    const handler = (transport: "unix" | "tcp") => (req: Request) => app.fetch(req, { transport });
    const onError = (err: unknown) => {
      opts.log.error("HTTP handler error:", err);
      opts.counters.inc("http_errors_total", { status: "500" });
      return new Response(JSON.stringify({ error: "internal error" }), { status: 500 });
    };
    try {
      if (opts.tcp) {
        // TCP clients reach the app through a front that enforces header and idle deadlines
        // (Deno.serve has none); the front forwards to a private server that treats them as TCP
        s.#front = await TcpFront.start({
          hostname: opts.bind,
          port: opts.port,
          headerTimeoutMs: opts.headerTimeoutMs ?? 10_000,
          idleTimeoutMs: opts.idleTimeoutMs ?? 60_000,
          maxConnections: opts.maxConnections,
          maxPerClient: opts.maxPerClient,
          privateSocket: opts.frontSocket,
          log: opts.log,
          counters: opts.counters,
          serve: (path) =>
            LastingServer.start(
              { path, onListen: () => {}, onError },
              handler("tcp"),
              opts.log,
              "serving the HTTP API behind the TCP front",
              { bits: 0o600 },
            ),
          fast: opts.fast,
          tunnelSilenceMs: opts.tunnelSilenceMs,
        });
        s.tcpAddr = s.#front.addr;
      }
      if (opts.socket) {
        await removeStaleSocket(opts.socket);
        await removeLeftoverDirs(opts.socket, opts.log);
        const path = opts.socket;
        const srv = LastingServer.start(
          { path, onListen: () => {}, onError },
          handler("unix"),
          opts.log,
          `serving the HTTP API on unix:${path}`,
          {
            bits: 0o660,
            onChmodError: (err) => opts.log.warn(`cannot restrict ${path} to mode 0660: ${err.message}`),
          },
        );
        s.#servers.push(srv);
        s.#socket = path; // ours to remove at close from now on
      }
    } catch (err) {
      await s.close();
      const e = err as Error;
      if (e instanceof Deno.errors.AddrInUse) {
        throw new Error(
          `cannot listen: address already in use (${opts.bind}:${opts.port} or ${opts.socket})`,
        );
      }
      throw new Error(`cannot listen on ${hostPort(opts.bind, opts.port)} / ${opts.socket}: ${e.message}`);
    }
    return s;
  }

  /** Open TCP connections (the front's count). */
  get tcpConnections(): number {
    return this.#front?.connections ?? 0;
  }

  /** True while the front's deadline sweep is scheduled (it runs only while connections are open). */
  get tcpSweeping(): boolean {
    return this.#front?.sweeping ?? false;
  }

  async close(): Promise<void> {
    const front = this.#front;
    this.#front = null;
    await Promise.allSettled([
      ...this.#servers.map((srv) => srv.shutdown()),
      ...(front ? [front.close()] : []),
    ]);
    this.#servers = [];
    if (this.#socket) {
      try {
        Deno.removeSync(this.#socket);
      } catch { /* already gone */ }
    }
  }
}

async function removeStaleSocket(path: string): Promise<void> {
  try {
    const st = Deno.lstatSync(path);
    if (!st.isSocket) throw new Error(`${path} exists and is not a socket; refusing to replace it`);
    let live = false;
    try {
      const conn = await Deno.connect({ transport: "unix", path });
      conn.close();
      live = true;
    } catch { /* stale */ }
    if (live) throw new Error(`socket ${path} is in use by another running agent`);
    Deno.removeSync(path);
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
  const dir = path.replace(/\/[^/]*$/, "");
  if (dir) Deno.mkdirSync(dir, { recursive: true, mode: 0o750 });
}
