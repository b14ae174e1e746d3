import assert from "node:assert/strict";
import { CheckStateStore, type StoredState } from "../../lib/checks/state_store.ts";
import { Store, StoreFullError } from "../../lib/store/mod.ts";
import { tempDir } from "../helpers.ts";

Deno.test("a full disk: check states and transitions wait in memory and are written once there is room", () => {
  using t = tempDir();
  const store = new Store(t.dir);
  try {
    const states = new CheckStateStore(store);
    const db = store.handle("checks")!;
    const at = (id: string, state: StoredState["state"], output: string, ts: number): StoredState => ({
      id,
      state,
      state_id: state === "ok" ? 0 : 2,
      output: output.repeat(2000), // big rows fill the few pages left quickly
      last_check: ts,
      failures: 0,
      successes: 0,
    });
    const pages = db.get<{ page_count: number }>("PRAGMA page_count")!.page_count;
    db.exec(`PRAGMA max_page_count = ${pages}`); // SQLite's SQLITE_FULL, as from a full disk
    states.save(at("disk", "critical", "full ", 100), true);
    states.save(at("load", "ok", "fine ", 100), true);
    assert.throws(() => states.flush(), StoreFullError);
    // meanwhile the checks go on changing
    states.save(at("disk", "ok", "room ", 110), true);
    assert.throws(() => states.flush(), StoreFullError);
    db.exec(`PRAGMA max_page_count = ${pages + 10_000}`);
    assert.equal(states.flush(), 2);
    assert.deepEqual(
      states.history("disk").map((h) => [h.ts, h.state]),
      [[110, "ok"], [100, "critical"]],
    );
    assert.equal(states.history("load").length, 1);
    assert.equal(states.loadAll().get("disk")!.state, "ok", "the latest state of a check wins");
  } finally {
    store.closeAll();
  }
});
