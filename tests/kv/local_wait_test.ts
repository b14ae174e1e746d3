/** A blocking read of the local replica counts its wait on a clock that never steps. */
import assert from "node:assert/strict";
import { LocalReplica, MAX_WAITERS } from "../../lib/kv/local.ts";
import { KV_MIGRATIONS, KvStorage } from "../../lib/kv/storage.ts";
import { VirtualClock } from "../../lib/clock/mod.ts";
import { Store } from "../../lib/store/mod.ts";
import { steppedClock } from "../clock_step.ts";
import { kvRecord } from "./kv_helpers.ts";

Deno.test("a blocking read woken without news waits out the rest of its wait, not the length of a wall clock step", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "kunai-waitstep-" });
  const store = new Store(dir);
  try {
    const storage = new KvStorage(store.open("kv", KV_MIGRATIONS));
    const base = new VirtualClock(1_800_000_000_000);
    const clock = steppedClock(base);
    const local = new LocalReplica(storage, clock);
    storage.merge(kvRecord("k", "0", 10));
    for (const read of ["get", "list"] as const) {
      let done = false;
      const waiting = (read === "get" ? local.get("k", 10, 10_000) : local.list("k", 10, 10_000))
        .then(() => void (done = true));
      await base.advance(1_000);
      clock.step(-3_600_000);
      local.watchers.notify("k"); // woken, nothing past the index
      await base.advance(9_100);
      assert.ok(done, `${read}: still waiting 10.1 s into a 10 s wait`);
      await waiting;
    }
    local.close();
  } finally {
    store.closeAll();
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("a blocking read on an index no write can reach is answered at once; past MAX_WAITERS it is a 503", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "kunai-waitcap-" });
  const store = new Store(dir);
  try {
    const storage = new KvStorage(store.open("kv", KV_MIGRATIONS));
    const clock = new VirtualClock(1_800_000_000_000);
    const local = new LocalReplica(storage, clock);
    storage.merge(kvRecord("k", "0", 10));
    // 2^52: no hybrid-logical-clock index reaches it (it waited 10 minutes and rescanned at each write)
    const far = 2 ** 52;
    const got = await local.get("k", far, 600_000);
    assert.equal(got.record?.modify_index, 10, "answered at once, as a read without an index");
    const listed = await local.list("", far, 600_000);
    assert.deepEqual(listed.records.map((r) => r.key), ["k"]);
    assert.equal(local.watchers.size, 0);
    // an index a minute ahead of our clock (another node's, a skewed clock) is still waited for
    const ahead = (clock.now() + 50_000) * 1000;
    let done = false;
    const near = local.get("k", ahead, 1_000).then(() => done = true);
    await clock.advance(500);
    assert.equal(done, false);
    await clock.advance(600);
    await near;
    // MAX_WAITERS blocking reads at once, then a 503
    const waits = Array.from({ length: MAX_WAITERS }, (_, i) => local.get(`w/${i}`, 0, 5_000));
    assert.equal(local.watchers.size, MAX_WAITERS);
    await assert.rejects(local.list("w/", 0, 5_000), /1024 blocking reads wait on this node already/);
    await assert.rejects(local.get("k", 10, 5_000), (e: Error & { status?: number }) => e.status === 503);
    assert.equal((await local.get("k", 5, 5_000)).record?.modify_index, 10, "a read with news does not wait");
    await clock.advance(5_001);
    await Promise.all(waits);
    assert.equal(local.watchers.size, 0);
    local.close();
  } finally {
    store.closeAll();
    Deno.removeSync(dir, { recursive: true });
  }
});
