/**
 * Real agents on loopback (127.0.0.1 … 127.0.0.8), gossip encrypted: membership converges,
 * another node's state comes from that node, kill -9 is detected (by its port's second refusal),
 * `kunai leave` spreads, and a key rotation keeps everyone alive.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { AgentClient } from "../../lib/client/mod.ts";
import { generateKey } from "../../lib/gossip/mod.ts";
import type { MemberRecord } from "../../lib/types.ts";
import { type AgentProc, freePort, startAgent } from "../helpers.ts";

const N = 8;

// agents run with HOME set to their temp dir: share our Deno cache so they do not re-download npm packages
if (!Deno.env.get("DENO_DIR")) {
  const home = Deno.env.get("HOME");
  if (home) Deno.env.set("DENO_DIR", `${home}/.cache/deno`);
}

async function members(a: AgentProc): Promise<Record<string, MemberRecord>> {
  const c = new AgentClient({ socket: a.socket, timeoutMs: 10_000 });
  try {
    return await c.json<Record<string, MemberRecord>>("GET", "/agent/members");
  } finally {
    c.close();
  }
}

async function keys(a: AgentProc): Promise<{ primary: string; keys: string[] }> {
  const c = new AgentClient({ socket: a.socket, timeoutMs: 10_000 });
  try {
    return await c.json("GET", "/agent/keys");
  } finally {
    c.close();
  }
}

/** Polls until `pred` holds for every agent; throws with the last views on timeout. */
async function eventually(
  agents: AgentProc[],
  pred: (m: Record<string, MemberRecord>) => boolean,
  ms: number,
  what: string,
) {
  const end = Date.now() + ms;
  let last: unknown = null;
  while (Date.now() < end) {
    try {
      const views = await Promise.all(agents.map(members));
      last = views.map((v) => Object.values(v).map((r) => `${r.name}:${r.state}`).sort().join(" "));
      if (views.every(pred)) return;
    } catch (err) {
      last = String(err);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`timed out waiting for: ${what}\n${JSON.stringify(last, null, 1)}`);
}

const stateOf = (v: Record<string, MemberRecord>, name: string) =>
  Object.values(v).find((r) => r.name === name)?.state;

Deno.test({
  name:
    "e2e: 8 encrypted agents converge, detect kill -9, spread leave and survive a key rotation and a restart after it",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const key1 = generateKey();
    const gossip = {
      probe_interval: "500ms",
      probe_timeout: "200ms",
      gossip_interval: "100ms",
      push_pull_interval: "5s",
    };
    const addrs = Array.from({ length: N }, (_, i) => `127.0.0.${i + 1}`);
    const ports = addrs.map((a) => freePort(a));
    const seed = `${addrs[0]}:${ports[0]}`;
    const agents: AgentProc[] = [];
    const shinkenDir = Deno.makeTempDirSync({ prefix: "kunai-shk-" });
    try {
      agents.push(
        ...await Promise.all(addrs.map((addr, i) =>
          startAgent({
            name: `g${i}`,
            addr,
            port: ports[i],
            params: { encryption_key: key1, gossip, seeds: i === 0 ? [] : [seed], bootstrap: i === 0 },
            // a check of each node's own, shown on another agent only if that node answers for itself
            files: {
              "here.json": { check: { interval: "1h", critical_if: "False", ok_output: `'on g${i}'` } },
              // g0 exports the cluster to Nagios: other nodes' own checks are asked of them
              ...(i === 0
                ? {
                  "shinken.json": {
                    shinken: {
                      cfg_path: shinkenDir,
                      external_command_file: "",
                      reload_command: "",
                      monitoring_tool: "nagios",
                      poll_interval: "1s",
                    },
                  },
                }
                : {}),
            },
          })
        )),
      );
      const t0 = Date.now();
      await eventually(
        agents,
        (v) => Object.values(v).filter((r) => r.state === "alive").length === N,
        30_000,
        "8 alive everywhere",
      );
      console.log(`converged in ${Date.now() - t0} ms`);

      // another node's state is that node's answer (sealed peer route), its own checks included
      let seen = "";
      for (let i = 0; i < 40 && seen !== "on g1"; i++) {
        const st = await agents[0].cli(["state", "g1", "--json"]);
        assert.equal(st.code, 0, st.stderr);
        const view = JSON.parse(st.stdout);
        assert.equal(view.source, "node", JSON.stringify(view));
        seen = view.checks.here?.output ?? "";
        if (seen !== "on g1") await new Promise((r) => setTimeout(r, 250));
      }
      assert.equal(seen, "on g1");
      // g0's Nagios export holds g1's own check too, not only its services' (g1 was asked)
      const g1File = () => {
        for (const e of Deno.readDirSync(shinkenDir)) {
          const text = Deno.readTextFileSync(join(shinkenDir, e.name));
          if (/display_name\s+g1$/m.test(text)) return text;
        }
        return "";
      };
      for (let i = 0; i < 60 && !/_KUNAI_CHECK\s+here$/m.test(g1File()); i++) {
        await new Promise((r) => setTimeout(r, 250));
      }
      assert.match(g1File(), /_KUNAI_CHECK\s+here$/m);
      assert.match(
        (await agents[0].cli(["info"])).stdout,
        /^={10} \[Shinken\]:\n(.*\n)*Polls of nodes: +[1-9]/m,
      );
      // the peer route over TCP: a body the keyring did not seal is refused as such
      const forged = await fetch(`http://${addrs[1]}:${ports[1]}/checks-internal/state`, {
        method: "POST",
        body: "{}",
      });
      assert.equal(forged.status, 401, await forged.text());

      // kill -9 one: the rest declare it dead
      const victim = agents[N - 1];
      await victim.kill9();
      const t1 = Date.now();
      const rest = agents.slice(0, N - 1);
      await eventually(
        rest,
        (v) => stateOf(v, `g${N - 1}`) === "dead",
        45_000,
        "killed node dead everywhere",
      );
      console.log(`kill -9 detected by all in ${Date.now() - t1} ms`);
      const gone = await agents[0].cli(["state", `g${N - 1}`]);
      assert.equal(gone.code, 0, gone.stderr);
      assert.doesNotMatch(gone.stdout, /\bhere\b/, "its own checks are not in its gossip record");
      assert.match(gone.stderr, /g7 is dead; shown from its gossip record: its services' checks only/);
      // its port refused (nothing listens there any more): a suspecter declared it dead at the second
      // refusal, not at the end of Lifeguard's suspicion
      const byRefusal = await Promise.all(rest.map(async (_, i) => {
        const text = await (await fetch(`http://${addrs[i]}:${ports[i]}/metrics`)).text();
        return Number(/^kunai_gossip_dead_by_refusal_total (\d+)$/m.exec(text)?.[1] ?? 0);
      }));
      assert.ok(byRefusal.some((n) => n >= 1), `dead by refusal per agent: ${byRefusal.join(" ")}`);

      // kunai leave on one: the rest show it leave, and it exits
      const leaver = agents[N - 2];
      const r = await leaver.cli(["leave"]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /Node g6 is set to leave state: OK/);
      const live = agents.slice(0, N - 2);
      await eventually(live, (v) => stateOf(v, "g6") === "leave", 20_000, "leave everywhere");
      const st = await Promise.race([
        leaver.child.status,
        new Promise((r) => setTimeout(() => r(null), 15_000)),
      ]);
      assert.ok(st, "the leaving agent exits by itself");

      // `kunai members` prints the layout
      const m = await agents[0].cli(["members", "--tag", "nosuchtag", "--json"]);
      assert.equal(m.code, 0, m.stderr);
      assert.deepEqual(JSON.parse(m.stdout), []);
      const text = await agents[0].cli(["members"]);
      assert.match(text.stdout, /^Node\s+Address\s+Status\s+Zone\s+Tags$/m);
      assert.match(text.stdout, /g0\s+127\.0\.0\.1:\d+\s+alive/);
      assert.match(text.stdout, /g6\s+127\.0\.0\.7:\d+\s+leave/);

      // key rotation: install new everywhere, use it, remove the old one
      const key2 = generateKey();
      let k = await agents[0].cli(["keys", "install", key2]);
      assert.equal(k.code, 0, k.stderr);
      await waitKeys(live, (r) => r.keys.includes(key2), "new key installed everywhere");
      k = await agents[1].cli(["keys", "use", key2]);
      assert.equal(k.code, 0, k.stderr);
      await waitKeys(live, (r) => r.primary === key2, "new key primary everywhere");
      k = await agents[2].cli(["keys", "remove", key1]);
      assert.equal(k.code, 0, k.stderr);
      await waitKeys(live, (r) => r.keys.length === 1 && r.keys[0] === key2, "old key removed everywhere");
      // everyone stays alive on the new key for a while
      await new Promise((r) => setTimeout(r, 4000));
      await eventually(
        live,
        (v) => live.every((_, i) => stateOf(v, `g${i}`) === "alive"),
        5_000,
        "all alive after rotation",
      );
      // a restart with key1 still in local.json: keyring.json wins, key1 stays removed (it may have
      // leaked), the agent says so and rejoins on key2
      await agents[3].stop(3000);
      agents[3] = await startAgent({
        name: "g3",
        addr: addrs[3],
        port: ports[3],
        dir: agents[3].dir,
        params: { encryption_key: key1, gossip, seeds: [seed], bootstrap: false },
      });
      live[3] = agents[3];
      assert.deepEqual(await keys(agents[3]), { enabled: true, primary: key2, keys: [key2] });
      assert.match(agents[3].stderr(), /keyring\.json holds the keys .* not installed/);
      await eventually(live, (v) => stateOf(v, "g3") === "alive", 20_000, "g3 back on key2");
      const bad = await agents[0].cli(["keys", "remove", key2]);
      assert.equal(bad.code, 2, "a refused request (400) is a usage error");
      assert.match(bad.stderr + bad.stdout, /primary/);
    } catch (err) {
      for (const a of agents) console.log(`--- ${a.dir}\n${a.stderr().slice(-1500)}`);
      throw err;
    } finally {
      await Promise.all(agents.map((a) => a.stop(3000).catch(() => {})));
      for (const dir of [...agents.map((a) => a.dir), shinkenDir]) {
        try {
          Deno.removeSync(dir, { recursive: true });
        } catch { /* ignore */ }
      }
    }
  },
});

async function waitKeys(
  agents: AgentProc[],
  pred: (r: { primary: string; keys: string[] }) => boolean,
  what: string,
) {
  const end = Date.now() + 20_000;
  let last: unknown = null;
  while (Date.now() < end) {
    try {
      const all = await Promise.all(agents.map(keys));
      last = all;
      if (all.every(pred)) return;
    } catch (err) {
      last = String(err);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out waiting for: ${what}: ${JSON.stringify(last)}`);
}
