import assert from "node:assert/strict";
import { SimCluster } from "./gossip_harness.ts";

Deno.test("sim: 200 nodes joining one by one converge to the same 200-alive view", async () => {
  const t0 = performance.now();
  const c = new SimCluster({ nodes: 200, seed: 1, link: { loss: 0, delayMs: 1, jitterMs: 2 } });
  await c.startAndJoin(20);
  const took = await c.runUntil(() => c.converged(), 120_000, 250);
  assert.ok(took >= 0, "the cluster did not converge within 120 simulated seconds");
  console.log(
    `200 nodes converged ${took} ms after the last join (${Math.round(performance.now() - t0)} ms real)`,
  );
  // and it stays converged (no false suspicion on a clean network)
  await c.clock.advance(30_000);
  assert.ok(c.converged());
  await c.stopAll();
});
