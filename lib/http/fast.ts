/**
 * The fast path of the TCP front: plain requests of routes that declared a fast handler
 * (`RouteTable.fast`, e.g. `GET /kv/KEY`, `PUT /kv/KEY`) are parsed and answered by the front itself,
 * without the unix-socket hop, Deno.serve and Hono (together ~0.1 ms of CPU per request, most of a
 * KV read's cost). The policy is the app's, applied here: a write route needs the bearer token (or
 * `http.open_writes`), a peer route (`RouteTable.fastPeer`, e.g. `POST /gossip/push-pull`) gets the
 * agent's PeerEnvelope and opens and seals its bodies as the app's peer routes do, the answer carries
 * the headers the app adds to a request without `Origin` (CORS), and the request counters are the same.
 *
 * Anything unusual goes to the app unchanged (`fastDispatcher` returns null): a request not
 * complete in one read or followed by more bytes, any `Origin`, `Transfer-Encoding`, `Expect` or
 * `Upgrade` header, `Connection` other than keep-alive, a repeated header, no token where a write needs one (the app
 * answers 401/403), or a request the route's handler declines (e.g. a query it does not handle).
 */
import type { Access, FastAnswer, FastRoute, FastSocketRoute, RouteTable } from "../routing/mod.ts";
import type { PeerEnvelope } from "../transport/mod.ts";
import { errorAnswer, type PolicyOptions, tokenMatcher, writePolicy } from "./mod.ts";
import { EXPOSE_HEADERS } from "./cors.ts";
import { acceptKey } from "./ws_front.ts";

/** A WebSocket upgrade of a socket route, accepted: the front writes `answer`, then speaks `route`. */
export interface FastUpgrade {
  answer: Promise<Uint8Array>;
  route: FastSocketRoute;
  envelope: PeerEnvelope | undefined;
}

/**
 * Answers one complete request (its bytes), accepts the upgrade of a socket route, or returns null:
 * the front then forwards it to the app.
 */
export type FastDispatch = (request: Uint8Array) => Promise<Uint8Array> | FastUpgrade | null;

/** True when a dispatch result is an accepted upgrade. */
export function isUpgrade(r: Promise<Uint8Array> | FastUpgrade): r is FastUpgrade {
  return "route" in r;
}

const LATIN1 = new TextDecoder("latin1");
const EXPOSE_LINE = `access-control-expose-headers: ${EXPOSE_HEADERS.join(",")}\r\n`;
const encoder = new TextEncoder();
const REASONS: Record<number, string> = {
  200: "OK",
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  409: "Conflict",
  413: "Payload Too Large",
  500: "Internal Server Error",
  502: "Bad Gateway",
  503: "Service Unavailable",
  504: "Gateway Timeout",
};
/** Headers that send a request to the app (framing, CORS, protocol changes); `Connection` may say keep-alive. */
const NOT_FAST = new Set(["origin", "transfer-encoding", "expect", "upgrade"]);
/** An HTTP token (method, header name): anything else is for the app's parser to refuse. */
const TOKEN_RE = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

interface Entry {
  route: FastRoute;
  exact: boolean;
  /** The route's request counter per status, and its latency histogram (made on first use). */
  byStatus: Map<number, (n?: number) => void>;
  duration: ((seconds: number) => void) | null;
}

/** The fast routes of these tables, checked against every declared route, with the app's policy. */
export function fastDispatcher(
  routers: RouteTable[],
  opts: Pick<PolicyOptions, "token" | "openWrites" | "maxBody" | "log" | "counters" | "peerEnvelope">,
): FastDispatch | null {
  const byMethod = new Map<string, Entry[]>();
  const docs = routers.flatMap((r) => r.routes);
  for (const route of routers.flatMap((r) => r.fastRoutes)) {
    const { doc, prefix } = route;
    const exact = !doc.path.includes(":");
    // another route under the prefix would be shadowed by a prefix match: refuse to build
    const other = docs.find((d) =>
      d !== doc && d.method === doc.method && d.path.startsWith(prefix) && d.path.length > prefix.length
    );
    if (!exact && other) {
      throw new Error(`fast route ${doc.method} ${doc.path} would shadow ${other.method} ${other.path}`);
    }
    const list = byMethod.get(doc.method) ?? [];
    list.push({ route, exact, byStatus: new Map(), duration: null });
    byMethod.set(doc.method, list);
  }
  const sockets = new Map(routers.flatMap((r) => r.socketRoutes).map((s) => [s.doc.path, s]));
  if (!byMethod.size && !sockets.size) return null;
  const writes = writePolicy(opts.token, opts.openWrites);
  // the same series the app counts, resolved once (on first use): these run on every request
  let requestsTcp: ((n?: number) => void) | null = null;
  const isToken = tokenMatcher(opts.token);
  let date = "", dateAt = 0;
  const httpDate = () => {
    const now = Date.now();
    if (now - dateAt >= 1000 || now < dateAt) { // (or the clock stepped back)
      dateAt = now - (now % 1000);
      date = new Date(now).toUTCString();
    }
    return date;
  };

  const answer = (access: Access, a: FastAnswer): Uint8Array => {
    const body = typeof a.body === "string" ? encoder.encode(a.body) : a.body;
    let head = `HTTP/1.1 ${a.status} ${REASONS[a.status] ?? "Unknown"}\r\n`;
    for (const [k, v] of a.headers) head += `${k}: ${v}\r\n`;
    // what the app's CORS middleware (cors.ts) adds, after the route's own, to a request without Origin
    if (access === "read") head += "access-control-allow-origin: *\r\n";
    head += EXPOSE_LINE;
    head += `Vary: Origin\r\ncontent-length: ${body.length}\r\ndate: ${httpDate()}\r\n\r\n`;
    const out = new Uint8Array(head.length + body.length);
    encoder.encodeInto(head, out);
    out.set(body, head.length);
    return out;
  };

  /** A plain WebSocket upgrade of a socket route (anything unusual: null, the app serves it). */
  const upgrade = (route: FastSocketRoute, lines: string[], whole: boolean): FastUpgrade | null => {
    if (!whole) return null; // bytes after the head: for the app
    const headers: Record<string, string> = {};
    for (let i = 1; i < lines.length; i++) {
      const colon = lines[i].indexOf(":");
      if (colon <= 0) return null;
      const name = lines[i].slice(0, colon).toLowerCase();
      if (!TOKEN_RE.test(name) || name in headers) return null;
      headers[name] = lines[i].slice(colon + 1).trim();
    }
    const key = headers["sec-websocket-key"];
    const len = headers["content-length"];
    if (
      headers["upgrade"]?.toLowerCase() !== "websocket" ||
      !/(^|,)\s*upgrade\s*(,|$)/i.test(headers["connection"] ?? "") ||
      headers["sec-websocket-version"] !== "13" || !key || !/^[A-Za-z0-9+/]{22}==$/.test(key) ||
      "origin" in headers || "transfer-encoding" in headers || (len !== undefined && len !== "0")
    ) {
      return null;
    }
    const t0 = performance.now();
    const path = route.doc.path;
    opts.counters.inc("http_requests_total", { transport: "tcp" });
    opts.counters.inc("http_route_requests_total", { method: "GET", route: path, code: "101" });
    const answer = acceptKey(key).then((accept) => {
      opts.counters.observe("http_request_duration_seconds", (performance.now() - t0) / 1000, {
        route: path,
      });
      return encoder.encode(
        `HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\n` +
          `sec-websocket-accept: ${accept}\r\ndate: ${httpDate()}\r\n\r\n`,
      );
    });
    return { answer, route, envelope: opts.peerEnvelope };
  };

  return (bytes) => {
    const end = indexOfHeadEnd(bytes);
    if (end < 0) return null;
    const head = LATIN1.decode(bytes.subarray(0, end));
    const lines = head.split("\r\n");
    const [method, target, version, extra] = lines[0].split(" ");
    if (version !== "HTTP/1.1" || extra !== undefined || !target?.startsWith("/") || !TOKEN_RE.test(method)) {
      return null;
    }
    const socket = method === "GET" ? sockets.get(target) : undefined;
    if (socket) return upgrade(socket, lines, end + 4 === bytes.length);
    const entries = byMethod.get(method);
    if (!entries) return null;
    const headers: Record<string, string> = {};
    for (let i = 1; i < lines.length; i++) {
      const line = lines[i];
      const colon = line.indexOf(":");
      if (colon <= 0) return null;
      const name = line.slice(0, colon).toLowerCase();
      if (!TOKEN_RE.test(name) || NOT_FAST.has(name) || name in headers) return null;
      headers[name] = line.slice(colon + 1).trim();
    }
    const connection = headers["connection"];
    if (connection !== undefined && connection.toLowerCase() !== "keep-alive") return null;
    const len = headers["content-length"];
    const bodyLen = len === undefined ? 0 : /^\d{1,9}$/.test(len) ? Number(len) : -1;
    // exactly one request in these bytes, within the body limit
    if (bodyLen < 0 || bodyLen > opts.maxBody || end + 4 + bodyLen !== bytes.length) return null;
    const q = target.indexOf("?");
    const path = q < 0 ? target : target.slice(0, q);
    const entry = entries.find((e) =>
      e.exact
        ? path === e.route.prefix
        : path.length > e.route.prefix.length && path.startsWith(e.route.prefix)
    );
    if (!entry) return null;
    const access = entry.route.doc.access;
    if (access === "write" && writes !== "open") {
      const auth = headers["authorization"];
      if (
        writes !== "token" || !auth?.startsWith("Bearer ") || !isToken(auth.slice(7).trim())
      ) {
        return null; // the app answers 401 or 403
      }
    }
    const t0 = performance.now();
    const pending = entry.route.handle({
      method,
      path,
      query: q < 0 ? "" : target.slice(q + 1),
      headers,
      body: bytes.slice(end + 4),
      ...(access === "peer" && opts.peerEnvelope ? { peerEnvelope: opts.peerEnvelope } : {}),
    });
    if (!pending) return null;
    const route = entry.route.doc.path;
    (requestsTcp ??= opts.counters.counter("http_requests_total", { transport: "tcp" }))();
    const done = (a: FastAnswer) => {
      let count = entry.byStatus.get(a.status);
      if (!count) {
        count = opts.counters.counter("http_route_requests_total", { method, route, code: String(a.status) });
        entry.byStatus.set(a.status, count);
      }
      count();
      entry.duration ??= opts.counters.histogram("http_request_duration_seconds", { route });
      entry.duration((performance.now() - t0) / 1000);
      return answer(access, a);
    };
    return pending.then(done, (err: Error) => {
      const { status, body } = errorAnswer(err, opts, `${method} ${path}`);
      return done({ status, headers: [["content-type", "application/json"]], body: JSON.stringify(body) });
    });
  };
}

/** Offset of the `\r\n\r\n` that ends the head, or -1. */
function indexOfHeadEnd(b: Uint8Array): number {
  for (let i = 0; i + 3 < b.length; i++) {
    if (b[i] === 13 && b[i + 1] === 10 && b[i + 2] === 13 && b[i + 3] === 10) return i;
  }
  return -1;
}
