/**
 * CORS for the API, applied to the answer a route gave instead of prepared before it runs.
 *
 * Hono's `cors` middleware sets its headers on `c.res` before the route runs, which makes Hono build
 * a placeholder Response; the route's own answer is then copied into a new Response (its body
 * turned into a stream) to carry them, and copied once more for `Vary` after the route: three
 * Responses and two streams for every request, ~30 µs of CPU a request where the whole pipeline
 * took ~10 (an answer read on the unix socket, every CLI command, the UI), and, in an agent's first
 * requests, code run for the first time in the middle of a join. Here the route's answer gets the
 * same headers in place. A preflight (`OPTIONS`) is answered as before, without running a route.
 *
 * ```ts
 * app.use("*", corsHeaders({ origin: (origin, c) => origin === ui ? origin : null, ... }));
 * ```
 */
import type { Context, MiddlewareHandler } from "hono";

/** Headers of the API's answers a browser page may read (the TCP front's fast path writes the same). */
export const EXPOSE_HEADERS = ["X-Kunai-Index", "X-Kunai-Kv-Isolated"];

export interface CorsOptions {
  /** The value of `Access-Control-Allow-Origin` for this request's `Origin` ("" when none), or null for none. */
  origin: (origin: string, c: Context) => string | null;
  allowMethods: string[];
  allowHeaders: string[];
  exposeHeaders: string[];
  /** `Access-Control-Max-Age` of a preflight, seconds. */
  maxAge: number;
}

export function corsHeaders(opts: CorsOptions): MiddlewareHandler {
  const methods = opts.allowMethods.join(",");
  const allowHeaders = opts.allowHeaders.join(",");
  const expose = opts.exposeHeaders.join(",");
  const maxAge = String(opts.maxAge);
  return async function cors(c, next) {
    const allow = opts.origin(c.req.header("origin") ?? "", c);
    if (c.req.method === "OPTIONS") {
      const headers = new Headers();
      if (allow) headers.set("Access-Control-Allow-Origin", allow);
      if (expose) headers.set("Access-Control-Expose-Headers", expose);
      headers.append("Vary", "Origin");
      headers.set("Access-Control-Max-Age", maxAge);
      headers.set("Access-Control-Allow-Methods", methods);
      if (allowHeaders) {
        headers.set("Access-Control-Allow-Headers", allowHeaders);
        headers.append("Vary", "Access-Control-Request-Headers");
      }
      return new Response(null, { status: 204, statusText: "No Content", headers });
    }
    await next();
    const res = c.res;
    // a websocket upgrade is no CORS matter (browsers do not apply it) and must stay as it is
    if (res.status === 101) return;
    try {
      addCors(res.headers, allow, expose);
    } catch {
      // an answer with immutable headers (a fetch() Response passed on): copied once
      const copy = new Response(res.body, res);
      addCors(copy.headers, allow, expose);
      c.res = copy;
    }
  };
}

function addCors(h: Headers, allow: string | null, expose: string): void {
  if (allow) h.set("Access-Control-Allow-Origin", allow);
  if (expose) h.set("Access-Control-Expose-Headers", expose);
  h.append("Vary", "Origin");
}
