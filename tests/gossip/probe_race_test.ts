/**
 * A probe waits for its acks; a refused port is evidence against the process that was probed, so
 * when a newer incarnation of the member (its restart) is heard while the probe waits, the refusal
 * suspects nobody and the port-refused fast path does not go on to declare the new instance dead.
 */
import assert from "node:assert/strict";
import { SimCluster } from "../sim/gossip_harness.ts";
import type { MemberRecord } from "../../lib/types.ts";

const newer = (r: MemberRecord) => ({
  type: "alive" as const,
  uuid: r.uuid,
  name: r.name,
  addr: r.addr,
  port: r.port,
  incarnation: r.incarnation + 1,
  tags: r.tags,
  services: r.services,
  zone: r.zone,
});

async function pair() {
  // probes of the run loop are 100 s apart: the test's own probe is the one that matters
  const c = new SimCluster({ nodes: 2, seed: 11, configFor: () => ({ probe_interval: 100_000 }) });
  for (const n of c.nodes) await n.engine.start();
  const [a, b] = c.nodes;
  void b.engine.join(a.addr);
  await c.clock.advance(2000);
  const snap = a.engine.members.get(b.self.uuid);
  assert.equal(snap?.state, "alive");
  return { c, a, b, snap: snap! };
}

Deno.test("a refused port of an instance that restarted meanwhile does not suspect the new one", async () => {
  const { c, a, b, snap } = await pair();
  c.kill(b); // its port refuses from now on
  const probing = a.engine.prober.probe(snap);
  // the restarted instance's alive (same uuid, next incarnation) is heard before the port check
  a.engine.members.handleAlive(newer(snap));
  await c.clock.advance(2000);
  await probing;
  assert.equal(a.engine.deps.counters.get("gossip_probes_refused_total"), 1, "the port was refused");
  const now = a.engine.members.get(b.self.uuid)!;
  assert.equal(now.incarnation, snap.incarnation + 1);
  assert.equal(now.state, "alive", "the old instance's refusal does not suspect the new one");
  for (const n of c.nodes) if (!n.killed) await n.engine.stop();
});
