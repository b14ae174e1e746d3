/**
 * Compressed gossip (lib/gossip/lz.ts) on the simulated network: after a join storm of default
 * agents (~550-byte records) the re-broadcasts go in compressed packets that stay within the
 * datagram budget and end in a fraction of the time; agents whose record does not say they read
 * compressed packets (`gossip.compress: false`, as agents that predate it) get plain JSON only.
 */
import assert from "node:assert/strict";
import type { GossipConfig } from "../../lib/config/mod.ts";
import { generateKey, Keyring } from "../../lib/gossip/mod.ts";
import { GOSSIP_PROTO } from "../../lib/gossip/codec.ts";
import { LZ_MARKER } from "../../lib/gossip/lz.ts";
import { peerKey, seededRandom } from "../../lib/transport/mod.ts";
import { AGENT_SERVICES, SimCluster } from "./gossip_harness.ts";

interface Sent {
  to: string;
  bytes: number;
  compressed: boolean;
}

/**
 * A storm of `nodes` agents joining the first at once: every datagram sent until 8 s after
 * convergence, and how many of those 8 s carried beyond the probes' own (`tail`).
 */
async function storm(nodes: number, seed: number, opts: {
  config?: Partial<GossipConfig>;
  configFor?: (i: number) => Partial<GossipConfig>;
  servicesFor?: (i: number) => Record<string, unknown>;
  services?: Record<string, unknown>;
  loss?: number;
  keyring?: Keyring;
}): Promise<{ c: SimCluster; converged: number; sent: Sent[]; tail: number }> {
  const c = new SimCluster({
    nodes,
    seed,
    link: { loss: opts.loss ?? 0, delayMs: 1, jitterMs: 2 },
    services: opts.services ?? AGENT_SERVICES,
    config: opts.config,
    configFor: opts.configFor,
    servicesFor: opts.servicesFor,
    keyring: opts.keyring,
  });
  const sent: Sent[] = [];
  const send = c.net._send.bind(c.net);
  c.net._send = (from, to, data) => {
    sent.push({ to: peerKey(to), bytes: data.length, compressed: data[0] === LZ_MARKER });
    send(from, to, data);
  };
  await c.stormJoin(2);
  const converged = await c.runUntil(() => c.converged(), 30_000, 10);
  const perSecond: number[] = [];
  for (let i = 0; i < 8; i++) {
    const mark = sent.length;
    await c.clock.advance(1000);
    perSecond.push(sent.length - mark);
  }
  // beyond the probes' own traffic (the quietest of the last seconds)
  const quiet = Math.min(...perSecond.slice(-3));
  return { c, converged, sent, tail: perSecond.reduce((a, n) => a + n - quiet, 0) };
}

Deno.test("sim: after a join storm the re-broadcasts go compressed, within the budget, and end sooner", async () => {
  for (const seed of [1, 2, 3]) {
    const lz = await storm(20, seed, {});
    const plain = await storm(20, seed, { config: { compress: false } });
    assert.ok(lz.converged >= 0 && plain.converged >= 0, `seed ${seed}: not converged`);
    const compressed = lz.sent.filter((s) => s.compressed);
    assert.ok(compressed.length > 50, `seed ${seed}: ${compressed.length} compressed packets`);
    assert.equal(plain.sent.filter((s) => s.compressed).length, 0, "compress: false sends none");
    // every datagram fits the budget (no record here is over it alone)
    const over = lz.sent.filter((s) => s.bytes > lz.c.config.max_packet_bytes);
    assert.deepEqual(over, [], `seed ${seed}: datagrams over ${lz.c.config.max_packet_bytes} bytes`);
    // the tail: ~3 s of plain packets against well under one (before joiners stopped echoing the
    // seed's table, 4 s of full plain packets: 1 360 datagrams against 277)
    assert.ok(
      lz.tail * 2 < plain.tail,
      `seed ${seed}: ${lz.tail} datagrams beyond the probes after convergence, against ${plain.tail} plain`,
    );
    const counted = lz.c.nodes.reduce((a, n) => a + n.engine.traffic.packetsCompressed, 0);
    assert.equal(counted, compressed.length, "each compressed packet is counted once");
    await lz.c.stopAll();
    await plain.c.stopAll();
  }
});

Deno.test("sim: in a mixed cluster the agents without compression get plain packets only, and all converge", async () => {
  for (const seed of [4, 5]) {
    const older = (i: number) => i % 3 === 1; // a third of the agents, the seed not among them
    const r = await storm(21, seed, { configFor: (i) => (older(i) ? { compress: false } : {}), loss: 0.02 });
    assert.ok(r.converged >= 0, `seed ${seed}: not converged`);
    const olderAddrs = new Set(r.c.nodes.filter((n) => older(n.index)).map((n) => peerKey(n.addr)));
    const toOlder = r.sent.filter((s) => olderAddrs.has(s.to));
    assert.ok(toOlder.length > 0);
    assert.deepEqual(
      toOlder.filter((s) => s.compressed),
      [],
      `seed ${seed}: compressed packets to older agents`,
    );
    const toNewer = r.sent.filter((s) => !olderAddrs.has(s.to) && s.compressed);
    assert.ok(toNewer.length > 0, `seed ${seed}: no compressed packet at all`);
    // every agent learned who reads what: the newer ones' records carry the protocol, the older ones' none
    for (const n of r.c.live()) {
      for (const m of n.engine.members.records()) {
        const idx = r.c.nodes.findIndex((x) => x.self.uuid === m.uuid);
        assert.equal(m.proto, older(idx) ? undefined : GOSSIP_PROTO, `node ${n.index} on node ${idx}`);
      }
    }
    await r.c.stopAll();
  }
});

Deno.test("sim: records that do not compress still go in datagrams within the budget (an over-full packet is split)", async () => {
  // each node's service holds 500 random characters: a packet filled at the assumed ratio comes
  // out too large and must be split until every part fits
  const rng = seededRandom(99);
  const noise = (n: number) =>
    Array.from({ length: n }, () => String.fromCharCode(33 + Math.floor(rng() * 90))).join("");
  const services = Array.from({ length: 20 }, () => ({ web: { name: "web", port: 80, notes: noise(500) } }));
  const r = await storm(20, 6, { servicesFor: (i) => services[i] });
  assert.ok(r.converged >= 0, "not converged");
  const over = r.sent.filter((s) => s.bytes > r.c.config.max_packet_bytes);
  assert.deepEqual(over, [], `datagrams over ${r.c.config.max_packet_bytes} bytes`);
  assert.ok(r.sent.some((s) => s.compressed), "some packets still go compressed");
  await r.c.stopAll();
});

Deno.test("sim: with a cluster key, packets are compressed inside the encryption and every one is opened", async () => {
  const keyring = await Keyring.create([generateKey()]);
  const r = await storm(20, 7, { keyring });
  assert.ok(r.converged >= 0, "not converged");
  const compressed = r.c.nodes.reduce((a, n) => a + n.engine.traffic.packetsCompressed, 0);
  assert.ok(compressed > 50, `${compressed} compressed packets`);
  // sealed: nothing on the wire shows the marker, and no receiver dropped a packet
  assert.equal(r.sent.filter((s) => s.compressed).length, 0);
  for (const n of r.c.nodes) {
    assert.deepEqual(n.engine.traffic.dropped, { auth: 0, stale: 0, replay: 0, malformed: 0 });
  }
  const over = r.sent.filter((s) => s.bytes > r.c.config.max_packet_bytes);
  assert.deepEqual(over, [], "sealed datagrams within the budget");
  await r.c.stopAll();
});

Deno.test("sim: with a large max_packet_bytes a compressed packet still unpacks within what receivers accept", async () => {
  // 60 000-byte datagrams: filled at the compression ratio they would unpack to far more than a
  // plain datagram may hold (65 507 bytes), and every receiver would drop them as malformed (records
  // of ~4.5 KB that compress well: the seed queues 19 of them, ~85 KB, right after the storm)
  const services = {
    web: { name: "web", port: 80, notes: "the same long notes on every node. ".repeat(120) },
  };
  const r = await storm(20, 8, { config: { max_packet_bytes: 60_000 }, services });
  assert.ok(r.converged >= 0, "not converged");
  assert.ok(r.sent.some((s) => s.compressed));
  for (const n of r.c.nodes) assert.equal(n.engine.traffic.dropped.malformed, 0, `node ${n.index}`);
  await r.c.stopAll();
});
