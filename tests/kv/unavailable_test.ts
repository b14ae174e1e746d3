/**
 * A node that is not tagged kv, with every node tagged kv down (dead or left): the store is
 * unavailable (503 naming them), not this node alone. Without any node tagged kv, the reference's
 * rule stays: this node holds the keys written through it.
 */
import assert from "node:assert/strict";
import { VirtualClock } from "../../lib/clock/mod.ts";
import { createKv, KvError } from "../../lib/kv/mod.ts";
import type { MemberRecord, MemberState } from "../../lib/types.ts";
import { makeTestCtx } from "../helpers.ts";
import { loneDeps } from "./kv_helpers.ts";

function member(i: number, state: MemberState, tags: string[]): MemberRecord {
  return {
    uuid: String(i).repeat(40),
    name: `kv${i}`,
    addr: `127.0.0.${10 + i}`,
    port: 1,
    incarnation: 0,
    state,
    tags,
    services: {},
    zone: "",
  };
}

const DOWN = /^the KV store is unavailable: no node tagged kv is alive \(kv1 dead, kv2 left, kv3 dead\)/;

function is503(re: RegExp) {
  return (e: unknown) => {
    assert.ok(e instanceof KvError, String(e));
    assert.equal(e.status, 503);
    assert.match(e.message, re);
    return true;
  };
}

Deno.test("kv: every node tagged kv down -> reads, writes and listings answer 503 naming them; one back -> the ring again", async () => {
  using ctx = makeTestCtx({ clock: new VirtualClock() });
  const deps = await loneDeps(ctx);
  const self = deps.membership!.self();
  let others = [member(1, "dead", ["kv"]), member(2, "leave", ["kv", "web"]), member(3, "dead", ["kv"])];
  deps.membership = { self: () => self, members: () => [self, ...others] };
  const kv = createKv(ctx, deps);
  await kv.start();
  try {
    await assert.rejects(kv.put("app/color", new TextEncoder().encode("blue")), is503(DOWN));
    await assert.rejects(kv.get("app/color"), is503(DOWN));
    await assert.rejects(kv.delete("app/color"), is503(DOWN));
    await assert.rejects(kv.list("app/"), is503(DOWN));
    await assert.rejects(kv.list("", { index: 1, waitMs: 1000 }), is503(DOWN), "a blocking listing too");
    // bad input is still told as such first
    await assert.rejects(kv.get("/bad"), (e: unknown) => e instanceof KvError && e.status === 400);
    const info = kv.info() as { unavailable: string | null; isolated_from: number };
    assert.match(info.unavailable ?? "", DOWN);
    assert.equal(info.isolated_from, 0, "not the isolation of a cluster without kv nodes");
    // nothing was written here meanwhile
    assert.equal(await kv.local.get("app/color", undefined, 0).then((a) => a.record), null);

    // one of them back: it is the ring, the store is available again (its answers travel to it)
    others = [member(1, "alive", ["kv"]), ...others.slice(1)];
    kv.refreshRing();
    assert.equal((kv.info() as { unavailable: string | null }).unavailable, null);
    assert.deepEqual((kv.info() as { ring: string[] }).ring, ["kv1"]);
  } finally {
    await kv.stop();
  }
});

Deno.test("kv: members down but none tagged kv -> this node holds the keys (the reference's rule), not a 503", async () => {
  using ctx = makeTestCtx({ clock: new VirtualClock() });
  const deps = await loneDeps(ctx);
  const self = deps.membership!.self();
  const others = [member(1, "dead", ["web"]), member(2, "leave", [])];
  deps.membership = { self: () => self, members: () => [self, ...others] };
  const kv = createKv(ctx, deps);
  await kv.start();
  try {
    assert.equal((await kv.put("app/color", new TextEncoder().encode("blue"))).ok, true);
    const got = await kv.get("app/color");
    assert.equal(new TextDecoder().decode(got.entry!.value), "blue");
    assert.deepEqual((await kv.list("app/")).entries.map((e) => e.key), ["app/color"]);
    assert.equal((kv.info() as { unavailable: string | null }).unavailable, null);
  } finally {
    await kv.stop();
  }
});

Deno.test("kv: before the start's join (no kv node known yet) a node answers 503 'still joining', not from itself alone", async () => {
  using ctx = makeTestCtx({ clock: new VirtualClock() });
  const deps = await loneDeps(ctx);
  const self = deps.membership!.self();
  let joining = true;
  deps.membership = { self: () => self, members: () => [self], joining: () => joining };
  const kv = createKv(ctx, deps);
  await kv.start();
  try {
    const JOINING = /^the KV store is not reachable yet: this agent is still joining the cluster/;
    await assert.rejects(kv.put("app/color", new TextEncoder().encode("blue")), is503(JOINING));
    await assert.rejects(kv.get("app/color"), is503(JOINING));
    await assert.rejects(kv.list("app/"), is503(JOINING));
    assert.match((kv.info() as { unavailable: string | null }).unavailable ?? "", JOINING);
    // a kv node known meanwhile (this one, tagged kv): the ring answers, joining or not
    const kvSelf = { ...self, tags: ["kv"] };
    deps.membership = { self: () => kvSelf, members: () => [kvSelf], joining: () => joining };
    kv.refreshRing();
    assert.equal((await kv.put("app/size", new TextEncoder().encode("2"))).ok, true);
    assert.equal((kv.info() as { unavailable: string | null }).unavailable, null);
    // the join returned and found no kv node: the reference's rule, this node holds its keys
    deps.membership = { self: () => self, members: () => [self], joining: () => joining };
    kv.refreshRing();
    joining = false;
    assert.equal((await kv.put("app/color", new TextEncoder().encode("blue"))).ok, true);
    assert.equal(new TextDecoder().decode((await kv.get("app/color")).entry!.value), "blue");
  } finally {
    await kv.stop();
  }
});
