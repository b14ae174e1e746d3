/**
 * Walks the route tables of the full agent (every subsystem, built as lib/agent.ts builds it):
 * no write route is reachable over TCP without the token, every one is with it or over the unix
 * socket, peer routes refuse what the keyring did not seal, and no route escapes the tables.
 */
import assert from "node:assert/strict";
import { buildApp } from "../../lib/http/mod.ts";
import { silentLogger } from "../../lib/log/mod.ts";
import { Counters } from "../../lib/counters.ts";
import { concretePath, type LiveAgent, notRouted, startLiveAgent } from "./sec_helpers.ts";

const TOKEN = "walk-token";

/** Read routes that answer 400 without their query parameter. */
const NEEDS_QUERY = new Set([
  "/render",
  "/render/",
  "/metrics/find",
  "/metrics/find/",
  "/tags/findSeries",
  "/tags/autoComplete/values",
]);

/** Routes whose success would end this test's agent: checked on their own below. */
const ENDS_AGENT = new Set(["/stop"]);

async function withAgent(fn: (a: LiveAgent) => Promise<void>) {
  const a = await startLiveAgent("sec-walk", { http: { token: TOKEN }, kv: { replicas: 1, write_acks: 1 } });
  try {
    await fn(a);
  } finally {
    await a.close();
  }
}

Deno.test({
  name: "every write route is refused over TCP without the token and served with it or over the unix socket",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () =>
    withAgent(async (a) => {
      const writes = a.docs().filter((d) => d.access === "write");
      assert.ok(writes.length >= 3, `write routes found: ${writes.map((d) => d.path)}`);
      for (const d of writes) {
        const path = concretePath(d.path);
        const label = `${d.method} ${d.path} (${path})`;
        const none = await a.tcp(path, { method: d.method });
        assert.equal(none.status, 401, `${label} without a token over TCP: ${none.status}`);
        await none.body?.cancel();
        const wrong = await a.tcp(path, { method: d.method, headers: { authorization: "Bearer nope" } });
        assert.equal(wrong.status, 403, `${label} with a wrong token`);
        await wrong.body?.cancel();
        const evil = await a.tcp(path, { method: d.method, headers: { origin: "http://evil.example" } });
        assert.equal(
          evil.headers.get("access-control-allow-origin"),
          null,
          `${label}: no CORS for a foreign page`,
        );
        await evil.body?.cancel();
        if (ENDS_AGENT.has(d.path)) continue;
        const ok = await a.tcp(path, { method: d.method, headers: { authorization: `Bearer ${TOKEN}` } });
        assert.ok(![401, 403].includes(ok.status), `${label} with the token: ${ok.status}`);
        assert.ok(!(await notRouted(ok)), `${label} with the token reached no route`);
        const viaUnix = await a.unix(path, { method: d.method });
        assert.ok(![401, 403].includes(viaUnix.status), `${label} over the unix socket: ${viaUnix.status}`);
        assert.ok(!(await notRouted(viaUnix)), `${label} over the unix socket reached no route`);
      }
      // reads stay open over TCP, with CORS * for any page
      for (const d of a.docs().filter((d) => d.access === "read" && !d.path.includes(":"))) {
        const r = await a.tcp(d.path, { headers: { origin: "http://any.example" } });
        // the websocket route answers a plain GET with 426 Upgrade Required, and routes that need a
        // query (`/render?target=`, `/metrics/find?query=`) a 400 naming it: neither is an auth refusal
        const expected = d.path === "/ws" ? [426] : NEEDS_QUERY.has(d.path) ? [400] : null;
        assert.ok(
          expected ? expected.includes(r.status) : r.status < 400,
          `${d.method} ${d.path} read over TCP: ${r.status}`,
        );
        assert.equal(r.headers.get("access-control-allow-origin"), "*");
        await r.body?.cancel();
      }
      // peer routes: what the keyring did not seal is refused, never served
      for (const d of a.docs().filter((d) => d.access === "peer")) {
        // (a GET peer route is a socket upgrade: its frames are sealed, see tests/kv/stream_test.ts)
        const body = d.method === "GET" ? undefined : "not an envelope";
        const r = await a.tcp(concretePath(d.path), { method: d.method, body });
        assert.ok(r.status >= 400 && r.status < 500, `${d.method} ${d.path} with a forged body: ${r.status}`);
        await r.body?.cancel();
      }
    }),
});

Deno.test({
  name: "with no http.token every write route over TCP is 403 naming http.token; open_writes reopens them",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () =>
    withAgent(async (a) => {
      const closed = buildApp(a.agent.routers, {
        token: "",
        maxBody: 1 << 20,
        log: silentLogger,
        counters: new Counters(),
      });
      const open = buildApp(a.agent.routers, {
        token: "",
        openWrites: true,
        maxBody: 1 << 20,
        log: silentLogger,
        counters: new Counters(),
      });
      for (const d of a.docs().filter((d) => d.access === "write")) {
        const path = concretePath(d.path);
        const r = await closed.request(path, { method: d.method }, { transport: "tcp" });
        assert.equal(r.status, 403, `${d.method} ${d.path}`);
        assert.match((await r.json()).error, /http\.token/);
        if (ENDS_AGENT.has(d.path)) continue;
        const o = await open.request(path, { method: d.method }, { transport: "tcp" });
        assert.ok(![401, 403].includes(o.status), `${d.method} ${d.path} with open_writes: ${o.status}`);
        await o.body?.cancel();
      }
    }),
});

Deno.test({
  name: "every route the agent serves is declared in a RouteTable (or in the short list still moving)",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () =>
    withAgent((a) => {
      assert.deepEqual(a.undeclared(), [], "routes outside any RouteTable");
      const seen = new Set<string>();
      for (const d of a.docs()) {
        const k = `${d.method} ${d.path}`;
        assert.ok(!seen.has(k), `${k} declared twice`);
        seen.add(k);
        assert.ok(d.summary.trim().length > 0, `${k} has a summary`);
      }
      return Promise.resolve();
    }),
});

Deno.test({
  name:
    "graphite-web's events: get_data and GET /events/ are reads, POST /events/ a write that sends nothing unauthed",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () =>
    withAgent(async (a) => {
      const access = Object.fromEntries(
        a.docs().filter((d) => d.path.startsWith("/events")).map((d) => [`${d.method} ${d.path}`, d.access]),
      );
      assert.deepEqual(access, {
        "GET /events/get_data": "read",
        "GET /events": "read",
        "GET /events/": "read",
        "POST /events": "write",
        "POST /events/": "write",
      });
      const body = JSON.stringify({ what: "deploy", tags: "web", data: "v42" });
      for (const path of ["/events", "/events/"]) {
        for (const headers of [{}, { authorization: "Bearer nope" }] as Array<Record<string, string>>) {
          const r = await a.tcp(path, { method: "POST", body, headers });
          assert.equal(
            r.status,
            headers.authorization ? 403 : 401,
            `POST ${path} ${JSON.stringify(headers)}`,
          );
          await r.body?.cancel();
        }
      }
      const logged = async () => (await (await a.tcp("/agent/events")).json()).length;
      assert.equal(await logged(), 0, "a refused post sends no event");
      const ok = await a.tcp("/events/", {
        method: "POST",
        body,
        headers: { authorization: `Bearer ${TOKEN}` },
      });
      assert.equal(ok.status, 200);
      assert.equal((await ok.json()).what, "deploy");
      assert.equal((await a.unix("/events", { method: "POST", body })).status, 200);
      assert.equal(await logged(), 2);
      const list = await (await a.tcp("/events/get_data?tags=web")).json();
      assert.deepEqual(list.map((e: { data: string }) => e.data), ["v42", "v42"]);
    }),
});
