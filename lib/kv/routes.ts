/**
 * HTTP routes of the KV store (thin: parse, call KvApi, shape).
 *
 * `GET /kv/KEY`, `GET /kv/` (keys; `?prefix=`, `?recurse` with values) and blocking reads
 * (`?index=N&wait=30s`) are `read` routes; `PUT|DELETE /kv/KEY` are `write` routes (unix socket or
 * the bearer token). `X-Kunai-Index` on every answer. Agent-to-agent routes: internal_routes.ts.
 */
import { parseDuration } from "../clock/mod.ts";
import {
  type ApiContext,
  type FastAnswer,
  type FastRequest,
  HttpError,
  readBody,
  type RouteTable,
} from "../routing/mod.ts";
import { KvError } from "./keys.ts";
import { Slots } from "../slots.ts";
import type { KvApi, ReadOptions } from "./kv.ts";
import { bytesToBase64, type KvRecord, seenIndex } from "./record.ts";

export const INDEX_HEADER = "X-Kunai-Index";

/** The JSON shape of an entry (`?meta`, `?recurse`). */
export function entryJson(r: KvRecord, withValue = true): Record<string, unknown> {
  const out: Record<string, unknown> = { key: r.key };
  if (withValue) out.value = r.deleted ? null : bytesToBase64(r.value);
  out.modify_index = seenIndex(r);
  // API timestamps are integer Unix seconds, as everywhere in the reference (stored in ms)
  out.modify_time = Math.floor(r.modify_time / 1000);
  out.flags = r.flags;
  if (r.expires) out.expires = Math.floor(r.expires / 1000);
  if (r.deleted) out.deleted = true;
  return out;
}

function has(c: ApiContext, name: string): boolean {
  const v = c.req.query(name);
  return v !== undefined && v !== "false" && v !== "0";
}

function intParam(c: ApiContext, name: string): number | undefined {
  const v = c.req.query(name);
  if (v === undefined) return undefined;
  if (!/^\d{1,16}$/.test(v) || !Number.isSafeInteger(Number(v))) {
    throw new HttpError(
      400,
      `query parameter ${name} must be a non-negative integer, got ${JSON.stringify(v)}`,
    );
  }
  return Number(v);
}

function durationParam(c: ApiContext, name: string): number | undefined {
  const v = c.req.query(name);
  if (v === undefined || v === "") return undefined;
  const ms = parseDuration(v);
  if (ms === null) {
    throw new HttpError(
      400,
      `query parameter ${name} must be a duration like 30s or 500ms, got ${JSON.stringify(v)}`,
    );
  }
  return ms;
}

function readOpts(c: ApiContext): ReadOptions {
  return { index: intParam(c, "index"), waitMs: durationParam(c, "wait"), signal: c.req.raw.signal };
}

async function guard<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof KvError) throw new HttpError(err.status, err.message, err.detail);
    throw err;
  }
}

/** Path and query of a request URL as sent (no URL parsing: it costs µs on every request). */
function rawTarget(url: string): string {
  const start = url.indexOf("/", url.indexOf("://") + 3);
  return start < 0 ? "/" : url.slice(start);
}

/**
 * The body as bytes: in one piece when the length is announced and within the request's limit
 * (the common case), else through readBody's streaming size check.
 */
export async function readBodyFast(c: ApiContext): Promise<Uint8Array> {
  const len = c.req.header("content-length");
  const max = c.get("maxBody") ?? 8 * 1024 * 1024;
  if (len !== undefined && /^\d{1,12}$/.test(len) && Number(len) <= max) {
    return new Uint8Array(await c.req.raw.arrayBuffer());
  }
  return await readBody(c);
}

/** The key from the raw URL path, percent-decoded once. */
function keyOf(c: ApiContext): string {
  const target = rawTarget(c.req.url);
  const q = target.indexOf("?");
  const path = q < 0 ? target : target.slice(0, q);
  const raw = path.slice(path.indexOf("/kv/") + 4);
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new HttpError(400, "invalid key: bad percent-encoding");
  }
}

/**
 * Keys read only by callers that may write (socket or token), with what they hold: `__exec/<cid>/<uuid>`
 * remote commands' outputs, which may be secrets (`GET /exec-get/:cid` is a write route);
 * `__configuration/`, `__libexec/` and their manifests `__propagate/`, what `kunai propagate` stored
 * for the other nodes (they read KV as peers, not through these routes): a cluster's configuration
 * and plugins are not for anyone who reaches the TCP port.
 */
const PRIVATE_PREFIXES: ReadonlyArray<readonly [string, string]> = [
  ["__exec/", "remote command outputs (kunai exec, GET /exec-get/:cid)"],
  ["__configuration/", "propagated configuration files"],
  ["__libexec/", "propagated plugins"],
  ["__propagate/", "propagation manifests"],
];
/** The private prefix of `key` with what it holds, or undefined (one startsWith for most keys). */
function privatePrefix(key: string): readonly [string, string] | undefined {
  return key.startsWith("__") ? PRIVATE_PREFIXES.find(([p]) => key.startsWith(p)) : undefined;
}
const mayWrite = (c: ApiContext) => c.get("trusted") === true || c.get("writes") === "open";

/** Listings at once (each asks every KV node for all it holds under the prefix); more wait, then 503. */
export const LISTINGS_AT_ONCE = 4;
export const LISTINGS_WAITING = 32;

async function listing(c: ApiContext, api: KvApi, prefix: string, slots: Slots): Promise<Response> {
  const opts = { ...readOpts(c), keysOnly: !has(c, "recurse") };
  // a blocking listing waits without work (bounded by the node's blocking reads); the others take a slot
  const slot = opts.index === undefined ? slots.acquire() : Promise.resolve(() => {});
  if (!slot) {
    throw new HttpError(
      503,
      `too many key listings at once (${slots.busy} running, ${slots.waiting} waiting): retry later`,
    );
  }
  const release = await slot;
  let r: Awaited<ReturnType<KvApi["list"]>>;
  try {
    r = await guard(() => api.list(prefix, opts));
  } finally {
    release();
  }
  c.header(INDEX_HEADER, String(r.index));
  const entries = mayWrite(c) ? r.entries : r.entries.filter((e) => !privatePrefix(e.key));
  if (has(c, "recurse")) return c.json(entries.map((e) => entryJson(e)));
  return c.json(entries.map((e) => e.key));
}

/**
 * Set on the answers of writes, listings and a read that found nothing while no member of the
 * cluster is tagged `kv` and others are alive: the number of those others, who do not see these
 * keys (the CLI says so). The TCP front's fast answers carry it too.
 */
export const ISOLATED_HEADER = "X-Kunai-Kv-Isolated";

/** Adds the public routes over a KvApi to `r`. */
export function kvRoutes(
  r: RouteTable,
  api: KvApi,
  limits: { maxValueBytes: number; isolatedFrom?: () => number },
): RouteTable {
  const sayIsolated = (c: ApiContext) => {
    const n = limits.isolatedFrom?.() ?? 0;
    if (n > 0) c.header(ISOLATED_HEADER, String(n));
  };
  const slots = new Slots(LISTINGS_AT_ONCE, LISTINGS_WAITING);
  const list = (c: ApiContext) => {
    sayIsolated(c);
    return listing(c, api, c.req.query("prefix") ?? "", slots);
  };
  r.read("GET", "/kv", "list keys (?prefix=, ?recurse with values, ?index= to block)", list);
  r.read("GET", "/kv/", "list keys (?prefix=, ?recurse with values, ?index= to block)", list);

  r.read("GET", "/kv/:key{.+}", "read a key (?raw, ?meta, ?index=&wait= to block)", async (c) => {
    const key = keyOf(c);
    if (has(c, "recurse") || has(c, "keys")) return await listing(c, api, key, slots);
    const priv = privatePrefix(key);
    if (priv && !mayWrite(c)) {
      // the statuses of a write route (401 without credentials, 403 otherwise), said for this key
      const status = c.get("writes") === "token" && !c.req.header("authorization") ? 401 : 403;
      throw new HttpError(
        status,
        `${priv[0]} keys hold ${priv[1]}, read like a write route: over the unix ` +
          "socket or with Authorization: Bearer <http.token>",
      );
    }
    const opts = readOpts(c);
    const { entry, index } = await guard(() => api.get(key, opts));
    c.header(INDEX_HEADER, String(index));
    // answered here, not thrown: the index header must survive (block on the key's creation)
    if (!entry) {
      sayIsolated(c);
      return c.json({ error: `key ${JSON.stringify(key)} not found` }, 404);
    }
    if (has(c, "meta")) return c.json(entryJson(entry));
    if (has(c, "raw")) {
      return c.body(entry.value as Uint8Array<ArrayBuffer>, 200, {
        "content-type": "application/octet-stream",
      });
    }
    return c.text(bytesToBase64(entry.value));
  });

  const emptyKey = () => {
    throw new HttpError(400, "invalid key: the key is empty (use /kv/KEY)");
  };
  r.write("PUT", "/kv/", "refused: the key is empty", emptyKey);
  r.write("DELETE", "/kv/", "refused: the key is empty", emptyKey);

  r.write("PUT", "/kv/:key{.+}", "write a key (?ttl=, ?flags=, ?cas=)", async (c) => {
    const key = keyOf(c);
    const len = Number(c.req.header("content-length") ?? "NaN");
    if (Number.isFinite(len) && len > limits.maxValueBytes) {
      throw new HttpError(
        413,
        `value is ${len} bytes, larger than kv.max_value_bytes (${limits.maxValueBytes})`,
      );
    }
    const ttl = durationParam(c, "ttl");
    const flags = intParam(c, "flags");
    const cas = intParam(c, "cas");
    const body = await readBodyFast(c);
    const res = await guard(() => api.put(key, body, { ttlMs: ttl, flags, cas }));
    c.header(INDEX_HEADER, String(res.index));
    sayIsolated(c);
    return c.json(res.ok);
  });

  r.write("DELETE", "/kv/:key{.+}", "delete a key (?cas=)", async (c) => {
    const key = keyOf(c);
    if (has(c, "recurse")) {
      throw new HttpError(400, "recursive delete is not supported; delete keys one by one");
    }
    const cas = intParam(c, "cas");
    const res = await guard(() => api.delete(key, { cas }));
    c.header(INDEX_HEADER, String(res.index));
    sayIsolated(c);
    return c.json(res.ok);
  });

  fastRoutes(r, api, limits);
  return r;
}

/** The key of a fast request's path (`/kv/KEY`), or null when its percent-encoding is bad (the app says 400). */
function fastKey(req: FastRequest): string | null {
  try {
    return decodeURIComponent(req.path.slice(req.path.indexOf("/kv/") + 4));
  } catch {
    return null;
  }
}

/**
 * The same reads and writes answered by the TCP front itself (lib/http/fast.ts) when they are plain:
 * `GET /kv/KEY` with no query or `?raw`, `PUT /kv/KEY` with no query. Anything else goes to the
 * routes above; the answers are the same bytes.
 */
function fastRoutes(
  r: RouteTable,
  api: KvApi,
  limits: { maxValueBytes: number; isolatedFrom?: () => number },
): void {
  /** The isolation header after the route's own, as the app adds it. */
  const withIsolation = (headers: [string, string][]): [string, string][] => {
    const n = limits.isolatedFrom?.() ?? 0;
    if (n > 0) headers.push([ISOLATED_HEADER.toLowerCase(), String(n)]);
    return headers;
  };
  r.fast("GET", "/kv/:key{.+}", (req) => {
    const raw = req.query === "raw";
    const key = raw || req.query === "" ? fastKey(req) : null;
    if (key === null || privatePrefix(key)) return null; // the app checks who asks
    return guard(() => api.get(key)).then(({ entry, index }): FastAnswer => {
      const idx: [string, string] = ["x-kunai-index", String(index)];
      if (!entry) {
        const body = JSON.stringify({ error: `key ${JSON.stringify(key)} not found` });
        return { status: 404, headers: withIsolation([["content-type", "application/json"], idx]), body };
      }
      if (raw) {
        return {
          status: 200,
          headers: [["content-type", "application/octet-stream"], idx],
          body: entry.value,
        };
      }
      return {
        status: 200,
        headers: [["content-type", "text/plain; charset=UTF-8"], idx],
        body: bytesToBase64(entry.value),
      };
    });
  });
  r.fast("PUT", "/kv/:key{.+}", (req) => {
    const key = req.query === "" && req.body.length <= limits.maxValueBytes ? fastKey(req) : null;
    if (key === null) return null;
    return guard(() => api.put(key, req.body, {})).then((res): FastAnswer => ({
      status: 200,
      headers: withIsolation([["content-type", "application/json"], ["x-kunai-index", String(res.index)]]),
      body: JSON.stringify(res.ok),
    }));
  });
}
