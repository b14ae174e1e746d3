import assert from "node:assert/strict";
import { createLazyRaft } from "../../lib/raft/lazy.ts";
import { Keyring, PeerEnvelope } from "../../lib/transport/mod.ts";
import type { VirtualClock } from "../../lib/clock/mod.ts";
import type { MemberRecord } from "../../lib/types.ts";
import { buildApp } from "../../lib/http/mod.ts";
import { makeTestCtx, staticImports } from "../helpers.ts";

const self: MemberRecord = {
  uuid: "self-uuid",
  name: "me",
  addr: "127.0.17.98",
  port: 1,
  incarnation: 1,
  state: "alive",
  tags: ["db"],
  services: {},
  zone: "",
};

Deno.test("the lazily built RAFT subsystem loads lib/raft at start, elects, and serves the real routes", async () => {
  const ctx = makeTestCtx({ uuid: "self-uuid", name: "me", params: { raft: { groups: ["db"] } } });
  const envelope = new PeerEnvelope(await Keyring.create([]), { now: () => ctx.clock.now() });
  const raft = createLazyRaft(ctx, { membership: { members: () => [self] }, envelope });
  try {
    assert.deepEqual(raft.info(), { enabled: false, groups: {} }, "nothing loaded before start");
    assert.throws(() => raft.routes!(), /before the subsystem started/);
    await raft.start();
    await (ctx.clock as VirtualClock).advance(1500);
    assert.deepEqual(raft.info(), {
      enabled: true,
      groups: { db: { role: "leader", term: 1, leader: "self-uuid", voters: 1 } },
    });
    const app = buildApp([raft.routes!()], {
      token: "t",
      maxBody: 1 << 20,
      log: ctx.log,
      counters: ctx.counters,
    });
    const res = await app.request("/raft/db", {}, { transport: "tcp" });
    assert.equal(res.status, 200);
    assert.equal((await res.json()).leader_name, "me");
  } finally {
    await raft.stop();
    ctx.cleanup();
  }
  assert.deepEqual(raft.info(), { enabled: false, groups: {} });
});

Deno.test("the wiring imports no RAFT module statically (a default agent never loads lib/raft)", async () => {
  const raft = (await staticImports(new URL("../../lib/wiring.ts", import.meta.url)))
    .filter((s) => s.includes("/lib/raft/")).map((s) => s.replace(/^.*\/lib\/raft\//, ""));
  assert.deepEqual(raft, ["lazy.ts"]);
});
