/**
 * Issue 10, hole 1 (gossip routes): `GET /agent/leave/<own name>` stopped the agent without a
 * token. Every gossip route now states its access; the ones that act or reveal keys are writes
 * (socket or token), push-pull is a peer route, only the member list is open.
 */
import assert from "node:assert/strict";
import { createGossip } from "../../lib/gossip/mod.ts";
import { buildApp } from "../../lib/http/mod.ts";
import { Keyring, PeerEnvelope } from "../../lib/transport/mod.ts";
import { makeTestCtx } from "../helpers.ts";

Deno.test("security: gossip routes — only /agent/members is open; join, leave and keys need auth over TCP", async () => {
  const ctx = makeTestCtx({ name: "alpha", params: { http: { token: "tok" } } });
  const stops: string[] = [];
  ctx.requestStop = (why) => void stops.push(why);
  const envelope = new PeerEnvelope(await Keyring.create([]), { now: Date.now });
  const gossip = createGossip(ctx, { envelope });
  try {
    const table = gossip.routes();
    const access = Object.fromEntries(table.routes.map((r) => [`${r.method} ${r.path}`, r.access]));
    assert.deepEqual(access, {
      "GET /agent/members": "read",
      "GET /agent/members/history": "read",
      "POST /agent/join/:addr{.+}": "write",
      "GET /agent/join/:addr{.+}": "write",
      "POST /agent/leave/:name{.+}": "write",
      "GET /agent/leave/:name{.+}": "write",
      "POST /gossip/push-pull": "peer",
      "POST /agent/detect": "write",
      "POST /agent/ping/:node{.+}": "write",
      "POST /agent/events/:name": "write",
      "GET /agent/events": "read",
      "GET /agent/keys": "write",
      "POST /agent/keys/:op{install|use|remove}": "write",
    });
    const app = buildApp([table], { token: "tok", maxBody: 1 << 20, log: ctx.log, counters: ctx.counters });
    const tcp = (path: string, init: RequestInit = {}) => app.request(path, init, { transport: "tcp" });
    for (const method of ["GET", "POST"]) {
      for (const path of ["/agent/leave/alpha", "/agent/join/127.0.0.1:9", "/agent/keys"]) {
        const r = await tcp(path, { method });
        if (method === "POST" && path === "/agent/keys") {
          assert.equal(r.status, 405); // the path exists with GET only
          continue;
        }
        assert.equal(r.status, 401, `${method} ${path} without the token`);
        await r.body?.cancel();
      }
    }
    assert.deepEqual(stops, []);
    assert.equal(gossip.engine.leaving, false);
    assert.equal((await tcp("/agent/members")).status, 200);
  } finally {
    ctx.cleanup();
  }
});
