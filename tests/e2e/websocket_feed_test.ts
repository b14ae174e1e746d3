/**
 * A real agent: the feed on websocket.port tells a client about a node that joins, and the
 * connection is counted in /agent/info and /metrics.
 */
import assert from "node:assert/strict";
import { AgentClient } from "../../lib/client/mod.ts";
import { type AgentProc, freePort, startAgent } from "../helpers.ts";

if (!Deno.env.get("DENO_DIR")) {
  const home = Deno.env.get("HOME");
  if (home) Deno.env.set("DENO_DIR", `${home}/.cache/deno`);
}

Deno.test({
  name: "e2e: a websocket client learns of a joining node, and is counted in /agent/info and /metrics",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const [ha, hb] = ["127.0.0.62", "127.0.0.63"];
    const wsPort = freePort(ha);
    const pa = freePort(ha);
    const gossip = { probe_interval: "500ms", probe_timeout: "200ms", gossip_interval: "100ms" };
    const agents: AgentProc[] = [];
    let sock: WebSocket | null = null;
    try {
      agents.push(
        await startAgent({
          name: "wa",
          addr: ha,
          port: pa,
          params: { gossip, bootstrap: true },
          files: { "websocket.json": { websocket: { enabled: true, port: wsPort } } },
        }),
      );
      sock = new WebSocket(`ws://${ha}:${wsPort}/`);
      const s = sock;
      const seen = new Promise<Record<string, unknown>>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error("no gossip message about wb within 30 s")), 30_000);
        s.onmessage = (e) => {
          const m = JSON.parse(e.data);
          if (m.channel === "gossip" && m.payload.name === "wb") {
            clearTimeout(t);
            resolve(m.payload);
          }
        };
      });
      await new Promise((r, j) => {
        s.onopen = r;
        s.onerror = j;
      });
      agents.push(
        await startAgent({ name: "wb", addr: hb, params: { gossip, seeds: [`${ha}:${pa}`] } }),
      );
      const rec = await seen;
      assert.equal(rec.addr, hb);
      const c = new AgentClient({ socket: agents[0].socket });
      try {
        const info = await c.json<Record<string, Record<string, unknown>>>("GET", "/agent/info");
        assert.equal(info.websocket_info.nb_connexions, 1);
        assert.equal(info.websocket_info.enabled, true);
        assert.equal(info.websocket_info.port, wsPort);
        const metrics = await c.text("GET", "/metrics");
        assert.match(metrics, /^kunai_websocket_connections 1$/m);
      } finally {
        c.close();
      }
    } finally {
      sock?.close();
      await Promise.all(agents.map((a) => a.stop()));
    }
  },
});
