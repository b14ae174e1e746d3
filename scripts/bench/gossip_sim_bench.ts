/**
 * Gossip on the simulated network: 1 000 nodes (KUNAI_BENCH_NODES), several seeds.
 * Measures join propagation (time for a new node to be alive in 100 % of views, p50/p99 over
 * joins and seeds), failure detection (kill → dead everywhere) and steady-state bandwidth per
 * node, with the AES-GCM overhead added per packet. Prints one JSON line.
 */
import { SimCluster } from "../../tests/sim/gossip_harness.ts";
import { pushPullInterval, SEAL_OVERHEAD } from "../../lib/gossip/mod.ts";

const NODES = Number(Deno.env.get("KUNAI_BENCH_NODES") ?? 1000);
const SEEDS = (Deno.env.get("KUNAI_BENCH_SEEDS") ?? "1,2,3").split(",").map(Number);
const JOINS_PER_SEED = Number(Deno.env.get("KUNAI_BENCH_JOINS") ?? 5);

function pct(values: number[], p: number): number {
  if (!values.length) return NaN;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
}

const joins: number[] = [];
const detections: number[] = [];
const firstSuspects: number[] = [];
const bandwidth: number[] = [];
const bandwidthEncrypted: number[] = [];
const t0 = performance.now();

for (const seed of SEEDS) {
  const c = new SimCluster({ nodes: NODES, seed, link: { delayMs: 1, jitterMs: 3 } });
  await c.startAndJoin(5);
  const conv = await c.runUntil(() => c.converged(), 600_000, 1000);
  console.error(
    `seed ${seed}: ${NODES} nodes converged ${conv} ms after the last join (${
      Math.round(performance.now() - t0)
    } ms real)`,
  );
  await c.clock.advance(60_000); // let queues settle

  // steady state bandwidth (no membership events), over two push-pull periods so full syncs count
  const windowS = Math.max(60, (2 * pushPullInterval(c.config.push_pull_interval, NODES)) / 1000);
  const before = new Map(c.net.bytesByNode);
  const packetsBefore = c.net.stats.packetsSent;
  const requestsBefore = c.net.stats.requests;
  await c.clock.advance(windowS * 1000);
  let bytes = 0;
  for (const [k, v] of c.net.bytesByNode) bytes += v - (before.get(k) ?? 0);
  // every datagram and both halves of every push-pull carry the AES-GCM header and tag
  const sealed = c.net.stats.packetsSent - packetsBefore + 2 * (c.net.stats.requests - requestsBefore);
  bandwidth.push(bytes / windowS / NODES);
  bandwidthEncrypted.push((bytes + sealed * SEAL_OVERHEAD) / windowS / NODES);

  // join propagation
  for (let j = 0; j < JOINS_PER_SEED; j++) {
    const n = c.add();
    await n.engine.start();
    const peer = c.nodes[Math.floor(c.rng() * (c.nodes.length - 1))];
    const startedAt = c.clock.now();
    void n.engine.join(peer.addr);
    const took = await c.runUntil(
      () => c.live().every((v) => v.engine.members.get(n.self.uuid)?.state === "alive"),
      120_000,
      50,
    );
    joins.push(took < 0 ? Infinity : took);
    await c.clock.advance(5_000 + (c.clock.now() - startedAt) % 1000);
  }

  // failure detection
  const victim = c.nodes[Math.floor(c.rng() * NODES)];
  const killedAt = c.clock.now();
  c.kill(victim);
  const took = await c.runUntil(
    () => c.live().every((v) => v.engine.members.get(victim.self.uuid)?.state === "dead"),
    300_000,
    100,
  );
  detections.push(took < 0 ? Infinity : took);
  const suspects = c.live().flatMap((v) =>
    v.changes.filter((e) => e.uuid === victim.self.uuid && e.kind === "suspect").map((e) => e.at - killedAt)
  );
  firstSuspects.push(Math.min(...suspects));
  await c.stopAll();
  console.error(`seed ${seed} done (${Math.round(performance.now() - t0)} ms real)`);
}

const result = {
  nodes: NODES,
  seeds: SEEDS,
  join_propagation_ms: {
    p50: pct(joins, 50),
    p99: pct(joins, 99),
    max: Math.max(...joins),
    samples: joins.length,
  },
  failure_detection_ms: {
    first_suspect_p50: pct(firstSuspects, 50),
    all_dead_p50: pct(detections, 50),
    all_dead_max: Math.max(...detections),
    samples: detections.length,
  },
  steady_state_bytes_per_s_per_node: {
    plain: Math.round(pct(bandwidth, 50)),
    encrypted: Math.round(pct(bandwidthEncrypted, 50)),
  },
  steady_state_kbit_per_s_per_node_encrypted: Math.round(pct(bandwidthEncrypted, 50) * 8 / 100) / 10,
  real_ms: Math.round(performance.now() - t0),
};
console.log(JSON.stringify(result));
