import assert from "node:assert/strict";
import { GONE_CONFIRM_INTERVALS, REFUSED_CHECK_AT } from "../../lib/gossip/prober.ts";
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

Deno.test("sim: in a healthy cluster a probe arms one timer, the port check, and its ack cancels it", async () => {
  // Deno's timers wake the process at the expiry of a cleared timer too (docs/benchmarks.md,
  // "cleared timers"): the direct timeout is armed only if the check finds the ping unanswered
  const c = await convergedCluster(5, 3, 1);
  const checkMs = Math.floor(c.config.probe_timeout * REFUSED_CHECK_AT);
  // watch the timers of the port check's delay and of the direct timeout on the shared virtual clock
  const clock = c.clock;
  const set = clock.setTimeout.bind(clock);
  const clear = clock.clearTimeout.bind(clock);
  const checks = new Set<unknown>();
  let fired = 0, cancelled = 0, timeouts = 0;
  clock.setTimeout = (fn, ms) => {
    if (ms === c.config.probe_timeout || ms === c.config.probe_timeout - checkMs) timeouts++;
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
  assert.equal(timeouts, 0, "a direct timeout was armed although every ping was acked before the check");
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

/** Virtual ms until every live node sees `uuid` dead, or -1 within `maxMs`. */
function allSeeDead(c: SimCluster, uuid: string, maxMs: number): Promise<number> {
  return c.runUntil(() => c.live().every((n) => c.stateOf(n, uuid) === "dead"), maxMs, 20);
}

Deno.test("sim: a killed member whose port refuses twice is dead everywhere before Lifeguard's timeout", async () => {
  const c = await convergedCluster(8, 21, 1);
  const victim = c.nodes[5];
  c.kill(victim);
  const took = await allSeeDead(c, victim.self.uuid, 20_000);
  // Lifeguard alone: the suspicion's minimum is 4 probe intervals at 8 members (its maximum 6x that)
  const lifeguardMin = c.config.suspicion_mult * c.config.probe_interval;
  assert.ok(took >= 0, "the killed member was declared dead");
  // first probe within an interval, the second ask one interval after it, then the dead spreads
  assert.ok(
    took < (1 + GONE_CONFIRM_INTERVALS) * c.config.probe_interval + 1_000,
    `dead everywhere ${took} ms after the kill (Lifeguard's minimum alone: ${lifeguardMin} ms)`,
  );
  const byRefusal = c.live().reduce(
    (n, v) => n + (v.engine.deps.counters.get("gossip_dead_by_refusal_total") ?? 0),
    0,
  );
  assert.ok(byRefusal >= 1, "declared dead by a second refusal");
  await c.stopAll();
});

Deno.test("sim: a silent member that does not refuse still gets Lifeguard's whole suspicion", async () => {
  const c = await convergedCluster(8, 22, 1);
  const victim = c.nodes[3];
  c.net.partition([[victim.addr]]); // unreachable, but its port never refuses: maybe only slow or cut off
  const minMs = c.config.suspicion_mult * c.config.probe_interval;
  const firstSuspect = await c.runUntil(
    () => c.live().some((n) => n !== victim && c.stateOf(n, victim.self.uuid) === "suspect"),
    5_000,
    20,
  );
  assert.ok(firstSuspect >= 0, "suspected");
  const deadAt = await c.runUntil(
    () => c.live().some((n) => n !== victim && c.stateOf(n, victim.self.uuid) === "dead"),
    60_000,
    20,
  );
  assert.ok(deadAt >= minMs - 100, `dead ${deadAt} ms after the first suspicion, under Lifeguard's ${minMs}`);
  for (const n of c.live()) assert.equal(n.engine.deps.counters.get("gossip_dead_by_refusal_total") ?? 0, 0);
  await c.stopAll();
});

Deno.test("sim: one refusal alone, or a refuted suspicion, never declares a member dead", async () => {
  const c = await convergedCluster(6, 23, 1);
  const victim = c.nodes[2];
  // every port check about the victim says refused once, then never again (an agent starting up)
  const asked = new Map<SimGossipNode, number>();
  for (const n of c.nodes) {
    const t = n.engine.deps.transport;
    const refused = t.refused.bind(t);
    t.refused = (to, ms) => {
      if (to.addr !== victim.addr.addr) return refused(to, ms);
      asked.set(n, (asked.get(n) ?? 0) + 1);
      return Promise.resolve(asked.get(n) === 1);
    };
  }
  c.net.partition([[victim.addr]]); // silent: suspected after a refused check
  const suspected = await c.runUntil(
    () => c.nodes.some((n) => n !== victim && c.stateOf(n, victim.self.uuid) === "suspect"),
    3_000,
    20,
  );
  assert.ok(suspected >= 0, "suspected after the refusal");
  // the second ask comes a probe interval later, while it is still silent
  await c.clock.advance(GONE_CONFIRM_INTERVALS * c.config.probe_interval + 500);
  c.net.heal(); // back before Lifeguard's timeout (4 s at 6 members): it refutes
  assert.ok(await c.runUntil(() => c.converged(), 10_000) >= 0, "the member refuted and is alive everywhere");
  for (const n of c.nodes) {
    assert.ok(
      !n.changes.some((ch) => ch.kind === "dead" && ch.uuid === victim.self.uuid),
      `${n.self.name} saw it dead`,
    );
  }
  assert.ok([...asked.values()].some((k) => k >= 2), "the port was asked a second time");
  await c.stopAll();
});
