import assert from "node:assert/strict";
import { SimCluster } from "./gossip_harness.ts";

Deno.test("sim: a killed node is declared dead by every other node", async () => {
  const c = new SimCluster({ nodes: 50, seed: 2, link: { delayMs: 1, jitterMs: 2 } });
  await c.startAndJoin(10);
  assert.ok(await c.runUntil(() => c.converged(), 60_000) >= 0);
  const victim = c.nodes[17];
  const killedAt = c.clock.now();
  c.kill(victim);
  const took = await c.runUntil(
    () => c.viewsOf(victim.self.uuid).every((r) => r?.state === "dead"),
    120_000,
    100,
  );
  assert.ok(took >= 0, "not every node declared the killed node dead within 120 s");
  console.log(`50 nodes: killed node dead everywhere after ${took} ms (virtual)`);
  // nobody else was hurt
  for (const n of c.live()) assert.equal(c.stateOf(c.live()[0], n.self.uuid), "alive");
  // each live node emitted exactly one dead event for it
  for (const n of c.live()) {
    assert.equal(
      n.changes.filter((e) => e.uuid === victim.self.uuid && e.kind === "dead" && e.at >= killedAt).length,
      1,
    );
  }
  await c.stopAll();
});

Deno.test("sim: a 2-way partition heals to one view after it ends", async () => {
  const c = new SimCluster({ nodes: 40, seed: 3, link: { delayMs: 1, jitterMs: 2 } });
  await c.startAndJoin(10);
  assert.ok(await c.runUntil(() => c.converged(), 60_000) >= 0);
  const left = c.nodes.slice(0, 20).map((n) => n.addr);
  const right = c.nodes.slice(20).map((n) => n.addr);
  c.net.partition([left, right]);
  // each side declares the other dead
  const split = await c.runUntil(
    () =>
      c.nodes.every((v) =>
        c.nodes.every((n) =>
          (v.index < 20) === (n.index < 20)
            ? c.stateOf(v, n.self.uuid) === "alive"
            : c.stateOf(v, n.self.uuid) === "dead"
        )
      ),
    180_000,
    500,
  );
  assert.ok(split >= 0, "the two sides did not see each other dead");
  c.net.heal();
  const healed = await c.runUntil(() => c.converged(), 300_000, 500);
  assert.ok(healed >= 0, "the partition did not heal within 300 simulated seconds");
  console.log(`partition: sides split after ${split} ms, one view again ${healed} ms after healing`);
  await c.stopAll();
});

Deno.test("sim: a node that leaves is seen as leave by all and never as dead", async () => {
  const c = new SimCluster({ nodes: 30, seed: 4, link: { delayMs: 1, jitterMs: 2 } });
  await c.startAndJoin(10);
  assert.ok(await c.runUntil(() => c.converged(), 60_000) >= 0);
  const leaver = c.nodes[5];
  let left = false;
  void leaver.engine.leave().then(() => {
    left = true;
    c.kill(leaver);
  });
  const took = await c.runUntil(
    () => left && c.viewsOf(leaver.self.uuid).every((r) => r?.state === "leave"),
    30_000,
    50,
  );
  assert.ok(took >= 0, "leave did not reach everyone");
  await c.clock.advance(60_000);
  assert.ok(c.viewsOf(leaver.self.uuid).every((r) => r?.state === "leave"), "leave must stay sticky");
  await c.stopAll();
});

Deno.test("sim: left and dead nodes are reaped after gossip.reap_after", async () => {
  const c = new SimCluster({ nodes: 10, seed: 5, config: { reap_after: 60_000 } });
  await c.startAndJoin(10);
  assert.ok(await c.runUntil(() => c.converged(), 60_000) >= 0);
  c.kill(c.nodes[3]);
  assert.ok(
    await c.runUntil(() => c.viewsOf(c.nodes[3].self.uuid).every((r) => r?.state === "dead"), 60_000) >= 0,
  );
  assert.ok(
    await c.runUntil(() => c.viewsOf(c.nodes[3].self.uuid).every((r) => r === undefined), 90_000, 1000) >= 0,
  );
  for (const n of c.live()) assert.equal(n.engine.members.size, 9);
  await c.stopAll();
});

Deno.test("sim: a tag change bumps the incarnation and reaches every node", async () => {
  const c = new SimCluster({ nodes: 30, seed: 6 });
  await c.startAndJoin(10);
  assert.ok(await c.runUntil(() => c.converged(), 60_000) >= 0);
  const n = c.nodes[9];
  const before = n.self.incarnation;
  n.self.setTags(["kv", "web"]);
  n.engine.localUpdate();
  assert.equal(n.self.incarnation, before + 1);
  const took = await c.runUntil(
    () => c.viewsOf(n.self.uuid).every((r) => r?.tags.join() === "kv,web"),
    20_000,
    50,
  );
  assert.ok(took >= 0 && took < 5000, `tag change took ${took} ms`);
  await c.stopAll();
});

Deno.test("sim: a node flooded with garbage and forged-looking packets keeps working", async () => {
  const c = new SimCluster({ nodes: 5, seed: 8 });
  await c.startAndJoin(10);
  assert.ok(await c.runUntil(() => c.converged(), 30_000) >= 0);
  const target = c.nodes[2];
  const attacker = c.net.attach({ addr: "10.9.9.9", port: 6768 }).transport;
  await attacker.start();
  const enc = new TextEncoder();
  const junk = [
    "[]",
    "{}",
    '[{"type":"ping","seqno":1,"node":"nobody","from":"x"}]',
    '[{"type":"alive","uuid":"","name":"x","addr":"1.2.3.4","port":1,"incarnation":1}]',
    `[{"type":"suspect","uuid":"${target.self.uuid}","incarnation":-5,"from":"x"}]`,
    '[{"type":"ack","seqno":"1"}]',
    "not json at all",
  ];
  for (let i = 0; i < 5000; i++) {
    const bytes = i % 2
      ? enc.encode(junk[i % junk.length])
      : crypto.getRandomValues(new Uint8Array(1 + (i % 300)));
    attacker.sendPacket(target.addr, bytes);
  }
  await c.clock.advance(5000);
  assert.ok(
    target.engine.traffic.dropped.malformed >= 4000,
    `dropped ${target.engine.traffic.dropped.malformed}`,
  );
  assert.ok(c.converged(), "the cluster is unaffected");
  assert.equal(target.engine.members.size, 5);
  await c.stopAll();
});

Deno.test("sim: Lifeguard — a node whose own packets are slow raises its health score instead of killing peers", async () => {
  const c = new SimCluster({ nodes: 20, seed: 10, link: { delayMs: 1, jitterMs: 1 } });
  await c.startAndJoin(10);
  assert.ok(await c.runUntil(() => c.converged(), 60_000) >= 0);
  const slow = c.nodes[0];
  // everything the slow node sends takes 700 ms (longer than probe_timeout): it is the sick one
  for (const n of c.nodes.slice(1)) c.net.setLink(slow.addr, n.addr, { delayMs: 700, jitterMs: 0 });
  const start = c.clock.now();
  let maxScore = 0;
  for (let s = 0; s < 300; s++) {
    await c.clock.advance(1000);
    maxScore = Math.max(maxScore, slow.engine.awareness.score);
  }
  assert.ok(maxScore >= 2, `health score rose to ${maxScore}`);
  // without awareness (awareness_max_multiplier 1) this scenario makes the slow node suspect a
  // healthy peer on every probe (~300 in 5 minutes); with it, only the first few
  const accusations = slow.changes.filter((e) =>
    e.kind === "suspect" && e.at >= start && e.uuid !== slow.self.uuid
  );
  assert.ok(accusations.length < 30, `the slow node raised ${accusations.length} suspicions`);
  for (const n of c.nodes) {
    const deaths = n.changes.filter((e) => e.kind === "dead" && e.at >= start);
    assert.equal(deaths.length, 0, `node-${n.index} declared ${deaths.length} node(s) dead`);
  }
  await c.stopAll();
});
