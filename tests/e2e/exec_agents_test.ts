/**
 * 3 real agents (127.0.18.1-3, all `kv` for the results): a holds the private key, a and b the
 * public key, c none. `kunai exec web CMD` runs on the tagged nodes holding the key and c refuses;
 * crafted requests to b's /exec/run show tampered, replayed and expired requests refused and
 * logged, a replay still refused once b restarted; output over the cap arrives truncated, with the
 * count of dropped bytes.
 */
import assert from "node:assert/strict";
import { AgentClient } from "../../lib/client/mod.ts";
import { type ExecRequest, importPrivateKey, type NodeResult, signRequest } from "../../lib/exec/mod.ts";
import type { MemberRecord } from "../../lib/types.ts";
import { newExecKeys } from "../../cli/global.ts";
import { type AgentProc, FAST_GOSSIP, startAgent, startCluster, until } from "../helpers.ts";

async function post(
  addr: string,
  port: number,
  body: unknown,
): Promise<{ accepted: boolean; reason?: string }> {
  const res = await fetch(`http://${addr}:${port}/exec/run`, { method: "POST", body: JSON.stringify(body) });
  return await res.json();
}

Deno.test({
  name: "e2e exec: signed commands run on tagged nodes with the key; tampered, replayed, expired refused",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const keys = await newExecKeys();
    const addrs = ["127.0.18.1", "127.0.18.2", "127.0.18.3"];
    const agents: AgentProc[] = [];
    try {
      const ports = await startCluster(agents, addrs, (i) => {
        const files: Record<string, string> = {};
        const params: Record<string, unknown> = { tags: ["kv", "web", `only${i}`] };
        if (i < 2) {
          files["exec.pub"] = keys.pub;
          params.master_key_pub = "exec.pub";
        }
        if (i === 0) {
          files["exec.key"] = keys.priv;
          params.master_key_priv = "exec.key";
        }
        return { name: `x${i}`, params, files };
      });
      const [a, b, c] = agents;
      await until(
        "3 alive kv members",
        async () => {
          const cl = new AgentClient({ socket: a.socket });
          try {
            const m = await cl.json<Record<string, MemberRecord>>("GET", "/agent/members");
            return Object.values(m).filter((r) => r.state === "alive").length === 3;
          } finally {
            cl.close();
          }
        },
        30_000,
        200,
      );

      // through the CLI: a and b run it, c refuses (no public key)
      const r = await a.cli([
        "exec",
        "web",
        "echo hello from $(hostname) >/dev/null; echo ok-$PPID >/dev/null; echo done",
        "--json",
      ]);
      assert.equal(r.code, 0, r.stderr);
      const g = JSON.parse(r.stdout);
      const byName: Record<string, NodeResult> = Object.fromEntries(
        (Object.values(g.res) as NodeResult[]).map((x) => [x.node, x]),
      );
      assert.deepEqual(Object.keys(byName).sort(), ["x0", "x1", "x2"]);
      assert.equal(byName.x0.state, "done");
      assert.equal(byName.x0.rc, 0);
      assert.equal(byName.x0.output, "done\n");
      assert.equal(byName.x1.state, "done");
      assert.equal(byName.x2.state, "error");
      assert.match(byName.x2.err ?? "", /refused: no-public-key/);
      await until(
        "c logs the refusal",
        () => /exec refused \(no-public-key\)/.test(c.stderr()),
        5000,
        200,
      );

      // only the nodes with the tag are asked
      const one = await a.cli(["exec", "only1", "exit 7", "--json"]);
      const og = JSON.parse(one.stdout);
      assert.deepEqual(
        Object.values(og.res).map((x) => [(x as { node: string }).node, (x as { rc: number }).rc]),
        [["x1", 7]],
      );
      const text = await a.cli(["exec", "only1", "echo hi"]);
      assert.match(text.stdout, /Command group launch as cid [0-9a-f]{32}/);
      assert.match(text.stdout, /x1\nReturn code:0\nOutput:hi/);

      // output over the 64 KiB cap: truncated, and said so
      const big = await a.cli(["exec", "only1", "head -c 100000 /dev/zero | tr '\\0' y", "--json"]);
      const bg = Object.values(JSON.parse(big.stdout).res)[0] as {
        output: string;
        truncated: { output: number };
      };
      assert.equal(bg.output.length, 65_536);
      assert.equal(bg.truncated.output, 100_000 - 65_536);

      // crafted requests straight to b's peer route (no keyring in this cluster: plain bodies)
      const priv = await importPrivateKey(keys.priv);
      const now = Date.now();
      const base: ExecRequest = {
        v: 1,
        cid: "ab".repeat(16),
        cmd: "echo crafted",
        tag: "web",
        nonce: "Y3JhZnRlZA==",
        issued: now,
        expires: now + 30_000,
        from: "test",
      };
      const signed = await signRequest(priv, base);
      const tampered = { ...signed, req: { ...signed.req, cmd: "echo evil" } };
      assert.deepEqual(await post(addrs[1], ports[1], tampered), {
        accepted: false,
        reason: "bad-signature",
      });
      assert.deepEqual(await post(addrs[1], ports[1], signed), { accepted: true });
      assert.deepEqual(await post(addrs[1], ports[1], signed), { accepted: false, reason: "replay" });
      const expired = await signRequest(priv, {
        ...base,
        nonce: "b2xk",
        issued: now - 120_000,
        expires: now - 60_000,
      });
      assert.deepEqual(await post(addrs[1], ports[1], expired), { accepted: false, reason: "expired" });
      const notMine = await signRequest(priv, { ...base, nonce: "bm90bWluZQ==", tag: "only0" });
      assert.deepEqual(await post(addrs[1], ports[1], notMine), { accepted: false, reason: "not-targeted" });
      assert.deepEqual(await post(addrs[1], ports[1], { hello: 1 }), {
        accepted: false,
        reason: "malformed",
      });
      for (const reason of ["bad-signature", "replay", "expired", "not-targeted"]) {
        assert.match(b.stderr(), new RegExp(`exec refused \\(${reason}\\)`));
      }
      const metrics = await (await fetch(`http://${addrs[1]}:${ports[1]}/metrics`)).text();
      assert.match(metrics, /kunai_exec_refused_total\{reason="replay"\} 1/);
      // restarted, b still knows it ran that request (a captured one sent again is a replay), and
      // runs a new one
      await b.stop();
      agents[1] = await startAgent({
        name: "x1",
        addr: addrs[1],
        port: ports[1],
        dir: b.dir,
        params: {
          gossip: FAST_GOSSIP,
          seeds: [`${addrs[0]}:${ports[0]}`],
          tags: ["kv", "web", "only1"],
          master_key_pub: "exec.pub",
        },
      });
      assert.deepEqual(await post(addrs[1], ports[1], signed), { accepted: false, reason: "replay" });
      const fresh = await signRequest(priv, { ...base, cid: "cd".repeat(16), nonce: "ZnJlc2g=" });
      assert.deepEqual(await post(addrs[1], ports[1], fresh), { accepted: true });

      // the asker's result routes are protected, and so are the results' KV keys
      const resultKey = `/kv/__exec/${g.cid}/${Object.keys(g.res)[0]}?raw`;
      for (const path of ["/exec/web?cmd=id", `/exec-get/${g.cid}`, resultKey]) {
        const res = await fetch(`http://${addrs[0]}:${ports[0]}${path}`);
        await res.body?.cancel();
        assert.ok([401, 403].includes(res.status), `${path} over TCP without a token: ${res.status}`);
      }
      // what every node would refuse as malformed is refused by the asker, before any cid
      const long = await a.cli(["exec", "web", `echo ${"x".repeat(8200)}`]);
      assert.equal(long.code, 2, long.stderr);
      assert.match(long.stderr, /cmd: 8205 characters, more than 8192/);
      const noKey = await agents[1].cli(["exec", "web", "id"]);
      assert.equal(noKey.code, 2, "a configuration error (the agent's 400)");
      assert.match(noKey.stderr, /No master private key/);
    } finally {
      await Promise.all(agents.map((x) => x.stop()));
      for (const x of agents) Deno.removeSync(x.dir, { recursive: true });
    }
  },
});
