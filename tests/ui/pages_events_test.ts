/**
 * The pure parts of the Events and History pages (ui/js/pages_events.js, a classic browser script that
 * defines them on globalThis.K): the name filter, merging the fetched log with live events (by id,
 * in arrival order, bounded like the agent's log) and the history filter.
 */
import assert from "node:assert/strict";

type Ev = { id: string; name: string; received: number };
interface PagesK {
  EVENTS_KEPT: number;
  eventMatches(e: { name: string }, text: string): boolean;
  mergeEvents(known: unknown[], more: unknown[]): Ev[];
  historyMatches(r: { name: string; uuid: string; change: string }, text: string, change: string): boolean;
}

const K = await (async () => {
  // a classic script: importing it runs it, and it defines its helpers on globalThis.K
  await import(new URL("../../ui/js/pages_events.js", import.meta.url).href);
  return (globalThis as unknown as { K: PagesK }).K;
})();

const ev = (id: string, name: string, received: number): Ev => ({ id, name, received });

Deno.test("events: the name filter is a case-insensitive substring; empty lets everything through", () => {
  assert.ok(K.eventMatches({ name: "deploy-done" }, ""));
  assert.ok(K.eventMatches({ name: "deploy-done" }, "  DEPLOY "));
  assert.ok(K.eventMatches({ name: "deploy-done" }, "done"));
  assert.ok(!K.eventMatches({ name: "deploy-done" }, "restart"));
});

Deno.test("events: fetched and live events merge once each, in arrival order, the newest 512 kept", () => {
  const fetched = [ev("a", "x", 1), ev("b", "y", 2)];
  // a live event also in the fetched log, one newer, and one older that the fetch no longer has
  const live = [ev("b", "y", 2), ev("c", "z", 3), ev("old", "w", 0)];
  assert.deepEqual(K.mergeEvents(fetched, live).map((e) => e.id), ["old", "a", "b", "c"]);
  // same millisecond: the agent's order stays
  assert.deepEqual(K.mergeEvents([ev("p", "x", 5), ev("q", "x", 5)], []).map((e) => e.id), ["p", "q"]);
  // what is not an event is dropped
  assert.deepEqual(K.mergeEvents([null, { name: "no id" }, ev("d", "x", 1)], []).map((e) => e.id), ["d"]);
  const many = Array.from({ length: 600 }, (_, i) => ev(`e${i}`, "n", i));
  const kept = K.mergeEvents(many.slice(0, 300), many.slice(300));
  assert.equal(K.EVENTS_KEPT, 512);
  assert.equal(kept.length, 512);
  assert.equal(kept[0].id, "e88");
  assert.equal(kept.at(-1)!.id, "e599");
});

Deno.test("history: filter by node name or uuid substring, and by change", () => {
  const r = { name: "web-3", uuid: "9f1c-22", change: "dead" };
  assert.ok(K.historyMatches(r, "", "any"));
  assert.ok(K.historyMatches(r, "WEB", "any"));
  assert.ok(K.historyMatches(r, "9f1c", "dead"));
  assert.ok(!K.historyMatches(r, "db", "any"));
  assert.ok(!K.historyMatches(r, "web", "joined"));
  assert.ok(K.historyMatches(r, "web", ""));
});
