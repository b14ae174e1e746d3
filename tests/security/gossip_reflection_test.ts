/**
 * Without a key a datagram's source may be spoofed. One compressed datagram of 186 bytes holding 256
 * pings or stale suspicions of an agent made it send 256 answers, each with queued news riding along,
 * to the spoofed address (≥ 56 KB, typically 150–360 KB), and spent the queue's retransmits on it.
 * Now a datagram gets one answer; news rides along only to a live member at that address, and
 * anyone else gets no more bytes than it sent. Members still get their acks, news and our record.
 */
import assert from "node:assert/strict";
import { decodePacket, encodePacket, type GossipMsg } from "../../lib/gossip/codec.ts";
import { packLz } from "../../lib/gossip/lz.ts";
import type { PeerAddr } from "../../lib/transport/mod.ts";
import { SimCluster } from "../sim/gossip_harness.ts";

async function cluster() {
  const c = new SimCluster({ nodes: 3, seed: 5, link: { loss: 0, delayMs: 1, jitterMs: 0 } });
  await c.startAndJoin(10);
  assert.ok(await c.runUntil(() => c.converged(), 30_000) >= 0);
  await c.clock.advance(30_000); // the join news has gone out: the queues are empty
  return c;
}

/** Every packet a node sends from now on: to whom, how many bytes, which messages. */
function recordSends(node: SimCluster["nodes"][number]) {
  const sent: Array<{ to: string; bytes: number; msgs: GossipMsg[] }> = [];
  const t = node.engine.deps.transport;
  const send = t.sendPacket.bind(t);
  t.sendPacket = (to: PeerAddr, data: Uint8Array) => {
    const d = decodePacket(data);
    sent.push({ to: `${to.addr}:${to.port}`, bytes: data.length, msgs: d.ok ? d.value : [] });
    send(to, data);
  };
  return sent;
}

Deno.test("security: a compressed datagram of 256 pings and stale suspicions gets one answer, no larger, to a spoofed address", async () => {
  const c = await cluster();
  const [target] = c.nodes;
  const uuid = target.self.uuid;
  const victim = c.net.attach({ addr: "192.0.2.99", port: 6768 });
  await victim.transport.start();
  let reflected = 0, packets = 0;
  victim.transport.onPacket((data) => {
    packets++;
    reflected += data.length;
  });
  const sent = recordSends(target);
  // a suspicion refuted: its incarnation is now stale
  const stale = target.self.incarnation;
  target.engine.members.handleSuspect({ type: "suspect", uuid, incarnation: stale, from: "x" });
  await c.clock.advance(30_000);
  assert.ok(target.self.incarnation > stale);
  // news waiting to be gossiped: the spoofed address must not drain its retransmits
  target.engine.broadcastUser("note", { n: 1 });
  const queued = target.engine.queue.length;
  for (
    const msgs of [
      Array.from({ length: 256 }, (): GossipMsg => ({ type: "ping", seqno: 1, node: uuid, from: "x" })),
      Array.from(
        { length: 256 },
        (): GossipMsg => ({ type: "suspect", uuid, incarnation: stale, from: "x" }),
      ),
    ]
  ) {
    const request = packLz(encodePacket(msgs));
    assert.ok(request.length < 400, `${request.length} bytes`);
    const before = reflected;
    victim.transport.sendPacket(target.addr, request);
    await c.clock.advance(50);
    assert.ok(reflected - before <= request.length, `${reflected - before} bytes back for ${request.length}`);
  }
  assert.ok(packets <= 2, `${packets} packets back`);
  assert.equal(target.engine.queue.length, queued, "nothing of the queue went to the spoofed address");
  assert.ok(sent.filter((s) => s.to === "192.0.2.99:6768").every((s) => s.msgs.length === 1));
  assert.ok(target.engine.deps.counters.get("gossip_requests_unanswered_total", { why: "extra" }) >= 510);
  await c.stopAll();
});

Deno.test("security: 256 ping-relays in one datagram make one relay", async () => {
  const c = await cluster();
  const [relay, asker, target] = c.nodes;
  const sent = recordSends(relay);
  const spoofer = c.net.attach({ addr: "10.66.6.6", port: 6768 });
  await spoofer.transport.start();
  const msgs = Array.from({ length: 256 }, (_, i): GossipMsg => ({
    type: "ping-relay",
    seqno: i,
    tgt: target.self.uuid,
    addr: target.addr.addr,
    port: target.addr.port,
    from: asker.self.uuid,
    nack: true,
  }));
  spoofer.transport.sendPacket(relay.addr, packLz(encodePacket(msgs)));
  await c.clock.advance(5);
  const pings = sent.filter((s) => s.msgs.some((m) => m.type === "ping"));
  assert.equal(pings.length, 1);
  assert.equal(pings[0].to, `${target.addr.addr}:${target.addr.port}`);
  await c.stopAll();
});

Deno.test("members still get their ack, the news queued and our record; a node not known yet gets its ack", async () => {
  const c = await cluster();
  const [a, b] = c.nodes;
  a.engine.broadcastUser("note", { n: 2 });
  const sent = recordSends(a);
  const stale = a.self.incarnation;
  a.engine.members.handleSuspect({
    type: "suspect",
    uuid: a.self.uuid,
    incarnation: stale,
    from: b.self.uuid,
  });
  await c.clock.advance(1); // refuted: the suspicion at `stale` is now stale
  sent.length = 0;
  // b's probe of a, with its buddy suspicion (Lifeguard): one answer, ack first, record, news
  b.engine.send(a.addr, [
    { type: "ping", seqno: 77, node: a.self.uuid, from: b.self.uuid },
    { type: "suspect", uuid: a.self.uuid, incarnation: stale, from: b.self.uuid },
  ], false);
  await c.clock.advance(5);
  const toB = sent.filter((s) => s.to === `${b.addr.addr}:${b.addr.port}`);
  assert.equal(toB.length >= 1, true);
  const first = toB[0].msgs;
  assert.deepEqual(first[0], { type: "ack", seqno: 77 });
  assert.ok(first.some((m) => m.type === "alive" && m.uuid === a.self.uuid && m.incarnation > stale));
  assert.ok(first.some((m) => m.type === "user"), "queued news rides along to a member");
  // a joiner that a knows nothing of yet: its ping is acked (bare)
  const joiner = c.net.attach({ addr: "10.1.1.1", port: 6768 });
  await joiner.transport.start();
  const acks: GossipMsg[][] = [];
  joiner.transport.onPacket((data) => {
    const d = decodePacket(data);
    if (d.ok) acks.push(d.value);
  });
  joiner.transport.sendPacket(
    a.addr,
    encodePacket([{ type: "ping", seqno: 9, node: a.self.uuid, from: "f".repeat(40) }]),
  );
  await c.clock.advance(5);
  assert.deepEqual(acks, [[{ type: "ack", seqno: 9 }]]);
  await c.stopAll();
});
