/**
 * A member whose wall clock steps back (an NTP step, a VM resumed from a snapshot) keeps probing on
 * its interval and still declares a killed peer dead: its timers wait relative times, and what was
 * computed from the wall clock (the probe grid, the eager gossip round, a suspicion's remaining
 * time) is capped at what it can be without a step.
 */
import assert from "node:assert/strict";
import type { Clock } from "../../lib/clock/mod.ts";
import { SimCluster } from "./gossip_harness.ts";
import { steppedClock } from "../clock_step.ts";

Deno.test("sim: a member whose wall clock steps back an hour keeps probing and finds a killed peer dead", async () => {
  const c = new SimCluster({ nodes: 2, seed: 11, link: { delayMs: 1, jitterMs: 1 } });
  const [a, b] = c.nodes;
  const clock = steppedClock(c.clock);
  (a.engine.deps as { clock: Clock }).clock = clock;
  try {
    await c.startAndJoin();
    assert.ok(await c.runUntil(() => c.converged(), 10_000) >= 0, "no convergence");
    await c.clock.advance(5_000);
    const probes = c.traceProbes();
    clock.step(-3_600_000);
    await c.clock.advance(10_000);
    const byA = probes.filter((p) => p.by === a.index).length;
    // one probe per interval (1 s), give or take the one in flight at the step
    assert.ok(byA >= 8, `a probed ${byA} times in the 10 s after its clock stepped back`);
    c.kill(b);
    const took = await c.runUntil(() => c.stateOf(a, b.self.uuid) === "dead", 60_000);
    assert.ok(took >= 0, `b not dead at a after 60 s (${c.stateOf(a, b.self.uuid)})`);
  } finally {
    await c.stopAll();
  }
});

Deno.test("sim: a wall clock step back in the middle of a probe of an unreachable peer does not hold the prober for the step", async () => {
  const c = new SimCluster({ nodes: 3, seed: 12, link: { delayMs: 1, jitterMs: 1 } });
  const [a, , z] = c.nodes;
  const clock = steppedClock(c.clock);
  (a.engine.deps as { clock: Clock }).clock = clock;
  try {
    await c.startAndJoin();
    assert.ok(await c.runUntil(() => c.converged(), 10_000) >= 0, "no convergence");
    const probes = c.traceProbes();
    // z cut off from everyone: its port neither answers nor refuses
    c.net.partition([c.nodes.filter((n) => n !== z).map((n) => n.addr), [z.addr]]);
    const probing = () => probes.some((p) => p.by === a.index && p.target === z.self.uuid);
    assert.ok(await c.runUntil(probing, 10_000) >= 0, "a never probed z");
    await c.clock.advance(50); // inside the probe's direct phase: the timeouts after it are still to be computed
    clock.step(-3_600_000);
    const n = probes.filter((p) => p.by === a.index).length;
    await c.clock.advance(10_000);
    const after = probes.filter((p) => p.by === a.index).length - n;
    assert.ok(after >= 7, `a probed ${after} times in the 10 s after its clock stepped back mid-probe`);
  } finally {
    await c.stopAll();
  }
});
