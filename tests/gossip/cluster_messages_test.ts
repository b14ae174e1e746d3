import assert from "node:assert/strict";
import { VirtualClock } from "../../lib/clock/mod.ts";
import { Counters } from "../../lib/counters.ts";
import { silentLogger } from "../../lib/log/mod.ts";
import { ClusterMessages, SEEN_MAX } from "../../lib/gossip/cluster_messages.ts";
import { BroadcastQueue } from "../../lib/gossip/broadcast_queue.ts";
import { decodePacket, encodePacket, type GossipMsg } from "../../lib/gossip/codec.ts";
import type { EngineCore, EngineDeps } from "../../lib/gossip/core.ts";
import { generateKey, Keyring, PeerEnvelope } from "../../lib/transport/mod.ts";
import { INCARNATION_MAX, type MemberRecord } from "../../lib/types.ts";

function rec(i: number, state: MemberRecord["state"] = "alive"): MemberRecord {
  return {
    uuid: `u${i}`,
    name: `n${i}`,
    addr: `10.0.0.${i}`,
    port: 1,
    incarnation: 0,
    state,
    tags: [],
    services: {},
    zone: "",
  };
}

async function fakeCore(keys: string[]) {
  const clock = new VirtualClock(0);
  const sent: Array<{ to: string; msgs: GossipMsg[] }> = [];
  const records = [rec(0), rec(1), rec(2), rec(3, "suspect"), rec(4, "dead"), rec(5, "leave")];
  const keyring = await Keyring.create(keys);
  let saved = 0;
  const core = {
    deps: {
      clock,
      envelope: new PeerEnvelope(keyring, { now: () => clock.now() }),
      log: silentLogger,
      counters: new Counters(),
      onKeyringChange: () => saved++,
    } as unknown as EngineDeps,
    members: { selfUuid: "u0", records: () => records } as unknown as EngineCore["members"],
    queue: new BroadcastQueue(),
    running: true,
    send: (to: MemberRecord, msgs: GossipMsg[]) => void sent.push({ to: to.uuid, msgs }),
  } as unknown as EngineCore;
  return { core, clock, sent, keyring, saved: () => saved };
}

Deno.test("a key operation is applied locally, gossiped, and sent directly to every live member three times", async () => {
  const k1 = generateKey();
  const k2 = generateKey();
  const { core, clock, sent, keyring, saved } = await fakeCore([k1]);
  const m = new ClusterMessages(core);
  await m.keyOp("install", k2);
  assert.deepEqual(keyring.list().keys, [k1, k2]);
  assert.equal(saved(), 1);
  assert.equal(core.queue.length, 1, "also queued for gossip");
  await clock.advance(3000);
  const targets = sent.map((s) => s.to).sort();
  assert.deepEqual(
    targets,
    ["u1", "u1", "u1", "u2", "u2", "u2", "u3", "u3", "u3"],
    "alive and suspect peers, not dead/left/self",
  );
  assert.ok(sent.every((s) => s.msgs[0].type === "keyop"));
});

Deno.test("key operations from the cluster are applied once, re-gossiped, and ignored without encryption", async () => {
  const k1 = generateKey();
  const k2 = generateKey();
  const { core, keyring } = await fakeCore([k1]);
  const m = new ClusterMessages(core);
  await m.onKeyOp({ type: "keyop", op: "use", key: k2, id: "x" });
  assert.equal(keyring.list().primary, k2, "use installs the key first if needed");
  assert.equal(core.queue.length, 1);
  await m.onKeyOp({ type: "keyop", op: "remove", key: k2, id: "x" });
  assert.equal(keyring.list().primary, k2, "a duplicate id is ignored");
  const plain = await fakeCore([]);
  await new ClusterMessages(plain.core).onKeyOp({ type: "keyop", op: "install", key: k2, id: "y" });
  assert.equal(plain.keyring.enabled, false, "an unencrypted agent never turns encryption on from a packet");
});

Deno.test("a rotation's install, use and remove arriving in one packet, or the remove first, end with the old key gone", async () => {
  const k1 = generateKey();
  const k2 = generateKey();
  // one packet: its messages are handled one after the other, without waiting for each other
  const together = await fakeCore([k1]);
  const m = new ClusterMessages(together.core);
  await Promise.all([
    m.onKeyOp({ type: "keyop", op: "install", key: k2, id: "i" }),
    m.onKeyOp({ type: "keyop", op: "use", key: k2, id: "u" }),
    m.onKeyOp({ type: "keyop", op: "remove", key: k1, id: "r" }),
  ]);
  assert.deepEqual(together.keyring.list(), { primary: k2, keys: [k2] });
  // the remove first (the copies of the use lost or late): it waits for the use
  const first = await fakeCore([k1]);
  const logs: string[] = [];
  (first.core.deps as { log: unknown }).log = {
    ...silentLogger,
    info: (l: string) => logs.push(l),
    warn: (l: string) => logs.push(`WARN ${l}`),
  };
  const n = new ClusterMessages(first.core);
  await n.onKeyOp({ type: "keyop", op: "remove", key: k1, id: "r" });
  assert.deepEqual(
    first.keyring.list(),
    { primary: k1, keys: [k1] },
    "the primary stays until another is used",
  );
  assert.equal(first.saved(), 0);
  await n.onKeyOp({ type: "keyop", op: "use", key: k2, id: "u" });
  assert.deepEqual(first.keyring.list(), { primary: k2, keys: [k2] }, "then it goes");
  assert.equal(first.saved(), 2, "saved after the use and after the remove");
  assert.ok(
    logs.some((l) => /remove of the primary key waits until another key is used/.test(l)),
    logs.join("\n"),
  );
  assert.ok(logs.some((l) => /remove applied from the cluster \(after the use of another key\)/.test(l)));
  // a removal still waiting after 10 minutes is dropped: a later use does not remove the key
  const late = await fakeCore([k1]);
  const o = new ClusterMessages(late.core);
  await o.onKeyOp({ type: "keyop", op: "remove", key: k1, id: "r" });
  await late.clock.advance(10 * 60_000 + 1);
  await o.onKeyOp({ type: "keyop", op: "use", key: k2, id: "u" });
  assert.deepEqual(late.keyring.list(), { primary: k2, keys: [k2, k1] });
});

Deno.test("a use issued before the current primary's is ignored when it arrives late; ties go to the larger key", async () => {
  const [k1, k2, k3] = [generateKey(), generateKey(), generateKey()];
  const { core, keyring } = await fakeCore([k1]);
  const logs: string[] = [];
  (core.deps as { log: unknown }).log = { ...silentLogger, info: (l: string) => logs.push(l) };
  const m = new ClusterMessages(core);
  // `use k2` at t=1000, then `use k3` at t=2000: they arrive as k3, k2
  await m.onKeyOp({ type: "keyop", op: "use", key: k3, id: "u3", at: 2000 });
  await m.onKeyOp({ type: "keyop", op: "use", key: k2, id: "u2", at: 1000 });
  assert.deepEqual(
    keyring.list(),
    { primary: k3, keys: [k3, k1] },
    "the older use changes nothing, installs nothing",
  );
  assert.equal(keyring.primaryAt, 2000);
  assert.ok(
    logs.some((l) => /a use issued before the current primary's was ignored/.test(l)),
    logs.join("\n"),
  );
  // a late copy of an older use of the primary itself never lowers its stamp
  await m.onKeyOp({ type: "keyop", op: "use", key: k3, id: "u3-old", at: 500 });
  await m.onKeyOp({ type: "keyop", op: "use", key: k2, id: "u2-b", at: 1500 });
  assert.equal(keyring.list().primary, k3);
  // a use from an agent that does not stamp its uses applies as it arrives
  await m.onKeyOp({ type: "keyop", op: "use", key: k1, id: "old-agent" });
  assert.equal(keyring.list().primary, k1);
  // the same instant on two issuers: every member ends on the larger key, whatever the order
  const [lo, hi] = [k2, k3].sort((a, b) => a < b ? -1 : 1);
  for (const order of [[lo, hi], [hi, lo]]) {
    const t = await fakeCore([k1]);
    const n = new ClusterMessages(t.core);
    for (const [i, k] of order.entries()) {
      await n.onKeyOp({ type: "keyop", op: "use", key: k, id: `t${i}`, at: 3000 });
    }
    assert.equal(t.keyring.list().primary, hi, `arrival order ${order.map((k) => k === hi ? "hi" : "lo")}`);
  }
});

Deno.test("a local use is stamped after the primary's; it applies a cluster's remove waiting for it", async () => {
  const [k1, k2, k3] = [generateKey(), generateKey(), generateKey()];
  const { core, clock, sent, keyring } = await fakeCore([k1]);
  const m = new ClusterMessages(core);
  await clock.advance(5000);
  // the cluster removes k1 while this node still uses it (the use of k2 not here yet)
  await m.onKeyOp({ type: "keyop", op: "install", key: k2, id: "i2" });
  await m.onKeyOp({ type: "keyop", op: "remove", key: k1, id: "r1" });
  assert.equal(keyring.list().primary, k1);
  // the admin runs `kunai keys use k2` here: the waiting remove applies
  await m.keyOp("use", k2);
  assert.deepEqual(keyring.list(), { primary: k2, keys: [k2] });
  assert.equal(keyring.primaryAt, 5000);
  const used = sent.map((s) => s.msgs[0]).find((x) => x.type === "keyop" && x.op === "use");
  assert.ok(used && used.type === "keyop" && used.at === 5000, JSON.stringify(used));
  // a primary stamped ahead of this clock (another issuer's clock is ahead): the next local use is after it
  await m.onKeyOp({ type: "keyop", op: "use", key: k3, id: "u3", at: 90_000 });
  await m.keyOp("use", k2);
  assert.equal(keyring.primaryAt, 90_001);
  assert.equal(keyring.list().primary, k2);
});

Deno.test("user payloads are delivered once per id and re-gossiped", () => {
  return (async () => {
    const { core } = await fakeCore([]);
    const m = new ClusterMessages(core);
    const got: unknown[] = [];
    const off = m.on("event", (p) => got.push(p));
    m.onUser({ type: "user", kind: "event", id: "e1", payload: { a: 1 } });
    m.onUser({ type: "user", kind: "event", id: "e1", payload: { a: 1 } });
    m.onUser({ type: "user", kind: "other", id: "e2", payload: 2 });
    assert.deepEqual(got, [{ a: 1 }]);
    assert.equal(core.queue.length, 2);
    off();
    m.onUser({ type: "user", kind: "event", id: "e3", payload: 3 });
    assert.equal(got.length, 1);
  })();
});

Deno.test("ids remembered are capped: a sender choosing fresh ids evicts the oldest, counted", async () => {
  const { core } = await fakeCore([generateKey()]);
  const m = new ClusterMessages(core);
  const got: string[] = [];
  m.on("k", (_p, id) => got.push(id));
  for (let i = 0; i < SEEN_MAX + 10; i++) m.onUser({ type: "user", kind: "k", id: `id-${i}`, payload: null });
  assert.equal(got.length, SEEN_MAX + 10);
  assert.equal(core.deps.counters.get("gossip_seen_evicted_total"), 10);
  m.onUser({ type: "user", kind: "k", id: `id-${SEEN_MAX + 9}`, payload: null });
  assert.equal(got.length, SEEN_MAX + 10, "a recent id is still a duplicate");
  m.onUser({ type: "user", kind: "k", id: "id-0", payload: null });
  assert.equal(got.length, SEEN_MAX + 11, "the oldest was forgotten");
});

Deno.test("a cluster's use stamped more than a day ahead is refused: later rotations still apply and still decode", async () => {
  const [k1, k2, k3] = [generateKey(), generateKey(), generateKey()];
  const { core, keyring, clock, sent } = await fakeCore([k1]);
  const logs: string[] = [];
  (core.deps as { log: unknown }).log = { ...silentLogger, warn: (l: string) => logs.push(l) };
  await clock.advance(1000);
  const m = new ClusterMessages(core);
  await m.onKeyOp({ type: "keyop", op: "use", key: k2, id: "far", at: INCARNATION_MAX });
  assert.equal(keyring.list().primary, k1, "not applied");
  assert.equal(keyring.primaryAt, 0);
  assert.ok(
    logs.some((l) => /a use stamped .* \(ahead of this clock\) was refused/.test(l)),
    logs.join("\n"),
  );
  // a stamp saved at the top by an agent before the bound: the next use stays within what decodes
  keyring.primaryAt = INCARNATION_MAX;
  await m.keyOp("use", k3);
  const use = sent.map((s) => s.msgs[0]).find((msg) => msg.type === "keyop")!;
  assert.ok(decodePacket(encodePacket([use])).ok, JSON.stringify(use));
});
