import assert from "node:assert/strict";
import { createRaft } from "../../lib/raft/mod.ts";
import { Keyring, PeerEnvelope } from "../../lib/transport/mod.ts";
import type { VirtualClock } from "../../lib/clock/mod.ts";
import type { MemberRecord } from "../../lib/types.ts";
import type { RouteTable } from "../../lib/routing/mod.ts";
import { buildApp } from "../../lib/http/mod.ts";
import { makeTestCtx } from "../helpers.ts";

function rec(
  uuid: string,
  name: string,
  tags: string[],
  state: MemberRecord["state"] = "alive",
): MemberRecord {
  return { uuid, name, addr: "127.0.17.99", port: 1, incarnation: 1, state, tags, services: {}, zone: "" };
}

async function setup(groups: string[], members: MemberRecord[]) {
  const ctx = makeTestCtx({ uuid: "self-uuid", name: "me", params: { raft: { groups } } });
  const envelope = new PeerEnvelope(await Keyring.create([]), { now: () => ctx.clock.now() });
  const raft = createRaft(ctx, { membership: { members: () => members }, envelope });
  return { ctx, raft, clock: ctx.clock as VirtualClock };
}

Deno.test("a lone member elects itself, announces it on the bus and persists term and vote in raft.db", async () => {
  const { ctx, raft, clock } = await setup(["db", "*"], [
    rec("self-uuid", "me", ["db"]),
    rec("u2", "other", []),
  ]);
  const events: unknown[] = [];
  ctx.bus.on("raft.leader", (e) => events.push(e));
  try {
    await raft.start();
    await clock.advance(1500);
    const db = raft.group("db")!;
    assert.equal(db.role, "leader");
    assert.equal(db.leader, "self-uuid");
    assert.equal(db.leader_name, "me");
    assert.deepEqual(db.voters, ["self-uuid"]);
    assert.deepEqual(events, [{ group: "db", leader: "self-uuid", term: 1 }]);
    // "*": both nodes vote, the other never answers: no leader
    const all = raft.group("*")!;
    assert.deepEqual(all.voters, ["self-uuid", "u2"]);
    assert.equal(all.leader, null);
    const row = ctx.store.open("raft").get<{ term: number; voted_for: string }>(
      "SELECT term, voted_for FROM raft_state WHERE grp = 'db'",
    );
    assert.deepEqual({ ...row }, { term: 1, voted_for: "self-uuid" });
    const sync = ctx.store.open("raft").get<{ synchronous: number }>("PRAGMA synchronous");
    assert.equal(sync?.synchronous, 2, "FULL: each vote synced before it is sent");
    assert.deepEqual(raft.info(), {
      enabled: true,
      groups: {
        db: { role: "leader", term: 1, leader: "self-uuid", voters: 1 },
        "*": { role: "precandidate", term: 0, leader: null, voters: 2 },
      },
    });
  } finally {
    await raft.stop();
    ctx.cleanup();
  }
});

Deno.test("raft routes: reads are read routes, /raft/msg is a peer route; bad messages are 400", async () => {
  const { ctx, raft } = await setup(["db"], [
    rec("self-uuid", "me", ["db"]),
    rec("self-uuid-2", "two", ["db"]),
  ]);
  try {
    await raft.start();
    const r = raft.routes!() as RouteTable;
    const access = Object.fromEntries(r.routes.map((x) => [`${x.method} ${x.path}`, x.access]));
    assert.deepEqual(access, { "GET /raft": "read", "GET /raft/:group": "read", "POST /raft/msg": "peer" });
    const app = buildApp([r], { token: "t", maxBody: 1 << 20, log: ctx.log, counters: ctx.counters });
    const req = (path: string, init: RequestInit = {}) => app.request(path, init, { transport: "tcp" });
    assert.equal((await req("/raft/nosuch")).status, 404);
    assert.equal((await req("/raft/db")).status, 200);
    for (const body of ["nope", "{}", '{"type":"vote","group":"db","from":"x","term":-1}']) {
      const res = await req("/raft/msg", { method: "POST", body });
      assert.equal(res.status, 400, body);
      await res.body?.cancel();
    }
    // a higher-term heartbeat (authenticated by the keyring) makes us follow its sender
    const hb = (from: string, term: number) => JSON.stringify({ type: "heartbeat", group: "db", from, term });
    const res = await req("/raft/msg", { method: "POST", body: hb("self-uuid-2", 9) });
    assert.equal(res.status, 200);
    assert.equal(raft.group("db")!.term, 9);
    assert.equal(raft.group("db")!.leader, "self-uuid-2");
    // from outside the group, or at a term no node may take: nothing changes
    for (const body of [hb("nobody", 10), hb("self-uuid-2", Number.MAX_SAFE_INTEGER)]) {
      await (await req("/raft/msg", { method: "POST", body })).body?.cancel();
    }
    assert.equal(raft.group("db")!.term, 9);
    assert.equal(raft.group("db")!.leader, "self-uuid-2");
    assert.ok(ctx.counters.get("raft_messages_dropped_total", { reason: "malformed" }) >= 3);
  } finally {
    await raft.stop();
    ctx.cleanup();
  }
});

Deno.test("a burst of member events recomputes the voters once (a datagram of 256 joins is one pass, not 256)", async () => {
  const members = [rec("self-uuid", "me", ["db"])];
  let reads = 0;
  const ctx = makeTestCtx({ uuid: "self-uuid", name: "me", params: { raft: { groups: ["db", "*"] } } });
  const envelope = new PeerEnvelope(await Keyring.create([]), { now: () => ctx.clock.now() });
  const raft = createRaft(ctx, {
    membership: {
      members: () => {
        reads++;
        return [...members];
      },
    },
    envelope,
  });
  try {
    await raft.start();
    const before = reads;
    for (let i = 0; i < 256; i++) {
      const m = rec(`u${i}`, `n${i}`, ["db"]);
      members.push(m);
      ctx.bus.emit("member.joined", m);
    }
    ctx.bus.emit("tags.changed", { tags: [], added: [], removed: [] });
    await Promise.resolve();
    assert.equal(reads - before, 1);
    assert.equal(raft.group("db")!.voters.length, 257);
    assert.equal(raft.group("*")!.voters.length, 257);
  } finally {
    await raft.stop();
    ctx.cleanup();
  }
});

Deno.test("while the start's join is on its way no election of ours starts; once joined, a lone member elects itself", async () => {
  const ctx = makeTestCtx({ uuid: "self-uuid", name: "me", params: { raft: { groups: ["*"] } } });
  const envelope = new PeerEnvelope(await Keyring.create([]), { now: () => ctx.clock.now() });
  let joining = true;
  const raft = createRaft(ctx, {
    membership: { members: () => [rec("self-uuid", "me", [])], joining: () => joining },
    envelope,
  });
  const clock = ctx.clock as VirtualClock;
  try {
    await raft.start();
    await clock.advance(10_000); // ten election timeouts and more
    const g = raft.group("*")!;
    assert.equal(g.role, "follower", "a node alone before its join does not lead a group of one");
    assert.equal(g.term, 0, "nor raise its term");
    assert.equal(g.waiting_for_join, true);
    joining = false;
    await clock.advance(3_000);
    assert.equal(raft.group("*")!.role, "leader");
    assert.equal(raft.group("*")!.waiting_for_join, false);
  } finally {
    await raft.stop();
    ctx.cleanup();
  }
});
