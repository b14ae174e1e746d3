/**
 * 2 real agents (127.0.27.1-2), neither tagged `kv`: the reference's rule keeps each node's keys on
 * that node, and kunai says so (a warning in the log at the first write, the CLI's `kv put` and a
 * `kv get` that finds nothing, `kunai info`, the web UI's KV page); `kunai exec` still brings back
 * the other node's result and `kunai propagate` still delivers, both read from the node that holds
 * them.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { AgentClient } from "../../lib/client/mod.ts";
import type { NodeResult } from "../../lib/exec/mod.ts";
import type { MemberRecord } from "../../lib/types.ts";
import { newExecKeys } from "../../cli/global.ts";
import { type AgentProc, startCluster, until } from "../helpers.ts";
import { haveChromium, launchChromium } from "../browser.ts";

const ISOLATED = /no live member of the cluster is tagged kv/;

Deno.test({
  name: "e2e without kv nodes: keys stay per node and that is said; exec and propagate still work",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const keys = await newExecKeys();
    const agents: AgentProc[] = [];
    try {
      const ports = await startCluster(agents, ["127.0.27.1", "127.0.27.2"], (i) => ({
        name: `nk${i}`,
        params: {
          tags: ["web"],
          master_key_pub: "exec.pub",
          ...(i === 0 ? { master_key_priv: "exec.key" } : {}),
        },
        files: { "exec.pub": keys.pub, ...(i === 0 ? { "exec.key": keys.priv } : {}) },
      }));
      const [a, b] = agents;
      await until(
        "2 alive",
        async () => {
          const c = new AgentClient({ socket: a.socket });
          try {
            const m = await c.json<Record<string, MemberRecord>>("GET", "/agent/members");
            return Object.values(m).filter((r) => r.state === "alive").length === 2;
          } finally {
            c.close();
          }
        },
        30_000,
        200,
      );

      // the KV: kept on a, said to the CLI and once in a's log
      const put = await a.cli(["kv", "put", "app/color", "blue"]);
      assert.equal(put.code, 0, put.stderr);
      assert.match(put.stderr, ISOLATED);
      assert.match(put.stderr, /the 1 other member\(s\) do not see its keys/);
      assert.equal((await a.cli(["kv", "put", "app/size", "2"])).code, 0);
      const list = await a.cli(["kv", "list", "app/"]);
      assert.deepEqual(list.stdout.trim().split("\n"), ["app/color", "app/size"]);
      assert.match(list.stderr, ISOLATED);
      const get = await b.cli(["kv", "get", "app/color"]);
      assert.equal(get.code, 1);
      assert.match(get.stderr, /key app\/color not found/);
      assert.match(get.stderr, ISOLATED);
      const log = () => Deno.readTextFileSync(join(a.dir, "log", "daemon.log"));
      await until("the warning in a's log", () => ISOLATED.test(log()), 5_000);
      assert.equal(log().split("\n").filter((l) => ISOLATED.test(l)).length, 1, "said once");
      const info = await a.cli(["info"]);
      assert.match(info.stdout, /keys written here stay here/);
      // and the web UI's KV page (in Chromium, when there is one)
      if (haveChromium()) {
        const browser = await launchChromium();
        try {
          const page = await browser.newPage();
          await page.goto(`http://127.0.27.1:${ports[0]}/ui/#/kv`);
          await page.locator("#kv-scope", { hasText: "the 1 other member(s) keep theirs" }).waitFor({
            timeout: 15_000,
          });
        } finally {
          await browser.close();
        }
      }

      // exec: b's result is read from b's own store
      const r = await a.cli(["exec", "web", "echo done", "--json"]);
      assert.equal(r.code, 0, r.stderr);
      const byName = Object.fromEntries(
        (Object.values(JSON.parse(r.stdout).res) as NodeResult[]).map((x) => [x.node, x]),
      );
      assert.equal(byName.nk0?.state, "done");
      assert.equal(byName.nk1?.state, "done", JSON.stringify(byName.nk1));
      assert.equal(byName.nk1?.output, "done\n");

      // propagate: b reads the files from a
      Deno.chmodSync(a.dir, 0o755);
      const rel = join("propagated", "hello.json");
      Deno.mkdirSync(join(a.cfgDir, "propagated"));
      Deno.writeTextFileSync(
        join(a.cfgDir, rel),
        JSON.stringify({ check: { interval: "1s", apply_on: "*", critical_if: "1 > 2", ok_output: "'ok'" } }),
      );
      const p = await a.cli(["propagate", "configuration", "--json"]);
      assert.equal(p.code, 0, p.stderr);
      await until(`${rel} on b`, async () => (await Deno.stat(join(b.cfgDir, rel))).isFile, 20_000, 200);
    } finally {
      await Promise.all(agents.map((x) => x.stop()));
    }
  },
});
