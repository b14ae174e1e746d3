/**
 * What a subsystem's routes need from the HTTP layer, without importing the server (floor 1):
 * the Hono env type, HttpError, the `protect` middleware and body parsing with limits.
 *
 * ```ts
 * export function routes(api: KvApi) {
 *   const r = newRouter();
 *   r.get("/kv/:key{.+}", (c) => c.json(api.get(c.req.param("key"))));
 *   r.delete("/agent/checks/:name{.+}", protect, (c) => ...);
 *   return r;
 * }
 * ```
 */
import { Hono } from "hono";
import type { Context, MiddlewareHandler } from "hono";

/** Per-request variables set by lib/http before routes run. */
export interface ApiEnv {
  /** Set by the listener that received the request (not forgeable by clients). */
  Bindings: { transport: "unix" | "tcp" };
  Variables: {
    /** unix socket, or TCP with the right bearer token. */
    trusted: boolean;
    transport: "unix" | "tcp";
    /** Largest body this request may send. */
    maxBody: number;
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

/**
 * Guards destructive routes: allowed over the unix socket, or over TCP with `Authorization:
 * Bearer <http.token>`; 401 without credentials, 403 with wrong ones.
 */
export const protect: MiddlewareHandler<ApiEnv> = async (c, next) => {
  if (c.get("trusted")) return await next();
  const auth = c.req.header("authorization");
  if (!auth) {
    throw new HttpError(
      401,
      "this route needs the unix socket or an Authorization: Bearer <http.token> header",
    );
  }
  throw new HttpError(403, "invalid token for this route");
};

/** Reads the body as bytes, enforcing the size limit (413). */
export async function readBody(c: ApiContext): Promise<Uint8Array> {
  const max = c.get("maxBody") ?? 8 * 1024 * 1024;
  const len = Number(c.req.header("content-length") ?? "NaN");
  if (Number.isFinite(len) && len > max) throw new HttpError(413, `request body is larger than ${max} bytes`);
  const body = c.req.raw.body;
  if (!body) return new Uint8Array();
  const chunks: Uint8Array[] = [];
  let total = 0;
  const reader = body.getReader();
  while (true) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.length;
    if (total > max) {
      await reader.cancel();
      throw new HttpError(413, `request body is larger than ${max} bytes`);
    }
    chunks.push(value);
  }
  const out = new Uint8Array(total);
  let off = 0;
  for (const ch of chunks) {
    out.set(ch, off);
    off += ch.length;
  }
  return out;
}

/** Reads and parses a JSON body; 400 naming the position when invalid. */
export async function readJson(c: ApiContext): Promise<unknown> {
  const bytes = await readBody(c);
  const text = new TextDecoder().decode(bytes);
  if (!text.trim()) throw new HttpError(400, "request body is empty; expected JSON");
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new HttpError(400, `invalid JSON body: ${(err as Error).message}`);
  }
}
