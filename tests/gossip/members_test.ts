/** The membership table's handling of conflicting claims and bus-facing change kinds. */
import { steppedClock } from "../clock_step.ts";
import assert from "node:assert/strict";
import { type Clock, VirtualClock } from "../../lib/clock/mod.ts";
import { type AliveMsg, aliveOf, encodePacket } from "../../lib/gossip/codec.ts";
import { silentLogger } from "../../lib/log/mod.ts";
import { type ChangeKind, Membership } from "../../lib/gossip/members.ts";
import { INCARNATION_MAX, type MemberRecord } from "../../lib/types.ts";
import { gossipConfig, SimCluster } from "../sim/gossip_harness.ts";

function rec(uuid: string, addr: string, over: Partial<MemberRecord> = {}): MemberRecord {
  return {
    uuid,
    name: `n-${uuid}`,
    addr,
    port: 6768,
    incarnation: 1,
    state: "alive",
    tags: [],
    services: {},
    zone: "",
    ...over,
  };
}

function table(clock: Clock = new VirtualClock(0), reapAfter = 1000, maxMembers = 10_000) {
  const conflicts: Array<{ what: string; existing: string; claim: AliveMsg }> = [];
  const refused: string[] = [];
  const changes: Array<[ChangeKind, string]> = [];
  const gossip: string[] = [];
  const rises: string[] = [];
  const refutes: number[] = [];
  const m: Membership = new Membership({
    clock,
    config: gossipConfig({ reap_after: reapAfter, max_members: maxMembers }),
    self: rec("me", "10.0.0.1"),
    hooks: {
      broadcast: (msg, key, urgent) => void gossip.push(`${msg.type} ${key}${urgent ? " urgent" : ""}`),
      withdraw: (key) => void gossip.push(`withdraw ${key}`),
      refute: (n) => {
        refutes.push(n);
        m.setSelf({ ...m.self(), incarnation: n }); // what the engine does
      },
      changed: (kind, r) => void changes.push([kind, r.uuid]),
      conflict: (existing, claim, what) => void conflicts.push({ what, existing: existing.addr, claim }),
      full: (claim) => void refused.push(claim.uuid),
      refusedRise: (held, claimed, why) => void rises.push(`${held.uuid} ${claimed} ${why}`),
    },
  });
  return { m, conflicts, changes, gossip, refused, rises, refutes };
}

Deno.test("a live node's address is not taken over by a claim from another address, even at a newer incarnation", () => {
  const { m, conflicts } = table();
  m.handleAlive(aliveOf(rec("b", "10.0.0.2")));
  const v = m.handleAlive(aliveOf(rec("b", "10.0.0.99", { incarnation: 5 })));
  assert.equal(v.action, "ignore");
  assert.equal(m.get("b")!.addr, "10.0.0.2");
  assert.equal(m.get("b")!.incarnation, 1);
  assert.deepEqual(conflicts.map((c) => [c.what, c.existing, c.claim.addr]), [[
    "uuid",
    "10.0.0.2",
    "10.0.0.99",
  ]]);
  // the node itself answering from the new address (push-pull) is proof enough
  assert.equal(m.handleAlive(aliveOf(rec("b", "10.0.0.99", { incarnation: 6 })), true).action, "update");
  assert.equal(m.get("b")!.addr, "10.0.0.99");
});

Deno.test("once the record at the old address is dead, the new address is accepted", () => {
  const { m } = table();
  m.handleAlive(aliveOf(rec("b", "10.0.0.2")));
  m.handleDead({ type: "dead", uuid: "b", incarnation: 1, from: "me" });
  assert.equal(m.handleAlive(aliveOf(rec("b", "10.0.0.3", { incarnation: 2 }))).action, "update");
  assert.equal(m.get("b")!.addr, "10.0.0.3");
});

Deno.test("another uuid on a live node's address or name is kept but reported; a claim of our own uuid is reported", () => {
  const { m, conflicts } = table();
  m.handleAlive(aliveOf(rec("b", "10.0.0.2")));
  m.handleAlive(aliveOf(rec("c", "10.0.0.2")));
  m.handleAlive(aliveOf(rec("d", "10.0.0.4", { name: "n-b" })));
  m.handleAlive(aliveOf(rec("me", "10.9.9.9", { incarnation: 9 })));
  assert.deepEqual(conflicts.map((c) => [c.what, c.claim.uuid]), [
    ["address", "c"],
    ["name", "d"],
    ["uuid", "me"],
  ]);
  assert.equal(m.size, 4, "both kept: the probe by uuid tells which one answers");
  assert.equal(m.self().addr, "10.0.0.1");
});

Deno.test("reaping reports each forgotten node as 'reaped' (the bus's member.reaped)", async () => {
  const clock = new VirtualClock(0);
  const { m, changes } = table(clock);
  m.handleAlive(aliveOf(rec("b", "10.0.0.2")));
  m.handleLeave({ type: "leave", uuid: "b", incarnation: 1 });
  await clock.advance(1500);
  assert.equal(m.reap(), 1);
  assert.deepEqual(changes, [["joined", "b"], ["left", "b"], ["reaped", "b"]]);
  assert.equal(m.get("b"), undefined);
});

Deno.test("a push-pull does not teach a dead node we do not know; a suspect one is learned", () => {
  const clock = new VirtualClock(0);
  const { m, changes } = table(clock);
  m.merge([rec("x", "10.0.0.7", { state: "dead" }), rec("y", "10.0.0.8", { state: "suspect" })], "s");
  assert.equal(m.get("x"), undefined);
  assert.equal(m.get("y")!.state, "suspect");
  assert.deepEqual(changes, [["joined", "y"], ["suspect", "y"]]);
  m.close();
});

Deno.test("the member table holds at most max_members records: new nodes beyond are refused, known ones still updated", async () => {
  const clock = new VirtualClock(0);
  const { m, refused, changes } = table(clock, 1000, 3);
  m.merge([
    rec("b", "10.0.0.2"),
    rec("c", "10.0.0.3"),
    rec("d", "10.0.0.4"),
    rec("e", "10.0.0.5", { state: "dead" }),
  ], null);
  assert.equal(m.size, 3);
  assert.deepEqual(refused, ["d"]); // e, dead and unknown, is not learned at all
  assert.equal(m.get("d"), undefined);
  assert.equal(m.get("e"), undefined);
  assert.equal(m.handleAlive(aliveOf(rec("f", "10.0.0.6"))).action, "ignore");
  // the nodes it holds still change state
  assert.equal(m.handleAlive(aliveOf(rec("b", "10.0.0.2", { incarnation: 2 }))).action, "update");
  m.handleLeave({ type: "leave", uuid: "c", incarnation: 1 });
  assert.equal(m.get("c")!.state, "leave");
  // a left node is room again once reaped
  await clock.advance(1500);
  assert.equal(m.reap(), 1);
  assert.equal(m.handleAlive(aliveOf(rec("f", "10.0.0.6"))).action, "insert");
  assert.equal(m.size, 3);
  assert.deepEqual(changes.filter(([k]) => k === "joined").map(([, u]) => u), ["b", "c", "f"]);
});

Deno.test("a full table makes room by forgetting the nodes gone longest, once gone a minute, at most once a second", async () => {
  const clock = new VirtualClock(0);
  const { m, refused, changes } = table(clock, 72 * 3_600_000, 4);
  for (const u of ["b", "c", "d"]) m.handleAlive(aliveOf(rec(u, `10.0.0.${u.charCodeAt(0)}`)));
  m.handleDead({ type: "dead", uuid: "b", incarnation: 1, from: "me" });
  await clock.advance(10_000);
  m.handleLeave({ type: "leave", uuid: "c", incarnation: 1 });
  await clock.advance(20_000); // b gone 30 s: not yet
  assert.equal(m.handleAlive(aliveOf(rec("e", "10.0.0.5"))).action, "ignore");
  assert.deepEqual(refused, ["e"]);
  await clock.advance(35_000); // b gone 65 s, c 55 s: b makes room, c stays
  assert.equal(m.handleAlive(aliveOf(rec("e", "10.0.0.5"))).action, "insert");
  assert.equal(m.get("b"), undefined);
  assert.equal(m.get("c")!.state, "leave");
  assert.equal(m.size, 4);
  assert.deepEqual(changes.filter(([k]) => k === "reaped"), [["reaped", "b"]]);
  // two more gone at nearly the same time: the first room is made at once, the next not within 1 s
  await clock.advance(10_000); // c gone 65 s
  assert.equal(m.handleAlive(aliveOf(rec("f", "10.0.0.6"))).action, "insert");
  m.handleDead({ type: "dead", uuid: "d", incarnation: 1, from: "me" });
  await clock.advance(500);
  m.handleDead({ type: "dead", uuid: "e", incarnation: 1, from: "me" });
  await clock.advance(59_700); // d gone 60.2 s, e 59.7 s
  assert.equal(m.handleAlive(aliveOf(rec("g", "10.0.0.7"))).action, "insert");
  assert.equal(m.get("d"), undefined);
  assert.equal(m.get("e")!.state, "dead");
  await clock.advance(700); // e gone 60.4 s, but the last room was made 0.7 s ago
  assert.equal(m.handleAlive(aliveOf(rec("h", "10.0.0.8"))).action, "ignore");
  await clock.advance(400);
  assert.equal(m.handleAlive(aliveOf(rec("h", "10.0.0.8"))).action, "insert");
  assert.equal(m.get("e"), undefined);
  assert.deepEqual(changes.filter(([k]) => k === "reaped").map(([, u]) => u), ["b", "c", "d", "e"]);
  assert.deepEqual(m.records().map((r) => r.uuid).sort(), ["f", "g", "h", "me"]);
});

Deno.test("reaping follows when each node went: one that came back and went again waits its new turn", async () => {
  const clock = new VirtualClock(0);
  const { m } = table(clock, 100_000);
  m.handleAlive(aliveOf(rec("b", "10.0.0.2")));
  m.handleAlive(aliveOf(rec("c", "10.0.0.3")));
  m.handleDead({ type: "dead", uuid: "b", incarnation: 1, from: "me" });
  await clock.advance(5_000);
  m.handleDead({ type: "dead", uuid: "c", incarnation: 1, from: "me" });
  await clock.advance(5_000);
  m.handleAlive(aliveOf(rec("b", "10.0.0.2", { incarnation: 2 })));
  await clock.advance(10_000);
  m.handleDead({ type: "dead", uuid: "b", incarnation: 2, from: "me" }); // b went again at 20 s
  await clock.advance(86_000); // 106 s: c (gone at 5 s) is due, b (20 s) is not
  assert.equal(m.reap(), 1);
  assert.equal(m.get("c"), undefined);
  assert.equal(m.get("b")!.state, "dead");
  await clock.advance(15_000);
  assert.equal(m.reap(), 1);
  assert.equal(m.get("b"), undefined);
  assert.equal(m.size, 1);
});

Deno.test("a merged table's hearsay is applied without being gossiped when asked; the sender's own record always is", () => {
  const { m, gossip, changes } = table();
  m.handleAlive(aliveOf(rec("b", "10.0.0.2")));
  gossip.length = 0;
  const table2 = [rec("s", "10.0.0.5"), rec("b", "10.0.0.2", { incarnation: 4 }), rec("c", "10.0.0.3")];
  m.merge(table2, "s", false);
  assert.equal(m.get("b")!.incarnation, 4);
  assert.equal(m.get("c")!.state, "alive");
  // news of b and c is withdrawn (an older queued message about b must not go out after it)
  assert.deepEqual(gossip, ["alive s urgent", "withdraw b", "withdraw c"]);
  assert.deepEqual(changes.slice(-3), [["joined", "s"], ["updated", "b"], ["joined", "c"]]);
  gossip.length = 0;
  m.merge([rec("d", "10.0.0.6"), rec("s", "10.0.0.5")], "s"); // by default relayed, as memberlist does
  assert.deepEqual(gossip, ["alive d urgent"]);
});

Deno.test("reaping counts reap_after on a clock that never steps: a wall clock step of a day either way changes nothing", async () => {
  for (const step of [86_400_000, -86_400_000]) {
    const base = new VirtualClock(1_800_000_000_000);
    const clock = steppedClock(base);
    const { m } = table(clock, 60_000);
    m.handleAlive(aliveOf(rec("b", "10.0.0.2")));
    m.handleLeave({ type: "leave", uuid: "b", incarnation: 1 });
    await base.advance(1_000);
    clock.step(step);
    assert.equal(m.reap(), 0, `step ${step}: reaped 1 s after it left`);
    await base.advance(59_500);
    assert.equal(m.reap(), 1, `step ${step}: not reaped after reap_after`);
  }
});

Deno.test("clashes are looked up among live members only: a dead or moved one frees its address and name", async () => {
  const { m, conflicts } = table();
  const claims = () => conflicts.map((c) => [c.what, c.claim.uuid]);
  m.handleAlive(aliveOf(rec("b", "10.0.0.2")));
  m.handleAlive(aliveOf(rec("c", "10.0.0.3")));
  // b dies: its address and name are free
  m.handleDead({ type: "dead", uuid: "b", incarnation: 1, from: "me" });
  m.handleAlive(aliveOf(rec("x1", "10.0.0.2")));
  m.handleAlive(aliveOf(rec("x2", "10.0.0.9", { name: "n-b" })));
  assert.deepEqual(claims(), []);
  // c moves (its own answer proves it): its old address is free, the new one taken
  m.handleAlive(aliveOf(rec("c", "10.0.0.30", { incarnation: 2 })), true);
  m.handleAlive(aliveOf(rec("x3", "10.0.0.3", { name: "x3" })));
  m.handleAlive(aliveOf(rec("x4", "10.0.0.30", { name: "x4" })));
  assert.deepEqual(claims(), [["address", "x4"]]);
  // our own address and name are taken by us
  m.handleAlive(aliveOf(rec("x5", "10.0.0.1", { name: "x5" })));
  m.handleAlive(aliveOf(rec("x6", "10.0.0.6", { name: m.self().name })));
  assert.deepEqual(claims().slice(1), [["address", "x5"], ["name", "x6"]]);
  // a suspect is still live; once dead it leaves no trace
  m.handleSuspect({ type: "suspect", uuid: "x1", incarnation: 1, from: "me" });
  m.handleAlive(aliveOf(rec("x7", "10.0.0.2", { name: "x7" })));
  assert.deepEqual(claims().at(-1), ["address", "x7"]);
  m.handleDead({ type: "dead", uuid: "x1", incarnation: 1, from: "me" });
  m.handleDead({ type: "dead", uuid: "x7", incarnation: 1, from: "me" });
  await new Promise((r) => setTimeout(r, 0));
  const n = conflicts.length;
  m.handleAlive(aliveOf(rec("x8", "10.0.0.2", { name: "x8" })));
  assert.equal(conflicts.length, n, "nobody live at 10.0.0.2 any more");
  m.close();
});

Deno.test("an agent sent made-up nodes past gossip.max_members refuses them, counts them and says so once a minute", async () => {
  const c = new SimCluster({ nodes: 1, seed: 11, config: { max_members: 4 } });
  const { engine } = c.nodes[0];
  const logs: string[] = [];
  (engine.deps as { log: unknown }).log = { ...silentLogger, warn: (l: string) => logs.push(l) };
  await engine.start();
  const sender = c.net.attach({ addr: "10.9.9.9", port: 6768 });
  await sender.transport.start();
  const made = (n: number, from: number) =>
    encodePacket(Array.from({ length: n }, (_, i) => aliveOf(rec(`fake-${from + i}`, `10.7.0.${from + i}`))));
  for (let p = 0; p < 3; p++) sender.transport.sendPacket(c.nodes[0].addr, made(10, p * 10));
  await c.clock.advance(100);
  assert.equal(engine.members.size, 4, "itself and the first three");
  assert.equal(engine.deps.counters.get("gossip_members_refused_total"), 27);
  assert.equal(logs.length, 1, logs.join("\n"));
  assert.match(
    logs[0],
    /member table full \(gossip.max_members 4\): refused 1 new node\(s\), the latest "n-fake-3"/,
  );
  await c.clock.advance(61_000);
  sender.transport.sendPacket(c.nodes[0].addr, made(1, 100));
  await c.clock.advance(100);
  assert.equal(logs.length, 2);
  assert.match(logs[1], /refused 27 new node\(s\), the latest "n-fake-100"/);
  await engine.stop();
});

Deno.test("a claim about ourselves far above our incarnation is followed by at most 2^32, one large rise a minute", async () => {
  const clock = new VirtualClock(0);
  const { m, rises, refutes } = table(clock);
  m.handleAlive(aliveOf(rec("b", "10.0.0.2")));
  const suspect = (incarnation: number) =>
    m.handleSuspect({ type: "suspect", uuid: "me", incarnation, from: "b" });
  // an ordinary suspicion: refuted at once, as many times as it comes
  suspect(1);
  suspect(2);
  assert.deepEqual(refutes, [2, 3]);
  // the one-datagram attack: a suspicion at the top of what peers decode
  suspect(INCARNATION_MAX);
  assert.equal(m.self().incarnation, 3 + 2 ** 32, "followed part of the way only");
  assert.deepEqual(rises, [`me ${INCARNATION_MAX} capped`]);
  // a second large rise within the minute is refused; small ones still refute at once
  const v = suspect(m.self().incarnation + 2 ** 20);
  assert.equal(v.action, "ignore");
  assert.equal(v.action === "ignore" && v.refused, true);
  assert.equal(m.self().incarnation, 3 + 2 ** 32);
  assert.deepEqual(rises.slice(1), [`me ${3 + 2 ** 32 + 2 ** 20} too-soon`]);
  suspect(m.self().incarnation);
  assert.equal(m.self().incarnation, 4 + 2 ** 32);
  // a minute later the next large rise is taken (a peer holding us far above is caught up with)
  await clock.advance(60_000);
  suspect(m.self().incarnation + 2 ** 20);
  assert.equal(m.self().incarnation, 5 + 2 ** 32 + 2 ** 20);
  // the same limits for alive, dead and leave claims about us
  for (const claim of [aliveOf(rec("me", "10.0.0.1", { incarnation: 2 ** 50 }))]) m.handleAlive(claim);
  m.handleDead({ type: "dead", uuid: "me", incarnation: 2 ** 50, from: "b" });
  m.handleLeave({ type: "leave", uuid: "me", incarnation: 2 ** 50 });
  assert.equal(m.self().incarnation, 5 + 2 ** 32 + 2 ** 20);
  assert.equal(rises.length, 5);
});

Deno.test("after its data dir was lost, a node jumps once above what the cluster holds of it", () => {
  const { m, refutes } = table();
  m.handleAlive(aliveOf(rec("b", "10.0.0.2")));
  // restarted at 0 while the cluster remembers it at 50 000
  m.handleSuspect({ type: "suspect", uuid: "me", incarnation: 50_000, from: "b" });
  assert.deepEqual(refutes, [50_001]);
  // and goes on refuting what follows as usual
  m.handleAlive(aliveOf(rec("me", "10.0.0.1", { incarnation: 50_010 })));
  m.handleDead({ type: "dead", uuid: "me", incarnation: 50_011, from: "b" });
  assert.deepEqual(refutes, [50_001, 50_011, 50_012]);
});

Deno.test("a claim raising another node's incarnation by more than 2^34, or twice within 30 s by more than 1024, is refused", async () => {
  const clock = new VirtualClock(0);
  const { m, rises, gossip } = table(clock);
  m.handleAlive(aliveOf(rec("b", "10.0.0.2")));
  // an absurd incarnation for a node we know: refused, not gossiped on (b could never refute it)
  const v = m.handleAlive(aliveOf(rec("b", "10.0.0.2", { incarnation: INCARNATION_MAX, tags: ["forged"] })));
  assert.equal(v.action, "ignore");
  m.handleSuspect({ type: "suspect", uuid: "b", incarnation: INCARNATION_MAX, from: "x" });
  m.handleDead({ type: "dead", uuid: "b", incarnation: 2 ** 34 + 2, from: "x" });
  m.handleLeave({ type: "leave", uuid: "b", incarnation: 2 ** 40 });
  assert.deepEqual(m.get("b"), rec("b", "10.0.0.2"));
  assert.equal(rises.length, 4);
  assert.ok(rises.every((r) => r.endsWith("too-far")));
  // small rises always apply; a large one once, then not again for 30 s
  assert.equal(m.handleAlive(aliveOf(rec("b", "10.0.0.2", { incarnation: 1025 }))).action, "update");
  assert.equal(m.handleAlive(aliveOf(rec("b", "10.0.0.2", { incarnation: 2 ** 33 }))).action, "update");
  const steps = [2 ** 34, 2 ** 33 + 2 ** 20].map((i) =>
    m.handleSuspect({ type: "suspect", uuid: "b", incarnation: 2 ** 33 + i, from: "x" }).action
  );
  assert.deepEqual(steps, ["ignore", "ignore"]);
  assert.deepEqual(rises.slice(4), [`b ${2 ** 33 + 2 ** 34} too-soon`, `b ${2 ** 34 + 2 ** 20} too-soon`]);
  assert.equal(
    m.handleSuspect({ type: "suspect", uuid: "b", incarnation: 2 ** 33 + 1000, from: "x" }).action,
    "update",
  );
  await clock.advance(30_000);
  assert.equal(m.handleAlive(aliveOf(rec("b", "10.0.0.2", { incarnation: 2 ** 34 }))).action, "update");
  assert.equal(gossip.filter((g) => g.startsWith("alive b")).length, 4);
  m.close();
});
