/**
 * `kunai wait ...` against real agents: it returns as soon as the condition holds (a second agent
 * joining, a key written while it waits), times out with exit 1 and what it saw last, and refuses a
 * question that cannot come true (unknown check, no RAFT group) with exit 2 at once.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { type AgentProc, freePort, runKunai, startAgent, tempDir } from "../helpers.ts";

if (!Deno.env.get("DENO_DIR")) {
  const home = Deno.env.get("HOME");
  if (home) Deno.env.set("DENO_DIR", `${home}/.cache/deno`);
}

const ADDRS = ["127.0.0.86", "127.0.0.87"];

Deno.test({
  name: "kunai wait: members, key, check, tag and leader, satisfied, timed out or impossible",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const agents: AgentProc[] = [];
    try {
      const ports = ADDRS.map((a) => freePort(a));
      agents.push(
        await startAgent({
          name: "w1",
          addr: ADDRS[0],
          port: ports[0],
          params: { bootstrap: true, tags: ["kv", "web"], kv: { replicas: 1, write_acks: 1 } },
        }),
      );
      const [a] = agents;
      let r = await a.cli(["wait", "members", "1"]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^1 alive member\(s\): 1 alive \(w1\) \(after \d+\.\d s\)$/m);

      r = await a.cli(["wait", "members", "2", "--timeout", "400ms", "--every", "100ms"]);
      assert.equal(r.code, 1);
      assert.match(
        r.stderr,
        /timed out after 0\.\d s waiting for 2 alive member\(s\); last seen: 1 alive \(w1\)/,
      );

      // waits while a second agent starts and joins, and returns once it is seen
      const waiting = a.cli(["wait", "members", "2", "--tag", "web", "--timeout", "60s", "--json"]);
      agents.push(
        await startAgent({
          name: "w2",
          addr: ADDRS[1],
          port: ports[1],
          params: { seeds: [`${ADDRS[0]}:${ports[0]}`], tags: ["web"] },
        }),
      );
      r = await waiting;
      assert.equal(r.code, 0, r.stderr);
      const j = JSON.parse(r.stdout);
      assert.equal(j.satisfied, true);
      assert.equal(j.seen, "2 alive (w1, w2)");

      // a key written while waiting
      const key = a.cli(["wait", "key", "app/ready", "--timeout", "60s"]);
      await new Promise((res) => setTimeout(res, 300));
      const put = await a.cli(["kv", "put", "app/ready", "yes"]);
      assert.equal(put.code, 0, put.stderr);
      r = await key;
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^key app\/ready: app\/ready exists/);

      r = await a.cli(["wait", "tag", "web"]);
      assert.equal(r.code, 0, r.stderr);
      r = await a.cli(["wait", "tag", "never-there", "--timeout", "200ms"]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /waiting for tag never-there; last seen: tags .*web/);

      // questions that cannot come true: at once, exit 2
      r = await a.cli(["wait", "check", "no-such-check", "--timeout", "60s"]);
      assert.equal(r.code, 2);
      assert.match(r.stderr, /no check no-such-check on this agent; its checks: .*linux\/cpu/);
      r = await a.cli(["wait", "leader", "db", "--timeout", "60s"]);
      assert.equal(r.code, 2);
      assert.match(r.stderr, /no RAFT group is configured here/);
      for (
        const bad of [["members", "0"], ["members", "x"], ["check", "cpu", "--state", "green"], [
          "members",
          "1",
          "--timeout",
          "soon",
        ]]
      ) {
        r = await a.cli(["wait", ...bad]);
        assert.equal(r.code, 2, bad.join(" "));
      }
    } finally {
      await Promise.all(agents.map((x) => x.stop()));
    }
    // no agent there: exit 1 after the timeout, saying the agent does not answer
    const t = tempDir("kunai-wait-");
    try {
      const cfg = join(t.dir, "local.json");
      Deno.writeTextFileSync(cfg, JSON.stringify({ socket: join(t.dir, "none.sock"), data: t.dir }));
      const r = await runKunai(["-c", cfg, "wait", "members", "1", "--timeout", "300ms"], { HOME: t.dir });
      assert.equal(r.code, 1);
      assert.match(r.stderr, /last seen: the agent does not answer/);
    } finally {
      t.cleanup();
    }
  },
});

Deno.test({
  name:
    "an agent that takes the connection and never answers: wait stops at --timeout, monitor and ping say so",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const host = "127.0.0.88";
    const port = freePort(host);
    const listener = Deno.listen({ hostname: host, port });
    const held: Deno.Conn[] = [];
    const accepting = (async () => {
      try {
        for await (const c of listener) held.push(c);
      } catch { /* closed */ }
    })();
    try {
      const at = ["--http-addr", `${host}:${port}`];
      // each ask of the agent is bounded by the time left (it waited the client's 10 s per ask)
      const w = await runKunai(["wait", "tag", "x", "--timeout", "1s", ...at], {}, 8_000);
      assert.equal(w.code, 1, w.stderr);
      assert.match(w.stderr, /timed out after 1\.\d s waiting for tag x; .*no answer before --timeout/);
      // the stream's time limit covers the answer's headers (it waited for good)
      const m = await runKunai(["monitor", ...at], {}, 25_000);
      assert.equal(m.code, 1, m.stderr);
      assert.match(m.stderr, /cannot reach the kunai agent at .*: no answer within 10000 ms/);
      const p = await runKunai(["ping", "n", "--count", "1", "--timeout", "100ms", ...at], {}, 25_000);
      assert.equal(p.code, 1, p.stderr);
      assert.match(p.stderr, /no answer within 10300 ms/);
      const bad = await runKunai(["ping", "n", "--count", "30", ...at]);
      assert.equal(bad.code, 2);
      assert.match(bad.stderr, /--count: expected 1-20, got 30/);
    } finally {
      listener.close();
      for (const c of held) c.close();
      await accepting;
    }
  },
});
