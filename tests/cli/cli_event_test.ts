/**
 * `kunai event send|list` and `kunai wait event` with two real agents: an event sent on one reaches
 * the other, which a waiting script sees; sending is a write route; bad names and payloads are usage
 * errors. `kunai ping` measures round trips to the other, and reports a stopped one as lost;
 * `kunai members history` shows it joined, then left.
 */
import assert from "node:assert/strict";
import { type AgentProc, startCluster, until } from "../helpers.ts";

if (!Deno.env.get("DENO_DIR")) {
  const home = Deno.env.get("HOME");
  if (home) Deno.env.set("DENO_DIR", `${home}/.cache/deno`);
}

Deno.test({
  name: "kunai event and kunai ping: sent on one agent, seen by the other, awaited by a script",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const agents: AgentProc[] = [];
    try {
      const ports = await startCluster(agents, ["127.0.0.88", "127.0.0.89"], (i) => ({ name: `ev${i}` }));
      const [a, b] = agents;
      await until("both members alive", async () => {
        const r = await b.cli(["members", "--json"]);
        return r.code === 0 &&
          JSON.parse(r.stdout).filter((m: { state: string }) => m.state === "alive").length === 2;
      }, 20_000);
      // --since: on a loaded box the CLI may take its first look after the event arrived
      const waiting = b.cli(["wait", "event", "deploy-done", "--timeout", "60s", "--since", "5m"]);
      await new Promise((r) => setTimeout(r, 500));
      let r = await a.cli(["event", "send", "deploy-done", "v42 ok"]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^Event deploy-done sent \(id [0-9a-f-]+\)$/m);
      r = await waiting;
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^event deploy-done: from ev0, payload "v42 ok"/);
      r = await b.cli(["event", "list", "--json"]);
      const logged = JSON.parse(r.stdout);
      assert.equal(logged.length, 1);
      assert.equal(logged[0].payload, "v42 ok");
      assert.equal(logged[0].from, "ev0");
      r = await b.cli(["event", "list"]);
      assert.match(r.stdout, /deploy-done\s+ev0\s+"v42 ok"/);
      // an event from before the wait does not count, unless --since says so
      r = await b.cli(["wait", "event", "deploy-done", "--timeout", "300ms"]);
      assert.equal(r.code, 1);
      r = await b.cli(["wait", "event", "deploy-done", "--since", "10m", "--timeout", "300ms"]);
      assert.equal(r.code, 0, r.stderr);

      for (const bad of [["event", "send", "bad name"], ["event", "send", "x", "p".repeat(1025)]]) {
        r = await a.cli(bad);
        assert.equal(r.code, 2, bad.join(" ").slice(0, 40));
        assert.match(r.stderr, /event not sent: (event name|event payload of 1025 bytes)/);
      }
      const badQueries = [
        [["event", "query"], /missing argument <name>/],
        [["event", "query", "bad name"], /query not asked: query name "bad name"/],
        [["event", "query", "x", "--timeout", "2m"], /--timeout: expected a duration between 100ms and 60s/],
        [["event", "query", "x", "--timeout", "soon"], /--timeout: expected a duration .*got soon/],
      ] as const;
      for (const [bad, want] of badQueries) {
        r = await a.cli([...bad]);
        assert.equal(r.code, 2, bad.join(" "));
        assert.match(r.stderr, want);
      }
      // no handler of query:none here (not a failure); this cluster has no key, so the other refuses
      r = await a.cli(["event", "query", "none"]);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stdout, /^ev0\s+no-handler\s*$/m);
      assert.match(r.stdout, /^ev1\s+refused\s+queries from other agents run nothing without a cluster/m);
      assert.match(
        r.stdout,
        /^2 member\(s\) asked: 0 answered, 1 without a handler of query:none, 1 refused$/m,
      );
      r = await a.cli(["event", "query", "none", "--node", "ev0"]);
      assert.equal(r.code, 0, r.stderr);
      r = await a.cli(["event", "query", "none", "--tag", "no-such-tag"]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /no member matches/);
      // a write route: over TCP without the token, nothing is sent
      const res = await fetch(`http://127.0.0.88:${ports[0]}/agent/events/sneaky`, {
        method: "POST",
        body: "x",
      });
      assert.equal(res.status, 403);
      await res.body?.cancel();
      assert.equal(JSON.parse((await a.cli(["event", "list", "--json"])).stdout).length, 1);

      // kunai ping: direct round trips to a member over gossip UDP
      r = await a.cli(["ping", "ev1", "--count", "2", "--json"]);
      assert.equal(r.code, 0, r.stderr);
      const p = JSON.parse(r.stdout);
      assert.deepEqual([p.node, p.sent, p.received, p.rtt_ms.length], ["ev1", 2, 2, 2]);
      assert.ok(p.rtt_ms.every((t: number) => t > 0 && t < 1000), JSON.stringify(p.rtt_ms));
      r = await a.cli(["ping", "ev1", "--count", "1"]);
      assert.match(r.stdout, /^answer from ev1: ping 1 time=[\d.]+ ms$/m);
      assert.match(r.stdout, /^--- ev1: 1 sent, 1 answered, 0% lost; rtt min\/avg\/max = /m);
      r = await a.cli(["ping", "nobody"]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /no member "nobody"/);
      r = await a.cli(["ping", "ev0"]);
      assert.equal(r.code, 2);
      await b.stop();
      r = await a.cli(["ping", "ev1", "--count", "1", "--timeout", "200ms"]);
      assert.equal(r.code, 1, "nobody answers a stopped agent");
      assert.match(r.stdout, /1 sent, 0 answered, 100% lost/);

      // kunai members history: ev1 joined, then left (it stopped gracefully)
      const changes = await until("ev1's leave in a's history", async () => {
        const h = await a.cli(["members", "history", "ev1", "--json"]);
        const rows = JSON.parse(h.stdout) as Array<{ change: string; name: string }>;
        return rows.length >= 2 && rows[0].change === "left" ? rows : null;
      }, 20_000);
      assert.equal(changes.at(-1)!.change, "joined");
      r = await a.cli(["members", "history"]);
      assert.match(r.stdout, /^Time \(UTC\)\s+Node\s+Address\s+Change\s+Incarnation$/m);
      assert.match(r.stdout, /\sev1\s+127\.0\.0\.89:\d+\s+left\s/);
      r = await a.cli(["members", "history", "--limit", "0"]);
      assert.equal(r.code, 2);
    } finally {
      await Promise.all(agents.map((x) => x.stop()));
    }
  },
});
