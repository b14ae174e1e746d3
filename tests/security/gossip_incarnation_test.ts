/**
 * Without an encryption key anyone may claim any incarnation. One datagram holding a suspicion of a
 * node at 2^53 - 1 made it refute at 2^53, which every peer's decoder refused (the whole datagram,
 * its acks too): the node was declared dead, could never refute, and kept the incarnation in agent.db.
 * Now incarnations stop at INCARNATION_MAX (2^52), a node follows a claim about itself by at most
 * 2^32 (one such rise a minute), and its peers refuse absurd rises of the nodes they know.
 */
import assert from "node:assert/strict";
import { aliveOf, decodePacket, encodePacket, type GossipMsg } from "../../lib/gossip/codec.ts";
import { bumpStartIncarnation, IDENTITY_MIGRATION, LocalNode } from "../../lib/identity/mod.ts";
import { EventBus } from "../../lib/bus.ts";
import { openDatabase } from "../../lib/store/mod.ts";
import { INCARNATION_MAX } from "../../lib/types.ts";
import { SimCluster } from "../sim/gossip_harness.ts";

Deno.test("security: a suspicion at 2^53 - 1 (or at the decoder's top) does not cut a node off the cluster", async () => {
  const c = new SimCluster({ nodes: 3, seed: 21, link: { loss: 0, delayMs: 1, jitterMs: 0 } });
  await c.startAndJoin(10);
  assert.ok(await c.runUntil(() => c.converged(), 30_000) >= 0);
  const [victim, peer] = c.nodes;
  const uuid = victim.self.uuid;
  const attacker = c.net.attach({ addr: "10.66.6.6", port: 6768 });
  await attacker.transport.start();
  const send = (to: typeof victim, msgs: GossipMsg[]) =>
    attacker.transport.sendPacket(to.addr, encodePacket(msgs));
  const suspect = (incarnation: number): GossipMsg => ({ type: "suspect", uuid, incarnation, from: "x" });

  // the auditor's datagram: not decoded at all any more
  const malformed = victim.engine.traffic.dropped.malformed;
  send(victim, [suspect(Number.MAX_SAFE_INTEGER)]);
  await c.clock.advance(100);
  assert.equal(victim.engine.traffic.dropped.malformed, malformed + 1);
  // at the top of what decodes, and 255 steps of 2^32 above each other in the same datagram
  const inc0 = victim.self.incarnation;
  send(victim, [
    suspect(INCARNATION_MAX),
    ...Array.from({ length: 255 }, (_, i) => suspect(inc0 + (i + 1) * 2 ** 32)),
  ]);
  // the same about the victim to a peer: an alive record it could never refute
  send(peer, [aliveOf({ ...victim.engine.members.self(), incarnation: INCARNATION_MAX, tags: ["forged"] })]);
  await c.clock.advance(100);
  const inc1 = victim.self.incarnation;
  assert.ok(inc1 > inc0 && inc1 <= inc0 + 2 ** 32 + 1, `rose by at most 2^32: ${inc1 - inc0}`);
  assert.ok(
    victim.engine.deps.counters.get("gossip_incarnation_rises_refused_total", { why: "too-soon" }) > 0,
  );
  assert.equal(
    peer.engine.deps.counters.get("gossip_incarnation_rises_refused_total", { why: "too-far" }),
    1,
  );
  assert.ok(
    decodePacket(encodePacket([aliveOf(victim.engine.members.self())])).ok,
    "its record still decodes",
  );

  // the cluster follows the refutation and keeps the victim alive, at its own incarnation
  await c.clock.advance(60_000);
  assert.ok(c.converged(), "nobody declared the victim dead");
  for (const r of c.viewsOf(uuid)) {
    assert.equal(r?.state, "alive");
    assert.equal(r?.incarnation, victim.self.incarnation);
    assert.deepEqual(r?.tags, []);
  }
  // and a genuine suspicion is still refuted
  peer.engine.members.handleSuspect({
    type: "suspect",
    uuid,
    incarnation: victim.self.incarnation,
    from: peer.self.uuid,
  });
  assert.ok(await c.runUntil(() => c.viewsOf(uuid).every((r) => r?.state === "alive"), 10_000) >= 0);
  assert.ok(victim.self.incarnation > inc1);
  await c.stopAll();
});

Deno.test("security: a node's incarnation stops at INCARNATION_MAX, in memory and in agent.db", () => {
  const node = new LocalNode({
    uuid: "u".repeat(40),
    name: "n",
    addr: "127.0.0.1",
    port: 1,
    zone: "",
    incarnation: INCARNATION_MAX - 1,
    configTags: [],
    bus: new EventBus(),
  });
  assert.equal(node.bumpIncarnation(), INCARNATION_MAX);
  assert.equal(node.bumpIncarnation(), INCARNATION_MAX);
  assert.equal(node.bumpIncarnation(Number.MAX_SAFE_INTEGER), INCARNATION_MAX);
  // saved above the bound by an agent before it: the next start is back under it
  const db = openDatabase(":memory:", [{ version: 1, sql: IDENTITY_MIGRATION }]);
  db.run("INSERT INTO meta (key, value) VALUES ('incarnation', ?)", String(Number.MAX_SAFE_INTEGER));
  assert.equal(bumpStartIncarnation(db), INCARNATION_MAX);
  db.close();
});

Deno.test("codec: incarnations up to INCARNATION_MAX decode, one more is refused, naming the field", () => {
  const msg = (incarnation: number) =>
    new TextEncoder().encode(JSON.stringify([{ type: "leave", uuid: "a", incarnation }]));
  assert.ok(decodePacket(msg(INCARNATION_MAX)).ok);
  const d = decodePacket(msg(INCARNATION_MAX + 1));
  assert.ok(!d.ok && /\[0\]\.incarnation/.test(d.error), JSON.stringify(d));
});
