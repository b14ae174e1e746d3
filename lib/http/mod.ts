/**
 * The HTTP API server: one Hono app served on TCP `bind:port` and on the unix socket, with CORS,
 * JSON errors, body limits and trust (unix socket, or TCP + bearer token) decided per request.
 * Subsystems contribute routers; no business logic lives here.
 */
import { Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import { type ApiEnv, HttpError, type RouteDoc, RouteTable } from "../routing/mod.ts";
import type { Logger } from "../log/mod.ts";
import type { Counters } from "../counters.ts";
import type { PeerEnvelope } from "../transport/mod.ts";
import { matchedRoutes } from "hono/route";
import { methodIndex } from "./allowed.ts";

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
}

const CORS_HEADERS: Record<string, string> = {
  "Access-Control-Allow-Origin": "*",
  "Access-Control-Allow-Methods": "GET, POST, PUT, OPTIONS, DELETE, PATCH",
  "Access-Control-Allow-Headers":
    "Origin, X-Requested-With, Content-Type, Accept, Authorization, X-Kunai-Index",
  "Access-Control-Expose-Headers": "X-Kunai-Index",
};

/** Constant-time string comparison for tokens. */
export function safeEqual(a: string, b: string): boolean {
  const x = new TextEncoder().encode(a), y = new TextEncoder().encode(b);
  let diff = x.length ^ y.length;
  for (let i = 0; i < Math.max(x.length, y.length); i++) diff |= (x[i] ?? 0) ^ (y[i] ?? 0);
  return diff === 0;
}

/** Every declared route of these routers (bare Hono routers declare none). */
export function routeDocs(routers: Array<RouteTable | Hono<ApiEnv>>): RouteDoc[] {
  return routers.flatMap((r) => r instanceof RouteTable ? r.routes : []);
}

/** Builds the app from routers; `transport` is injected per listener. */
export function buildApp(
  routers: Array<RouteTable | Hono<ApiEnv>>,
  opts: Pick<HttpServerOptions, "token" | "maxBody" | "log" | "counters"> & { peerEnvelope?: PeerEnvelope },
): Hono<ApiEnv> {
  const app = new Hono<ApiEnv>();
  app.use("*", async (c, next) => {
    const transport = c.env?.transport === "unix" ? "unix" : "tcp";
    c.set("transport", transport);
    let trusted = transport === "unix";
    const auth = c.req.header("authorization");
    if (!trusted && opts.token && auth?.startsWith("Bearer ")) {
      trusted = safeEqual(auth.slice(7).trim(), opts.token);
    }
    c.set("trusted", trusted);
    c.set("maxBody", opts.maxBody);
    if (opts.peerEnvelope) c.set("peerEnvelope", opts.peerEnvelope);
    if (c.req.method === "OPTIONS") {
      return new Response(null, { status: 200, headers: CORS_HEADERS });
    }
    opts.counters.inc("http_requests_total", { transport });
    const t0 = performance.now();
    await next();
    // per-route request count and latency (route = the registered pattern: bounded label values)
    const route = matchedRoutes(c).findLast((r) => r.method !== "ALL")?.path ?? "(unmatched)";
    opts.counters.inc("http_route_requests_total", {
      method: c.req.method,
      route,
      code: String(c.res.status),
    });
    opts.counters.observe("http_request_duration_seconds", (performance.now() - t0) / 1000, { route });
    if (c.res.status === 101) return; // a websocket upgrade: its headers are not ours to change
    for (const [k, v] of Object.entries(CORS_HEADERS)) c.res.headers.set(k, v);
  });
  for (const r of routers) app.route("/", r instanceof RouteTable ? r.app : r);
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
      for (const [k, v] of Object.entries(CORS_HEADERS)) res.headers.set(k, v);
      return res;
    }
    const res = c.json({ error: "not found", detail: { method: c.req.method, path: c.req.path } }, 404);
    for (const [k, v] of Object.entries(CORS_HEADERS)) res.headers.set(k, v);
    return res;
  });
  app.onError((err, c) => {
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
    } else {
      opts.log.error(`${c.req.method} ${c.req.path} failed:`, err);
      body = { error: `internal error: ${err.message}` };
    }
    opts.counters.inc("http_errors_total", { status: String(status) });
    const res = c.json(body, status as 400);
    for (const [k, v] of Object.entries(CORS_HEADERS)) res.headers.set(k, v);
    return res;
  });
  return app;
}

/** Listening servers; `close()` stops both. */
export class HttpServer {
  #servers: Deno.HttpServer[] = [];
  #socket: string;
  tcpAddr: Deno.NetAddr | null = null;
  /** The app being served (its `routes` are what the API really answers: the OpenAPI test reads them). */
  app: Hono<ApiEnv> | null = null;

  private constructor(socket: string) {
    this.#socket = socket;
  }

  /** Starts the listeners. Throws a clear error when a port or socket is taken. */
  static async start(app: Hono<ApiEnv>, opts: HttpServerOptions): Promise<HttpServer> {
    const s = new HttpServer(opts.socket);
    s.app = app;
    const handler = (transport: "unix" | "tcp") => (req: Request) => app.fetch(req, { transport });
    const onError = (err: unknown) => {
      opts.log.error("HTTP handler error:", err);
      return new Response(JSON.stringify({ error: "internal error" }), { status: 500 });
    };
    try {
      if (opts.tcp) {
        const srv = Deno.serve(
          { hostname: opts.bind, port: opts.port, onListen: () => {}, onError },
          handler("tcp"),
        );
        s.#servers.push(srv);
        s.tcpAddr = srv.addr as Deno.NetAddr;
      }
      if (opts.socket) {
        await removeStaleSocket(opts.socket);
        const srv = Deno.serve({ path: opts.socket, onListen: () => {}, onError }, handler("unix"));
        s.#servers.push(srv);
        try {
          Deno.chmodSync(opts.socket, 0o660);
        } catch { /* not fatal */ }
      }
    } catch (err) {
      for (const srv of s.#servers) void srv.shutdown();
      const e = err as Error;
      if (e instanceof Deno.errors.AddrInUse) {
        throw new Error(
          `cannot listen: address already in use (${opts.bind}:${opts.port} or ${opts.socket})`,
        );
      }
      throw new Error(`cannot listen on ${opts.bind}:${opts.port} / ${opts.socket}: ${e.message}`);
    }
    return s;
  }

  async close(): Promise<void> {
    await Promise.allSettled(this.#servers.map((srv) => srv.shutdown()));
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
  if (dir) Deno.mkdirSync(dir, { recursive: true });
}
