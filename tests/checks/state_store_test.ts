import assert from "node:assert/strict";
import { CheckStateStore, type StoredState, UNCHANGED_WRITE_S } from "../../lib/checks/state_store.ts";
import { Store, StoreFullError } from "../../lib/store/mod.ts";
import { CheckStates } from "../../lib/checks/state.ts";
import type { CheckDef } from "../../lib/checks/check_def.ts";
import type { CheckResultEvent } from "../../lib/types.ts";
import { VirtualClock } from "../../lib/clock/mod.ts";
import { makeTestCtx, tempDir } from "../helpers.ts";
import { fill } from "../store/fill.ts";

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

Deno.test("a full disk: a silence that ends by itself ends (saved later), an asked one is refused whole", () => {
  const ctx = makeTestCtx();
  try {
    const states = new CheckStates(ctx);
    const db = ctx.store.handle("checks")!;
    const run = db.run.bind(db);
    let full = false;
    // a DELETE frees pages, so max_page_count cannot refuse it; a full disk refuses its WAL append
    db.run = (sql, ...p) => {
      if (full) throw new StoreFullError(db.path, new Error("database or disk is full"));
      return run(sql, ...p);
    };
    const def = { id: "disk", value: {}, problems: [] } as unknown as CheckDef;
    const changes: CheckResultEvent[] = [];
    ctx.bus.on("check.changed", (e) => changes.push(e));
    states.fold(def, { state: "critical", output: "/ is full" }, []);
    states.setSilence("disk", { reason: "ordered", since: 1, until: null });
    full = true;
    assert.throws(() => states.setSilence("other", { reason: "x", since: 1, until: null }), StoreFullError);
    assert.equal(states.silence("other"), null, "not silenced when it could not be saved");
    // the check recovers: its acknowledgement ends and the recovery is notified, disk full or not
    states.fold(def, { state: "ok", output: "room again" }, []);
    assert.deepEqual(changes.map((e) => e.state), ["critical", "ok"]);
    assert.equal(states.silence("disk"), null);
    states.flush();
    assert.deepEqual(states.history("disk").map((h) => h.state), ["ok", "critical"], "listed while unsaved");
    full = false;
    states.flush();
    assert.equal(db.get<{ n: number }>("SELECT COUNT(*) AS n FROM check_silence")?.n, 0, "its end written");
    assert.equal(new CheckStates(ctx).silence("disk"), null, "and a restart does not bring it back");
  } finally {
    ctx.cleanup();
  }
});

Deno.test("a full disk: saving check states is said once a minute at most, and its end", async () => {
  const clock = new VirtualClock(1_700_000_000_000);
  const ctx = makeTestCtx({ clock });
  try {
    const states = new CheckStates(ctx);
    const db = ctx.store.handle("checks")!;
    const { room } = fill(
      db,
      (i, text) => db.run("INSERT INTO check_history VALUES (?, 0, 'ok', 0, ?)", `f${i}`, text),
    );
    const def = { id: "disk", value: {}, problems: [] } as unknown as CheckDef;
    for (let i = 0; i < 6; i++) {
      states.fold(def, { state: i % 2 ? "ok" : "critical", output: "x".repeat(3000) }, []);
      states.flush();
      await clock.advance(10_000);
    }
    assert.equal(ctx.sink.counts.ERROR, 1, ctx.sink.recent.ERROR.join("\n"));
    assert.match(ctx.sink.recent.ERROR[0], /saving check states failed: .*checks\.db: the disk is full/);
    room();
    states.flush();
    assert.equal(states.history("disk").length, 6);
    assert.equal(ctx.sink.counts.ERROR, 1);
  } finally {
    ctx.cleanup();
  }
});

Deno.test("a check state that did not change is written at most once a minute, and its newest run at a clean stop", () => {
  using t = tempDir();
  const store = new Store(t.dir);
  try {
    const states = new CheckStateStore(store);
    const row = (last_check: number, output = "OK: load 0.1"): StoredState => ({
      id: "load",
      state: "ok",
      state_id: 0,
      output,
      last_check,
      failures: 0,
      successes: 1,
    });
    const stored = () => new CheckStateStore(store).loadAll().get("load")?.last_check;
    states.save(row(100), true);
    assert.equal(states.flush(), 1);
    states.save(row(110), false, true);
    states.save(row(120), false, true);
    assert.equal(states.flush(), 0, "only last_check moved, less than a minute: no write");
    assert.equal(stored(), 100);
    states.save(row(125), false);
    assert.equal(states.flush(), 1, "not quiet in the caller's word: written");
    assert.equal(stored(), 125);
    states.save(row(125 + UNCHANGED_WRITE_S), false, true);
    assert.equal(states.flush(), 1, "a minute after the written row");
    assert.equal(stored(), 185);
    states.save(row(190, "OK: load 0.2"), false, true);
    states.save(row(200, "OK: load 0.3"), false, true);
    assert.equal(states.flush(), 0, "a new output in the same state waits too");
    states.save({ ...row(210, "CRITICAL: load 9"), state: "critical", state_id: 2 }, false, true);
    assert.equal(states.flush(), 1, "another state is written at once");
    states.save({ ...row(220, "CRITICAL: load 8"), state: "critical", state_id: 2 }, false, true);
    assert.equal(states.flush(), 0);
    assert.equal(states.flush(true), 1, "a stop writes the newest run");
    assert.equal(stored(), 220);
    assert.equal(new CheckStateStore(store).loadAll().get("load")?.output, "CRITICAL: load 8");
    // a store opened on the same file starts from what it holds
    const again = new CheckStateStore(store);
    again.loadAll();
    again.save({ ...row(225, "CRITICAL: load 7"), state: "critical", state_id: 2 }, false, true);
    assert.equal(again.flush(), 0);
    again.remove("load");
    again.save({ ...row(230, "CRITICAL: load 7"), state: "critical", state_id: 2 }, false, true);
    assert.equal(again.flush(), 1, "a removed check's next state is a new row");
  } finally {
    store.closeAll();
  }
});
