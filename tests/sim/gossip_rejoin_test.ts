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
