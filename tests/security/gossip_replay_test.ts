/**
 * Issue 10, hole 5: captured gossip traffic played again. A push-pull body recorded from a node
 * and replayed after the node was killed brought it back to alive; replayed UDP datagrams were
 * accepted too. Both now go through the replay-protected envelope: a copy inside the 30 s window
 * is a replay, a copy after it is stale; both are dropped and counted, and the dead stay dead.
 */
import assert from "node:assert/strict";
import { generateKey, Keyring } from "../../lib/gossip/mod.ts";
import { buildApp } from "../../lib/http/mod.ts";
import { type PeerAddr, PeerEnvelope, PUSH_PULL_PATH } from "../../lib/transport/mod.ts";
import { SimCluster, type SimGossipNode } from "../sim/gossip_harness.ts";
import { makeTestCtx } from "../helpers.ts";
import { createGossip } from "../../lib/gossip/mod.ts";

const FAST = { probe_interval: 1000, probe_timeout: 300, gossip_interval: 200, push_pull_interval: 5000 };

/** Runs the virtual clock (and real crypto) until `p` settles; at most 5 virtual seconds. */
async function settle<T>(c: SimCluster, p: Promise<T>): Promise<PromiseSettledResult<T>> {
  let out: PromiseSettledResult<T> | null = null;
  p.then((value) => out = { status: "fulfilled", value }, (reason) => out = { status: "rejected", reason });
  for (let i = 0; i < 500 && !out; i++) {
    await new Promise((r) => setTimeout(r, 0));
    if (!out) await c.clock.advance(10);
  }
  assert.ok(out, "settled");
  return out;
}

/**
 * Like `c.runUntil`, but lets real time pass at every step: sealing and opening use WebCrypto,
 * which settles outside the virtual clock's microtasks. Returns false when `pred` never held.
 */
async function runUntil(c: SimCluster, pred: () => boolean, maxMs: number, stepMs = 20): Promise<boolean> {
  for (let t = 0; t <= maxMs; t += stepMs) {
    if (pred()) return true;
    await new Promise((r) => setTimeout(r, 0));
    await c.clock.advance(stepMs);
  }
  return pred();
}

function rejectedWith(r: PromiseSettledResult<unknown>, re: RegExp): void {
  assert.equal(r.status, "rejected");
  assert.match(String((r as PromiseRejectedResult).reason), re);
}

/** An encrypted 4-node cluster on the simulated network, converged, with B's outbound traffic recorded. */
async function capturedCluster() {
  const keyring = await Keyring.create([generateKey()]);
  const c = new SimCluster({
    nodes: 4,
    seed: 7,
    config: FAST,
    keyring,
    link: { loss: 0, delayMs: 1, jitterMs: 1 },
  });
  const [a, b] = c.nodes;
  const requests: Uint8Array[] = [];
  const packets: Uint8Array[] = [];
  const t = b.engine.deps.transport;
  const request = t.request.bind(t);
  t.request = async (to: PeerAddr, data: Uint8Array, ms: number) => {
    const copy = data.slice();
    const answer = await request(to, data, ms);
    // only what A really opened and answered: a request lost on a loaded box was never seen by A,
    // so replaying it would be its first sighting, not a replay
    if (to.addr === a.addr.addr) requests.push(copy);
    return answer;
  };
  const send = t.sendPacket.bind(t);
  t.sendPacket = (to: PeerAddr, data: Uint8Array) => {
    if (to.addr === a.addr.addr) packets.push(data.slice());
    send(to, data);
  };
  const started = c.startAndJoin(10);
  assert.ok(await runUntil(c, () => c.converged(), 30_000), "the cluster converges");
  await started;
  // B joined through a random earlier node: make sure we hold at least one B → A push-pull
  assert.deepEqual(await settle(c, b.engine.pushPull(a.addr, false)), { status: "fulfilled", value: true });
  const attacker = c.net.attach({ addr: "10.66.6.6", port: 6768 });
  await attacker.transport.start();
  return { c, a, b, requests, packets, attacker };
}

async function killAndWaitDead(c: SimCluster, victim: SimGossipNode, viewer: SimGossipNode) {
  c.kill(victim);
  assert.ok(await runUntil(c, () => c.stateOf(viewer, victim.self.uuid) === "dead", 60_000), "declared dead");
}

Deno.test("security: a captured push-pull replayed after its sender died does not bring it back", async () => {
  const { c, a, b, requests, attacker } = await capturedCluster();
  assert.ok(requests.length >= 1, "a B → A push-pull was captured");
  await killAndWaitDead(c, b, a);
  // inside the window: the nonce was seen → replay
  for (const body of requests) {
    rejectedWith(await settle(c, attacker.transport.request(a.addr, body, 1000)), /replay|stale/);
  }
  assert.equal(c.stateOf(a, b.self.uuid), "dead");
  assert.ok(a.engine.traffic.dropped.replay + a.engine.traffic.dropped.stale >= requests.length);
  // after the window: stale
  await runUntil(c, () => false, 31_000, 500);
  const staleBefore = a.engine.traffic.dropped.stale;
  rejectedWith(await settle(c, attacker.transport.request(a.addr, requests[0], 1000)), /stale/);
  assert.equal(a.engine.traffic.dropped.stale, staleBefore + 1);
  await runUntil(c, () => false, 2_000);
  assert.notEqual(c.stateOf(a, b.self.uuid), "alive", "B never comes back");
  a.engine.flushCounters();
  assert.ok(a.engine.deps.counters.get("gossip_packets_dropped_total", { reason: "stale" }) >= 1);
  await c.stopAll();
});

Deno.test("security: replayed UDP datagrams of a dead node are dropped and counted", async () => {
  const { c, a, b, packets, attacker } = await capturedCluster();
  await runUntil(c, () => packets.length >= 5, 20_000);
  assert.ok(packets.length >= 5, `B → A datagrams were captured (${packets.length})`);
  await killAndWaitDead(c, b, a);
  const before = { ...a.engine.traffic.dropped };
  for (const p of packets) attacker.transport.sendPacket(a.addr, p);
  const d = a.engine.traffic.dropped;
  const droppedNow = () => d.replay - before.replay + d.stale - before.stale;
  // opening uses WebCrypto, which settles outside the virtual clock: let real time pass too (bounded)
  for (let i = 0; i < 500 && droppedNow() < packets.length; i++) {
    await new Promise((r) => setTimeout(r, i < 50 ? 0 : 10));
    await c.clock.advance(20);
  }
  assert.equal(d.replay - before.replay + d.stale - before.stale, packets.length, "every copy dropped");
  assert.equal(c.stateOf(a, b.self.uuid), "dead");
  await c.stopAll();
});

Deno.test({
  name: "security: the push-pull peer route refuses a replayed body with 401 (real HTTP stack)",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const key = generateKey();
    const ctx = makeTestCtx({ name: "target", params: { encryption_key: key, port: 1 } });
    const ring = await Keyring.create([key]);
    const envelope = new PeerEnvelope(ring, { now: () => Date.now() });
    const gossip = createGossip(ctx, { envelope });
    await gossip.engine.start();
    try {
      const app = buildApp([gossip.routes()], {
        token: "",
        maxBody: 1 << 20,
        log: ctx.log,
        counters: ctx.counters,
        peerEnvelope: envelope,
      });
      const sender = new PeerEnvelope(ring, { now: () => Date.now() });
      const body = JSON.stringify({ type: "push-pull-msg", protocol: 2, join: false, nodes: {} });
      const wire = await sender.seal(new TextEncoder().encode(body));
      const post = () =>
        app.request(PUSH_PULL_PATH, { method: "POST", body: wire.slice() }, { transport: "tcp" });
      const first = await post();
      assert.equal(first.status, 200);
      const answer = await sender.open(new Uint8Array(await first.arrayBuffer()));
      assert.ok(answer.ok, "the answer is sealed too");
      const again = await post();
      assert.equal(again.status, 401);
      assert.match((await again.json()).error, /replay/);
      assert.equal(envelope.dropped.replay, 1);
      assert.equal(gossip.info().peer_envelope_dropped && envelope.dropped.replay, 1);
    } finally {
      await gossip.engine.stop();
      ctx.cleanup();
    }
  },
});
