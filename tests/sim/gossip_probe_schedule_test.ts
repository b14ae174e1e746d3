/**
 * Issue 12: who probes whom. With independent shuffles (memberlist's way) a member is probed about
 * once a probe interval on average but in clumps, so a killed node waited ~1 s on average and up
 * to ~10 s for its first probe; the interleaved ring probes every member once per interval.
 */
import assert from "node:assert/strict";
import { slotTarget } from "../../lib/gossip/probe_schedule.ts";
import { GONE_CONFIRM_INTERVALS } from "../../lib/gossip/prober.ts";
import { SimCluster } from "./gossip_harness.ts";

Deno.test("probe schedule: in every slot each member probes another one and every member is probed once", () => {
  for (let n = 2; n <= 30; n++) {
    for (let slot = 0; slot < 3 * n; slot++) {
      const targets = Array.from({ length: n }, (_, self) => slotTarget(n, self, slot));
      for (let self = 0; self < n; self++) assert.notEqual(targets[self], self);
      assert.equal(new Set(targets).size, n, `n=${n} slot=${slot}: ${targets}`);
    }
  }
});

Deno.test("probe schedule: over n - 1 consecutive slots a member probes each of the others once (SWIM round robin)", () => {
  for (const n of [2, 3, 7, 20]) {
    for (const start of [0, 5, 1_764_500_000]) {
      for (let self = 0; self < n; self++) {
        const seen = new Set<number>();
        for (let s = start; s < start + n - 1; s++) seen.add(slotTarget(n, self, s));
        assert.equal(seen.size, n - 1);
        assert.ok(!seen.has(self));
      }
    }
  }
});

/** 20 nodes joining the first at once (as kunai-cluster.sh), converged. */
async function stormCluster(seed: number): Promise<SimCluster> {
  const c = new SimCluster({ nodes: 20, seed, link: { delayMs: 1, jitterMs: 2 } });
  for (const n of c.nodes) await n.engine.start();
  await c.clock.advance(1000 + Math.floor(c.rng() * 1000));
  for (const n of c.nodes.slice(1)) void n.engine.join(c.nodes[0].addr);
  assert.ok(await c.runUntil(() => c.converged(), 10_000, 10) >= 0, "no convergence");
  return c;
}

Deno.test("sim: right after a join storm every member is probed in every probe interval, by each peer in turn", async () => {
  for (const seed of [1, 2, 3]) {
    const c = await stormCluster(seed);
    const probes = c.traceProbes();
    const from = c.clock.now();
    await c.clock.advance(60_000);
    const interval = c.config.probe_interval;
    for (const m of c.nodes) {
      const times = probes.filter((p) => p.target === m.self.uuid).map((p) => p.at);
      // the first probe within two intervals of the start, then never two intervals without one
      let last = from;
      for (const t of times) {
        assert.ok(t - last < 2 * interval, `seed ${seed}: ${m.self.name} not probed for ${t - last} ms`);
        last = t;
      }
      assert.ok(from + 60_000 - last < 2 * interval);
      // each of the 19 others probed it 3 times or more in 60 s (every 19 intervals)
      for (const by of c.nodes) {
        if (by === m) continue;
        const n = probes.filter((p) => p.target === m.self.uuid && p.by === by.index).length;
        assert.ok(n >= 3, `seed ${seed}: ${by.self.name} probed ${m.self.name} ${n} times in 60 s`);
      }
    }
    // nobody was suspected meanwhile
    assert.ok(c.nodes.every((n) => n.changes.every((e) => e.kind !== "suspect")));
    await c.stopAll();
  }
});

Deno.test("sim: a node killed right after a join storm is suspected within 3 probe intervals, dead at its port's second refusal", async () => {
  const firsts: number[] = [];
  for (let seed = 1; seed <= 12; seed++) {
    const c = await stormCluster(seed);
    await c.clock.advance(Math.floor(c.rng() * 2000));
    const victim = c.nodes[19];
    const killedAt = c.clock.now();
    c.kill(victim);
    const took = await c.runUntil(
      () => c.viewsOf(victim.self.uuid).every((r) => r?.state === "dead"),
      60_000,
      10,
    );
    assert.ok(took >= 0, `seed ${seed}: not dead everywhere within 60 s`);
    const at = (kind: string) =>
      c.live().flatMap((v) => v.changes.filter((e) => e.uuid === victim.self.uuid && e.kind === kind))
        .map((e) => e.at - killedAt);
    const first = Math.min(...at("suspect"));
    firsts.push(Math.round(first));
    // one interval at most to the first probe of it, then the probe's own interval
    assert.ok(
      first <= 3 * c.config.probe_interval,
      `seed ${seed}: first suspicion ${first} ms after the kill`,
    );
    // dead when its port refuses again a probe interval later, before Lifeguard's minimum suspicion
    // (4 × log10(20) × 1 s) would have ended; never on the first refusal alone
    const dead = Math.min(...at("dead")) - first;
    assert.ok(
      dead >= GONE_CONFIRM_INTERVALS * c.config.probe_interval,
      `seed ${seed}: dead ${dead} ms after suspected`,
    );
    assert.ok(dead < 5204, `seed ${seed}: dead ${dead} ms after suspected, as late as Lifeguard's timeout`);
    await c.stopAll();
  }
  console.log(`first suspicion after the kill (virtual ms): ${firsts.join(" ")}`);
});

Deno.test("sim: a probe fails as soon as the target's port refuses; without that evidence it waits for the relays", async () => {
  for (const seed of [4, 5, 6]) {
    for (const how of ["killed", "cut off"] as const) {
      const c = await stormCluster(seed);
      const probes = c.traceProbes();
      const victim = c.nodes[19];
      const cutAt = c.clock.now();
      if (how === "killed") c.kill(victim);
      else c.net.partition([[victim.addr]]); // silent on every port: no refusal either
      await c.runUntil(
        () => c.nodes.some((n) => n !== victim && c.stateOf(n, victim.self.uuid) === "suspect"),
        10_000,
        5,
      );
      const first = probes.find((p) => p.target === victim.self.uuid && p.at >= cutAt)!;
      const suspected = Math.min(
        ...c.nodes.filter((n) => n.index === first.by).flatMap((n) =>
          n.changes.filter((e) => e.uuid === victim.self.uuid && e.kind === "suspect").map((e) => e.at)
        ),
      );
      const took = suspected - first.at;
      if (how === "killed") {
        // the direct ping's timeout, then one round trip of the refused connection
        assert.ok(took <= c.config.probe_timeout + 20, `seed ${seed}: suspected ${took} ms into the probe`);
      } else {
        assert.ok(took >= c.config.probe_interval, `seed ${seed}: suspected ${took} ms into the probe`);
      }
      await c.stopAll();
    }
  }
});
