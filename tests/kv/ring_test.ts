import assert from "node:assert/strict";
import { Ring, type RingNode, ringOwners } from "../../lib/kv/mod.ts";
import { sha1Hex } from "../../lib/kv/sha1.ts";
import type { MemberRecord } from "../../lib/types.ts";

const nodes = (n: number, from = 0): RingNode[] =>
  Array.from(
    { length: n },
    (_, i) => ({ uuid: sha1Hex(`node-${i + from}`), name: `n${i + from}`, addr: "127.0.0.1", port: 1 }),
  );

const KEYS = Array.from({ length: 20_000 }, (_, i) => `key/${i}`);

Deno.test("sha1 matches the reference digest", () => {
  assert.equal(sha1Hex("abc"), "a9993e364706816aba3e25717850c26c9cd0d89d");
  assert.equal(sha1Hex(""), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
  assert.equal(sha1Hex("a".repeat(1000)), "291e9a6c66994949b57ba5e650361e98fc36b1ba");
});

Deno.test("every key gets distinct owner and successors, fewer when the ring is small", () => {
  const ring = new Ring(nodes(5), 256);
  for (const k of KEYS.slice(0, 500)) {
    const o = ring.owners(k, 3);
    assert.equal(o.length, 3);
    assert.equal(new Set(o.map((x) => x.uuid)).size, 3);
  }
  assert.equal(new Ring(nodes(2), 256).owners("a", 3).length, 2);
  assert.deepEqual(new Ring([], 256).owners("a", 3), []);
});

Deno.test("placement is deterministic whatever the member order", () => {
  const a = new Ring(nodes(7), 256), b = new Ring(nodes(7).reverse(), 256);
  for (const k of KEYS.slice(0, 300)) assert.deepEqual(a.owners(k, 3), b.owners(k, 3));
});

Deno.test("primary ownership is within 25% of even for 3 to 20 nodes", () => {
  for (let n = 3; n <= 20; n++) {
    const ring = new Ring(nodes(n), 256);
    const counts = new Map<string, number>();
    for (const k of KEYS) {
      const o = ring.owners(k, 1)[0].uuid;
      counts.set(o, (counts.get(o) ?? 0) + 1);
    }
    assert.equal(counts.size, n);
    const even = KEYS.length / n;
    for (const [uuid, c] of counts) {
      assert.ok(
        Math.abs(c / even - 1) <= 0.25,
        `${n} nodes: ${uuid.slice(0, 8)} owns ${c} keys, even is ${even}`,
      );
    }
  }
});

Deno.test("a join moves only keys that the new node takes over", () => {
  const before = new Ring(nodes(6), 256);
  const after = new Ring(nodes(7), 256);
  const joined = nodes(1, 6)[0].uuid;
  let moved = 0;
  for (const k of KEYS) {
    const b = before.owners(k, 3).map((x) => x.uuid), a = after.owners(k, 3).map((x) => x.uuid);
    if (a.join() === b.join()) continue;
    moved++;
    // the only change is the new node entering the owner list; the others keep their order
    assert.ok(a.includes(joined), `key ${k} moved without the new node`);
    assert.deepEqual(a.filter((u) => u !== joined), b.slice(0, 2));
  }
  // the new node holds about 3/7 of the copies; keys it does not hold never move
  assert.ok(moved / KEYS.length < 3 / 7 + 0.08, `moved ${moved}`);
  assert.ok(moved / KEYS.length > 3 / 7 - 0.08, `moved ${moved}`);
});

Deno.test("a leave moves only keys the leaving node held", () => {
  const before = new Ring(nodes(7), 256);
  const all = nodes(7);
  const left = all[3].uuid;
  const after = new Ring(all.filter((n) => n.uuid !== left), 256);
  for (const k of KEYS.slice(0, 5000)) {
    const b = before.owners(k, 3).map((x) => x.uuid), a = after.owners(k, 3).map((x) => x.uuid);
    if (!b.includes(left)) {
      assert.deepEqual(a, b, `key ${k} moved though ${left.slice(0, 8)} did not hold it`);
    } else assert.deepEqual(a.slice(0, 2), b.filter((u) => u !== left));
  }
});

Deno.test("ringOwners keeps alive/suspect kv members and falls back to the local node", () => {
  const rec = (i: number, state: MemberRecord["state"], tags: string[]) => ({
    ...nodes(1, i)[0],
    state,
    tags,
  });
  const members = [
    rec(0, "alive", ["kv"]),
    rec(1, "suspect", ["kv"]),
    rec(2, "dead", ["kv"]),
    rec(3, "alive", ["web"]),
  ];
  const local = nodes(1, 9)[0];
  const o = ringOwners("k", members, 3, 64, local);
  assert.deepEqual(new Set(o.map((x) => x.name)), new Set(["n0", "n1"]));
  assert.deepEqual(ringOwners("k", [rec(3, "alive", ["web"])], 3, 64, local), [local]);
});
