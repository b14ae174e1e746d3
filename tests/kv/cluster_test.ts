/**
 * Several KV nodes in one process, each with its own store and a real HTTP server on 127.0.0.1,
 * sharing a fake membership table.
 */
import assert from "node:assert/strict";
import {
  ANSWER_LOST,
  dec,
  enc,
  eventually,
  FakeCluster,
  type KvTestNode,
  startKvNode,
  stopAll,
} from "./kv_helpers.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

async function cluster(
  names: string[],
  extra: { nonKv?: string[]; kv?: Record<string, unknown>; params?: Record<string, unknown> } = {},
) {
  const c = new FakeCluster();
  const nodes: KvTestNode[] = [];
  for (const name of names) {
    nodes.push(await startKvNode({ name, cluster: c, kv: extra.kv, params: extra.params }));
  }
  for (const name of extra.nonKv ?? []) {
    nodes.push(await startKvNode({ name, cluster: c, tags: ["web"], kv: extra.kv, params: extra.params }));
  }
  for (const n of nodes) n.kv.refreshRing();
  return { c, nodes, by: (name: string) => nodes.find((n) => n.name === name)! };
}

async function http(n: KvTestNode, path: string, init?: RequestInit): Promise<Response> {
  return await fetch(n.url + path, init);
}

/** The node that owns `key` (first of its owners). */
function ownerOf(nodes: KvTestNode[], key: string): KvTestNode {
  const uuid = nodes[0].kv.placement.owners(key)[0].uuid;
  return nodes.find((n) => n.uuid === uuid)!;
}

Deno.test({
  name: "a listing shows each key's newest version whichever replica answers first",
  ...opts,
  fn: async () => {
    // no anti-entropy during the test: the stale copy stays stale
    const { nodes, by } = await cluster(["a", "b", "c"], { kv: { anti_entropy_interval: "1h" } });
    try {
      const a = by("a");
      await a.kv.put("list/k", enc("v1"));
      await eventually("3 copies of v1", () => nodes.every((n) => n.kv.local.storage.getRecord("list/k")));
      const stale = a.kv.local.storage.getRecord("list/k")!;
      await a.kv.put("list/k", enc("v2"));
      await eventually(
        "3 copies of v2",
        () => nodes.every((n) => dec(n.kv.local.storage.getRecord("list/k")?.value ?? enc("")) === "v2"),
      );
      // a's own copy (answered first, without the network) goes back to the old version
      a.kv.local.storage.replace(stale);
      const { entries } = await a.kv.list("list/");
      assert.deepEqual(entries.map((e) => [e.key, dec(e.value)]), [["list/k", "v2"]]);
    } finally {
      await stopAll(nodes);
    }
  },
});

Deno.test({
  name: "a non-kv node forwards writes; every node reads the value; 3 copies exist",
  ...opts,
  fn: async () => {
    const { nodes, by } = await cluster(["a", "b", "c"], { nonKv: ["web1"] });
    try {
      const web = by("web1");
      const put = await http(web, "/kv/app/color", { method: "PUT", body: "blue" });
      assert.equal(put.status, 200, await put.clone().text());
      assert.equal(await put.json(), true);
      for (const n of nodes) {
        const r = await http(n, "/kv/app/color?raw");
        assert.equal(await r.text(), "blue", `read from ${n.name}`);
      }
      await eventually(
        "3 copies",
        () => ["a", "b", "c"].every((name) => by(name).kv.local.storage.getRecord("app/color") !== null),
      );
      assert.equal(web.kv.local.storage.getRecord("app/color"), null, "the non-kv node keeps no copy");
      assert.ok(web.kv.node.stats().forwarded >= 1);
    } finally {
      await stopAll(nodes);
    }
  },
});

Deno.test({
  name: "write_acks: 2 copies needed; owner alone answers 503 naming the replicas",
  ...opts,
  fn: async () => {
    const { nodes } = await cluster(["a", "b", "c"]);
    try {
      const key = "acks/key";
      const owner = ownerOf(nodes, key);
      const others = nodes.filter((n) => n !== owner);
      await others[0].stop();
      // one replica down: owner + the other replica = 2 acks
      assert.equal((await owner.kv.put(key, enc("1"))).ok, true);
      await others[1].stop();
      await assert.rejects(owner.kv.put(key, enc("2")), (err: Error & { status?: number }) => {
        assert.equal(err.status, 503);
        assert.match(err.message, /stored on 1 of the 2 copies required/);
        assert.match(err.message, /connection refused/);
        return true;
      });
      assert.ok(owner.kv.local.storage.counts().hints >= 1, "missed replicas get hints");
    } finally {
      await stopAll(nodes);
    }
  },
});

Deno.test({
  name: "reads fall back to a replica when the owner is stopped; writes work once the ring moved",
  ...opts,
  fn: async () => {
    const { c, nodes } = await cluster(["a", "b", "c", "d"], { nonKv: ["web1"] });
    try {
      const key = "fallback/key";
      const web = nodes.find((n) => n.name === "web1")!;
      assert.equal((await web.kv.put(key, enc("v1"))).ok, true);
      const owner = ownerOf(nodes, key);
      await eventually(
        "replicas hold it",
        () =>
          web.kv.placement.owners(key).every((o) =>
            nodes.find((n) => n.uuid === o.uuid)!.kv.local.storage.getRecord(key)
          ),
      );
      await owner.stop();
      const r = await http(web, `/kv/${key}?raw`);
      assert.equal(r.status, 200);
      assert.equal(await r.text(), "v1");
      assert.ok(web.kv.node.stats().reads_fallback >= 1);
      // membership notices: the owner leaves the ring, its successor coordinates
      c.setState(owner.uuid, "dead");
      await new Promise((r) => setTimeout(r, 20));
      assert.equal((await web.kv.put(key, enc("v2"))).ok, true);
      assert.equal(dec((await web.kv.get(key)).entry!.value), "v2");
    } finally {
      await stopAll(nodes);
    }
  },
});

Deno.test({
  name: "a restarted node catches up by anti-entropy (hints removed)",
  ...opts,
  fn: async () => {
    const { nodes } = await cluster(["a", "b", "c"]);
    try {
      const [a, b, cnode] = nodes;
      await cnode.stop();
      for (let i = 0; i < 40; i++) assert.equal((await a.kv.put(`ae/${i}`, enc(`v${i}`))).ok, true);
      await b.kv.delete("ae/0");
      // only anti-entropy may repair c
      for (const n of [a, b]) n.kv.local.storage.db.run("DELETE FROM kv_hints");
      await cnode.restart();
      cnode.kv.refreshRing();
      await eventually("c converged", () => {
        for (let i = 1; i < 40; i++) {
          const r = cnode.kv.local.storage.getRecord(`ae/${i}`);
          if (!r || dec(r.value) !== `v${i}`) return false;
        }
        return cnode.kv.local.storage.getRecord("ae/0")?.deleted === true;
      }, 8000);
    } finally {
      await stopAll(nodes);
    }
  },
});

Deno.test({
  name: "hinted handoff delivers missed writes when the replica comes back",
  ...opts,
  fn: async () => {
    const { nodes } = await cluster(["a", "b", "c"], { kv: { anti_entropy_interval: "10m" } });
    try {
      const [a, , cnode] = nodes;
      await cnode.stop();
      for (let i = 0; i < 20; i++) await a.kv.put(`hint/${i}`, enc(`h${i}`));
      await cnode.restart();
      cnode.kv.refreshRing();
      await eventually(
        "hints delivered",
        () =>
          Array.from({ length: 20 }, (_, i) => cnode.kv.local.storage.getRecord(`hint/${i}`)).every((r) => r),
        6000,
      );
      await eventually(
        "hints cleared",
        () => nodes.every((n) => !n.running || n.kv.local.storage.counts().hints === 0),
      );
    } finally {
      await stopAll(nodes);
    }
  },
});

Deno.test({
  name: "blocking read on another node wakes on a write, long before its 20 s wait",
  ...opts,
  fn: async () => {
    const { nodes } = await cluster(["a", "b", "c"], { nonKv: ["web1"] });
    try {
      const web = nodes[3];
      const first = await http(web, "/kv/watch/me", { method: "PUT", body: "1" });
      const idx = first.headers.get("x-kunai-index");
      await first.body?.cancel();
      const waiting = http(nodes[1], `/kv/watch/me?index=${idx}&wait=20s`);
      const prefixWait = http(nodes[2], `/kv/?prefix=watch/&recurse&index=${idx}&wait=20s`);
      await new Promise((r) => setTimeout(r, 100));
      const t0 = performance.now();
      await (await http(nodes[0], "/kv/watch/me", { method: "PUT", body: "2" })).body?.cancel();
      const r = await waiting;
      const took = performance.now() - t0;
      assert.equal(await r.text(), btoa("2"));
      // woken by the write, not by the wait running out (generous: the box is shared)
      assert.ok(took < 10_000, `woke after ${took.toFixed(1)} ms`);
      const p = await (await prefixWait).json();
      assert.deepEqual(p.map((e: { key: string }) => e.key), ["watch/me"]);
    } finally {
      await stopAll(nodes);
    }
  },
});

Deno.test({
  name: "a joining kv node receives the keys it now owns",
  ...opts,
  fn: async () => {
    const c0 = await cluster(["a", "b", "c"]);
    const nodes = c0.nodes;
    try {
      for (let i = 0; i < 60; i++) await nodes[0].kv.put(`ho/${i}`, enc(String(i)));
      const d = await startKvNode({ name: "d", cluster: c0.c, kv: { anti_entropy_interval: "10m" } });
      nodes.push(d);
      for (const n of nodes) n.kv.refreshRing();
      const mine = Array.from({ length: 60 }, (_, i) => `ho/${i}`)
        .filter((k) => d.kv.placement.owners(k).some((o) => o.uuid === d.uuid));
      assert.ok(mine.length > 20, `d owns ${mine.length} keys`);
      await eventually("d has its keys", () => mine.every((k) => d.kv.local.storage.getRecord(k)), 8000);
      // a node that is no longer an owner drops its copy after handing it over
      await eventually(
        "old copies dropped",
        () =>
          nodes.slice(0, 3).every((n) =>
            Array.from({ length: 60 }, (_, i) => `ho/${i}`).every((k) =>
              n.kv.placement.owners(k).some((o) => o.uuid === n.uuid) || !n.kv.local.storage.getRecord(k)
            )
          ),
        8000,
      );
    } finally {
      await stopAll(nodes);
    }
  },
});

Deno.test({
  name: "no reachable owner: 503 with the reason, never a silent success",
  ...opts,
  fn: async () => {
    const { nodes } = await cluster(["a", "b"], { nonKv: ["web1"] });
    try {
      await nodes[0].stop();
      await nodes[1].stop();
      const web = nodes[2];
      const w = await http(web, "/kv/x", { method: "PUT", body: "1" });
      assert.equal(w.status, 503);
      assert.match((await w.json()).error, /no owner of key "x" is reachable: .*connection refused/);
      const r = await http(web, "/kv/x");
      assert.equal(r.status, 503);
      assert.match((await r.json()).error, /no copy of key "x" is reachable/);
    } finally {
      await stopAll(nodes);
    }
  },
});

Deno.test({
  name: "with an encryption key peer traffic is sealed; a node with another key is refused",
  ...opts,
  fn: async () => {
    const key = btoa("s".repeat(32));
    const c = new FakeCluster();
    const a = await startKvNode({ name: "a", cluster: c, key });
    const b = await startKvNode({ name: "b", cluster: c, key });
    const intruder = await startKvNode({ name: "x", cluster: c, tags: ["web"], key: btoa("z".repeat(32)) });
    const nodes = [a, b, intruder];
    try {
      for (const n of nodes) n.kv.refreshRing();
      assert.equal((await a.kv.put("sec/1", enc("ok"))).ok, true);
      assert.equal(dec((await b.kv.get("sec/1")).entry!.value), "ok");
      await assert.rejects(intruder.kv.put("sec/2", enc("evil")), /peer message refused: auth/);
      assert.equal(a.kv.local.storage.getRecord("sec/2"), null);
    } finally {
      await stopAll(nodes);
    }
  },
});

Deno.test({
  name: "a listing from any node merges every kv node's keys; deletes are gone",
  ...opts,
  fn: async () => {
    const { nodes, by } = await cluster(["a", "b", "c", "d", "e"], { nonKv: ["web1"] });
    try {
      const web = by("web1");
      const keys = Array.from({ length: 30 }, (_, i) => `list/${String(i).padStart(2, "0")}`);
      for (const k of keys) assert.equal((await web.kv.put(k, enc(k))).ok, true);
      await web.kv.delete("list/00");
      const r = await http(web, "/kv/?prefix=list/");
      assert.equal(r.status, 200);
      assert.deepEqual(await r.json(), keys.slice(1));
      const rec = await (await http(by("a"), "/kv/list/?recurse")).json();
      assert.equal(rec.length, 29);
      assert.ok(rec.every((e: { key: string; value: string }) => atob(e.value) === e.key));
      // every key lives on 3 of the 5 kv nodes only
      const held = nodes.slice(0, 5).map((n) => keys.filter((k) => n.kv.local.storage.getRecord(k)).length);
      assert.ok(held.every((h) => h < 30), `copies per node: ${held}`);
    } finally {
      await stopAll(nodes);
    }
  },
});

Deno.test({
  name: "a value near kv.max_value_bytes replicates even when http.max_body is as small",
  ...opts,
  fn: async () => {
    const { nodes, by } = await cluster(["a", "b", "c"], {
      nonKv: ["web1"],
      params: { http: { max_body: "1MB" } },
    });
    try {
      const big = new Uint8Array(1_000_000).map((_, i) => i % 251);
      const put = await http(by("web1"), "/kv/big/blob", { method: "PUT", body: big });
      assert.equal(put.status, 200, await put.clone().text());
      await put.body?.cancel();
      await eventually(
        "3 copies of the big value",
        () =>
          ["a", "b", "c"].every((n) =>
            by(n).kv.local.storage.getRecord("big/blob")?.value.length === big.length
          ),
      );
      const raw = new Uint8Array(await (await http(by("web1"), "/kv/big/blob?raw")).arrayBuffer());
      assert.deepEqual(raw, big);
    } finally {
      await stopAll(nodes);
    }
  },
});

/**
 * `key` written (v1), its first owner stopped, written again (v2) with no hint left for it, the owner
 * restarted: its own copy is stale (v1) until anti-entropy (10 min in these tests) catches it up.
 */
async function staleOwner(nodes: KvTestNode[], key: string) {
  const owner = ownerOf(nodes, key);
  const others = nodes.filter((n) => n !== owner);
  assert.equal((await others[0].kv.put(key, enc("v1"))).ok, true);
  await eventually("owner has v1", () => owner.kv.local.storage.getRecord(key) !== null);
  await owner.stop();
  assert.equal((await others[0].kv.put(key, enc("v2"))).ok, true);
  for (const n of nodes) if (n.running) n.kv.local.storage.db.run("DELETE FROM kv_hints");
  await owner.restart();
  owner.kv.refreshRing();
  assert.equal(dec(owner.kv.local.storage.getRecord(key)!.value), "v1", "its own copy is stale");
  return { owner, others };
}

Deno.test({
  name: "a restarted owner reads from the other copies until it caught up (no stale read)",
  ...opts,
  fn: async () => {
    const { nodes } = await cluster(["a", "b", "c"], { kv: { anti_entropy_interval: "10m" } });
    try {
      const key = "stale/key";
      const { owner } = await staleOwner(nodes, key);
      assert.equal(dec((await owner.kv.get(key)).entry!.value), "v2");
      await eventually("caught up", () => dec(owner.kv.local.storage.getRecord(key)!.value) === "v2");
      await eventually("syncing over", () => !owner.kv.local.stale);
    } finally {
      await stopAll(nodes);
    }
  },
});

Deno.test({
  name: "a read forwarded to a restarted owner that has not caught up gets the newer copy (no stale read)",
  ...opts,
  fn: async () => {
    const { nodes } = await cluster(["a", "b", "c"], { kv: { anti_entropy_interval: "10m" } });
    try {
      const key = "stale/fwd";
      const { owner, others: [other, third] } = await staleOwner(nodes, key);
      // read on the two other nodes: each asks the owner first, which answers from its old copy
      for (const n of [other, third]) {
        assert.equal(dec((await n.kv.get(key)).entry!.value), "v2", `${n.name} read the owner's old copy`);
      }
      // through the HTTP front too
      const r = await http(third, `/kv/${key}?raw`);
      assert.equal(await r.text(), "v2");
      await eventually("syncing over", () => !owner.kv.local.stale);
      assert.equal(dec((await third.kv.get(key)).entry!.value), "v2");
    } finally {
      await stopAll(nodes);
    }
  },
});

Deno.test({
  name:
    "a forwarded compare-and-set whose answer is lost is a 503 'outcome unknown', not a false from the next owner",
  ...opts,
  fn: async () => {
    const { nodes, by } = await cluster(["a", "b", "c"], { nonKv: ["web1"] });
    try {
      const web = by("web1");
      const first = web.kv.placement.owners("lock/job")[0].uuid;
      web.fault = (peer) => peer.uuid === first ? `${ANSWER_LOST} (test)` : null;
      const cas = await http(web, "/kv/lock/job?cas=0", { method: "PUT", body: "mine" });
      assert.equal(cas.status, 503);
      assert.match(
        (await cas.json()).error,
        /outcome unknown: the compare-and-set of key "lock\/job" went to .*answer lost/,
      );
      // it was applied: what the caller is told to check
      const r = await http(by("a"), "/kv/lock/job?raw");
      assert.equal(await r.text(), "mine");
      // a plain write whose answer is lost goes on to the next owner (last writer wins: no harm)
      const firstOther = web.kv.placement.owners("lock/other")[0].uuid;
      web.fault = (peer) => peer.uuid === firstOther ? `${ANSWER_LOST} (test)` : null;
      const put = await http(web, "/kv/lock/other", { method: "PUT", body: "x" });
      assert.equal(put.status, 200, await put.clone().text());
      assert.equal(await put.json(), true);
      // a refused connection sent nothing: a compare-and-set goes on to the next owner
      web.fault = (peer) => peer.uuid === first ? "connection refused (test)" : null;
      const cas2 = await http(web, "/kv/lock/job2?cas=0", { method: "PUT", body: "mine" });
      assert.equal(cas2.status, 200, await cas2.clone().text());
      assert.equal(await cas2.json(), true);
    } finally {
      await stopAll(nodes);
    }
  },
});

Deno.test({
  name: "a TTL with a fraction of a millisecond is stored as whole milliseconds, on every copy",
  ...opts,
  fn: async () => {
    const { nodes, by } = await cluster(["a", "b", "c"], { kv: { write_acks: 3 } });
    try {
      const put = await http(by("a"), "/kv/app/short?ttl=3600000.5ms", { method: "PUT", body: "x" });
      assert.equal(put.status, 200, await put.clone().text());
      await eventually(
        "3 copies",
        () => ["a", "b", "c"].every((name) => by(name).kv.local.storage.getRecord("app/short") !== null),
      );
      for (const name of ["a", "b", "c"]) {
        const rec = by(name).kv.local.storage.getRecord("app/short")!;
        assert.ok(Number.isInteger(rec.expires) && rec.expires > 0, `${name}: expires ${rec.expires}`);
      }
    } finally {
      await stopAll(nodes);
    }
  },
});
