import assert from "node:assert/strict";
import { BroadcastQueue, packetSize, retransmitLimit } from "../../lib/gossip/broadcast_queue.ts";
import { encodePacket, type GossipMsg } from "../../lib/gossip/codec.ts";

const alive = (uuid: string, incarnation = 0): GossipMsg => ({
  type: "alive",
  uuid,
  name: `node-${uuid}`,
  addr: "10.0.0.1",
  port: 6768,
  incarnation,
  tags: ["linux", "kv"],
  services: {},
  zone: "",
});

Deno.test("retransmit limit grows with log10 of the cluster size", () => {
  assert.equal(retransmitLimit(4, 1), 4);
  assert.equal(retransmitLimit(4, 9), 4);
  assert.equal(retransmitLimit(4, 10), 8);
  assert.equal(retransmitLimit(4, 200), 12);
  assert.equal(retransmitLimit(4, 1000), 16);
});

Deno.test("taken messages fit in the datagram budget, exactly as encoded", () => {
  const q = new BroadcastQueue();
  for (let i = 0; i < 100; i++) q.push(alive(`u${i}`), `u${i}`);
  for (let round = 0; round < 20; round++) {
    const msgs = q.take(1400, 3);
    if (!msgs.length) break;
    const bytes = encodePacket([], msgs).length;
    assert.ok(bytes <= 1400, `packet of ${bytes} bytes`);
    assert.ok(bytes > 1000, "packets are filled");
  }
  assert.equal(packetSize([]), 2);
  assert.equal(packetSize([3, 4]), 10);
});

Deno.test("each message is sent at most `limit` times, then dropped", () => {
  const q = new BroadcastQueue();
  q.push(alive("a"), "a");
  let sent = 0;
  for (let i = 0; i < 10; i++) sent += q.take(1400, 4).length;
  assert.equal(sent, 4);
  assert.equal(q.length, 0);
});

Deno.test("newer news about the same node replaces the queued message; least-sent go first", () => {
  const q = new BroadcastQueue();
  q.push(alive("a", 1), "a");
  q.take(1400, 10);
  q.push(alive("b"), "b");
  q.push(alive("a", 2), "a");
  assert.equal(q.length, 2);
  const msgs = q.take(1400, 10).map((j) => JSON.parse(j)) as Array<{ uuid: string; incarnation: number }>;
  assert.deepEqual(msgs.map((m) => `${m.uuid}${m.incarnation}`), ["a2", "b0"]);
});

Deno.test("forget withdraws the queued news about a node (newer news we do not pass on)", () => {
  const q = new BroadcastQueue();
  q.push(alive("a"), "a");
  q.push(alive("b"), "b");
  assert.equal(q.has("a"), true);
  q.forget("a");
  q.forget("zzz"); // nothing queued under it: a no-op
  assert.equal(q.has("a"), false);
  assert.equal(q.length, 1);
  assert.deepEqual(q.take(1400, 3).map((j) => JSON.parse(j).uuid), ["b"]);
  q.push(alive("a", 2), "a"); // news about it may be queued again
  assert.equal(q.has("a"), true);
});

Deno.test("the budget accounts for bytes already used in the packet", () => {
  const q = new BroadcastQueue();
  q.push(alive("a"), "a");
  assert.equal(q.take(300, 4, 299).length, 0);
  assert.equal(q.length, 1);
});

Deno.test("a full queue drops the most-sent, oldest messages first", () => {
  const q = new BroadcastQueue(3);
  q.push(alive("a"), "a");
  q.take(1400, 10); // a sent once
  q.push(alive("b"), "b");
  q.push(alive("c"), "c");
  q.push(alive("d"), "d");
  assert.equal(q.length, 3);
  const uuids = q.take(1400, 10).map((j) => JSON.parse(j).uuid).sort();
  assert.deepEqual(uuids, ["b", "c", "d"]);
});

Deno.test("a message larger than the budget is sent alone, never stuck in the queue", () => {
  const q = new BroadcastQueue();
  const big = { ...alive("big"), services: { s: { notes: "x".repeat(3000) } } } as GossipMsg;
  q.push(big, "big");
  q.push(alive("small"), "small");
  assert.deepEqual(
    q.take(1400, 1, 100).map((j) => JSON.parse(j).uuid),
    ["small"],
    "not piggybacked on a ping",
  );
  const alone = q.take(1400, 1);
  assert.equal(alone.length, 1);
  assert.equal(JSON.parse(alone[0]).uuid, "big");
  assert.equal(q.length, 0);
});

const user = (id: string): GossipMsg => ({ type: "user", kind: "event", id, payload: { n: id } });

Deno.test("user messages hold at most a quarter of the queue and never evict membership news; they go after it", () => {
  const q = new BroadcastQueue(16);
  assert.equal(q.maxUser, 4);
  q.push(alive("self", 7), "self"); // our refutation
  for (let i = 0; i < 5; i++) q.push(alive(`m${i}`), `m${i}`);
  // a sender making up user messages with fresh ids
  for (let i = 0; i < 5000; i++) q.push(user(`u${i}`));
  assert.equal(q.length, 10);
  assert.ok(q.has("self"), "the refutation is still queued");
  assert.deepEqual(q.evicted, { membership: 0, user: 4996 });
  // membership news first, then the newest user messages
  const taken = q.take(1400, 10).map((j) => JSON.parse(j));
  assert.deepEqual(taken.slice(0, 6).map((m) => m.uuid).sort(), ["m0", "m1", "m2", "m3", "m4", "self"]);
  assert.deepEqual(taken.slice(6).map((m) => m.id), ["u4999", "u4998", "u4997", "u4996"]);
  // membership news beyond the whole queue still drops the most sent first, user ones before
  for (let i = 0; i < 20; i++) q.push(alive(`n${i}`), `n${i}`);
  assert.equal(q.length, 16);
  assert.deepEqual(q.evicted, { membership: 10, user: 5000 });
});
