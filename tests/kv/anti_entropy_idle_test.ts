/**
 * Issue 12 (idle CPU): anti-entropy ticks only while another node holds copies. A KV node alone has
 * no one to pull from and no timer of its own for it; once a second node joins the ring, the
 * rounds run every interval again.
 */
import assert from "node:assert/strict";
import { setImmediate } from "node:timers";
import { VirtualClock } from "../../lib/clock/mod.ts";
import { createKv, type KvSubsystem, SimKvNetwork } from "../../lib/kv/mod.ts";
import type { TestCtx } from "../helpers.ts";
import { FakeCluster, testEnvelope } from "./kv_helpers.ts";

Deno.test("kv: anti-entropy waits while the node is alone in the ring; with a second holder it runs every interval", async () => {
  const clock = new VirtualClock(1_800_000_000_000);
  const net = new SimKvNetwork({ clock, delayMs: 2 });
  const members = new FakeCluster();
  const nodes: Array<{ ctx: TestCtx; kv: KvSubsystem }> = [];
  const add = async (name: string, i: number) => {
    const { uuid, ctx } = members.simMember(clock, name, i, {
      idPrefix: "ae",
      net: "10.0.1",
      portBase: 7100,
      antiEntropy: "1s",
    });
    const kv = createKv(ctx, {
      membership: members.view(uuid),
      envelope: await testEnvelope(ctx),
      transport: (serve) => net.attach(uuid, serve),
    });
    await kv.start();
    kv.refreshRing();
    nodes.push({ ctx, kv });
    return kv;
  };
  const pass = async (ms: number) => {
    for (let t = 0; t < ms; t += 5) {
      await clock.advance(5);
      await new Promise((r) => setImmediate(r));
    }
  };
  const rounds = (kv: KvSubsystem) => (kv.info().repair as { rounds: number }).rounds;
  try {
    const a = await add("a", 0);
    await pass(2_000);
    const alone = rounds(a);
    const timers = clock.pending;
    await pass(10_000);
    assert.equal(rounds(a), alone, "no anti-entropy round while alone");
    assert.ok(clock.pending <= timers, "and no timer waiting for one");
    await add("b", 1);
    await pass(5_500);
    assert.ok(rounds(a) - alone >= 5, `a ran ${rounds(a) - alone} rounds with b in the ring`);
  } finally {
    for (const n of nodes) {
      await n.kv.stop();
      n.ctx.cleanup();
    }
  }
});
