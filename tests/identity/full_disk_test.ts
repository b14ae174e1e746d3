/**
 * agent.db on a full disk (SQLite's SQLITE_FULL, from `max_page_count`): gossip still refutes and
 * announces (the incarnation's save failing is reported, not thrown), a maintenance the API asks for
 * is refused whole (nothing changed, nothing spread), and one ending at its `until` ends anyway.
 */
import assert from "node:assert/strict";
import { VirtualClock } from "../../lib/clock/mod.ts";
import { LocalNode, MaintenanceEnd, saveMaintenance } from "../../lib/identity/mod.ts";
import { EventBus } from "../../lib/bus.ts";
import { openDatabase, StoreFullError } from "../../lib/store/mod.ts";
import { LogSink } from "../../lib/log/mod.ts";
import type { Maintenance } from "../../lib/types.ts";
import { tempDir } from "../helpers.ts";
import { fill } from "../store/fill.ts";

const NOW = 1_700_000_000_000;

function setup(dir: string) {
  const db = openDatabase(`${dir}/agent.db`, [{
    version: 1,
    sql: "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
  }]);
  const bus = new EventBus();
  const events: Array<Maintenance | null> = [];
  bus.on("maintenance.changed", (e) => events.push(e.maintenance));
  const errors: Error[] = [];
  const deletesFail = { on: false };
  const node = new LocalNode({
    uuid: "u1",
    name: "n1",
    addr: "127.0.0.1",
    port: 1,
    zone: "",
    incarnation: 4,
    configTags: [],
    bus,
    saveIncarnation: (n) => db.run("INSERT OR REPLACE INTO meta VALUES ('incarnation', ?)", String(n)),
    onSaveError: (err) => errors.push(err),
    saveMaintenance: (m) => {
      // a DELETE frees pages, so max_page_count cannot refuse it; a full disk refuses its WAL append
      if (!m && deletesFail.on) throw new StoreFullError(db.path, new Error("database or disk is full"));
      saveMaintenance(db, m);
    },
  });
  const full = () => fill(db, (i, text) => db.run("INSERT INTO meta VALUES (?, ?)", `fill${i}`, text));
  return { db, node, events, errors, full, deletesFail };
}

Deno.test("a full agent.db: the incarnation still rises (gossip refutes), the failed save is reported, the next one saves", () => {
  using t = tempDir();
  const { db, node, errors, full } = setup(t.dir);
  const { room } = full();
  assert.equal(node.bumpIncarnation(), 5);
  assert.equal(node.bumpIncarnation(9), 9);
  assert.equal(node.incarnation, 9);
  assert.equal(errors.length, 2);
  assert.ok(errors[0] instanceof StoreFullError, String(errors[0]));
  assert.match(errors[0].message, /agent\.db: the disk is full/);
  room();
  assert.equal(node.bumpIncarnation(), 10);
  assert.equal(errors.length, 2);
  assert.equal(db.get<{ value: string }>("SELECT value FROM meta WHERE key = 'incarnation'")?.value, "10");
  db.close();
});

Deno.test("a full agent.db: a maintenance asked for is refused whole; one ending at its until ends anyway", async () => {
  using t = tempDir();
  const { db, node, events, full, deletesFail } = setup(t.dir);
  const m: Maintenance = { reason: "kernel", since: NOW, until: NOW + 60_000 };
  const { room } = full();
  assert.throws(() => node.setMaintenance(m), StoreFullError);
  assert.equal(node.maintenance(), null, "not in maintenance when it could not be saved");
  assert.deepEqual(events, [], "nothing spread");
  room();
  node.setMaintenance(m);
  assert.deepEqual(node.maintenance(), m);
  deletesFail.on = true;
  const clock = new VirtualClock(NOW);
  const sink = new LogSink({ stderr: false });
  const end = new MaintenanceEnd(node, clock, sink.logger("agent"));
  end.arm();
  await clock.advance(60_000);
  assert.equal(node.maintenance(), null);
  assert.deepEqual(events, [m, null]);
  assert.match(
    sink.recent.ERROR.join("\n"),
    /cannot save the end of the maintenance: .*agent\.db: the disk is full/,
  );
  end.stop();
  db.close();
});
