/**
 * Real agents: a joined agent whose seed left and came back as a new agent (a replaced machine, fresh
 * data) finds it again through `gossip.seed_check_interval`, the wiring of `keepSeedsJoined` in the
 * gossip subsystem. Without the check neither side would ever contact the other: the joiner holds the
 * seed as `leave` (never probed, never reconnected), the new seed knows nobody.
 */
import assert from "node:assert/strict";
import { AgentClient } from "../../lib/client/mod.ts";
import type { MemberRecord } from "../../lib/types.ts";
import { type AgentProc, FAST_GOSSIP, freePort, startAgent, tempDir, until } from "../helpers.ts";

async function states(a: AgentProc): Promise<Record<string, string>> {
  const c = new AgentClient({ socket: a.socket, timeoutMs: 5000 });
  try {
    const m = await c.json<Record<string, MemberRecord>>("GET", "/agent/members");
    return Object.fromEntries(Object.values(m).map((r) => [r.name, r.state]));
  } finally {
    c.close();
  }
}

Deno.test({
  name: "e2e: an agent joins its seed again once the seed is no longer among its live members",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const port = freePort();
    const seedAt = `127.0.0.1:${port}`;
    const gossip = { ...FAST_GOSSIP, seed_check_interval: "1s" };
    const agents: AgentProc[] = [];
    using second = tempDir("kunai-reseed-");
    try {
      const a = await startAgent({ name: "seed", port, params: { gossip, bootstrap: true } });
      agents.push(a);
      const b = await startAgent({ name: "b", params: { gossip, seeds: [seedAt] } });
      agents.push(b);
      await until("the seed sees b", async () => (await states(a)).b === "alive", 20_000, 200);
      await a.stop(); // leaves gracefully: b holds it as `leave`
      await until("b sees the seed leave", async () => (await states(b)).seed === "leave", 20_000, 200);
      // the seed's machine replaced: a new agent on the same address, with nothing remembered
      const a2 = await startAgent({
        name: "seed",
        port,
        dir: second.dir,
        params: { gossip, bootstrap: true },
      });
      agents.push(a2);
      await until("the new seed sees b", async () => (await states(a2)).b === "alive", 20_000, 200);
      assert.equal((await states(b)).seed, "alive");
    } finally {
      for (const x of agents) await x.stop();
    }
  },
});
