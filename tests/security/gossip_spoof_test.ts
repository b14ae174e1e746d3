/**
 * Issue 10, hole 6 (gossip side), without an encryption key (the default): one spoofed datagram
 * claiming that the agent leaves (or is dead) made it exit; a `ping-relay` made it send a larger
 * packet to any address (reflection). Now a claim about ourselves is refuted by an incarnation
 * bump and never stops the agent (in a seed's catch-up record, `push`, too), and relays go only to
 * members we know, at the address we hold.
 */
import assert from "node:assert/strict";
import { RealClock } from "../../lib/clock/mod.ts";
import { createGossip, NO_KEY_WARNING } from "../../lib/gossip/mod.ts";
import { Keyring, PeerEnvelope } from "../../lib/transport/mod.ts";
import { freePort, makeTestCtx, until } from "../helpers.ts";
import { SimCluster } from "../sim/gossip_harness.ts";

Deno.test({
  name: "security: a spoofed leave or dead about the agent itself (no key) is refuted, never stops it",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const port = freePort();
    const ctx = makeTestCtx({
      name: "victim",
      clock: new RealClock(),
      params: { port, bind: "127.0.0.1", addr: "127.0.0.1", gossip: { leave_propagate_wait: "100ms" } },
    });
    (ctx.node as { port: number }).port = port;
    const stops: string[] = [];
    ctx.requestStop = (why) => void stops.push(why);
    const gossip = createGossip(ctx, {
      envelope: new PeerEnvelope(await Keyring.create([]), { now: Date.now }),
    });
    await gossip.start();
    const sock = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
    try {
      assert.ok(
        ctx.sink.recent.WARNING.some((l) => l.includes(NO_KEY_WARNING)),
        "loud warning without a key",
      );
      const uuid = ctx.node.uuid;
      const send = (msg: unknown) =>
        sock.send(new TextEncoder().encode(JSON.stringify([msg])), {
          transport: "udp",
          hostname: "127.0.0.1",
          port,
        });
      const inc0 = ctx.node.incarnation;
      await send({ type: "leave", uuid, incarnation: inc0 });
      await until("an incarnation bump", () => ctx.node.incarnation > inc0, 5000);
      await send({ type: "dead", uuid, incarnation: ctx.node.incarnation, from: "x".repeat(40) });
      await send({ type: "leave", uuid, incarnation: ctx.node.incarnation + 5 });
      await until("five more refutations", () => ctx.node.incarnation > inc0 + 5, 5000);
      // the same claims as records of a seed's catch-up (`push`): merged by the same rules
      const inc1 = ctx.node.incarnation;
      const pushed = (state: string, incarnation: number) =>
        send({ type: "push", from: "x".repeat(40), of: 1, node: { ...gossip.self(), state, incarnation } });
      await pushed("leave", inc1 + 1);
      await until("the pushed leave refuted", () => ctx.node.incarnation > inc1 + 1, 5000);
      await pushed("dead", inc1 + 3);
      await until("the pushed dead refuted", () => ctx.node.incarnation > inc1 + 3, 5000);
      await new Promise((r) => setTimeout(r, 300)); // longer than leave_propagate_wait
      assert.deepEqual(stops, [], "the agent was never asked to stop");
      assert.equal(gossip.engine.leaving, false);
      assert.equal(gossip.self().state, "alive");
      assert.ok(ctx.counters.get("gossip_refutations_total") >= 2);
    } finally {
      sock.close();
      await gossip.stop();
      ctx.cleanup();
    }
  },
});

Deno.test("security: ping-relay is refused for unknown targets or requesters and never sent to the packet's address", async () => {
  const c = new SimCluster({ nodes: 3, seed: 3, link: { loss: 0, delayMs: 1, jitterMs: 0 } });
  await c.startAndJoin(10);
  assert.ok(await c.runUntil(() => c.converged(), 30_000) >= 0);
  const [relay, member] = c.nodes;
  const victim = c.net.attach({ addr: "192.0.2.99", port: 6768 });
  const attacker = c.net.attach({ addr: "10.66.6.6", port: 6768 });
  await victim.transport.start();
  await attacker.transport.start();
  let reflected = 0;
  victim.transport.onPacket(() => reflected++);
  let answers = 0;
  attacker.transport.onPacket(() => answers++);
  const relayMsg = (tgt: string, from: string) =>
    new TextEncoder().encode(JSON.stringify([{
      type: "ping-relay",
      seqno: 1,
      tgt,
      addr: "192.0.2.99",
      port: 6768,
      from,
      nack: true,
    }]));
  const refusedBefore = relay.engine.traffic.relaysRefused;
  // unknown target, unknown requester, and a known target named with the victim's address
  attacker.transport.sendPacket(relay.addr, relayMsg("f".repeat(40), "e".repeat(40)));
  attacker.transport.sendPacket(relay.addr, relayMsg(member.self.uuid, "e".repeat(40)));
  attacker.transport.sendPacket(relay.addr, relayMsg("f".repeat(40), member.self.uuid));
  await c.clock.advance(2000);
  assert.equal(reflected, 0, "nothing reached the address named in the packets");
  assert.equal(answers, 0, "the spoofing sender got no answer either");
  assert.equal(relay.engine.traffic.relaysRefused - refusedBefore, 3);
  // a genuine relay between members still works: the target is pinged at its known address
  const acked: number[] = [];
  const t = relay.engine.deps.transport;
  const send = t.sendPacket.bind(t);
  t.sendPacket = (to, data) => {
    if (to.addr === member.addr.addr) acked.push(1);
    send(to, data);
  };
  assert.equal(relay.engine.prober.relay(9, c.nodes[2].self.uuid, member.self.uuid, true), true);
  await c.clock.advance(1000);
  assert.ok(acked.length >= 1, "the ack went to the requester's known address");
  await c.stopAll();
});
