/**
 * Membership history in gossip.db: changes are batched (written FLUSH_MS after the first, or when
 * read, or at stop), `updated` is not kept, a node is found by name or uuid, newest first, and the
 * table keeps the newest KEEP rows.
 */
import assert from "node:assert/strict";
import { VirtualClock } from "../../lib/clock/mod.ts";
import { EVENTS_KEEP, FLUSH_MS, KEEP, MemberHistory } from "../../lib/gossip/history.ts";
import { ClusterEvents } from "../../lib/gossip/events.ts";
import { Counters } from "../../lib/counters.ts";
import { Store } from "../../lib/store/mod.ts";
import type { ClusterEventRecord, MemberRecord } from "../../lib/types.ts";
import { tempDir } from "../helpers.ts";
import { fill } from "../store/fill.ts";

const rec = (name: string, incarnation = 0): MemberRecord => ({
  uuid: `uuid-${name}`,
  name,
  addr: "10.0.0.1",
  port: 6768,
  incarnation,
  state: "alive",
  tags: [],
  services: {},
  zone: "",
});

Deno.test("membership history: batched writes, newest first, by name or uuid, bounded", async () => {
  using t = tempDir("kunai-mhist-");
  const store = new Store(t.dir);
  const clock = new VirtualClock(1_000_000);
  const errors: string[] = [];
  const h = new MemberHistory(store, clock, { fail: (e) => errors.push(e.message), ok: () => {} });
  try {
    h.record("joined", rec("web-1"));
    await clock.advance(100);
    h.record("updated", rec("web-1", 1));
    h.record("suspect", rec("web-2", 3));
    h.record("dead", rec("web-2", 3));
    assert.equal(store.handle("gossip"), undefined, "nothing written, nothing opened during the burst");
    await clock.advance(FLUSH_MS);
    const db = store.handle("gossip");
    assert.ok(db, "written once the batch delay passed");
    assert.equal(db.get<{ n: number }>("SELECT COUNT(*) AS n FROM member_history")!.n, 3);

    h.record("joined", rec("web-2", 4));
    const all = h.list({ limit: 10 }); // reading writes what is pending first
    assert.deepEqual(all.map((r) => `${r.name} ${r.change} ${r.incarnation}`), [
      "web-2 joined 4",
      "web-2 dead 3",
      "web-2 suspect 3",
      "web-1 joined 0",
    ]);
    assert.equal(all[3].ts, 1_000_000);
    assert.equal(all[3].addr, "10.0.0.1:6768");
    assert.deepEqual(h.list({ node: "web-1", limit: 10 }).map((r) => r.change), ["joined"]);
    assert.deepEqual(h.list({ node: "uuid-web-2", limit: 2 }).map((r) => r.change), ["joined", "dead"]);
    assert.deepEqual(h.list({ node: "nobody", limit: 10 }), []);

    for (let i = 0; i < KEEP + 50; i++) h.record("joined", rec(`n${i}`));
    h.flush();
    assert.equal(db.get<{ n: number }>("SELECT COUNT(*) AS n FROM member_history")!.n, KEEP);
    assert.equal(h.list({ limit: 1 })[0].name, `n${KEEP + 49}`);
    assert.deepEqual(errors, []);
  } finally {
    store.closeAll();
  }
});

Deno.test("membership history between two times: the kinds asked for, inclusive, the newest `limit`, oldest first", async () => {
  using t = tempDir("kunai-mhist-");
  const store = new Store(t.dir);
  const clock = new VirtualClock(1_000_000);
  const h = new MemberHistory(store, clock, { fail: () => {}, ok: () => {} });
  try {
    h.record("joined", rec("a")); // 1 000 000
    await clock.advance(1000);
    h.record("suspect", rec("b")); // 1 001 000
    h.record("dead", rec("b"));
    await clock.advance(1000);
    h.record("left", rec("c")); // 1 002 000
    await clock.advance(1000);
    h.record("joined", rec("d")); // 1 003 000, still pending: read anyway
    const kinds = ["joined", "dead", "left"];
    const show = (rows: Array<{ name: string; change: string; ts: number }>) =>
      rows.map((r) => `${r.name} ${r.change} ${r.ts}`);
    assert.deepEqual(show(h.between(1_000_000, 1_003_000, kinds, 100)), [
      "a joined 1000000",
      "b dead 1001000",
      "c left 1002000",
      "d joined 1003000",
    ]);
    assert.deepEqual(show(h.between(1_000_001, 1_002_000, kinds, 100)), ["b dead 1001000", "c left 1002000"]);
    assert.deepEqual(show(h.between(0, 2_000_000, kinds, 2)), ["c left 1002000", "d joined 1003000"]);
    assert.deepEqual(show(h.between(0, 2_000_000, ["suspect"], 10)), ["b suspect 1001000"]);
    assert.deepEqual(h.between(0, 2_000_000, [], 10), []);
    const ids = h.between(0, 2_000_000, kinds, 10).map((r) => r.id);
    assert.ok(ids.every((id) => Number.isSafeInteger(id)) && new Set(ids).size === 4, `ids ${ids}`);
  } finally {
    store.closeAll();
  }
});

Deno.test("membership history on a full disk: the batch waits, is listed, and is written once there is room", async () => {
  using t = tempDir("kunai-mhist-");
  const store = new Store(t.dir);
  const clock = new VirtualClock(1_000_000);
  const notes: string[] = [];
  const h = new MemberHistory(store, clock, {
    fail: (e) => notes.push(e.message),
    ok: () => notes.push("ok"),
  });
  try {
    h.record("joined", rec("web-1"));
    h.flush();
    const db = store.handle("gossip")!;
    const { room } = fill(db, (i, text) =>
      db.run(
        "INSERT INTO member_history (ts, uuid, name, addr, change, incarnation) VALUES (0, ?, ?, '', 'x', 0)",
        `fill${i}`,
        text,
      ));
    db.run("DELETE FROM member_history WHERE ts = 0");
    const before = db.get<{ n: number }>("SELECT COUNT(*) AS n FROM member_history")!.n;
    h.record("dead", rec("web-2", 3));
    h.record("suspect", rec("web-1", 1));
    for (let i = 0; i < 2000; i++) h.record("joined", rec(`big-${"n".repeat(200)}-${i}`));
    await clock.advance(FLUSH_MS);
    assert.match(notes.join("|"), /gossip\.db: the disk is full/);
    assert.equal(
      db.get<{ n: number }>("SELECT COUNT(*) AS n FROM member_history")!.n,
      before,
      "nothing written",
    );
    assert.deepEqual(h.list({ node: "web-1", limit: 5 }).map((r) => r.change), ["suspect", "joined"]);
    assert.deepEqual(h.list({ node: "web-2", limit: 5 }).map((r) => r.change), ["dead"]);
    room();
    await clock.advance(FLUSH_MS); // the batch is tried again by itself
    assert.equal(notes.at(-1), "ok");
    assert.equal(db.get<{ n: number }>("SELECT COUNT(*) AS n FROM member_history")!.n, 2003);
  } finally {
    store.closeAll();
  }
});

Deno.test("cluster events in gossip.db: kept across a restart, in order, with tags; the newest EVENTS_KEEP; the log puts them back once", async () => {
  using t = tempDir("kunai-evhist-");
  const ev = (i: number, tags?: string[]): ClusterEventRecord => ({
    id: `id-${i}`,
    name: i % 2 ? "deploy" : "restart",
    payload: `build ${i}`,
    from: "web-1",
    from_uuid: "uuid-web-1",
    at: 1_000_000 + i,
    received: 1_000_500 + i,
    ...(tags ? { tags } : {}),
    authenticated: i % 3 === 0,
  });
  const clock = new VirtualClock(1_000_000);
  const note = { fail: () => {}, ok: () => {} };
  let store = new Store(t.dir);
  try {
    const h = new MemberHistory(store, clock, note);
    h.recordEvent(ev(1, ["prod", "v2"]));
    h.recordEvent(ev(2));
    h.recordEvent(ev(3));
    await clock.advance(FLUSH_MS); // written with the batch
  } finally {
    store.closeAll();
  }
  // the next run
  store = new Store(t.dir);
  try {
    const h = new MemberHistory(store, clock, note);
    const back = h.events();
    assert.deepEqual(back, [ev(1, ["prod", "v2"]), ev(2), ev(3)]);
    // the log of this run: its own event, then the kept ones put back before it, none twice
    const log = new ClusterEvents(
      {
        members: { self: () => ({ name: "web-1", uuid: "uuid-web-1" }) },
        deps: { counters: new Counters(), envelope: { enabled: false } },
      } as never,
      { on: () => () => {} },
      (e) => h.recordEvent(e),
    );
    const mine = log.send("deploy", "now", () => "id-4");
    log.restore(h.events());
    log.restore(h.events());
    assert.deepEqual(log.list().map((e) => e.id), ["id-1", "id-2", "id-3", "id-4"]);
    assert.equal(log.list("deploy").at(-1)?.payload, mine.payload);
    // bounded: the newest EVENTS_KEEP
    for (let i = 10; i < 10 + EVENTS_KEEP + 50; i++) h.recordEvent(ev(i));
    const kept = h.events();
    assert.equal(kept.length, EVENTS_KEEP);
    assert.equal(kept.at(-1)?.id, `id-${10 + EVENTS_KEEP + 49}`);
    const db = store.handle("gossip")!;
    assert.equal(db.get<{ n: number }>("SELECT COUNT(*) AS n FROM cluster_events")!.n, EVENTS_KEEP);
  } finally {
    store.closeAll();
  }
});

Deno.test("an event a peer retransmits after a restart is not logged or handled twice (the saved log is read first)", () => {
  using t = tempDir("kunai-evdup-");
  const clock = new VirtualClock(1_000_000);
  const note = { fail: () => {}, ok: () => {} };
  const wire = (name: string) => ({
    name,
    payload: "v1",
    from: "web-2",
    from_uuid: "uuid-web-2",
    at: 1_000_000,
  });
  /** One run of the agent's event log over gossip.db: what its handlers ran for, and a way to deliver. */
  const run = (store: Store) => {
    const h = new MemberHistory(store, clock, note);
    const handled: string[] = [];
    let deliver: (payload: unknown, id: string) => void = () => {};
    const counters = new Counters();
    const log = new ClusterEvents(
      {
        members: { self: () => ({ name: "web-1", uuid: "uuid-web-1" }) },
        deps: { counters, envelope: { enabled: false } },
      } as never,
      { on: (_kind, fn) => (deliver = fn, () => {}) },
      (e) => {
        handled.push(e.id);
        h.recordEvent(e);
      },
      () => h.events(),
    );
    return { h, log, handled, counters, deliver: (id: string, name = "deploy") => deliver(wire(name), id) };
  };
  let store = new Store(t.dir);
  try {
    const first = run(store);
    first.deliver("ev-1");
    first.deliver("ev-1"); // gossip's own de-duplication is not this log's: counted, not logged twice
    assert.deepEqual(first.handled, ["ev-1"]);
    first.h.flush();
  } finally {
    store.closeAll();
  }
  store = new Store(t.dir);
  try {
    const second = run(store);
    // the restarted agent's gossip no longer knows ev-1's id; a peer still retransmitting it
    // reaches it before anything read the log
    second.deliver("ev-1");
    assert.deepEqual(second.handled, [], "the handlers ran for ev-1 in the first run");
    second.deliver("ev-2", "restart");
    assert.deepEqual(second.handled, ["ev-2"]);
    assert.deepEqual(second.log.list().map((e) => e.id), ["ev-1", "ev-2"]);
    second.deliver("ev-1"); // and after the log was read
    assert.deepEqual(second.log.list().map((e) => e.id), ["ev-1", "ev-2"]);
    assert.match(second.counters.render(), /gossip_events_dropped_total\{why="already_logged"\} 2/);
    second.h.flush();
    const db = store.handle("gossip")!;
    assert.equal(db.get<{ n: number }>("SELECT COUNT(*) AS n FROM cluster_events")!.n, 2);
  } finally {
    store.closeAll();
  }
});

Deno.test("cluster events: a gossip.db that cannot be opened is said, not taken for an empty history", () => {
  using t = tempDir("kunai-mhist-");
  Deno.mkdirSync(`${t.dir}/gossip.db`); // a directory where the database should be: any open error
  const store = new Store(t.dir);
  const errors: string[] = [];
  const h = new MemberHistory(store, new VirtualClock(1_000_000), {
    fail: (e) => errors.push(e.message),
    ok: () => {},
  });
  try {
    assert.deepEqual(h.events(), []);
    assert.equal(errors.length, 1, "said");
  } finally {
    store.closeAll();
  }
});
