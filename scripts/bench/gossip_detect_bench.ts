/**
 * Failure detection as `kunai-cluster.sh` exercises it, on the simulated network: 20 nodes
 * (KUNAI_BENCH_NODES) join the first one at once, and the last one is killed 0–2 s after the
 * cluster converged. Over KUNAI_BENCH_RUNS seeds: how long until the first node suspects it, and
 * until every node holds it dead (virtual ms; 10 ms resolution). Prints one JSON line.
 */
import { SimCluster } from "../../tests/sim/gossip_harness.ts";

const NODES = Number(Deno.env.get("KUNAI_BENCH_NODES") ?? 20);
const RUNS = Number(Deno.env.get("KUNAI_BENCH_RUNS") ?? 40);

function pct(values: number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  return Math.round(s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]);
}
const summary = (v: number[]) => ({
  p10: pct(v, 10),
  p50: pct(v, 50),
  p90: pct(v, 90),
  max: Math.round(Math.max(...v)),
  mean: Math.round(v.reduce((a, b) => a + b, 0) / v.length),
});

const firstSuspect: number[] = [];
const allDead: number[] = [];
const t0 = performance.now();
for (let seed = 1; seed <= RUNS; seed++) {
  const c = new SimCluster({ nodes: NODES, seed, link: { delayMs: 1, jitterMs: 2 } });
  for (const n of c.nodes) await n.engine.start();
  await c.clock.advance(1000 + Math.floor(c.rng() * 1000));
  for (const n of c.nodes.slice(1)) void n.engine.join(c.nodes[0].addr);
  if (await c.runUntil(() => c.converged(), 10_000, 10) < 0) throw new Error(`seed ${seed}: no convergence`);
  await c.clock.advance(Math.floor(c.rng() * 2000));
  const victim = c.nodes[NODES - 1];
  const killedAt = c.clock.now();
  c.kill(victim);
  const took = await c.runUntil(
    () => c.viewsOf(victim.self.uuid).every((r) => r?.state === "dead"),
    120_000,
    10,
  );
  allDead.push(took < 0 ? Infinity : took);
  const suspects = c.live().flatMap((v) =>
    v.changes.filter((e) => e.uuid === victim.self.uuid && e.kind === "suspect").map((e) => e.at - killedAt)
  );
  firstSuspect.push(Math.min(...suspects));
  await c.stopAll();
}
console.log(JSON.stringify({
  nodes: NODES,
  runs: RUNS,
  first_suspect_ms: summary(firstSuspect),
  all_dead_ms: summary(allDead),
  real_ms: Math.round(performance.now() - t0),
}));
