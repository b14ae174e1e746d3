/**
 * Sealed gossip from a host whose clock stepped 5 minutes: every datagram is dropped as out of the
 * clock window, and the receiver says so once a minute, naming the sender and the likely cause.
 */
import assert from "node:assert/strict";
import { SimCluster } from "../sim/gossip_harness.ts";
import { generateKey, Keyring, PeerEnvelope } from "../../lib/transport/mod.ts";
import { encodePacket } from "../../lib/gossip/codec.ts";
import { LogSink } from "../../lib/log/mod.ts";
import type { Logger } from "../../lib/log/mod.ts";

Deno.test("gossip from a host 5 min ahead is dropped and said once a minute, naming it", async () => {
  const key = await Keyring.create([generateKey()]);
  const c = new SimCluster({ nodes: 1, seed: 7, keyring: key });
  const node = c.nodes[0];
  const sink = new LogSink({ stderr: false, now: () => c.clock.now() });
  (node.engine.deps as { log: Logger }).log = sink.logger("gossip");
  await node.engine.start();
  const from = { addr: "10.9.9.9", port: 6768 };
  const sender = c.net.attach(from);
  await sender.transport.start();
  const ahead = new PeerEnvelope(key, { now: () => c.clock.now() + 5 * 60_000 });
  const ping = () => encodePacket([{ type: "ping", seq: 1, node: node.self.uuid }] as never);
  try {
    for (let i = 0; i < 30; i++) {
      sender.transport.sendPacket(node.addr, await ahead.seal(ping()));
      await c.clock.advance(1_000);
    }
    const said = () => sink.recent.WARNING.filter((l) => /dropped .* gossip packet/.test(l));
    assert.equal(said().length, 1);
    assert.match(
      said()[0],
      /dropped 1 gossip packet\(s\), the last from 10\.9\.9\.9:6768: its send time is outside the receiver's clock window/,
    );
    assert.equal(node.engine.traffic.dropped.stale, 30);
    for (let i = 0; i < 40; i++) {
      sender.transport.sendPacket(node.addr, await ahead.seal(ping()));
      await c.clock.advance(1_000);
    }
    assert.equal(said().length, 2);
    assert.match(
      said()[1],
      /dropped \d+ gossip packet\(s\) in the last minute, the last from 10\.9\.9\.9:6768/,
    );
  } finally {
    await node.engine.stop();
    await sender.transport.close?.();
  }
});
