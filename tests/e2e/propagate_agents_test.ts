/**
 * 3 real agents (127.0.19.1-3, `kv` for the files): a check file added to the first agent's cfg
 * dir and pushed with `kunai propagate configuration` appears on the others, whose configuration
 * reloads in place and whose new check starts running; libexec files keep their mode.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { AgentClient } from "../../lib/client/mod.ts";
import type { MemberRecord } from "../../lib/types.ts";
import { type AgentProc, startCluster, until } from "../helpers.ts";

async function api<T>(a: AgentProc, path: string): Promise<T> {
  const c = new AgentClient({ socket: a.socket, timeoutMs: 5000 });
  try {
    return await c.json<T>("GET", path);
  } finally {
    c.close();
  }
}

Deno.test({
  name: "e2e propagate: a pushed check file reaches every node and its check starts running there",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const addrs = ["127.0.19.1", "127.0.19.2", "127.0.19.3"];
    const agents: AgentProc[] = [];
    try {
      await startCluster(agents, addrs, (i) => ({ name: `p${i}`, params: { tags: ["kv"] } }));
      const [a, b, c] = agents;
      await until(
        "3 alive",
        async () => {
          const m = await api<Record<string, MemberRecord>>(a, "/agent/members");
          return Object.values(m).filter((r) => r.state === "alive").length === 3;
        },
        30_000,
        200,
      );
      const rel = join("propagated", "hello.json");
      // an open configuration directory: what a closed one (a 0700 temp dir) holds stays on the node
      Deno.chmodSync(a.dir, 0o755);
      Deno.mkdirSync(join(a.cfgDir, "propagated"));
      Deno.writeTextFileSync(
        join(a.cfgDir, rel),
        JSON.stringify({
          check: { interval: "1s", apply_on: "*", critical_if: "1 > 2", ok_output: "'propagated ok'" },
        }),
      );
      const libexec = join(a.dir, "data", "libexec");
      Deno.mkdirSync(libexec, { recursive: true });
      Deno.writeTextFileSync(join(libexec, "check_x.sh"), "#!/bin/sh\necho x\n", { mode: 0o755 });

      const r = await a.cli(["propagate", "configuration", "--json"]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(JSON.parse(r.stdout).files, 1);
      const l = await a.cli(["propagate", "libexec"]);
      assert.equal(l.code, 0, l.stderr);
      assert.match(l.stdout, /1 libexec file\(s\) propagated/);

      for (const x of [b, c]) {
        await until(
          `${x.cfgDir}/${rel}`,
          async () => (await Deno.stat(join(x.cfgDir, rel))).isFile,
          20_000,
          200,
        );
        const view = await until(
          `the propagated check running on ${x.cfgDir}`,
          async () => {
            const checks = await api<Record<string, { state?: string; output?: string }>>(x, "/agent/checks");
            const v = checks["propagated/hello"];
            return v?.state === "ok" ? v : null;
          },
          20_000,
          200,
        );
        assert.equal(view.output, "propagated ok");
        const script = join(x.dir, "data", "libexec", "check_x.sh");
        await until(`${script}`, async () => (await Deno.stat(script)).isFile, 20_000, 200);
        assert.equal(Deno.statSync(script).mode! & 0o777, 0o755);
        assert.match(x.stderr(), /propagate: wrote 1 configuration file/);
        assert.match(x.stderr(), /configuration reloaded/);
      }
      // local.json stays each node's own
      assert.match(Deno.readTextFileSync(join(b.cfgDir, "local.json")), /"name": "p1"/);
    } finally {
      await Promise.all(agents.map((x) => x.stop()));
      for (const x of agents) Deno.removeSync(x.dir, { recursive: true });
    }
  },
});
