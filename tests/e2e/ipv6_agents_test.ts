/**
 * Real agents bound on the IPv6 loopback (::1, distinct ports), gossip encrypted: one joins by a
 * `[::1]:port` seed and one by `kunai join [::1]:port`, a KV write through one is read through the
 * others (the CLI over `--http-addr [::1]:port` and `http://[::1]:port`), a kill -9 is seen dead, and
 * every `host:port` the agents print for an IPv6 member has its brackets: `kunai members`, the
 * history, a failed join's message.
 */
import assert from "node:assert/strict";
import { generateKey } from "../../lib/gossip/mod.ts";
import type { MemberRecord } from "../../lib/types.ts";
import {
  type AgentProc,
  FAST_GOSSIP,
  freePort,
  runKunai,
  startAgent,
  startCluster,
  until,
} from "../helpers.ts";

const TOKEN = "six-token";

/** Whether this machine has an IPv6 loopback at all (a container without one skips the test). */
function hasIpv6Loopback(): boolean {
  try {
    Deno.listen({ hostname: "::1", port: 0 }).close();
    return true;
  } catch {
    return false;
  }
}

/** Each member's state as `a` sees it, asked over TCP on [::1]. */
async function states(a: AgentProc): Promise<Record<string, string>> {
  const r = await fetch(`http://[::1]:${a.port}/agent/members`, { signal: AbortSignal.timeout(5_000) });
  const m = await r.json() as Record<string, MemberRecord>;
  return Object.fromEntries(Object.values(m).map((r) => [r.name, r.state]));
}

Deno.test({
  name: "e2e ipv6: agents on ::1 join by seed and by kunai join, replicate KV, see a kill -9 dead",
  ignore: !hasIpv6Loopback(),
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const common = { tags: ["kv"], encryption_key: generateKey(), http: { token: TOKEN } };
    const agents: AgentProc[] = [];
    try {
      // s2 joins s1 by its seed `[::1]:port` (startCluster's), s3 by `kunai join [::1]:port`
      const ports = await startCluster(
        agents,
        ["::1", "::1"],
        (i) => ({ name: `s${i + 1}`, params: common }),
      );
      const seed = `[::1]:${ports[0]}`;
      ports.push(freePort("::1"));
      agents.push(
        await startAgent({
          name: "s3",
          addr: "::1",
          port: ports[2],
          params: { ...common, gossip: FAST_GOSSIP },
        }),
      );
      const [a, b, c] = agents;
      const j = await c.cli(["join", seed]);
      assert.equal(j.code, 0, j.stderr);
      await until("3 alive everywhere", async () => {
        const views = await Promise.all(agents.map(states));
        return views.every((v) => ["s1", "s2", "s3"].every((n) => v[n] === "alive"));
      });

      // a write over TCP to one, read from the others over TCP; `kunai members` prints addresses a
      // reader (or --http-addr, or `kunai join`) can take back
      const put = await runKunai([
        "--http-addr",
        `[::1]:${ports[1]}`,
        "--token",
        TOKEN,
        "kv",
        "put",
        "six/k",
        "v6",
      ]);
      assert.equal(put.code, 0, put.stderr);
      const [m, ...gets] = await Promise.all([
        runKunai(["--http-addr", `[::1]:${ports[0]}`, "members"]),
        ...[ports[0], ports[2]].map((p) =>
          until(`the key through [::1]:${p}`, async () => {
            const r = await runKunai(["--http-addr", `http://[::1]:${p}`, "kv", "get", "six/k"]);
            return r.code === 0 && r.stdout.trim();
          })
        ),
      ]);
      assert.deepEqual(gets, ["v6", "v6"]);
      assert.equal(m.code, 0, m.stderr);
      for (let i = 0; i < 3; i++) {
        assert.match(m.stdout, new RegExp(`^s${i + 1}\\s+\\[::1\\]:${ports[i]}\\s+alive`, "m"), m.stdout);
      }

      await c.kill9();
      await until("s3 dead on s1 and s2", async () => {
        const views = await Promise.all([a, b].map(states));
        return views.every((v) => v.s3 === "dead");
      });
      const history = await a.cli(["members", "history", "s3", "--json"]);
      assert.equal(history.code, 0, history.stderr);
      const changes = JSON.parse(history.stdout) as Array<{ addr: string; change: string }>;
      assert.ok(changes.some((h) => h.change === "dead"), history.stdout);
      assert.ok(changes.every((h) => h.addr === `[::1]:${ports[2]}`), history.stdout);

      // a join that fails names the address as it was given
      const refused = await runKunai([
        "--http-addr",
        `[::1]:${ports[0]}`,
        "--token",
        TOKEN,
        "join",
        `[::1]:${ports[2]}`,
      ]);
      assert.equal(refused.code, 1);
      assert.match(
        refused.stdout,
        new RegExp(`FAILED \\(request to \\[::1\\]:${ports[2]} failed`),
        refused.stdout,
      );
    } catch (err) {
      for (const x of agents) console.log(`--- ${x.dir}\n${x.stderr().slice(-1500)}`);
      throw err;
    } finally {
      await Promise.all(agents.map((x) => x.stop(3000).catch(() => {})));
    }
  },
});
