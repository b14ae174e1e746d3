/** A blocking read of the local replica counts its wait on a clock that never steps. */
import assert from "node:assert/strict";
import { LocalReplica } from "../../lib/kv/local.ts";
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
