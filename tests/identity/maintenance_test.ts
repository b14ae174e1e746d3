/**
 * Node maintenance at the library level: what a request may ask, how it travels in gossip (and what
 * a malformed one from the network gets), and its effects: DNS tag and service answers and
 * generators' ok_nodes leave the node out, handlers send nothing for it or its checks; it is saved
 * and ends by itself.
 */
import assert from "node:assert/strict";
import { RealClock, VirtualClock } from "../../lib/clock/mod.ts";
import { aliveOf, decodePacket, encodePacket, recordOf } from "../../lib/gossip/codec.ts";
import { classifyName, lookupTargets } from "../../lib/dns/records.ts";
import { okNodes } from "../../lib/generators/generators.ts";
import { createHandlers } from "../../lib/handlers/mod.ts";
import {
  loadMaintenance,
  MaintenanceEnd,
  parseMaintenanceRequest,
  saveMaintenance,
} from "../../lib/identity/mod.ts";
import type { Maintenance, MemberRecord } from "../../lib/types.ts";
import { makeTestCtx } from "../helpers.ts";
import { change, memberRecord } from "../handlers/fixtures.ts";

const NOW = 1_700_000_000_000;
const MAINT: Maintenance = { reason: "kernel upgrade", since: NOW, until: NOW + 7_200_000 };

function node(name: string, addr: string, maintenance?: Maintenance): MemberRecord {
  return {
    ...memberRecord(`${name}-uuid`, name, addr),
    tags: ["web"],
    services: { http: { state_id: 0, port: 80 } },
    ...(maintenance ? { maintenance } : {}),
  };
}

Deno.test("a maintenance request: reason and duration checked, naming the field", () => {
  assert.deepEqual(parseMaintenanceRequest({ reason: "kernel upgrade", for: "2h" }, NOW), MAINT);
  assert.deepEqual(parseMaintenanceRequest({}, NOW), { reason: "", since: NOW, until: null });
  assert.deepEqual(parseMaintenanceRequest(null, NOW), { reason: "", since: NOW, until: null });
  const bad: Array<[unknown, RegExp]> = [
    [[], /expected a JSON object/],
    ["x", /expected a JSON object/],
    [{ reason: 3 }, /reason: expected a string/],
    [{ reason: "r".repeat(257) }, /reason: at most 256 characters, got 257/],
    [{ reason: "a\nb" }, /reason: control characters/],
    [{ for: "soon" }, /for: expected a duration from 1s to 366d/],
    [{ for: "500ms" }, /for: expected a duration/],
    [{ for: "400d" }, /for: expected a duration/],
    [{ for: -5 }, /for: expected a duration/],
    [{ until: 5 }, /unknown field "until" \(reason, for\)/],
  ];
  for (const [body, want] of bad) {
    assert.throws(() => parseMaintenanceRequest(body, NOW), want, JSON.stringify(body));
  }
});

Deno.test("maintenance travels in the node's record; a malformed one is refused, an absent one stays absent", () => {
  const rec = { ...node("web-1", "10.0.0.1", MAINT), proto: 4 };
  const decoded = decodePacket(encodePacket([aliveOf(rec)]));
  assert.ok(decoded.ok, !decoded.ok ? decoded.error : "");
  assert.deepEqual(recordOf(decoded.value[0] as ReturnType<typeof aliveOf>).maintenance, MAINT);
  const plain = decodePacket(encodePacket([aliveOf(node("web-2", "10.0.0.2"))]));
  assert.ok(plain.ok);
  assert.equal("maintenance" in recordOf(plain.value[0] as ReturnType<typeof aliveOf>), false);
  const forged = [
    { reason: "x".repeat(257), since: 1, until: null },
    { reason: "x", since: -1, until: null },
    { reason: "x", since: 1, until: "later" },
    "yes",
  ];
  for (const m of forged) {
    const wire = new TextEncoder().encode(
      JSON.stringify([{ ...aliveOf(node("web-3", "10.0.0.3")), maintenance: m }]),
    );
    const r = decodePacket(wire);
    assert.equal(r.ok, false, JSON.stringify(m));
    if (!r.ok) assert.match(r.error, /maintenance/);
  }
});

Deno.test("DNS leaves a node in maintenance out of tag and service answers; its own name still resolves", () => {
  const members = [node("web-1", "10.0.0.1"), node("web-2", "10.0.0.2", MAINT)];
  const names = (q: string) => lookupTargets(members, classifyName(q, "kunai")).map((t) => t.name);
  assert.deepEqual(names("web.tag.dc1.kunai"), ["web-1"]);
  assert.deepEqual(names("http.service.dc1.kunai"), ["web-1"]);
  assert.deepEqual(names("web-2.node.dc1.kunai"), ["web-2"]);
});

Deno.test("generators' ok_nodes drains a node in maintenance", () => {
  const members = [node("web-1", "10.0.0.1"), node("web-2", "10.0.0.2", MAINT), node("web-3", "10.0.0.3")];
  assert.deepEqual(okNodes(members, "http").map(([m]) => m.name), ["web-1", "web-3"]);
});

Deno.test("handlers send nothing for this node's checks while it is in maintenance, nor for a node in maintenance", async () => {
  using ctx = makeTestCtx({
    clock: new RealClock(),
    name: "web-1",
    files: {
      "handlers/default.json": {
        handler: { type: "webhook", url: "http://127.0.0.1:9/x", on_node_change: true },
      },
    },
  });
  let self: MemberRecord = node("web-1", "10.0.0.1", MAINT);
  const h = createHandlers(ctx, { membership: { self: () => self } });
  await h.start();
  try {
    ctx.bus.emit("check.changed", change("critical", "ok"));
    assert.equal(h.stats().queued, 0, "no notification for our check while in maintenance");
    assert.equal(ctx.counters.get("handler_notifications_suppressed_total", { why: "maintenance" }), 1);
    self = node("web-1", "10.0.0.1");
    ctx.bus.emit("member.dead", node("web-2", "10.0.0.2", MAINT));
    assert.equal(h.stats().queued, 0, "no notification for a node in maintenance");
    assert.equal(ctx.counters.get("handler_notifications_suppressed_total", { why: "maintenance" }), 2);
    // a silenced check (kunai checks silence): nothing sent either, counted apart
    ctx.bus.emit("check.changed", {
      ...change("critical", "ok"),
      silenced: { reason: "ticket 42", until: null },
    });
    assert.equal(h.stats().queued, 0, "no notification for a silenced check");
    assert.equal(ctx.counters.get("handler_notifications_suppressed_total", { why: "silenced" }), 1);
    // out of maintenance: notified as usual (the test sees it queued)
    ctx.bus.emit("check.changed", change("critical", "ok"));
    ctx.bus.emit("member.dead", node("web-2", "10.0.0.2"));
    assert.equal(h.stats().queued, 2);
  } finally {
    await h.stop();
  }
});

Deno.test("maintenance is saved for the next run, forgotten once its end passed, and ends by itself", async () => {
  using ctx = makeTestCtx();
  const db = ctx.store.open("agent", [{
    version: 1,
    sql: "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
  }]);
  saveMaintenance(db, MAINT);
  assert.deepEqual(loadMaintenance(db, NOW + 1000), MAINT);
  assert.equal(loadMaintenance(db, MAINT.until! + 1), null, "ended while the agent was down");
  saveMaintenance(db, null);
  assert.equal(loadMaintenance(db, NOW), null);

  const clock = new VirtualClock(NOW);
  const changes: Array<Maintenance | null> = [];
  ctx.bus.on("maintenance.changed", (e) => changes.push(e.maintenance));
  ctx.node.setMaintenance(MAINT);
  const end = new MaintenanceEnd(ctx.node, clock, ctx.log);
  end.arm();
  await clock.advance(7_199_000);
  assert.deepEqual(ctx.node.maintenance(), MAINT);
  await clock.advance(1_000);
  assert.equal(ctx.node.maintenance(), null);
  assert.deepEqual(changes, [MAINT, null]);
  end.stop();
});
