/**
 * Agent-to-agent routes (`/kv-internal/...`): forwarded writes, replication batches, owner reads,
 * listings and anti-entropy pulls. Every request is checked by PeerAuth (HMAC) when the cluster
 * has an encryption key; refused requests get 401 and are counted.
 */
import type { Hono } from "hono";
import { type ApiContext, type ApiEnv, HttpError, newRouter } from "../routing/mod.ts";
import { KvError } from "./keys.ts";
import { asKvError, type KvNode, MAX_WAIT_MS, type WriteRequest } from "./kv.ts";
import { PEER_AUTH_HEADER, type PeerAuth } from "./peer_auth.ts";
import type { ApplyItem } from "./peers.ts";
import { applyItems, changedFor } from "./replica.ts";
import { base64ToBytes, fromWire, toWire, type Version } from "./record.ts";
import { readBodyFast } from "./routes.ts";

const decoder = new TextDecoder();

/** The path and query the sender signed (as the URL parser normalises them). */
function signedPath(url: string): string {
  const u = new URL(url);
  return u.pathname + u.search;
}

async function signedJson(
  c: ApiContext,
  auth: () => PeerAuth | null,
  onRefused: () => void,
): Promise<unknown> {
  const a = auth();
  if (!a) throw new HttpError(503, "kv is not started");
  const body = await readBodyFast(c);
  const why = a.enabled
    ? await a.verify(c.req.method, signedPath(c.req.url), body, c.req.header(PEER_AUTH_HEADER), Date.now())
    : null;
  if (why) {
    onRefused();
    throw new HttpError(401, `kv peer authentication failed: ${why}`);
  }
  if (!body.length) return null;
  try {
    return JSON.parse(decoder.decode(body));
  } catch (err) {
    throw new HttpError(400, `invalid JSON body: ${(err as Error).message}`);
  }
}

/** A forwarded write from its wire form; KvError 400 when malformed. */
function parseWrite(raw: unknown): { w: WriteRequest; deadline?: number } {
  const b = raw as Record<string, unknown> | null;
  if (!b || (b.op !== "put" && b.op !== "delete") || typeof b.key !== "string") {
    throw new KvError(400, "write: expected {op: put|delete, key, ...}");
  }
  let value: Uint8Array | undefined;
  if (typeof b.value === "string") {
    try {
      value = base64ToBytes(b.value);
    } catch {
      throw new KvError(400, "write: value is not base64");
    }
  }
  return {
    w: {
      op: b.op,
      key: b.key,
      value,
      flags: typeof b.flags === "number" ? b.flags : 0,
      ttlMs: typeof b.ttl_ms === "number" ? b.ttl_ms : 0,
      cas: typeof b.cas === "number" ? b.cas : undefined,
    },
    deadline: typeof b.deadline === "number" ? b.deadline : undefined,
  };
}

function num(v: string | undefined, name: string, dflt?: number): number {
  if (v === undefined || v === "") {
    if (dflt !== undefined) return dflt;
    throw new HttpError(400, `missing query parameter ${name}`);
  }
  if (!/^\d{1,16}$/.test(v)) {
    throw new HttpError(400, `query parameter ${name} must be a non-negative integer`);
  }
  return Number(v);
}

function version(v: unknown, field: string): Version | null | undefined {
  if (v === undefined) return undefined;
  if (v === null) return null;
  const o = v as Record<string, unknown>;
  if (typeof o?.modify_index !== "number" || typeof o?.origin !== "string") {
    throw new HttpError(400, `${field}: expected {modify_index, origin}`);
  }
  return { modify_index: o.modify_index, origin: o.origin };
}

async function guard<T>(fn: () => Promise<T> | T): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    const e = asKvError(err);
    if (e instanceof KvError) throw new HttpError(e.status, e.message, e.detail);
    if (e instanceof HttpError) throw e;
    throw new HttpError(400, (e as Error).message);
  }
}

/** Internal routes served by `node`; `auth()` returns null until the subsystem started. */
export function internalRoutes(
  node: KvNode,
  auth: () => PeerAuth | null,
  onRefused: () => void,
): Hono<ApiEnv> {
  const r = newRouter();
  // replication batches carry up to 4 MiB of values (more for one big value), base64-encoded in JSON:
  // allow that whatever http.max_body says for client requests
  const internalMax = Math.ceil((4 * 1024 * 1024 + 2 * node.cfg.max_value_bytes) * 1.4) + 65536;
  r.use("/kv-internal/*", async (c, next) => {
    c.set("maxBody", Math.max(c.get("maxBody") ?? 0, internalMax));
    await next();
  });

  // forwarded writes, batched: each is coordinated here (one hop: never forwarded again)
  r.post("/kv-internal/writes", async (c) => {
    const b = await signedJson(c, auth, onRefused) as { writes?: unknown[] } | null;
    if (!b || !Array.isArray(b.writes)) throw new HttpError(400, "writes: expected {writes: [...]}");
    const results = await Promise.all(b.writes.map(async (raw) => {
      try {
        const { w, deadline } = parseWrite(raw);
        const until = Math.min(
          deadline ?? node.clock.now() + node.cfg.request_timeout,
          node.clock.now() + MAX_WAIT_MS,
        );
        return await node.coordinate(w, until);
      } catch (err) {
        const e = asKvError(err);
        return { error: e.message, status: e instanceof KvError ? e.status : 500 };
      }
    }));
    return c.json({ results });
  });

  r.post("/kv-internal/apply", async (c) => {
    const b = await signedJson(c, auth, onRefused) as { items?: unknown[] } | null;
    if (!b || !Array.isArray(b.items)) throw new HttpError(400, "apply: expected {items: [...]}");
    const items: ApplyItem[] = await guard(() =>
      b.items!.map((raw, i) => {
        const o = raw as Record<string, unknown>;
        return {
          record: fromWire(o?.record),
          prev: version(o?.prev, `items[${i}].prev`),
          replaceIf: version(o?.replace_if, `items[${i}].replace_if`) ?? undefined,
          drop: o?.drop === true,
        };
      })
    );
    const results = await applyItems(node, items);
    return c.json({
      results: results.map((x) => x.ok ? { ok: true } : { ok: false, current: toWire(x.current) }),
    });
  });

  // non-blocking owner reads, batched
  r.post("/kv-internal/reads", async (c) => {
    const b = await signedJson(c, auth, onRefused) as { keys?: unknown[] } | null;
    if (!b || !Array.isArray(b.keys) || !b.keys.every((k) => typeof k === "string")) {
      throw new HttpError(400, "reads: expected {keys: [string...]}");
    }
    const results = (b.keys as string[]).map((k) => {
      const rec = node.localRecord(k);
      return { record: rec ? toWire(rec) : null, index: rec ? rec.modify_index : node.currentIndex() };
    });
    return c.json({ results });
  });

  r.get("/kv-internal/get", async (c) => {
    await signedJson(c, auth, onRefused);
    const key = c.req.query("key");
    if (!key) throw new HttpError(400, "missing query parameter key");
    const index = c.req.query("index") === undefined ? undefined : num(c.req.query("index"), "index");
    const wait = Math.min(num(c.req.query("wait_ms"), "wait_ms", 0), MAX_WAIT_MS);
    const ans = await node.localGet(key, index, wait, c.req.raw.signal);
    return c.json({ record: ans.record ? toWire(ans.record) : null, index: ans.index });
  });

  r.get("/kv-internal/list", async (c) => {
    await signedJson(c, auth, onRefused);
    const prefix = c.req.query("prefix") ?? "";
    const index = c.req.query("index") === undefined ? undefined : num(c.req.query("index"), "index");
    const wait = Math.min(num(c.req.query("wait_ms"), "wait_ms", 0), MAX_WAIT_MS);
    const ans = await node.localList(prefix, index, wait, c.req.raw.signal);
    const empty = new Uint8Array();
    const records = c.req.query("values") === "0"
      ? ans.records.map((r) => ({ ...r, value: empty }))
      : ans.records;
    return c.json({ records: records.map(toWire), index: ans.index });
  });

  r.get("/kv-internal/changed", async (c) => {
    await signedJson(c, auth, onRefused);
    const forUuid = c.req.query("for");
    if (!forUuid) throw new HttpError(400, "missing query parameter for");
    const ans = changedFor(
      node,
      num(c.req.query("since"), "since", 0),
      c.req.query("epoch") ?? "",
      forUuid,
      Math.min(num(c.req.query("limit"), "limit", 500), 5000),
    );
    if (!ans) throw new HttpError(503, `node ${forUuid} is not on this node's kv ring yet`);
    return c.json(ans);
  });

  return r;
}
