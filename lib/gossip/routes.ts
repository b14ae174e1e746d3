/**
 * HTTP routes of gossip: members, join, leave, keyring, and the push-pull stream endpoint.
 * Thin: parse, call the API, shape the answer.
 */
import type { Hono } from "hono";
import { type ApiEnv, HttpError, newRouter, protect, readBody, readJson } from "../routing/mod.ts";
import { PUSH_PULL_PATH } from "../transport/mod.ts";
import type { GossipApi } from "./mod.ts";

export function gossipRoutes(api: GossipApi): Hono<ApiEnv> {
  const r = newRouter();

  r.get("/agent/members", (c) => {
    const out: Record<string, unknown> = {};
    for (const m of api.members()) out[m.uuid] = m;
    return c.json(out);
  });

  r.get("/agent/join/:addr{.+}", async (c) => {
    const target = decodeURIComponent(c.req.param("addr"));
    const ok = await api.join(target); // throws HttpError 400 when malformed
    return c.json(ok);
  });

  // leaving ourselves is open (reference); making another node leave needs the socket or the token
  r.get("/agent/leave/:name{.+}", async (c, next) => {
    const name = decodeURIComponent(c.req.param("name"));
    if (name === api.self().name || name === api.self().uuid) return await next();
    return await protect(c, next);
  }, (c) => {
    const name = decodeURIComponent(c.req.param("name"));
    if (!api.leave(name)) throw new HttpError(404, "This node is not found", { name });
    return c.body(null, 200);
  });

  r.post(PUSH_PULL_PATH, async (c) => {
    const body = await readBody(c);
    try {
      const answer = await api.servePushPull(body);
      return c.body(answer as Uint8Array<ArrayBuffer>, 200, { "content-type": "application/octet-stream" });
    } catch (err) {
      throw new HttpError(400, "push-pull refused", { reason: (err as Error).message });
    }
  });

  r.get("/agent/keys", protect, (c) => c.json(api.keys()));
  r.post("/agent/keys/:op{install|use|remove}", protect, async (c) => {
    const op = c.req.param("op") as "install" | "use" | "remove";
    const body = await readJson(c);
    const key = body && typeof body === "object" ? (body as Record<string, unknown>).key : undefined;
    if (typeof key !== "string" || !key) {
      throw new HttpError(400, 'expected a JSON body {"key": "<base64 key>"}');
    }
    await api.keyOp(op, key);
    return c.json({ ok: true, op, ...api.keys() });
  });

  return r;
}
