/**
 * Five real agents on loopback (a, b, c tagged kv; d, e not), joined by gossip: forwarding,
 * replica reads after kill -9 of the owner, writes once the ring moved, catch-up after restart,
 * blocking reads waking right after a write.
 */
import assert from "node:assert/strict";
import { ringOwners } from "../../lib/kv/mod.ts";
import type { MemberRecord } from "../../lib/types.ts";
import { type AgentProc, freePort, startAgent } from "../helpers.ts";
import { eventually } from "./kv_helpers.ts";

const GOSSIP = {
  probe_interval: "200ms",
  probe_timeout: "100ms",
  gossip_interval: "50ms",
  suspicion_mult: 2,
  push_pull_interval: "2s",
};

async function members(a: AgentProc): Promise<MemberRecord[]> {
  const r = await fetch(`http://127.0.0.1:${a.port}/agent/members`);
  return Object.values(await r.json()) as MemberRecord[];
}

const TOKEN = "kv-e2e-token";

function url(a: AgentProc, path: string): string {
  return `http://127.0.0.1:${a.port}${path}`;
}

async function put(a: AgentProc, key: string, value: string): Promise<Response> {
  return await fetch(url(a, `/kv/${key}`), {
    method: "PUT",
    body: value,
    headers: { authorization: `Bearer ${TOKEN}` },
    signal: AbortSignal.timeout(10_000),
  });
}

async function getRaw(a: AgentProc, key: string): Promise<{ status: number; text: string }> {
  const r = await fetch(url(a, `/kv/${key}?raw`), { signal: AbortSignal.timeout(10_000) });
  return { status: r.status, text: await r.text() };
}

Deno.test({
  name:
    "5 real agents: forward, replica reads after kill -9, writes after the ring moves, catch-up, blocking reads",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const names = ["a", "b", "c", "d", "e"];
    const ports = names.map(() => freePort());
    const seed = `127.0.0.1:${ports[0]}`;
    const params = (i: number) => ({
      tags: i < 3 ? ["kv"] : ["web"],
      seeds: i === 0 ? [] : [seed],
      bootstrap: i === 0,
      gossip: GOSSIP,
      kv: { anti_entropy_interval: "1s", request_timeout: "2s" },
      http: { token: TOKEN },
    });
    const agents: AgentProc[] = [];
    try {
      for (let i = 0; i < 5; i++) {
        agents.push(await startAgent({ name: names[i], port: ports[i], params: params(i) }));
      }
      await eventually("everyone sees 5 alive members", async () => {
        for (const a of agents) {
          const ms = await members(a);
          if (ms.filter((m) => m.state === "alive").length !== 5) return false;
        }
        return true;
      }, 20_000);
      const [, , , d, e] = agents;

      // a write on a non-kv node is forwarded; every node reads it
      const r1 = await put(d, "e2e/key", "v1");
      assert.equal(r1.status, 200, await r1.clone().text());
      assert.equal(await r1.json(), true);
      for (const a of agents) assert.deepEqual(await getRaw(a, "e2e/key"), { status: 200, text: "v1" });
      // kv nodes exist: a non-kv node's CLI is not told its keys stay with it
      const viaCli = await d.cli(["kv", "put", "e2e/cli", "x"]);
      assert.equal(viaCli.code, 0, viaCli.stderr);
      assert.doesNotMatch(viaCli.stderr, /tagged kv/);

      // kill -9 the owner: reads still succeed from a replica
      const ring = await members(d);
      const ownerUuid = ringOwners("e2e/key", ring, 3, 256)[0].uuid;
      const ownerName = ring.find((m) => m.uuid === ownerUuid)!.name;
      const oi = names.indexOf(ownerName);
      const owner = agents[oi];
      await owner.kill9();
      assert.deepEqual(await getRaw(e, "e2e/key"), { status: 200, text: "v1" });

      // writes succeed once the ring moved (owner declared dead)
      const t0 = Date.now();
      await eventually("a write succeeds without the owner", async () => {
        const r = await put(e, "e2e/key", "v2");
        const ok = r.status === 200 && await r.json() === true;
        if (!ok) await r.body?.cancel();
        return ok;
      }, 20_000);
      console.log(`  write accepted ${Date.now() - t0} ms after kill -9 of the owner (${ownerName})`);
      for (let i = 0; i < 10; i++) assert.equal((await put(d, `e2e/k${i}`, `x${i}`)).status, 200);
      assert.deepEqual(await getRaw(d, "e2e/key"), { status: 200, text: "v2" });

      // restart it: it catches up (its local copy gets the writes it missed)
      agents[oi] = await startAgent({ name: ownerName, port: ports[oi], dir: owner.dir, params: params(oi) });
      const back = agents[oi];
      await eventually("owner caught up", async () => {
        for (const k of ["e2e/key", ...Array.from({ length: 10 }, (_, i) => `e2e/k${i}`)]) {
          const r = await fetch(url(back, "/kv-internal/get"), {
            method: "POST",
            body: JSON.stringify({ key: k }),
          });
          const j = await r.json();
          const mustHold = ringOwners(k, await members(back), 3, 256).some((o) => o.uuid === ownerUuid);
          if (mustHold && !j.record) return false;
          if (k === "e2e/key" && atob(j.record?.value ?? "") !== "v2") return false;
        }
        return true;
      }, 20_000);
      assert.deepEqual(await getRaw(back, "e2e/key"), { status: 200, text: "v2" });

      // a blocking read wakes within 100 ms of a write
      const head = await fetch(url(e, "/kv/e2e/key?meta"));
      const index = head.headers.get("x-kunai-index");
      await head.body?.cancel();
      let wokeAt = 0;
      const waiting = fetch(url(e, `/kv/e2e/key?index=${index}&wait=15s`)).then(async (r) => {
        wokeAt = performance.now();
        return await r.text();
      });
      await new Promise((r) => setTimeout(r, 300));
      const w = await put(d, "e2e/key", "v3");
      const ackAt = performance.now();
      await w.body?.cancel();
      assert.equal(await waiting, btoa("v3"));
      assert.ok(
        wokeAt - ackAt < 100,
        `blocking read woke ${(wokeAt - ackAt).toFixed(1)} ms after the write's ack`,
      );
    } finally {
      for (const a of agents) await a.stop(3000).catch(() => {});
      for (const a of agents) {
        try {
          Deno.removeSync(a.dir, { recursive: true });
        } catch { /* gone */ }
      }
    }
  },
});
