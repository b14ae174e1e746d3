/**
 * Group commit of coordinated writes (LocalReplica.applyGrouped): records of one moment share a
 * transaction, each is announced (watchers, `kv.changed`) only once committed and only when it was
 * newer, and a failed transaction rejects every write of the group without announcing any.
 */
import assert from "node:assert/strict";
import { EventBus } from "../../lib/bus.ts";
import { VirtualClock } from "../../lib/clock/mod.ts";
import { LocalReplica } from "../../lib/kv/local.ts";
import { KV_MIGRATIONS, KvStorage } from "../../lib/kv/storage.ts";
import { Store } from "../../lib/store/mod.ts";
import { kvRecord } from "./kv_helpers.ts";

Deno.test("applyGrouped: one commit per moment, announced after it, older versions not at all; a failed commit rejects all", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "kunai-group-" });
  const store = new Store(dir);
  try {
    const storage = new KvStorage(store.open("kv", KV_MIGRATIONS));
    const clock = new VirtualClock(1_800_000_000_000);
    const bus = new EventBus();
    const local = new LocalReplica(storage, clock, bus);
    const changed: string[] = [];
    bus.on("kv.changed", (e) => {
      changed.push(e.key);
      // announced once committed: the record is already stored
      assert.ok(storage.getRecord(e.key), `${e.key} stored when announced`);
    });
    const woke = local.watchers.wait(clock, "b", true, 60_000);
    const before = local.commits;
    const results = await Promise.all([
      local.applyGrouped(kvRecord("a", "1", 10)),
      local.applyGrouped(kvRecord("b", "2", 10)),
      local.inGroupCommit(() => storage.getRecord("a")?.modify_index ?? -1),
      local.applyGrouped(kvRecord("c", "3", 10)),
    ]);
    assert.deepEqual(results, [true, true, 10, true]);
    assert.equal(local.commits - before, 1, "one transaction for the four");
    assert.deepEqual(changed, ["a", "b", "c"]);
    assert.equal(await woke, true, "the blocking read of b woke");

    assert.equal(await local.applyGrouped(kvRecord("a", "old", 5)), false, "an older version is not stored");
    assert.deepEqual(changed, ["a", "b", "c"], "nor announced");

    storage.db.close(); // the next transaction fails
    const failing = [local.applyGrouped(kvRecord("d", "4", 11)), local.applyGrouped(kvRecord("e", "5", 11))];
    for (const p of failing) await assert.rejects(p);
    assert.deepEqual(changed, ["a", "b", "c"], "nothing announced from a failed commit");
  } finally {
    try {
      store.closeAll();
    } catch { /* closed above */ }
    Deno.removeSync(dir, { recursive: true });
  }
});
