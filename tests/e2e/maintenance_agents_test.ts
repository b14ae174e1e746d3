/**
 * `kunai maintenance` with two real agents on loopback: enabling it on one is seen by the other
 * (its members table marks it), it is a write route (403 over TCP without the token), a bad
 * duration is refused naming it, a restart keeps it, and it ends by itself at `--for`.
 */
import assert from "node:assert/strict";
import { type AgentProc, FAST_GOSSIP, startAgent, startCluster, until } from "../helpers.ts";

if (!Deno.env.get("DENO_DIR")) {
  const home = Deno.env.get("HOME");
  if (home) Deno.env.set("DENO_DIR", `${home}/.cache/deno`);
}

interface Rec {
  name: string;
  state: string;
  maintenance?: { reason: string; since: number; until: number | null };
}

async function record(from: AgentProc, name: string): Promise<Rec | undefined> {
  const r = await from.cli(["members", "--json"]);
  return r.code === 0 ? (JSON.parse(r.stdout) as Rec[]).find((m) => m.name === name) : undefined;
}

Deno.test({
  name: "kunai maintenance: seen by the other agent, a write route, kept across a restart, ended by --for",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const agents: AgentProc[] = [];
    const addrs = ["127.0.0.105", "127.0.0.106"];
    try {
      const ports = await startCluster(agents, addrs, (i) => ({ name: `mt${i}` }));
      const [a, b] = agents;
      await until("both alive", async () => (await record(a, "mt1"))?.state === "alive", 20_000);

      let r = await b.cli(["maintenance", "enable", "--reason", "kernel upgrade", "--for", "1h", "--json"]);
      assert.equal(r.code, 0, r.stderr);
      const m = JSON.parse(r.stdout);
      assert.equal(m.reason, "kernel upgrade");
      assert.ok(m.until - m.since >= 3_599_000 && m.until - m.since <= 3_601_000, r.stdout);
      const seen = await until(
        "a sees mt1 in maintenance",
        async () => (await record(a, "mt1"))?.maintenance,
      );
      assert.deepEqual(seen, m);
      r = await a.cli(["members"]);
      assert.match(r.stdout, /^mt1\s+127\.0\.0\.106:\d+\s+alive \(maintenance\)\s/m);
      assert.match(r.stdout, /^mt0\s+127\.0\.0\.105:\d+\s+alive\s/m);
      r = await b.cli(["info"]);
      assert.match(r.stdout, /^Maintenance:\s+yes until \S+ \S+ UTC: kernel upgrade$/m);
      r = await b.cli(["maintenance", "status"]);
      assert.match(r.stdout, /^In maintenance since \S+ \S+ UTC, until \S+ \S+ UTC: kernel upgrade$/m);

      // a write route: over TCP without the token nothing changes
      const res = await fetch(`http://${addrs[1]}:${ports[1]}/agent/maintenance`, { method: "DELETE" });
      assert.equal(res.status, 403);
      await res.body?.cancel();
      r = await b.cli(["maintenance", "enable", "--for", "soon"]);
      assert.equal(r.code, 2);
      assert.match(r.stderr, /--for: expected a duration/);

      // a restart keeps it
      await b.stop();
      agents[1] = await startAgent({
        name: "mt1",
        addr: addrs[1],
        port: ports[1],
        dir: b.dir,
        params: { gossip: FAST_GOSSIP, seeds: [`${addrs[0]}:${ports[0]}`] },
      });
      r = await agents[1].cli(["maintenance", "status", "--json"]);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(JSON.parse(r.stdout), m);

      // --for: it ends by itself, and the other agent learns it
      r = await agents[1].cli(["maintenance", "enable", "--for", "2s", "--json"]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(JSON.parse(r.stdout).since, m.since, "changing the end keeps the start");
      await until("the maintenance ended on mt1 and mt0 knows", async () => {
        const rec = await record(a, "mt1");
        return rec?.state === "alive" && rec.maintenance === undefined;
      }, 20_000);
      r = await agents[1].cli(["maintenance", "status"]);
      assert.match(r.stdout, /^Not in maintenance$/m);
      r = await agents[1].cli(["maintenance", "disable"]);
      assert.match(r.stdout, /^Not in maintenance \(nothing to do\)$/m);
    } finally {
      for (const ag of agents) await ag.stop();
    }
  },
});
