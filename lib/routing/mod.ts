/**
 * What a subsystem's routes need from the HTTP layer, without importing the server (floor 1):
 * the route table with its access policy, the Hono env type, HttpError and body parsing with limits.
 *
 * Every route states who may call it, in one place:
 * - `read`: open over TCP and the unix socket (GET of state, listings);
 * - `write`: changes state or reveals secrets: unix socket, or TCP with `Authorization: Bearer
 *   <http.token>` (with no token set, TCP gets 403 naming `http.token`, unless `http.open_writes`);
 * - `peer`: agent-to-agent traffic: the body is a keyring envelope (authenticated, replay-protected),
 *   read with `readPeerBody(c)` and answered with `peerResponse(c, bytes)`.
 *
 * ```ts
 * export function routes(api: KvApi): RouteTable {
 *   const r = new RouteTable("kv");
 *   r.read("GET", "/kv/:key{.+}", "read a key", (c) => c.json(api.get(c.req.param("key"))));
 *   r.write("PUT", "/kv/:key{.+}", "write a key", async (c) => c.json(await api.put(...)));
 *   r.peer("POST", "/kv-internal/apply", "replicate a record", async (c) => ...);
 *   return r;
 * }
 * ```
 */
import { Hono } from "hono";
import type { Context, Handler, MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import type { PeerEnvelope } from "../transport/mod.ts";
import { MAX_JSON_DEPTH, tooDeep } from "../json_depth.ts";

/** Who may call a route. */
export type Access = "read" | "write" | "peer";

/**
 * What a write route over TCP needs, decided once by lib/http from the configuration:
 * `token` (http.token is set: the bearer token unlocks), `closed` (no token: refused with 403 naming
 * `http.token`), `open` (`http.open_writes: true`: anyone who reaches the port).
 */
export type WritePolicy = "token" | "closed" | "open";

export type Method = "GET" | "POST" | "PUT" | "DELETE" | "PATCH";

/** One row of the route table (also the source of the OpenAPI document). */
export interface RouteDoc {
  method: Method;
  /** Hono path pattern, e.g. `/kv/:key{.+}`. */
  path: string;
  access: Access;
  /** One line for `kunai api` and the OpenAPI summary. */
  summary: string;
  /** Subsystem that owns the route. */
  owner: string;
}

/** A request the TCP front parsed itself (one complete HTTP/1.1 request, no Origin: see lib/http/fast.ts). */
export interface FastRequest {
  method: string;
  /** The path as sent (still percent-encoded), without the query. */
  path: string;
  /** The query as sent, without `?` ("" when none). */
  query: string;
  /** Header values by lower-case name. */
  headers: Record<string, string>;
  /** The body (a copy: the handler may keep it). */
  body: Uint8Array;
  /** A peer route's request: the agent's PeerEnvelope (as the app's peer routes get it), when it has one. */
  peerEnvelope?: PeerEnvelope;
}

/** A fast route's answer; lib/http adds the headers every answer of the app gets (CORS, date). */
export interface FastAnswer {
  status: number;
  /** Content type and the route's own headers, in the order the app would send them. */
  headers: [string, string][];
  body: Uint8Array | string;
}

/**
 * Answers a request of a declared route without the app, or returns null (synchronously) when this
 * request needs anything it does not handle: the request then goes to the app as usual. A rejected
 * promise is rendered as the app renders errors.
 */
export type FastHandler = (req: FastRequest) => Promise<FastAnswer> | null;

/** A declared route that also has a fast handler. */
export interface FastRoute {
  doc: RouteDoc;
  /** The route's path up to its first parameter (`/kv/` for `/kv/:key{.+}`). */
  prefix: string;
  handle: FastHandler;
}

/** The client of a socket route, as the route's session sees it (lib/http/ws_front.ts). */
export interface FastSocketPeer {
  /** Sends one binary message. */
  send(payload: Uint8Array): void;
  /** Sends a close frame and ends the connection. */
  close(code: number, reason: string): void;
  /** True once the connection ended (answers are dropped). */
  readonly ended: boolean;
}

/**
 * Messages of one socket a route's session handles at once (a kunai peer has at most 4 in flight for
 * each of 3 kinds, more only while it splits a batch of reads answered 413); the next ones wait.
 */
export const SOCKET_MAX_INFLIGHT = 32;

/**
 * A declared `GET` peer route whose WebSocket the TCP front speaks itself (binary messages): `open`
 * starts a session for one connection and returns what handles each of its messages. A message whose
 * handler returns a promise is in flight until it settles: the front serves a bounded number at once
 * and reads no more from the client meanwhile.
 */
export interface FastSocketRoute {
  doc: RouteDoc;
  /** Largest message accepted (bigger: closed with 1009). */
  maxMessage: number;
  /** `envelope`: the agent's PeerEnvelope (as the app's peer routes get it), when it has one. */
  open(
    peer: FastSocketPeer,
    envelope: PeerEnvelope | undefined,
  ): (message: Uint8Array) => void | Promise<void>;
}

/**
 * A subsystem's routes with their access policy. `lib/http` mounts `table.app` and reads
 * `table.routes` to enforce and document the policy; routes are never added to `app` directly.
 */
export class RouteTable {
  readonly app = new Hono<ApiEnv>();
  readonly routes: RouteDoc[] = [];
  /** Declared routes that the TCP front may also answer itself (same access policy, lib/http/fast.ts). */
  readonly fastRoutes: FastRoute[] = [];
  /** Declared peer WebSocket routes that the TCP front may serve itself (lib/http/ws_front.ts). */
  readonly socketRoutes: FastSocketRoute[] = [];
  constructor(readonly owner: string) {}

  /** Sends a request straight to these routes (tests; no listener, no policy of lib/http). */
  request: Hono<ApiEnv>["request"] = (...args) => this.app.request(...args);

  /** Open to anyone who can reach the port. */
  read(method: Method, path: string, summary: string, handler: Handler<ApiEnv>): this {
    return this.#add({ method, path, access: "read", summary, owner: this.owner }, [handler]);
  }

  /** Unix socket or the bearer token (see module doc). */
  write(method: Method, path: string, summary: string, handler: Handler<ApiEnv>): this {
    return this.#add({ method, path, access: "write", summary, owner: this.owner }, [protect, handler]);
  }

  /** Another agent of the cluster; the handler reads the body with `readPeerBody`. */
  peer(method: Method, path: string, summary: string, handler: Handler<ApiEnv>): this {
    return this.#add({ method, path, access: "peer", summary, owner: this.owner }, [handler]);
  }

  /**
   * Gives the already declared read or write route `method path` a fast handler: the TCP front
   * answers the plain requests of it without Deno.serve and Hono, under the same access policy.
   */
  fast(method: Method, path: string, handle: FastHandler): this {
    const doc = this.routes.find((d) => d.method === method && d.path === path);
    if (!doc) throw new Error(`fast handler for ${method} ${path}: declare the route first`);
    if (doc.access === "peer") throw new Error(`fast handler for ${method} ${path}: not for peer routes`);
    const colon = path.indexOf(":");
    // the front matches by prefix: only a whole-rest parameter (`:key{.+}`) at the end, or none
    if (colon >= 0 && !/^:\w+\{\.\+\}$/.test(path.slice(colon))) {
      throw new Error(`fast handler for ${method} ${path}: only a final :name{.+} parameter is supported`);
    }
    this.fastRoutes.push({ doc, prefix: colon < 0 ? path : path.slice(0, colon), handle });
    return this;
  }

  /**
   * Gives the already declared peer route `method path` (no parameters) a fast handler: the TCP
   * front answers its plain requests without Deno.serve and Hono. The envelope is handled as
   * `readPeerBody` and `peerResponse` do: the body is opened (401 when refused: not authenticated,
   * outside the window, replayed), `handle` gets the plain bytes and its answer is sealed. A throw
   * is rendered as the app renders it (an HttpError keeps its status).
   */
  fastPeer(
    method: Method,
    path: string,
    handle: (plain: Uint8Array) => Uint8Array | Promise<Uint8Array>,
  ): this {
    const doc = this.routes.find((d) => d.method === method && d.path === path);
    if (!doc) throw new Error(`fast peer handler for ${method} ${path}: declare the route first`);
    if (doc.access !== "peer") {
      throw new Error(`fast peer handler for ${method} ${path}: only for peer routes`);
    }
    if (path.includes(":")) throw new Error(`fast peer handler for ${method} ${path}: no parameters`);
    const serve = async (req: FastRequest): Promise<FastAnswer> => {
      const env = req.peerEnvelope;
      let plain = req.body;
      if (env) {
        const r = await env.open(req.body);
        if (!r.ok) throw new HttpError(401, `peer message refused: ${r.reason}`);
        plain = r.plain;
      }
      const out = await handle(plain);
      const body = env ? await env.seal(out) : out;
      return { status: 200, headers: [["content-type", "application/octet-stream"]], body };
    };
    this.fastRoutes.push({ doc, prefix: path, handle: serve });
    return this;
  }

  /**
   * Lets the TCP front serve the WebSocket of the already declared peer route `GET path` itself
   * (no parameters): the upgrade request is answered by the front and every message handed to the
   * session `open` returns. The route's own handler still serves every other upgrade (unix socket,
   * unusual requests). The messages carry their own authentication (the PeerEnvelope).
   */
  socket(path: string, maxMessage: number, open: FastSocketRoute["open"]): this {
    const doc = this.routes.find((d) => d.method === "GET" && d.path === path);
    if (!doc) throw new Error(`socket handler for GET ${path}: declare the route first`);
    if (doc.access !== "peer") throw new Error(`socket handler for GET ${path}: only for peer routes`);
    if (path.includes(":")) throw new Error(`socket handler for GET ${path}: no parameters`);
    this.socketRoutes.push({ doc, maxMessage, open });
    return this;
  }

  #add(doc: RouteDoc, handlers: Array<Handler<ApiEnv> | MiddlewareHandler<ApiEnv>>): this {
    this.routes.push(doc);
    // deno-lint-ignore no-explicit-any
    (this.app.on as any)(doc.method, doc.path, ...handlers);
    return this;
  }
}

/** Per-request variables set by lib/http before routes run. */
export interface ApiEnv {
  /** Set by the listener that received the request (not forgeable by clients). */
  Bindings: { transport: "unix" | "tcp" };
  Variables: {
    /** unix socket, or TCP with the right bearer token. */
    trusted: boolean;
    transport: "unix" | "tcp";
    /** What a write route over TCP needs (absent when a table is used without lib/http). */
    writes?: WritePolicy;
    /** Largest body this request may send. */
    maxBody: number;
    /** Opens and seals peer-route bodies (keyring + replay window); absent in unit tests. */
    peerEnvelope?: PeerEnvelope;
  };
}

export type ApiContext = Context<ApiEnv>;

/** A router for a subsystem's routes; lib/http mounts it. */
export function newRouter(): Hono<ApiEnv> {
  return new Hono<ApiEnv>();
}

/** An error with its HTTP status; lib/http renders it as `{"error", "detail"}`. */
export class HttpError extends Error {
  constructor(
    readonly status: 400 | 401 | 403 | 404 | 405 | 409 | 413 | 415 | 422 | 429 | 500 | 502 | 503 | 504,
    message: string,
    readonly detail?: unknown,
  ) {
    super(message);
    this.name = "HttpError";
  }
}

/** A path parameter of the matched route (400 when the route has no such parameter). */
export function pathParam(c: ApiContext, name: string): string {
  const v = c.req.param(name) as string | undefined;
  if (v === undefined) throw new HttpError(400, `missing path parameter ${name}`);
  return v;
}

/** The message of a write route refused over TCP because no token is configured. */
export const WRITES_CLOSED_MESSAGE =
  "write routes over TCP need http.token: set http.token in the configuration and send " +
  "Authorization: Bearer <token>, or use the unix socket (http.open_writes: true reopens them to anyone)";

/**
 * Guards write routes: allowed over the unix socket, or over TCP with `Authorization: Bearer
 * <http.token>`; 403 naming `http.token` when no token is configured (unless `http.open_writes`),
 * 401 without credentials, 403 with wrong ones.
 */
export const protect: MiddlewareHandler<ApiEnv> = async (c, next) => {
  if (c.get("trusted")) return await next();
  const writes = c.get("writes");
  if (writes === "open") return await next();
  if (writes === "closed") throw new HttpError(403, WRITES_CLOSED_MESSAGE);
  if (!c.req.header("authorization")) {
    throw new HttpError(
      401,
      "this route needs the unix socket or an Authorization: Bearer <http.token> header",
    );
  }
  throw new HttpError(403, "invalid token for this route");
};

/** Largest body when lib/http did not say (unit tests of a table). */
const DEFAULT_MAX_BODY = 8 * 1024 * 1024;

/** Reads the body as bytes under the request's size limit (hono's bodyLimit; 413 above it). */
export async function readBody(c: ApiContext): Promise<Uint8Array> {
  const max = c.get("maxBody") ?? DEFAULT_MAX_BODY;
  let out = new Uint8Array();
  const limit = bodyLimit({
    maxSize: max,
    onError: () => {
      throw new HttpError(413, `request body is larger than ${max} bytes`);
    },
  });
  await limit(c, async () => {
    out = new Uint8Array(await c.req.arrayBuffer());
  });
  return out;
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * The query string of a request, without parsing its URL (a request with an odd Host header made
 * `new URL` throw: a 500).
 */
export function searchOf(c: ApiContext): URLSearchParams {
  const url = c.req.url, q = url.indexOf("?");
  return new URLSearchParams(q < 0 ? "" : url.slice(q + 1));
}

/**
 * Reads the body as text under the request's size limit (413 above it); 400 when it is not UTF-8
 * (a Latin-1 client's `é`: replaced by U+FFFD and stored changed, before).
 */
export async function readText(c: ApiContext): Promise<string> {
  const bytes = await readBody(c);
  try {
    return utf8.decode(bytes);
  } catch {
    throw new HttpError(400, "request body is not UTF-8 text (send it as UTF-8)");
  }
}

/** Reads and parses a JSON body; 400 naming the position when invalid. */
export async function readJson(c: ApiContext): Promise<unknown> {
  const text = await readText(c);
  if (!text.trim()) throw new HttpError(400, "request body is empty; expected JSON");
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new HttpError(400, `invalid JSON body: ${(err as Error).message}`);
  }
  const deep = tooDeep(value);
  if (deep !== null) {
    throw new HttpError(400, `JSON body nested deeper than ${MAX_JSON_DEPTH} levels at ${deep || "the top"}`);
  }
  return value;
}

/**
 * Reads a peer route's body and opens its envelope: 401 when it is not authenticated by the
 * keyring, is outside the clock window or was already seen (the drop is counted by the envelope).
 */
export async function readPeerBody(c: ApiContext): Promise<Uint8Array> {
  const wire = await readBody(c);
  const env = c.get("peerEnvelope");
  if (!env) return wire;
  const r = await env.open(wire);
  if (!r.ok) throw new HttpError(401, `peer message refused: ${r.reason}`);
  return r.plain;
}

/** Answers a peer route with `bytes` sealed in an envelope (plain without a key). */
export async function peerResponse(c: ApiContext, bytes: Uint8Array, status = 200): Promise<Response> {
  const env = c.get("peerEnvelope");
  const body = env ? await env.seal(bytes) : bytes;
  return c.body(body as Uint8Array<ArrayBuffer>, status as 200, {
    "content-type": "application/octet-stream",
  });
}
