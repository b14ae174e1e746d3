import assert from "node:assert/strict";
import { SimCluster } from "./gossip_harness.ts";

Deno.test("sim: a node that left, came back and crashed is dead for the node that only saw it leave", async () => {
  const c = new SimCluster({ nodes: 6, seed: 21, link: { delayMs: 1, jitterMs: 2 } });
  await c.startAndJoin(10);
  assert.ok(await c.runUntil(() => c.converged(), 60_000) >= 0);
  const [seed, , , , away, node] = c.nodes;
  const uuid = node.self.uuid;
  void node.engine.leave().then(() => c.kill(node));
  await c.clock.advance(2000);
  assert.ok(node.killed);
  assert.ok(c.viewsOf(uuid).every((r) => r?.state === "leave"), "everyone saw the leave");
  // `away` is cut off while the node comes back (a newer incarnation) and crashes again
  const rest = c.nodes.filter((n) => n !== away).map((n) => n.addr);
  c.net.partition([[away.addr], rest]);
  await c.restart(node);
  void node.engine.join(seed.addr);
  const back = await c.runUntil(
    () => c.live().every((v) => v === away || c.stateOf(v, uuid) === "alive"),
    30_000,
  );
  assert.ok(back >= 0, "the node did not come back");
  c.kill(node);
  assert.ok(
    await c.runUntil(() => c.live().every((v) => v === away || c.stateOf(v, uuid) === "dead"), 120_000) >= 0,
  );
  c.net.heal();
  assert.equal(c.stateOf(away, uuid), "leave");
  // its leave was older than the life the others saw end: dead everywhere, as the others hold it
  const took = await c.runUntil(() => c.viewsOf(uuid).every((r) => r?.state === "dead"), 300_000, 500);
  assert.ok(took >= 0, `still ${c.viewsOf(uuid).map((r) => r?.state).join(",")} after healing`);
  await c.stopAll();
});

Deno.test("sim: a node that restarts does not bring back the dead it hears of, and reaped nodes stay gone", async () => {
  const c = new SimCluster({
    nodes: 6,
    seed: 22,
    config: { reap_after: 60_000 },
    link: { delayMs: 1, jitterMs: 2 },
  });
  await c.startAndJoin(10);
  assert.ok(await c.runUntil(() => c.converged(), 60_000) >= 0);
  const [seed, , , , fresh, victim] = c.nodes;
  const uuid = victim.self.uuid;
  c.kill(victim);
  assert.ok(await c.runUntil(() => c.viewsOf(uuid).every((r) => r?.state === "dead"), 120_000) >= 0);
  // a node restarts (a fresh table) and joins through a peer that still holds the dead node
  c.kill(fresh);
  await c.restart(fresh);
  const since = c.clock.now();
  void fresh.engine.join(seed.addr);
  await c.clock.advance(5000);
  assert.equal(c.stateOf(fresh, uuid), undefined, "the fresh node took the dead node for a new one");
  // reaped everywhere within reap_after (plus a reap round), and not learned again from a peer that
  // had not reaped it yet (with each insert restarting its reap_after, the dead came back forever)
  assert.ok(await c.runUntil(() => c.viewsOf(uuid).every((r) => r === undefined), 90_000, 1000) >= 0);
  for (let i = 0; i < 10; i++) {
    await c.clock.advance(60_000);
    assert.ok(c.viewsOf(uuid).every((r) => r === undefined), "a reaped node came back");
  }
  for (const n of c.live()) {
    assert.deepEqual(n.changes.filter((e) => e.uuid === uuid && e.kind === "joined" && e.at >= since), []);
  }
  await c.stopAll();
});
