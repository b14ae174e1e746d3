import assert from "node:assert/strict";
import type { NodeClock } from "../../lib/transport/sim.ts";
import { SimCluster } from "./gossip_harness.ts";

Deno.test("sim: an agent alone does not wake every gossip or probe interval; a join wakes both loops", async () => {
  const c = new SimCluster({ nodes: 2, seed: 7, link: { loss: 0, delayMs: 1, jitterMs: 1 } });
  const [a, b] = c.nodes;
  const clockOf = (n: typeof a) => n.engine.deps.clock as NodeClock;
  await a.engine.start();
  await c.clock.advance(1000);
  const before = clockOf(a).fired;
  await c.clock.advance(60_000);
  const idleWakes = clockOf(a).fired - before;
  // what is left: the reap round (10 s), the push-pull and reconnect loops (30 s); a free-running
  // gossip interval (200 ms) and probe loop (1 s) alone would be 360 wake-ups a minute
  assert.ok(idleWakes <= 12, `alone for 60 s, the node woke ${idleWakes} times`);
  assert.equal(a.engine.traffic.packetsSent, 0);

  // a second node joins: the first learns of it, gossips its news and starts probing it
  await b.engine.start();
  void b.engine.join(a.addr);
  const took = await c.runUntil(() => c.converged(), 10_000, 50);
  assert.ok(took >= 0, "the two nodes did not converge");
  const sent = a.engine.traffic.packetsSent;
  await c.clock.advance(10_000);
  // one probe a second at least (each answered by an ack from b)
  assert.ok(
    a.engine.traffic.packetsSent - sent >= 9,
    `a sent ${a.engine.traffic.packetsSent - sent} packets`,
  );
  assert.equal(c.stateOf(b, a.self.uuid), "alive");
  assert.equal(c.stateOf(a, b.self.uuid), "alive");

  // b leaves for good (killed): a still detects it, its loops are awake while b is a member
  c.kill(b);
  const dead = await c.runUntil(() => c.stateOf(a, b.self.uuid) === "dead", 60_000, 100);
  assert.ok(dead >= 0, "a did not see b dead");
  await c.stopAll();
});

Deno.test("sim: alone, the push-pull and reconnect loops wait for a member; with one they sync, and a dead one is retried", async () => {
  const c = new SimCluster({ nodes: 2, seed: 11, link: { loss: 0, delayMs: 1, jitterMs: 1 } });
  const [a, b] = c.nodes;
  const clock = a.engine.deps.clock as NodeClock;
  const count = (name: string, labels = {}) => a.engine.deps.counters.get(name, labels);
  await a.engine.start();
  await c.clock.advance(31_000);
  assert.equal(a.engine.sync.waiting, 2, "both loops wait for a membership change");
  const before = clock.fired;
  await c.clock.advance(120_000);
  // only the reap round (10 s) is left: push-pull and reconnect (30 s) no longer tick alone
  assert.ok(clock.fired - before <= 13, `alone for 120 s, the node woke ${clock.fired - before} times`);

  await b.engine.start();
  void b.engine.join(a.addr);
  assert.ok(await c.runUntil(() => c.converged(), 10_000, 50) >= 0, "the two nodes did not converge");
  const pulls = count("gossip_push_pull_total", { role: "client" });
  await c.clock.advance(65_000);
  assert.equal(a.engine.sync.waiting, 1, "push-pull runs again; reconnect waits (nobody dead)");
  assert.ok(count("gossip_push_pull_total", { role: "client" }) - pulls >= 2, "a periodic push-pull with b");

  c.kill(b);
  assert.ok(await c.runUntil(() => c.stateOf(a, b.self.uuid) === "dead", 60_000, 100) >= 0, "b not dead");
  assert.ok(
    await c.runUntil(() => count("gossip_reconnect_failures_total") >= 1, 70_000, 500) >= 0,
    "a tried to reconnect to the dead b",
  );
  await c.stopAll();
});
