/**
 * KV clusters on the simulated network and the virtual clock (lib/kv/sim_transport.ts): the same
 * scenario replays identically, partitions and kills happen at exact virtual times, and no real
 * socket or timer is involved. Invariant: every acknowledged write survives (each key's final
 * value is its last acked write, or a later write whose answer was lost).
 */
import assert from "node:assert/strict";
import { type SimCluster, simCluster, type SimNode } from "./sim_cluster.ts";
import { dec, enc } from "./kv_helpers.ts";
import { GRANT_HORIZON_STEP_MS } from "../../lib/kv/local.ts";

interface KeyLog {
  values: string[];
  /** Index in `values` of the last acknowledged write (-1: none). */
  acked: number;
}

/** Sequential writes per key from random nodes; records what was acknowledged. */
async function load(
  c: SimCluster,
  logs: Map<string, KeyLog>,
  rounds: number,
  tag: string,
): Promise<void> {
  await Promise.all([...logs.entries()].map(async ([key, log]) => {
    for (let i = 0; i < rounds; i++) {
      const up = c.nodes.filter((n) => n.up);
      const via = up[Math.floor(c.rng() * up.length)];
      const value = `${tag}-${i}`;
      log.values.push(value);
      try {
        const r = await via.kv.put(key, enc(value));
        if (r.ok) log.acked = log.values.length - 1;
      } catch { /* 503: may or may not have landed */ }
    }
  }));
}

async function scenario(seed: number): Promise<{ acked: number; finals: string[] }> {
  const c = await simCluster(["a", "b", "c", "d", "e"], seed);
  try {
    const logs = new Map<string, KeyLog>();
    for (let i = 0; i < 24; i++) logs.set(`sim/${i}`, { values: [], acked: -1 });
    await c.drive(load(c, logs, 3, "before"));
    // a partition cuts a and b off from c, d, e: only writes that reach 2 copies are acked
    const [a, b, cc, d, e] = c.nodes;
    c.net.partition([[cc.uuid, d.uuid, e.uuid], [a.uuid, b.uuid]]);
    await c.drive(load(c, logs, 4, "split"));
    // and a node of the majority is killed -9 mid-load, then comes back
    const writes = load(c, logs, 4, "kill");
    await c.pass(30);
    await c.kill(d);
    await c.drive(writes);
    c.net.heal();
    await c.restart(d);
    // repair on virtual time, by anti-entropy alone (the hints are dropped): each node pulls what it lacks
    for (const n of c.nodes) n.kv.local.storage.db.run("DELETE FROM kv_hints");
    await c.pass(8_000);
    const pulled = c.nodes.reduce((s, n) => s + n.kv.repair.stats().pulled, 0);
    assert.ok(pulled > 0, "anti-entropy pulled the writes a node missed");
    let acked = 0;
    const finals: string[] = [];
    for (const [key, log] of logs) {
      if (log.acked >= 0) acked++;
      const owners = a.kv.placement.owners(key);
      const copies = owners.map((o) =>
        c.nodes.find((n) => n.uuid === o.uuid)!.kv.local.storage.getRecord(key)
      );
      assert.ok(copies.every((r) => r), `${key}: every owner holds a copy`);
      const vals = new Set(copies.map((r) => dec(r!.value)));
      assert.equal(vals.size, 1, `${key}: replicas converged (${[...vals]})`);
      const final = [...vals][0];
      const at = log.values.lastIndexOf(final);
      assert.ok(
        at >= log.acked,
        `${key}: final ${final} is not older than the last acked ${log.values[log.acked]}`,
      );
      for (const n of c.nodes) {
        const r = await c.drive(n.kv.get(key));
        assert.equal(dec(r.entry!.value), final, `${key} read from ${n.name}`);
      }
      finals.push(`${key}=${final}`);
    }
    assert.ok(acked === logs.size, `every key had acked writes (${acked})`);
    assert.ok(c.net.stats.cut > 0, "the partition swallowed messages");
    return { acked, finals };
  } finally {
    await c.close();
  }
}

Deno.test("simulated network: partition + kill -9 + heal loses no acked write, and replays identically", async () => {
  const first = await scenario(11);
  const again = await scenario(11);
  assert.deepEqual(again.finals, first.finals, "the same seed gives the same outcome");
});

Deno.test("a forwarder holding a copy stores the owner's record: acked with the third copy down", async () => {
  const c = await simCluster(["a", "b", "c"], 3);
  try {
    const key = Array.from({ length: 50 }, (_, i) => `carry/${i}`)
      .find((k) => !c.nodes[0].kv.placement.isSelf(c.nodes[0].kv.placement.owners(k)[0]))!;
    const [a] = c.nodes;
    const owner = c.nodes.find((n) => n.uuid === a.kv.placement.owners(key)[0].uuid)!;
    const third = c.nodes.find((n) => n !== a && n !== owner)!;
    c.net.kill(third.uuid);
    const sentBefore = c.net.stats.sent;
    const r = await c.drive(a.kv.put(key, enc("v")));
    assert.equal(r.ok, true);
    assert.equal(dec(a.kv.local.storage.getRecord(key)!.value), "v", "the forwarder stored its copy");
    assert.equal(dec(owner.kv.local.storage.getRecord(key)!.value), "v", "the owner holds the acked write");
    assert.equal(a.kv.local.storage.getRecord(key)!.modify_index, r.index);
    // one forward to the owner and one (refused) replication to the third: nothing sent back to the forwarder
    assert.equal(c.net.stats.sent - sentBefore, 2);
  } finally {
    await c.close();
  }
});

for (const oldServers of [false, true]) {
  Deno.test(
    `a forwarder stores exactly the owner's record (put with flags and ttl, delete)${
      oldServers ? ", from an owner that sends the whole record" : ""
    }`,
    async () => {
      const c = await simCluster(["a", "b", "c"], 5, { oldServers });
      try {
        const [a] = c.nodes;
        const keys = Array.from({ length: 80 }, (_, i) => `stamp/${i}`)
          .filter((k) => !a.kv.placement.isSelf(a.kv.placement.owners(k)[0])).slice(0, 2);
        const owner = (k: string) => c.nodes.find((n) => n.uuid === a.kv.placement.owners(k)[0].uuid)!;
        await c.drive(a.kv.put(keys[0], enc("value"), { flags: 42, ttlMs: 60_000 }));
        await c.drive(a.kv.put(keys[1], enc("gone")));
        await c.drive(a.kv.delete(keys[1]));
        for (const k of keys) {
          const mine = a.kv.local.storage.getRecord(k)!;
          assert.deepEqual(
            mine,
            owner(k).kv.local.storage.getRecord(k),
            `${k}: same record on forwarder and owner`,
          );
        }
        const put = a.kv.local.storage.getRecord(keys[0])!;
        assert.equal(put.flags, 42);
        assert.ok(put.expires > put.modify_time, "the ttl was stamped");
        assert.equal(a.kv.local.storage.getRecord(keys[1])!.deleted, true);
      } finally {
        await c.close();
      }
    },
  );
}

Deno.test("a ttl key renewed while one replica was cut off survives the heal", async () => {
  // the cut-off replica expires its old copy meanwhile: that tombstone ends the old write only,
  // and the renewal (written before the old expiry) must win on every node once the cut heals
  const c = await simCluster(["a", "b", "c"], 7);
  try {
    const key = "carry/0";
    const owners = c.nodes[0].kv.placement.owners(key).map((o) => c.nodes.find((n) => n.uuid === o.uuid)!);
    const x = owners[2], rest = owners.slice(0, 2);
    await c.drive(rest[0].kv.put(key, enc("v1"), { ttlMs: 60_000 }));
    await c.pass(1000);
    c.net.partition([[x.uuid], rest.map((n) => n.uuid)]);
    await c.pass(10_000);
    const renewed = await c.drive(rest[0].kv.put(key, enc("v2"), { ttlMs: 600_000 }));
    assert.ok(renewed.ok);
    await c.pass(55_000);
    // the cut-off replica saw its copy expire (its readers were told at the expiry time)
    const seen = await c.drive(x.kv.local.get(key, undefined, 0));
    assert.equal(seen.record?.deleted, true);
    // a watcher of the prefix on that replica was shown the expiry, and blocks past it
    const shown = await c.drive(x.kv.list("carry/"));
    assert.deepEqual(shown.entries, []);
    let woke: { entries: { key: string; value: Uint8Array }[]; index: number } | null = null;
    x.kv.list("carry/", { index: shown.index, waitMs: 300_000 }).then((r) => woke = r);
    c.net.heal();
    await c.pass(10_000);
    for (const n of c.nodes) {
      const g = await c.drive(n.kv.get(key));
      assert.equal(g.entry && dec(g.entry.value), "v2", `on ${n.uuid}`);
      const mine = await c.drive(n.kv.local.get(key, undefined, 0));
      assert.equal(mine.record && !mine.record.deleted && dec(mine.record.value), "v2", `copy on ${n.uuid}`);
    }
    // it woke with the renewal (whose index is below the expiry it was shown), its index moved past
    assert.ok(woke, "the blocking listing woke when the renewal replaced the expiry");
    const w = woke as { entries: { key: string; value: Uint8Array }[]; index: number };
    assert.deepEqual(w.entries.map((e) => [e.key, dec(e.value)]), [[key, "v2"]]);
    assert.ok(w.index > shown.index, `index ${w.index} past ${shown.index}`);
    // a listing through another node merges what each copy saw change past the index it was given
    const front = rest[0];
    const before = await c.drive(front.kv.list("carry/"));
    let late: { entries: { key: string }[]; index: number } | null = null;
    front.kv.list("carry/", { index: before.index, waitMs: 300_000 }).then((r) => late = r);
    await c.pass(1000);
    // a version from long ago reaches x only now (a hint delivered late)
    const { modify_index, origin, modify_time } = seen.record!;
    const old = {
      key: "carry/late",
      value: enc("old"),
      flags: 0,
      modify_index,
      origin,
      modify_time,
      expires: 0,
      deleted: false,
    };
    assert.ok(old.modify_index < before.index);
    assert.equal(x.kv.local.apply(old), true);
    await c.pass(1000);
    assert.ok(late, "the listing through another node woke");
    const l = late as { entries: { key: string }[]; index: number };
    assert.deepEqual(l.entries.map((e) => e.key), ["carry/late"]);
    assert.ok(l.index > before.index);
  } finally {
    await c.close();
  }
});

Deno.test("a refused compare-and-set whose undo was lost does not overwrite the newer write", async () => {
  // o3, cut off and alone on its ring, acks v2 by itself; back on the ring, before anti-entropy
  // brings v2 over, o1 coordinates a CAS on v1: o2 accepts it, o3 refuses (it holds v2), so o1
  // answers false and tells o2 to undo, and that message is lost. The refused write must not
  // come back everywhere over the acked v2 it lost to.
  const c = await simCluster(["a", "b", "c"], 13);
  try {
    const key = "cas/0";
    const [o1, o2, o3] = c.owners(key);
    const v1 = await c.drive(o1.kv.put(key, enc("v1")));
    await c.pass(2000);
    c.net.partition([[o3.uuid], [o1.uuid, o2.uuid]]);
    c.believe(o3, [o1, o2]);
    await c.pass(50);
    const v2 = await c.drive(o3.kv.put(key, enc("v2")));
    assert.ok(v2.ok, "acked by o3 alone on its ring");
    c.believe(o3, []);
    await c.pass(50);
    c.net.heal();
    c.dropIf((from, to, kind, body) =>
      from === o1.uuid && to === o2.uuid && kind === "apply" &&
      JSON.stringify(body).includes("replace_if")
    );
    const cas = await c.drive(o1.kv.put(key, enc("v3"), { cas: v1.index }));
    assert.equal(cas.ok, false, "o3 holds a newer write than the CAS's base");
    c.dropIf(null);
    await c.pass(10_000);
    for (const n of c.nodes) {
      const mine = n.kv.local.record(key);
      assert.equal(mine && !mine.deleted && dec(mine.value), "v2", `copy on ${n.name}`);
    }
  } finally {
    await c.close();
  }
});

Deno.test("a compare-and-set succeeds with one replica cut off (no answer at all)", async () => {
  // the check waits for the cut-off replica until half the deadline: the record still has the rest
  const c = await simCluster(["a", "b", "c"], 17);
  try {
    const key = "cas/1";
    const [o1, o2, o3] = c.owners(key);
    const v1 = await c.drive(o1.kv.put(key, enc("v1")));
    await c.pass(1000);
    c.net.partition([[o3.uuid], [o1.uuid, o2.uuid]]);
    const cas = await c.drive(o1.kv.put(key, enc("v2"), { cas: v1.index }));
    assert.equal(cas.ok, true);
    assert.equal(dec(o2.kv.local.record(key)!.value), "v2");
    c.net.heal();
    await c.pass(5000);
    assert.equal(dec(o3.kv.local.record(key)!.value), "v2", "the cut-off copy got it by its hint");
  } finally {
    await c.close();
  }
});

Deno.test("a write made on a passing ring reaches the key's owners once the ring is back", async () => {
  // d's gossip declares the others dead, then alive again, before its handover ran: d's ring went
  // full -> d alone -> full. A write d acked alone meanwhile is on d only; the handover must push
  // it to the owners, which were owners on the first ring too but never got it, before dropping it
  const c = await simCluster(["a", "b", "c", "d"], 19, { antiEntropy: "30s" });
  try {
    const [a, b, cc, d] = c.nodes;
    const key = Array.from({ length: 50 }, (_, i) => `pass/${i}`)
      .find((k) => !c.owners(k).includes(d))!;
    await c.pass(1000);
    c.believe(d, [a, b, cc]);
    await c.pass(20);
    const w = await c.drive(d.kv.put(key, enc("v")));
    assert.ok(w.ok, "acked by d alone on its ring");
    c.believe(d, []);
    await c.pass(10_000);
    for (const n of c.owners(key)) {
      const mine = n.kv.local.record(key);
      assert.equal(mine && !mine.deleted && dec(mine.value), "v", `copy on ${n.name}`);
    }
  } finally {
    await c.close();
  }
});

type Answers = { results: Array<{ ok?: boolean; busy?: boolean; error?: string; status?: number }> };

/**
 * Two CAS of one key on the same base: o1 coordinates the first (a client at o1), 20 ms later o2
 * coordinates a rival (sent to o2 as a forwarder that could not reach o1 sends it), with the messages
 * `lost` picks dropped. Returns who won, and runs until the copies converged.
 */
async function rivalCas(
  seed: number,
  key: string,
  lost: (o: SimNode[]) => (from: string, to: string) => boolean,
  between?: (c: SimCluster, o: SimNode[]) => Promise<void>,
): Promise<{ wins: boolean[]; answers: unknown[]; finals: string[] }> {
  const c = await simCluster(["a", "b", "c"], seed);
  try {
    const owners = c.owners(key);
    const [o1, o2] = owners;
    const v1 = await c.drive(o1.kv.put(key, enc("v1")));
    await c.pass(2000);
    c.dropIf(lost(owners));
    const first = o1.kv.put(key, enc("x1"), { cas: v1.index });
    await c.pass(20); // o1's checks have arrived where they are not lost
    await between?.(c, owners);
    const second = o2.kv.serve("writes", {
      writes: [{ op: "put", key, value: btoa("x2"), cas: v1.index, timeout_ms: 5000 }],
    }) as Promise<Answers>;
    const [a, b] = [await c.drive(first.catch((e: Error) => e)), await c.drive(second)];
    c.dropIf(null);
    await c.pass(10_000);
    return {
      wins: [a instanceof Error ? false : a.ok, b.results[0].ok === true],
      answers: [a instanceof Error ? a.message : a, b],
      finals: [...new Set(c.nodes.map((n) => dec(n.kv.local.record(key)!.value)))],
    };
  } finally {
    await c.close();
  }
}

Deno.test("two owners coordinating compare-and-sets on one base at once: at most one wins", async () => {
  // o1 and o2 cannot hear each other (lost messages, the ring unchanged); o3 hears both. o1 waits for
  // o2's answer to its check; meanwhile o2 coordinates the rival. Both checks reach o3 before either
  // record does: o3 must not grant the second while the first may still be stored.
  const r = await rivalCas(
    19,
    "cas/2",
    ([o1, o2]) => (from, to) => (from === o1.uuid && to === o2.uuid) || (from === o2.uuid && to === o1.uuid),
  );
  assert.ok(!(r.wins[0] && r.wins[1]), `both acked: ${JSON.stringify(r.answers)}`);
  assert.deepEqual(r.wins, [true, false], "the first check granted wins, the rival gives way");
  assert.deepEqual(r.finals, ["x1"], "the copies agree on the write that was acked");
});

Deno.test("an owner that granted another owner's CAS check gives way to it with a CAS of its own", async () => {
  // o1's check reaches o2 (granted there) but not o3; o2's own CAS on the same base reaches o3 but
  // not o1. Only o2 knows of both: it must not coordinate a rival on top of the check it granted.
  const r = await rivalCas(
    31,
    "cas/5",
    ([o1, o2, o3]) => (from, to) =>
      (from === o1.uuid && to === o3.uuid) || (from === o2.uuid && to === o1.uuid),
  );
  assert.deepEqual(r.wins, [true, false], JSON.stringify(r.answers));
  assert.deepEqual(r.finals, ["x1"]);
});

Deno.test("a copy restarted while a CAS check it granted may be pending refuses rival checks", async () => {
  // the first scenario, but o3 restarts between granting o1's check and o2's rival: it has
  // forgotten the grant and must not grant the rival on the same base (o1 still waits for o2)
  const r = await rivalCas(
    19,
    "cas/2",
    ([o1, o2]) => (from, to) => (from === o1.uuid && to === o2.uuid) || (from === o2.uuid && to === o1.uuid),
    async (c, [, , o3]) => {
      await c.kill(o3);
      await c.restart(o3);
      assert.ok(o3.kv.local.blindUntil > c.clock.now(), "o3 knows a grant may be pending");
    },
  );
  assert.ok(!(r.wins[0] && r.wins[1]), `both acked: ${JSON.stringify(r.answers)}`);
  assert.deepEqual(r.wins, [true, false], JSON.stringify(r.answers));
  assert.deepEqual(r.finals, ["x1"]);
});

Deno.test("after a restart, CAS checks are refused only until the last grant's deadline", async () => {
  const c = await simCluster(["a", "b", "c"], 41);
  try {
    const key = "cas/7";
    const [o1, , o3] = c.owners(key);
    const v1 = await c.drive(o1.kv.put(key, enc("v1")));
    await c.pass(1000);
    // a restart with no grant given: nothing refused
    await c.kill(o3);
    await c.restart(o3);
    assert.equal(o3.kv.local.blindUntil, 0);
    await c.pass(1000);
    // o3 grants a check whose record never comes (its coordinator died), then restarts
    assert.ok(o3.kv.local.grantCas({ ...o3.kv.local.record(key)!, modify_index: 1, origin: "gone" }, 3000));
    await c.pass(500);
    await c.kill(o3);
    await c.restart(o3);
    const until = o3.kv.local.blindUntil;
    assert.ok(until > c.clock.now() && until <= c.clock.now() + 2500 + GRANT_HORIZON_STEP_MS, String(until));
    const early = await c.drive(o1.kv.put(key, enc("x0"), { cas: v1.index }));
    assert.equal(early.ok, false, "refused while the forgotten grant may be pending");
    assert.equal(o3.kv.local.record(key) && dec(o3.kv.local.record(key)!.value), "v1");
    await c.pass(until - c.clock.now());
    const x1 = await c.drive(o1.kv.put(key, enc("x1"), { cas: v1.index }));
    assert.equal(x1.ok, true, "granted again once the horizon passed");
    assert.equal(o3.kv.local.blindUntil, 0);
  } finally {
    await c.close();
  }
});

Deno.test("a CAS check granted by a replica is released by its record, by its undo, or at its deadline", async () => {
  const c = await simCluster(["a", "b", "c"], 23);
  try {
    const key = "cas/3";
    const [o1, o2, o3] = c.owners(key);
    const casVia = (n: typeof o1, base: number, value: string) =>
      c.drive(
        n.kv.serve("writes", {
          writes: [{ op: "put", key, value: btoa(value), cas: base, timeout_ms: 5000 }],
        }) as Promise<Answers>,
      );
    const v1 = await c.drive(o1.kv.put(key, enc("v1")));
    await c.pass(1000);
    // decided and stored: the replicas' grants end with the record, a CAS on it right after succeeds
    const x1 = await c.drive(o1.kv.put(key, enc("x1"), { cas: v1.index }));
    assert.equal(x1.ok, true);
    await c.pass(10);
    assert.equal(o3.kv.local.grants, 0, "released by the record");
    const x2 = await casVia(o2, x1.index, "x2");
    assert.equal(x2.results[0].ok, true, JSON.stringify(x2));
    await c.pass(1000);
    // refused (o3 holds a newer write o1 has not seen): o2's grant ends with the undo
    c.net.partition([[o3.uuid], [o1.uuid, o2.uuid]]);
    c.believe(o3, [o1, o2]);
    await c.pass(50);
    const y = await c.drive(o3.kv.put(key, enc("y")));
    assert.ok(y.ok);
    c.believe(o3, []);
    c.net.heal();
    await c.pass(50);
    const base = o1.kv.local.record(key)!.modify_index; // x2's, o1 has not seen y
    const refused = await c.drive(o1.kv.put(key, enc("z"), { cas: base }));
    assert.equal(refused.ok, false);
    await c.pass(10);
    assert.equal(o2.kv.local.grants, 0, "released by the undo");
    // a check whose record never comes (its coordinator died): held until the deadline it gave
    o2.kv.local.grantCas({ ...o2.kv.local.record(key)!, modify_index: 1, origin: "gone" }, 2000);
    await c.pass(1000);
    assert.equal(o2.kv.local.casGranted(key)?.origin, "gone");
    await c.pass(1000);
    assert.equal(o2.kv.local.casGranted(key), undefined);
  } finally {
    await c.close();
  }
});

Deno.test("a CAS check's grant_ms is checked on the wire; agents without it get one request's time", async () => {
  const c = await simCluster(["a", "b", "c"], 29);
  try {
    const [o1] = c.nodes;
    const rec = {
      key: "cas/4",
      value: btoa("v"),
      flags: 0,
      modify_index: 1_800_000_000_000_001,
      create_index: 1_800_000_000_000_001,
      modify_time: 1_800_000_000_000,
      expires: 0,
      origin: "sim-x",
      deleted: false,
    };
    const bad = await c.drive(
      (o1.kv.serve("apply", {
        items: [{ record: rec, prev: null, check_only: true, grant_ms: "soon" }],
      }) as Promise<
        unknown
      >).catch((e: Error) => e),
    );
    assert.match(String(bad), /grant_ms/);
    await c.drive(
      o1.kv.serve("apply", { items: [{ record: rec, prev: null, check_only: true }] }) as Promise<unknown>,
    );
    assert.equal(o1.kv.local.casGranted("cas/4")?.origin, "sim-x");
    const timeout = o1.ctx.config.params.kv.request_timeout; // 1 s in these simulations
    await c.pass(timeout - 100);
    assert.equal(o1.kv.local.casGranted("cas/4")?.origin, "sim-x", "kv.request_timeout by default");
    await c.pass(200);
    assert.equal(o1.kv.local.casGranted("cas/4"), undefined);
  } finally {
    await c.close();
  }
});

Deno.test("grants whose record never came are dropped once many are held", async () => {
  const c = await simCluster(["a"], 37);
  try {
    const local = c.nodes[0].kv.local;
    const rec = (key: string) => ({
      key,
      value: enc("v"),
      flags: 0,
      modify_index: 7,
      modify_time: 0,
      expires: 0,
      origin: "gone",
      deleted: false,
    });
    for (let i = 0; i < 1024; i++) assert.ok(local.grantCas(rec(`k/${i}`), 1000));
    await c.pass(500);
    assert.ok(local.grantCas(rec("k/live"), 1000));
    assert.equal(local.grants, 1025, "none expired yet");
    await c.pass(600);
    assert.ok(local.grantCas(rec("k/next"), 1000));
    assert.equal(local.grants, 2, "the expired 1024 went, the live one stays");
  } finally {
    await c.close();
  }
});
