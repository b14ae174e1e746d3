/**
 * `kunai agent detect` inside gossip: who answers a detection, what they say, and what they refuse
 * (a request smaller than the answer, a flood, an unasked answer, another cluster's key), on the
 * simulated network with real engines; plus the parameters the route and the CLI share.
 */
import assert from "node:assert/strict";
import { decodePacket, encodePacket, type GossipMsg } from "../../lib/gossip/codec.ts";
import { ANSWERS_PER_SECOND, MAX_DETECTED, REQUEST_BYTES } from "../../lib/gossip/detect.ts";
import { createGossip, detectParams, generateKey, Keyring } from "../../lib/gossip/mod.ts";
import type { HttpError } from "../../lib/routing/mod.ts";
import { makeTestCtx } from "../helpers.ts";
import { PeerEnvelope } from "../../lib/transport/mod.ts";
import { packLz } from "../../lib/gossip/lz.ts";
import { SimCluster } from "../sim/gossip_harness.ts";
import { steppedClock } from "../clock_step.ts";
import type { Clock } from "../../lib/clock/mod.ts";

/** A raw endpoint on the simulated network: sends datagrams, keeps the decoded ones it receives. */
function probe(c: SimCluster, addr = "10.9.9.9") {
  const got: GossipMsg[] = [];
  const at = { addr, port: 6768 };
  const node = c.net.attach(at);
  void node.transport.start();
  node.transport.onPacket((data) => {
    const d = decodePacket(data);
    if (d.ok) got.push(...d.value);
  });
  return {
    got,
    at,
    send: (to: { addr: string; port: number }, bytes: Uint8Array) => node.transport.sendPacket(to, bytes),
  };
}

const request = (nonce: string, padTo = REQUEST_BYTES): GossipMsg => {
  const msg = { type: "detect", nonce, from: "someone-else", pad: "" } as GossipMsg & { pad: string };
  msg.pad = " ".repeat(Math.max(0, padTo - JSON.stringify(msg).length - 2));
  return msg;
};

Deno.test("a detection lists every agent that answers, with its size of cluster and whether it is a member", async () => {
  const c = new SimCluster({ nodes: 4, seed: 7 });
  for (const n of c.nodes) await n.engine.start();
  const [a, b, d, e] = c.nodes;
  void b.engine.join(a.addr); // a and b form a cluster; d and e are alone
  await c.clock.advance(2000);
  const asks = [b, d, e].map((n) => a.engine.detect(n.addr, 500)); // unicast: one agent per request
  await c.clock.advance(600);
  const found = (await Promise.all(asks)).flat();
  assert.deepEqual(
    found.map((x) => [x.name, x.members, x.known, x.from]).sort(),
    [
      ["node-1", 2, true, "10.0.0.1:6768"],
      ["node-2", 1, false, "10.0.0.2:6768"],
      ["node-3", 1, false, "10.0.0.3:6768"],
    ],
  );
  assert.equal(found[1].uuid, d.self.uuid);
  assert.equal(found[1].addr, d.addr.addr);
  assert.equal(a.engine.members.size, 2, "a detection joins nothing by itself");
});

Deno.test("an agent with detect_answer false, a stopped agent, or one of another key stays silent", async () => {
  const key = await Keyring.create([generateKey()]);
  const c = new SimCluster({
    nodes: 3,
    seed: 3,
    keyring: key,
    configFor: (i) => ({ detect_answer: i !== 1 }),
  });
  for (const n of c.nodes) await n.engine.start();
  const [a, silent, other] = c.nodes;
  const asks = [silent, other].map((n) => a.engine.detect(n.addr, 300));
  await c.clock.advance(400);
  assert.deepEqual((await Promise.all(asks)).map((r) => r.length), [0, 1], "the sealed request is answered");
  // a request unsealed, or sealed with a key the cluster does not hold, is not read
  const p = probe(c);
  const foreign = new PeerEnvelope(await Keyring.create([generateKey()]), { now: () => c.clock.now() });
  p.send(other.addr, encodePacket([request("plain")]));
  p.send(other.addr, await foreign.seal(encodePacket([request("foreign")])));
  await c.clock.advance(100);
  assert.equal(p.got.length, 0, "an encrypted agent ignores both");
  assert.equal(other.engine.deps.counters.get("gossip_detect_requests_total", { dir: "received" }), 1);
  await other.engine.stop();
  const late = a.engine.detect(other.addr, 300);
  await c.clock.advance(400);
  assert.equal((await late).length, 0);
});

Deno.test("no answer larger than its request: an unpadded or compressed request gets nothing", async () => {
  const c = new SimCluster({ nodes: 1, seed: 5 });
  await c.nodes[0].engine.start();
  const target = c.nodes[0].addr;
  const p = probe(c);
  p.send(target, encodePacket([request("small", 60)]));
  p.send(target, packLz(encodePacket([request("packed")])));
  // 10 requests of ~100 bytes in one 1 KB datagram: each may answer with a tenth of it only
  p.send(target, encodePacket(Array.from({ length: 10 }, (_, i) => request(`many${i}`, 100))));
  await c.clock.advance(100);
  assert.deepEqual(p.got, [], "nothing came back");
  const unanswered = c.nodes[0].engine.deps.counters.get("gossip_detect_unanswered_total", {
    why: "larger_than_request",
  });
  assert.equal(unanswered, 12);
  p.send(target, encodePacket([request("full")]));
  await c.clock.advance(100);
  assert.equal(p.got.length, 1);
  const reply = p.got[0] as Extract<GossipMsg, { type: "detect-reply" }>;
  assert.equal(reply.type, "detect-reply");
  assert.equal(reply.nonce, "full");
  assert.ok(JSON.stringify([reply]).length <= REQUEST_BYTES);
});

Deno.test(`a flood of requests gets at most ${ANSWERS_PER_SECOND} answers a second`, async () => {
  const c = new SimCluster({ nodes: 1, seed: 6 });
  await c.nodes[0].engine.start();
  const p = probe(c);
  for (let i = 0; i < 50; i++) p.send(c.nodes[0].addr, encodePacket([request(`f${i}`)]));
  await c.clock.advance(500);
  assert.equal(p.got.length, ANSWERS_PER_SECOND);
  await c.clock.advance(600);
  for (let i = 0; i < 5; i++) p.send(c.nodes[0].addr, encodePacket([request(`g${i}`)]));
  await c.clock.advance(100);
  assert.equal(p.got.length, ANSWERS_PER_SECOND + 5, "answers again the next second");
});

Deno.test("the answer budget refills every second even after the wall clock stepped back an hour", async () => {
  const c = new SimCluster({ nodes: 1, seed: 6 });
  const engine = c.nodes[0].engine;
  const clock = steppedClock(engine.deps.clock);
  (engine.deps as { clock: Clock }).clock = clock;
  await engine.start();
  const p = probe(c);
  try {
    for (let i = 0; i < 50; i++) p.send(c.nodes[0].addr, encodePacket([request(`f${i}`)]));
    await c.clock.advance(500);
    assert.equal(p.got.length, ANSWERS_PER_SECOND);
    clock.step(-3_600_000);
    await c.clock.advance(600);
    for (let i = 0; i < 5; i++) p.send(c.nodes[0].addr, encodePacket([request(`g${i}`)]));
    await c.clock.advance(100);
    assert.equal(p.got.length, ANSWERS_PER_SECOND + 5, "answers again the next second");
  } finally {
    await c.stopAll();
  }
});

Deno.test("an answer nobody asked for, or one claiming to be us, is not reported; a flood of answers is capped", async () => {
  const c = new SimCluster({ nodes: 2, seed: 8 });
  for (const n of c.nodes) await n.engine.start();
  const [a, b] = c.nodes;
  const p = probe(c);
  const pending = a.engine.detect(b.addr, 300);
  const forged = (nonce: string, uuid: string): GossipMsg => ({
    type: "detect-reply",
    nonce,
    uuid,
    name: "forged",
    addr: "10.6.6.6",
    port: 1,
    zone: "",
    members: 1,
  });
  p.send(a.addr, encodePacket([forged("not-asked", "x1"), forged("not-asked", a.self.uuid)]));
  await c.clock.advance(400);
  assert.deepEqual((await pending).map((x) => x.name), ["node-1"]);
  // whoever receives the request (the probe here) knows its nonce: a flood of forged uuids under it
  // leaves the list bounded
  const flooded = a.engine.detect(p.at, 1000);
  await c.clock.advance(50);
  const asked = p.got.find((m) => m.type === "detect") as Extract<GossipMsg, { type: "detect" }>;
  const nonce = asked.nonce;
  for (let i = 0; i < MAX_DETECTED + 500; i += 100) {
    p.send(a.addr, encodePacket(Array.from({ length: 100 }, (_, k) => forged(nonce, `f${i + k}`))));
  }
  await c.clock.advance(1100);
  assert.equal((await flooded).length, MAX_DETECTED);
});

Deno.test("detection messages with bad fields are dropped as malformed, and the agent goes on", async () => {
  for (
    const bad of [
      { type: "detect", nonce: "", from: "x" },
      { type: "detect", nonce: "n", from: "x", pad: "y".repeat(5000) },
      {
        type: "detect-reply",
        nonce: "n",
        uuid: "u",
        name: "x",
        addr: "a",
        port: 70000,
        zone: "",
        members: 1,
      },
      { type: "detect-reply", nonce: "n", uuid: "u", name: "x", addr: "a", port: 1, zone: "", members: -1 },
    ]
  ) {
    const d = decodePacket(new TextEncoder().encode(JSON.stringify([bad])));
    assert.equal(d.ok, false, JSON.stringify(bad).slice(0, 80));
  }
  const c = new SimCluster({ nodes: 1, seed: 9 });
  await c.nodes[0].engine.start();
  const p = probe(c);
  p.send(c.nodes[0].addr, new TextEncoder().encode('[{"type":"detect","nonce":7}]'));
  p.send(c.nodes[0].addr, encodePacket([request("after")]));
  await c.clock.advance(100);
  assert.equal(p.got.length, 1, "still answers");
  assert.equal(c.nodes[0].engine.traffic.dropped.malformed, 1);
});

Deno.test("detection parameters: defaults, limits, and errors that name the parameter", () => {
  const q = (o: Record<string, string>) => (k: string) => o[k];
  assert.deepEqual(detectParams(q({})), {});
  assert.deepEqual(detectParams(q({ addr: "127.255.255.255", port: "6768", timeout: "500ms" })), {
    addr: "127.255.255.255",
    port: 6768,
    timeoutMs: 500,
  });
  for (
    const [o, re] of [
      [{ addr: "10.0.0" }, /^addr: "10.0.0" is not an IPv4 address/],
      [{ addr: "256.1.1.1" }, /^addr:/],
      [{ addr: "host.example" }, /^addr:/],
      [{ port: "0" }, /^port: must be 1-65535/],
      [{ port: "65536" }, /^port:/],
      [{ port: "6e3" }, /^port:/],
      [{ timeout: "31s" }, /^timeout: must be a duration from 100ms to 30s/],
      [{ timeout: "50ms" }, /^timeout:/],
      [{ timeout: "soon" }, /^timeout:/],
    ] as const
  ) assert.throws(() => detectParams(q(o)), { message: re }, JSON.stringify(o));
});

Deno.test("an agent bound to an IPv6 address refuses a detection with 409 and says why", async () => {
  const ctx = makeTestCtx({ params: { bind: "::1" } });
  try {
    const g = createGossip(ctx, { envelope: new PeerEnvelope(await Keyring.create([]), { now: Date.now }) });
    await assert.rejects(
      () => g.detect({}),
      (err: HttpError) => err.status === 409 && /IPv6 has no broadcast/.test(err.message),
    );
  } finally {
    ctx.cleanup();
  }
});
