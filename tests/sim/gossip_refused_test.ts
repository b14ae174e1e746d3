import assert from "node:assert/strict";
import { REFUSED_CHECK_AT } from "../../lib/gossip/prober.ts";
import { SimCluster, type SimGossipNode } from "./gossip_harness.ts";

/** `nodes` simulated agents (links of `delayMs` each way), started, joined and converged. */
async function convergedCluster(nodes: number, seed: number, delayMs: number): Promise<SimCluster> {
  const c = new SimCluster({ nodes, seed, link: { delayMs, jitterMs: 0 } });
  await c.startAndJoin(10);
  assert.ok(await c.runUntil(() => c.converged(), 60_000) >= 0, "the cluster converged");
  return c;
}

/** Runs one probe of `target` by `by` on the virtual clock; resolves its virtual duration (ms). */
async function timedProbe(c: SimCluster, by: SimGossipNode, target: SimGossipNode): Promise<number> {
  const rec = by.engine.members.get(target.self.uuid);
  assert.ok(rec, "the prober knows the target");
  const t0 = c.clock.now();
  let done = false;
  const p = by.engine.prober.probe(rec).then(() => done = true);
  assert.ok(await c.runUntil(() => done, 5_000, 5) >= 0, "the probe ended");
  await p;
  return c.clock.now() - t0;
}

Deno.test("sim: a killed member is suspected once its port refuses, a fifth into the direct timeout", async () => {
  const c = await convergedCluster(5, 7, 1);
  const [prober, , , victim] = c.nodes;
  c.kill(victim);
  const took = await timedProbe(c, prober, victim);
  const timeout = c.config.probe_timeout;
  // the check starts at REFUSED_CHECK_AT of the direct timeout; the refusal takes one round trip
  assert.ok(took >= timeout * REFUSED_CHECK_AT, `probe ended after ${took} ms`);
  assert.ok(took < timeout, `a killed member waited the whole direct timeout (${took} ms of ${timeout})`);
  assert.equal(c.stateOf(prober, victim.self.uuid), "suspect");
  assert.equal(prober.engine.deps.counters.get("gossip_probes_refused_total"), 1);
  await c.stopAll();
});

Deno.test("sim: a live member that acks after the port check starts is not suspected", async () => {
  // 120 ms each way: the ack comes after REFUSED_CHECK_AT of the 500 ms timeout, well within it
  const c = await convergedCluster(4, 11, 120);
  const [prober, , target] = c.nodes;
  const refusedBefore = prober.engine.deps.counters.get("gossip_probes_refused_total") ?? 0;
  const took = await timedProbe(c, prober, target);
  assert.ok(took > c.config.probe_timeout * REFUSED_CHECK_AT, `acked after ${took} ms`);
  assert.ok(took < c.config.probe_timeout, `acked after ${took} ms`);
  assert.equal(c.stateOf(prober, target.self.uuid), "alive");
  assert.equal(prober.engine.deps.counters.get("gossip_probes_refused_total") ?? 0, refusedBefore);
  assert.ok(c.converged(), "nobody was suspected");
  await c.stopAll();
});

Deno.test("sim: in a healthy cluster an ack cancels the port check: no extra wake-up per probe", async () => {
  const c = await convergedCluster(5, 3, 1);
  const checkMs = Math.floor(c.config.probe_timeout * REFUSED_CHECK_AT);
  // watch the timers of the port check's delay on the shared virtual clock
  const clock = c.clock;
  const set = clock.setTimeout.bind(clock);
  const clear = clock.clearTimeout.bind(clock);
  const checks = new Set<unknown>();
  let fired = 0, cancelled = 0;
  clock.setTimeout = (fn, ms) => {
    if (ms !== checkMs) return set(fn, ms);
    const id = set(() => {
      fired++;
      fn();
    }, ms);
    checks.add(id);
    return id;
  };
  clock.clearTimeout = (id) => {
    if (checks.has(id)) cancelled++;
    clear(id);
  };
  await c.clock.advance(10_000);
  assert.ok(cancelled >= 40, `5 nodes probe ~50 times in 10 s; ${cancelled} checks cancelled`);
  assert.equal(fired, 0, "a port check fired although every probe was acked");
  await c.stopAll();
});

Deno.test("sim: a probe asks the target's port once, even when the early check gets no answer", async () => {
  const c = await convergedCluster(5, 9, 1);
  const [prober, , victim] = c.nodes;
  const transport = prober.engine.deps.transport;
  const refused = transport.refused.bind(transport);
  let connects = 0;
  transport.refused = (to, ms) => {
    connects++;
    return refused(to, ms);
  };
  c.net.partition([[victim.addr]]); // silent on every port: neither an ack nor a refusal
  const took = await timedProbe(c, prober, victim);
  assert.ok(took >= c.config.probe_interval, `a silent target waits for the relays (${took} ms)`);
  assert.equal(c.stateOf(prober, victim.self.uuid), "suspect");
  assert.equal(connects, 1, "one connection attempt per probe");
  await c.stopAll();
});
