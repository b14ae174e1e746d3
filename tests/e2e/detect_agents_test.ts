/**
 * `kunai agent detect` with real agents: four agents on 127.0.0.61-64 share one gossip port and
 * receive broadcasts sent to 127.255.255.255 (gossip.detect_listen), none of them joined. One asks;
 * the two that answer are listed, the one with detect_answer false is not, `--auto-join` joins the
 * lowest uuid, and nobody answering is exit 1.
 */
import assert from "node:assert/strict";
import { AgentClient } from "../../lib/client/mod.ts";
import type { MemberRecord } from "../../lib/types.ts";
import { type AgentProc, freePort, startAgent, until } from "../helpers.ts";

const ADDRS = ["127.0.0.61", "127.0.0.62", "127.0.0.63", "127.0.0.64"];

interface Answer {
  sent_to: string;
  agents: Array<{ name: string; uuid: string; addr: string; port: number; members: number; known: boolean }>;
  auto_join?: { name: string; joined: boolean } | null;
}

async function members(a: AgentProc): Promise<MemberRecord[]> {
  const c = new AgentClient({ socket: a.socket });
  try {
    return Object.values(await c.json<Record<string, MemberRecord>>("GET", "/agent/members"));
  } finally {
    c.close();
  }
}

Deno.test({
  name: "agent detect: lists who answers a loopback broadcast, --auto-join joins the lowest uuid",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const port = freePort(ADDRS[0]);
    const agents: AgentProc[] = [];
    try {
      for (const [i, addr] of ADDRS.entries()) {
        agents.push(
          await startAgent({
            name: `d${i}`,
            addr,
            port,
            params: {
              bootstrap: true,
              gossip: { detect_listen: "127.255.255.255", detect_answer: i !== 3 },
            },
          }),
        );
      }
      const [a, b, c] = agents;
      const r = await a.cli(["agent", "detect", "--json", "--timeout", "1s"]);
      assert.equal(r.code, 0, r.stderr);
      const found = JSON.parse(r.stdout) as Answer;
      assert.equal(found.sent_to, `127.255.255.255:${port}`);
      assert.deepEqual(found.agents.map((x) => x.name).sort(), ["d1", "d2"], "d3 does not answer, d0 is us");
      for (const x of found.agents) {
        assert.equal(x.members, 1);
        assert.equal(x.known, false);
        assert.equal(x.port, port);
      }
      const lowest = [...found.agents].sort((x, y) => x.uuid < y.uuid ? -1 : 1)[0];
      const other = lowest.name === "d1" ? c : b;

      const j = await a.cli(["agent", "detect", "--auto-join", "--timeout", "1s"]);
      assert.equal(j.code, 0, j.stderr);
      assert.match(j.stdout, /2 agent\(s\) answered/);
      assert.match(j.stdout, new RegExp(`Joining ${lowest.name} \\(${lowest.addr}:${port}\\) : OK`));
      await until("the joined agent in d0's member list", async () => {
        const names = (await members(a)).map((m) => m.name).sort();
        return names.join() === ["d0", lowest.name].sort().join();
      });
      assert.equal((await members(other)).length, 1, "only the lowest uuid was joined");

      // the joined agent is now known, the other is not: --auto-join joins it next
      const again = JSON.parse(
        (await a.cli(["agent", "detect", "--json", "--timeout", "1s"])).stdout,
      ) as Answer;
      const byName = Object.fromEntries(again.agents.map((x) => [x.name, x]));
      assert.equal(byName[lowest.name].known, true);
      assert.equal(byName[lowest.name].members, 2);
      assert.equal(byName[other === b ? "d1" : "d2"].known, false);

      // nobody there: exit 1, and a malformed option is a usage error before anything is sent
      const none = await a.cli(["agent", "detect", "--addr", "127.0.0.99", "--timeout", "300ms"]);
      assert.equal(none.code, 1);
      assert.match(none.stdout, /0 agent\(s\) answered/);
      const bad = await a.cli(["agent", "detect", "--addr", "127.0.0", "--timeout", "300ms"]);
      assert.equal(bad.code, 2);
      assert.match(bad.stderr, /--addr: "127.0.0" is not an IPv4 address/);

      // a write route: over TCP without a token it is refused
      const tcp = await fetch(`http://${ADDRS[0]}:${port}/agent/detect`, { method: "POST" });
      assert.equal(tcp.status, 403);
      await tcp.body?.cancel();
    } finally {
      await Promise.all(agents.map((x) => x.stop()));
    }
  },
});
