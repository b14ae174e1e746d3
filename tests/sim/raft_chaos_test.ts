/**
 * 200 seeds of random kills, restarts (from the persisted term and vote), partitions and message
 * loss against the invariant checker of raft_harness.ts; once the chaos stops and everything is
 * healed, one leader is agreed on by all within 5 s.
 */
import assert from "node:assert/strict";
import { randomInt } from "../../lib/transport/mod.ts";
import { RaftSim } from "./raft_harness.ts";

const SEEDS = Number(Deno.env.get("KUNAI_RAFT_SEEDS") ?? 200);

Deno.test(`raft chaos: ${SEEDS} seeds of kills, restarts, partitions and loss keep every invariant`, async () => {
  let elections = 0;
  for (let seed = 1; seed <= SEEDS; seed++) {
    const n = 3 + (seed % 7); // 3..9 nodes
    const sim = new RaftSim(n, seed * 7919);
    const rng = sim.rng;
    sim.start();
    for (let step = 0; step < 25; step++) {
      const what = randomInt(rng, 6);
      const id = sim.ids[randomInt(rng, n)];
      if (what === 0) sim.kill(id);
      else if (what === 1) sim.restart(id);
      else if (what === 2) {
        const shuffled = [...sim.ids].sort(() => rng() - 0.5);
        const cut = 1 + randomInt(rng, n - 1);
        sim.partition([shuffled.slice(0, cut), shuffled.slice(cut)]);
      } else if (what === 3) sim.heal();
      else if (what === 4) sim.loss = rng() < 0.5 ? 0 : rng() * 0.3;
      // what === 5: let it run
      await sim.run(100 + randomInt(rng, 1500));
      assert.deepEqual(sim.violations, [], `seed ${seed} step ${step}`);
    }
    sim.heal();
    sim.loss = 0;
    for (const id of sim.ids) if (!sim.alive(id)) sim.restart(id);
    const t = await sim.until(() => sim.agreedLeader(sim.ids) !== null, 5000);
    assert.ok(t >= 0, `seed ${seed}: no single agreed leader 5 s after healing`);
    assert.deepEqual(sim.violations, [], `seed ${seed}`);
    elections += sim.leadersByTerm.size;
    sim.stop();
  }
  // the chaos did force many elections (the checker had something to check)
  assert.ok(elections > SEEDS * 3, `only ${elections} elections`);
});
