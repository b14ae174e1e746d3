/**
 * Agent-to-agent routes (`POST /kv-internal/<kind>`): peer routes whose bodies are sealed in the
 * agent's PeerEnvelope (authenticated, encrypted, replay-protected when the cluster has a key;
 * unauthenticated, stale or replayed messages get 401 and are counted by the envelope). The
 * messages themselves are answered by peer_server.ts.
 */
import { HttpError, peerResponse, readPeerBody, type RouteTable } from "../routing/mod.ts";
import { KvError } from "./keys.ts";
import { serveStream, STREAM_PATH, streamSession } from "./stream.ts";
import { KV_MESSAGES, type KvMessage, type KvServe } from "./transport.ts";
import type { Logger } from "../log/mod.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

const SUMMARY: Record<KvMessage, string> = {
  writes: "coordinate writes forwarded by another kv node",
  apply: "store records replicated by their coordinator",
  reads: "read this node's copies of keys",
  get: "read (or wait for) this node's copy of a key",
  list: "list (or wait for) this node's records under a prefix",
  changed: "versions applied here since a peer's anti-entropy mark",
};

/**
 * Adds the internal routes to `r`. `maxValueBytes` sizes the body limit: replication batches carry
 * up to 4 MiB of values (more for one big value) in base64 JSON, whatever http.max_body says.
 */
export function internalRoutes(
  r: RouteTable,
  serve: KvServe,
  maxValueBytes: number,
  log?: Logger,
): RouteTable {
  const internalMax = Math.ceil((4 * 1024 * 1024 + 2 * maxValueBytes) * 1.4) + 65536;
  for (const kind of KV_MESSAGES) {
    r.peer("POST", `/kv-internal/${kind}`, SUMMARY[kind], async (c) => {
      c.set("maxBody", Math.max(c.get("maxBody") ?? 0, internalMax));
      const bytes = await readPeerBody(c);
      let body: unknown;
      try {
        body = JSON.parse(decoder.decode(bytes));
      } catch (err) {
        throw new HttpError(400, `kv peer message ${kind}: invalid JSON: ${(err as Error).message}`);
      }
      let answer: unknown;
      try {
        answer = await serve(kind, body, c.req.raw.signal);
      } catch (err) {
        if (err instanceof KvError) throw new HttpError(err.status, err.message, err.detail);
        throw err;
      }
      return await peerResponse(c, encoder.encode(JSON.stringify(answer)));
    });
  }
  // the hot messages on one socket per peer, every frame sealed on its own (stream.ts)
  r.peer("GET", STREAM_PATH, "socket for writes, apply and reads messages (each frame sealed)", (c) => {
    if (c.req.header("upgrade")?.toLowerCase() !== "websocket") {
      throw new HttpError(400, `${STREAM_PATH} expects a websocket upgrade`);
    }
    return serveStream(c.req.raw, serve, c.get("peerEnvelope"), internalMax, log);
  });
  // ...which the TCP front speaks itself for a plain upgrade (lib/http/ws_front.ts): no private-server hop
  r.socket(STREAM_PATH, internalMax, streamSession(serve, log));
  return r;
}
