/**
 * `/agent/state/<node>` for another node: its own answer (asked through `askNode`, the sealed peer
 * route in a real agent: tests/e2e/gossip_cluster_test.ts), else its gossip record with the reason.
 */
import assert from "node:assert/strict";
import { Checks } from "../../lib/checks/checks.ts";
import { makeChecksApi } from "../../lib/checks/api.ts";
import type { MemberRecord } from "../../lib/types.ts";
import { makeTestCtx } from "../helpers.ts";

Deno.test("another node's state: its own answer when it gives one; its gossip record when it cannot, answers wrongly or is not alive", async () => {
  const ctx = makeTestCtx();
  try {
    const record = (name: string, state: MemberRecord["state"] = "alive"): MemberRecord => ({
      uuid: `uuid-${name}`,
      name,
      addr: "127.0.0.9",
      port: 1,
      incarnation: 1,
      state,
      tags: [],
      services: { web: { state_id: 0, check: { state: "ok", state_id: 0, output: "from gossip" } } },
      zone: "",
    });
    const self = record("me");
    const members = [self, record("other"), record("liar"), record("silent"), record("gone", "dead")];
    const asked: string[] = [];
    const api = makeChecksApi(new Checks(ctx), {
      cfgDir: () => ctx.config.cfgDir,
      members: () => members,
      self: () => self,
      localServices: () => ({}),
      now: () => Date.now(),
      askNode: (m) => {
        asked.push(m.name);
        if (m.name === "silent") return Promise.reject(new Error("no answer within 2000 ms"));
        if (m.name === "liar") return Promise.resolve({ checks: ["not", "an", "object"], services: {} });
        return Promise.resolve({ checks: { "linux/cpu": { state: "ok", output: "its own" } }, services: {} });
      },
    });

    const other = await api.nodeState("other");
    assert.equal(other?.source, "node");
    assert.deepEqual(Object.keys(other!.checks), ["linux/cpu"], "every check of the node, from the node");
    assert.equal(other?.error, undefined);

    const liar = await api.nodeState("uuid-liar");
    assert.equal(liar?.source, "gossip");
    assert.equal(liar?.error, "liar did not answer: its answer is not {checks, services}");
    assert.deepEqual(Object.keys(liar!.checks), ["service:web"], "its services' checks from its record");

    const silent = await api.nodeState("silent");
    assert.equal(silent?.source, "gossip");
    assert.equal(silent?.error, "silent did not answer: no answer within 2000 ms");

    const gone = await api.nodeState("gone");
    assert.equal(gone?.source, "gossip");
    assert.equal(gone?.error, "gone is dead");
    assert.equal((gone!.checks["service:web"] as { output: string }).output, "from gossip");

    assert.equal((await api.nodeState("uuid-me"))?.source, "node");
    assert.equal(await api.nodeState("nobody"), undefined);
    assert.deepEqual(asked, ["other", "liar", "silent"], "neither a dead node nor this one is asked");
  } finally {
    ctx.cleanup();
  }
});
