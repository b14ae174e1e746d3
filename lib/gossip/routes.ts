/**
 * HTTP routes of gossip: members (read), join, leave and the keyring (write: unix socket or
 * token), and the push-pull stream (peer: the body is a replay-protected envelope).
 * Thin: parse, call the API, shape the answer.
 */
import {
  type ApiContext,
  HttpError,
  peerResponse,
  readJson,
  readPeerBody,
  readText,
  RouteTable,
} from "../routing/mod.ts";
import { parseDuration } from "../clock/mod.ts";
import { PUSH_PULL_PATH } from "../transport/mod.ts";
import { type DetectParams, detectParams } from "./detect.ts";
import { JOIN_ERROR_HEADER } from "../types.ts";
import type { GossipApi } from "./api.ts";

/** A header value: printable ASCII only (an OS or resolver message may hold anything), bounded. */
function headerSafe(text: string): string {
  return text.replace(/[^\x20-\x7e]+/g, " ").trim().slice(0, 300);
}

export function gossipRoutes(api: GossipApi): RouteTable {
  const r = new RouteTable("gossip");

  r.read("GET", "/agent/members", "every known node, by uuid", (c) => {
    const out: Record<string, unknown> = {};
    for (const m of api.members()) out[m.uuid] = m;
    return c.json(out);
  });

  r.read(
    "GET",
    "/agent/members/history",
    "membership changes seen here, newest first (?node=NAME|UUID, ?limit=100, at most 10000)",
    (c) => {
      const limit = c.req.query("limit") ?? "100";
      if (!/^\d{1,5}$/.test(limit) || +limit < 1 || +limit > 10_000) {
        throw new HttpError(400, `query parameter limit must be 1-10000, got ${JSON.stringify(limit)}`);
      }
      return c.json(api.history({ node: c.req.query("node") || undefined, limit: +limit }));
    },
  );

  const join = async (c: ApiContext) => {
    const target = c.req.param("addr") ?? ""; // hono decodes it (a second decode made "a%2541" "aA")
    const r = await api.join(target); // HttpError 400 when malformed or ourselves
    // the body stays the reference's bare boolean; why a join failed travels in a header
    if (!r.joined) c.header(JOIN_ERROR_HEADER, headerSafe(r.reason ?? "unknown"));
    return c.json(r.joined);
  };
  r.write("POST", "/agent/join/:addr{.+}", "join the cluster through addr[:port]", join);
  // the reference's form (`kunai join` of the original), kept as a write route
  r.write("GET", "/agent/join/:addr{.+}", "join the cluster through addr[:port] (reference form)", join);

  const leave = (c: ApiContext) => {
    const name = c.req.param("name") ?? ""; // hono decodes it (a second decode made "a%2541" "aA")
    if (!api.leave(name)) throw new HttpError(404, "This node is not found", { name });
    return c.body(null, 200);
  };
  r.write("POST", "/agent/leave/:name{.+}", "make a node leave (this one: leave and stop)", leave);
  r.write("GET", "/agent/leave/:name{.+}", "make a node leave (reference form)", leave);

  r.peer("POST", PUSH_PULL_PATH, "gossip full state exchange", async (c) => {
    const plain = await readPeerBody(c);
    let answer: Uint8Array;
    try {
      answer = api.servePushPull(plain, null);
    } catch (err) {
      throw new HttpError(400, "push-pull refused", { reason: (err as Error).message });
    }
    return await peerResponse(c, answer);
  });
  // the same exchange answered by the TCP front itself (no Deno.serve, no Hono): a cold agent's
  // first push-pull through the app cost ~10-15 ms of CPU, paid by the seed and every joiner in a join storm
  r.fastPeer("POST", PUSH_PULL_PATH, (plain) => {
    try {
      return api.servePushPull(plain, null);
    } catch (err) {
      throw new HttpError(400, "push-pull refused", { reason: (err as Error).message });
    }
  });

  // a write route: it makes the agent send a datagram to an address of the caller's choosing
  r.write(
    "POST",
    "/agent/detect",
    "broadcast a detection on the gossip port (?addr, ?port, ?timeout) and list the agents that answer",
    async (c) => {
      let params: DetectParams;
      try {
        params = detectParams((k) => c.req.query(k));
      } catch (err) {
        throw new HttpError(400, `query parameter ${(err as Error).message}`);
      }
      return c.json(await api.detect(params));
    },
  );

  // a write route: it makes the agent send datagrams (to a member, at the address it holds)
  r.write(
    "POST",
    "/agent/ping/:node{.+}",
    "ping a member directly over gossip UDP (?count=3, ?timeout=1s): round trips in ms",
    async (c) => {
      const node = c.req.param("node") ?? ""; // hono decodes it (a second decode made "a%2541" "aA")
      const count = c.req.query("count") ?? "3";
      if (!/^\d{1,2}$/.test(count) || +count < 1 || +count > 20) {
        throw new HttpError(400, `query parameter count must be 1-20, got ${JSON.stringify(count)}`);
      }
      const timeout = c.req.query("timeout");
      const timeoutMs = timeout === undefined ? 1000 : parseDuration(timeout);
      if (timeoutMs === null || timeoutMs < 10 || timeoutMs > 10_000) {
        throw new HttpError(
          400,
          `query parameter timeout must be a duration from 10ms to 10s, got ${JSON.stringify(timeout)}`,
        );
      }
      return c.json(await api.ping(node, { count: +count, timeoutMs, intervalMs: 200 }));
    },
  );

  r.write(
    "POST",
    "/agent/events/:name",
    "send a cluster event to every member (body: its payload, at most 1 KB)",
    async (c) => {
      const name = c.req.param("name") ?? ""; // hono decodes it (a second decode made "a%2541" "aA")
      const payload = await readText(c);
      try {
        return c.json(api.sendEvent(name, payload));
      } catch (err) {
        throw new HttpError(400, (err as Error).message);
      }
    },
  );
  r.read("GET", "/agent/events", "the cluster events logged here, oldest first (?name=)", (c) => {
    const name = c.req.query("name") || undefined;
    return c.json(api.events(name));
  });

  r.write("GET", "/agent/keys", "the keyring (reveals the keys)", (c) => c.json(api.keys()));
  r.write(
    "POST",
    "/agent/keys/:op{install|use|remove}",
    "install, use or remove a key cluster-wide",
    async (c) => {
      const op = c.req.param("op") as "install" | "use" | "remove";
      const body = await readJson(c);
      const key = body && typeof body === "object" ? (body as Record<string, unknown>).key : undefined;
      if (typeof key !== "string" || !key) {
        throw new HttpError(400, 'expected a JSON body {"key": "<base64 key>"}');
      }
      await api.keyOp(op, key);
      return c.json({ ok: true, op, ...api.keys() });
    },
  );

  return r;
}
