import assert from "node:assert/strict";
import { VirtualClock } from "../../lib/clock/mod.ts";
import { Counters } from "../../lib/counters.ts";
import { silentLogger } from "../../lib/log/mod.ts";
import { ClusterMessages } from "../../lib/gossip/cluster_messages.ts";
import { BroadcastQueue } from "../../lib/gossip/broadcast_queue.ts";
import type { GossipMsg } from "../../lib/gossip/codec.ts";
import type { EngineCore, EngineDeps } from "../../lib/gossip/core.ts";
import { generateKey, Keyring, PeerEnvelope } from "../../lib/transport/mod.ts";
import type { MemberRecord } from "../../lib/types.ts";

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
