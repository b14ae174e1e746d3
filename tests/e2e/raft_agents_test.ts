/**
 * 5 real agents on loopback (127.0.17.1-5), keyring on, `raft.groups: ["db"]`: every agent agrees
 * on one leader and term (HTTP and `kunai raft state`), `kunai raft is-leader` answers by exit
 * code, and after kill -9 of the leader the 4 others agree on a new one.
 */
import assert from "node:assert/strict";
import { AgentClient } from "../../lib/client/mod.ts";
import { generateKey } from "../../lib/transport/mod.ts";
import type { GroupView } from "../../lib/raft/mod.ts";
import { type AgentProc, freePort, startAgent, until } from "../helpers.ts";

async function group(a: AgentProc): Promise<GroupView> {
  const c = new AgentClient({ socket: a.socket, timeoutMs: 5000 });
  try {
    return await c.json<GroupView>("GET", "/raft/db");
  } finally {
    c.close();
  }
}

/** The leader uuid all `agents` agree on (one leader role, same leader and term everywhere), else null. */
async function agreed(agents: AgentProc[]): Promise<GroupView | null> {
  const views = await Promise.all(agents.map(group));
  const leaders = views.filter((v) => v.role === "leader");
  if (leaders.length !== 1) return null;
  const l = leaders[0];
  return views.every((v) => v.leader === l.self && v.term === l.term) ? l : null;
}

Deno.test({
  name: "e2e raft: 5 agents agree on one leader; kill -9 of the leader elects another",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const key = generateKey();
    const addrs = [1, 2, 3, 4, 5].map((i) => `127.0.17.${i}`);
    const ports = addrs.map((a) => freePort(a));
    const gossip = { probe_interval: "300ms", probe_timeout: "150ms", gossip_interval: "100ms" };
    const agents: AgentProc[] = [];
    try {
      for (let i = 0; i < addrs.length; i++) {
        agents.push(
          await startAgent({
            name: `r${i}`,
            addr: addrs[i],
            port: ports[i],
            params: {
              tags: ["db"],
              encryption_key: key,
              gossip,
              seeds: i ? [`${addrs[0]}:${ports[0]}`] : [],
              bootstrap: i === 0,
              raft: { groups: ["db"] },
            },
          }),
        );
      }
      // every agent sees 5 voters, then one agreed leader
      await until(
        "5 voters everywhere",
        async () => {
          const vs = await Promise.all(agents.map(group));
          return vs.every((v) => v.voters.length === 5) ? true : null;
        },
        30_000,
        200,
      );
      const first = await until("an agreed leader", () => agreed(agents), 20_000, 200);
      const li = agents.findIndex((_, i) => first.leader_name === `r${i}`);
      assert.ok(li >= 0, `leader ${first.leader_name} is one of ours`);
      assert.equal(first.quorum, 3);

      const st = await agents[(li + 1) % 5].cli(["raft", "state", "db", "--json"]);
      assert.equal(st.code, 0, st.stderr);
      const parsed = JSON.parse(st.stdout) as GroupView;
      assert.equal(parsed.leader, first.self);
      assert.equal(parsed.role, "follower");
      const text = await agents[li].cli(["raft", "state"]);
      assert.match(text.stdout, /RAFT group db/);
      assert.match(text.stdout, /leader/);
      assert.equal((await agents[li].cli(["raft", "is-leader", "db"])).code, 0);
      assert.equal((await agents[(li + 1) % 5].cli(["raft", "is-leader", "db"])).code, 1);
      assert.equal((await agents[li].cli(["raft", "is-leader", "nosuch"])).code, 2);
      assert.match(agents[li].stderr(), /raft group db: leader r\d \(term \d+\)/);

      await agents[li].kill9();
      const rest = agents.filter((_, i) => i !== li);
      const second = await until("a new agreed leader", () => agreed(rest), 20_000, 200);
      assert.notEqual(second.self, first.self);
      assert.ok(second.term > first.term);
    } finally {
      await Promise.all(agents.map((a) => a.stop()));
      for (const a of agents) Deno.removeSync(a.dir, { recursive: true });
    }
  },
});
