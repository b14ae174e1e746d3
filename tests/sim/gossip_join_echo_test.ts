/**
 * What a join makes the joiner gossip (lib/gossip/push_pull.ts, members.ts `merge`): a fresh agent
 * applies the seed's table without queueing it for re-broadcast (everyone knows it already, or the
 * seed spreads it), while two clusters meeting through a join still gossip each other's members at
 * once, not at the next periodic push-pull.
 */
import assert from "node:assert/strict";
import { AGENT_SERVICES, SimCluster, type SimGossipNode } from "./gossip_harness.ts";

/** Advances virtual time until `p` settles (the sim's network moves only with the clock). */
async function settle<T>(c: SimCluster, p: Promise<T>): Promise<T> {
  let done = false;
  p.finally(() => done = true).catch(() => {});
  await c.runUntil(() => done, 10_000, 5);
  return await p;
}

/** Live records other than the node's own that its gossip queue holds news of. */
function queuedOthers(n: SimGossipNode, c: SimCluster): number {
  let k = 0;
  for (const other of c.nodes) {
    if (other === n) continue;
    if (n.engine.queue.has(other.self.uuid)) k++;
  }
  return k;
}

Deno.test("sim: a fresh agent joining a cluster of 30 does not queue the seed's table for gossip", async () => {
  for (const seed of [1, 2]) {
    const c = new SimCluster({
      nodes: 31,
      seed,
      link: { loss: 0, delayMs: 1, jitterMs: 2 },
      services: AGENT_SERVICES,
    });
    const late = c.nodes[30];
    // the 30 first join one by one; the last one waits until they agree and their news is spent
    for (const n of c.nodes.slice(0, 30)) {
      await n.engine.start();
      if (n.index > 0) void n.engine.join(c.nodes[0].addr);
      await c.clock.advance(20);
    }
    const others = () =>
      c.nodes.slice(0, 30).every((v) =>
        v.engine.members.records().filter((r) => r.state === "alive").length === 30
      );
    assert.ok((await c.runUntil(others, 30_000)) >= 0, `seed ${seed}: the 30 never agreed`);
    await c.clock.advance(20_000);
    await late.engine.start();
    const seedNode = c.nodes[Math.floor(c.rng() * 30)];
    assert.equal(await settle(c, late.engine.join(seedNode.addr)), true);
    assert.equal(late.engine.members.size, 31, `seed ${seed}: the joiner holds the whole table`);
    // the seed's own record only (first-hand news of the node that answered); before: all 30
    assert.ok(queuedOthers(late, c) <= 1, `seed ${seed}: ${queuedOthers(late, c)} records of others queued`);
    assert.ok((await c.runUntil(() => c.converged(), 5_000)) >= 0, `seed ${seed}: not converged`);
    await c.stopAll();
  }
});

Deno.test("sim: two clusters of 6 meeting through one join: the joiner's side learns the other within 3 s (its gossip, not the 30 s push-pull)", async () => {
  for (const seed of [3, 4, 5]) {
    const c = new SimCluster({
      nodes: 12,
      seed,
      link: { loss: 0, delayMs: 1, jitterMs: 2 },
      services: AGENT_SERVICES,
    });
    for (const n of c.nodes) await n.engine.start();
    // cluster A = nodes 0-5 (through 0), cluster B = nodes 6-11 (through 6)
    for (const n of c.nodes) {
      if (n.index !== 0 && n.index !== 6) void n.engine.join(c.nodes[n.index < 6 ? 0 : 6].addr);
      await c.clock.advance(20);
    }
    const sees = (v: SimGossipNode, k: number) =>
      v.engine.members.records().filter((r) => r.state === "alive").length === k;
    assert.ok(
      (await c.runUntil(() => c.nodes.every((v) => sees(v, 6)), 10_000)) >= 0,
      `seed ${seed}: the two clusters did not form`,
    );
    await c.clock.advance(5_000);
    const t = c.clock.now();
    // a member of A (not A's seed) joins a member of B: B's side learns A from the member it joined
    // (it relays the joiner's table, as any served exchange), A's side only from the joiner's gossip
    assert.equal(await settle(c, c.nodes[3].engine.join(c.nodes[9].addr)), true);
    const sideA = c.nodes.slice(0, 6);
    const took = await c.runUntil(() => sideA.every((v) => sees(v, 12)), 10_000, 50);
    assert.ok(
      took >= 0 && c.clock.now() - t <= 3_000,
      `seed ${seed}: A sees 12 alive after ${c.clock.now() - t} ms`,
    );
    await c.stopAll();
  }
});
