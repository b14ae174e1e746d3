/**
 * The gossip that follows a join storm, on the simulated network: every node but the first joins the
 * first at once (as `kunai-cluster.sh` and `serf join` do), then the datagrams of each second are
 * counted until the cluster is back to its probes alone. Every node re-broadcasts each alive it
 * accepts (memberlist does the same), `retransmit_mult * ceil(log10(N + 1))` times, and a packet holds
 * what fits in `max_packet_bytes`: the tail's length follows the size of a member's record. Run with
 * records without services, with a default agent's one (the redis detector's service, ~550 bytes a
 * record), and with it but packets left uncompressed (`gossip.compress: false`, as agents that
 * predate compression). Prints one JSON line.
 *
 * env: KUNAI_BENCH_SIZES=20,50  KUNAI_BENCH_SEEDS=1,2,3
 */
import type { GossipConfig } from "../../lib/config/mod.ts";
import { AGENT_SERVICES, SimCluster } from "../../tests/sim/gossip_harness.ts";

const SIZES = (Deno.env.get("KUNAI_BENCH_SIZES") ?? "20,50").split(",").map(Number);
const SEEDS = (Deno.env.get("KUNAI_BENCH_SEEDS") ?? "1,2,3").split(",").map(Number);
/** A second counts as quiet when it carries no more than the probes' datagrams plus this share. */
const QUIET_MARGIN = 1.1;
const MAX_TAIL_S = 60;

interface Run {
  converge_ms: number;
  /** Seconds after convergence until a second carried only the probes' traffic. */
  tail_s: number;
  /** Datagrams sent in those seconds, all nodes. */
  tail_datagrams: number;
  /** Datagrams of a quiet second (probes and their acks), all nodes. */
  quiet_per_s: number;
}

async function storm(
  nodes: number,
  seed: number,
  services: Record<string, unknown>,
  config: Partial<GossipConfig>,
): Promise<Run> {
  const c = new SimCluster({ nodes, seed, link: { loss: 0, delayMs: 1, jitterMs: 2 }, services, config });
  await c.stormJoin(2);
  const converge = await c.runUntil(() => c.converged(), 30_000, 10);
  const perSecond: number[] = [];
  for (let s = 0; s < MAX_TAIL_S + 10; s++) {
    const before = c.net.stats.packetsSent;
    await c.clock.advance(1000);
    perSecond.push(c.net.stats.packetsSent - before);
  }
  await c.stopAll();
  // a quiet second: the last ten seconds' lowest (probes, acks and nothing queued)
  const quiet = Math.min(...perSecond.slice(-10));
  let tail = perSecond.findIndex((n) => n <= quiet * QUIET_MARGIN);
  if (tail < 0) tail = perSecond.length;
  const extra = perSecond.slice(0, tail).reduce((a, b) => a + b, 0);
  return { converge_ms: converge, tail_s: tail, tail_datagrams: extra, quiet_per_s: quiet };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];

const out: Record<string, unknown> = { bench: "gossip_tail", seeds: SEEDS };
for (const nodes of SIZES) {
  const cases: Array<[string, Record<string, unknown>, Partial<GossipConfig>]> = [
    ["no_services", {}, {}],
    ["one_service", AGENT_SERVICES, {}],
    ["one_service_uncompressed", AGENT_SERVICES, { compress: false }],
  ];
  for (const [label, services, config] of cases) {
    const runs: Run[] = [];
    for (const seed of SEEDS) runs.push(await storm(nodes, seed, services, config));
    const servicesBytes = JSON.stringify(services).length;
    console.error(
      `${nodes} nodes, ${label}: converged ${runs.map((r) => r.converge_ms).join("/")} ms, tail ${
        runs.map((r) => r.tail_s).join("/")
      } s, ${runs.map((r) => r.tail_datagrams).join("/")} datagrams`,
    );
    out[`n${nodes}_${label}`] = {
      services_json_bytes: servicesBytes,
      converge_ms: median(runs.map((r) => r.converge_ms)),
      tail_s: median(runs.map((r) => r.tail_s)),
      tail_datagrams: median(runs.map((r) => r.tail_datagrams)),
      quiet_datagrams_per_s: median(runs.map((r) => r.quiet_per_s)),
      runs,
    };
  }
}
console.log(JSON.stringify(out));
