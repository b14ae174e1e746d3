/**
 * Cluster events over simulated gossip: every member logs an event once, the sender too; what
 * another agent sends is checked (a malformed event is dropped and counted); the log is bounded; a
 * bad name or an oversized payload is refused before anything is sent.
 */
import assert from "node:assert/strict";
import { ClusterEvents, EVENT_KIND, LOG_SIZE, MAX_PAYLOAD, MAX_TAGS } from "../../lib/gossip/events.ts";
import { SimCluster } from "../sim/gossip_harness.ts";

async function cluster(n: number) {
  const c = new SimCluster({ nodes: n, seed: 11 });
  await c.startAndJoin();
  await c.runUntil(() => c.converged(), 10_000);
  const seen: string[][] = c.nodes.map(() => []);
  const events = c.nodes.map((node, i) =>
    new ClusterEvents(
      node.engine,
      node.engine.messages,
      (e) => seen[i].push(`${e.name}:${e.payload}:${e.from}`),
    )
  );
  return { c, events, seen };
}

Deno.test("an event reaches every member once, and the sender logs it too", async () => {
  const { c, events, seen } = await cluster(5);
  const sent = events[2].send("deploy-done", "v42", (k, p) => c.nodes[2].engine.broadcastUser(k, p));
  assert.equal(sent.from, "node-2");
  await c.clock.advance(3000);
  for (const [i, s] of seen.entries()) assert.deepEqual(s, ["deploy-done:v42:node-2"], `node ${i}`);
  for (const e of events) {
    assert.deepEqual(e.list().map((x) => x.id), [sent.id]);
    assert.deepEqual(e.list("other"), []);
  }
});

Deno.test("malformed events from the network are dropped and counted; the log keeps the last LOG_SIZE", async () => {
  const { c, events } = await cluster(2);
  const [a, b] = c.nodes;
  const good = { name: "x", payload: "", from: "node-0", from_uuid: a.self.uuid, at: 1 };
  for (
    const bad of [
      null,
      "text",
      { ...good, name: "bad name" },
      { ...good, name: "-lead" },
      { ...good, payload: "p".repeat(MAX_PAYLOAD + 1) },
      { ...good, payload: 5 },
      { ...good, at: "now" },
      { ...good, from: "f".repeat(300) },
      { ...good, name: "member-join" },
      { ...good, name: "query:uptime" },
    ]
  ) a.engine.broadcastUser(EVENT_KIND, bad);
  await c.clock.advance(3000);
  assert.deepEqual(events[1].list(), []);
  const dropped = b.engine.deps.counters.render();
  assert.match(dropped, /gossip_events_dropped_total\{why="bad_name"\} 2/);
  assert.match(dropped, /gossip_events_dropped_total\{why="not_an_object"\} 2/);
  assert.match(dropped, /gossip_events_dropped_total\{why="reserved_name"\} 2/);
  for (let i = 0; i < LOG_SIZE + 20; i++) {
    events[0].send(`e${i}`, String(i), (k, p) => a.engine.broadcastUser(k, p));
  }
  const log = events[0].list();
  assert.equal(log.length, LOG_SIZE);
  assert.equal(log[0].name, "e20", "the oldest went first");
});

Deno.test("sending checks the name and the payload's size in UTF-8 bytes", async () => {
  const { c, events } = await cluster(1);
  const send = (name: string, payload: string) =>
    events[0].send(name, payload, (k, p) => c.nodes[0].engine.broadcastUser(k, p));
  assert.throws(() => send("", ""), /event name "": 1-64 letters/);
  assert.throws(() => send("a b", ""), /event name "a b"/);
  assert.throws(() => send("x".repeat(65), ""), /event name/);
  assert.throws(
    () => send("query:uptime", ""),
    /"query:uptime": names starting with "query:" are queries/,
  );
  assert.throws(
    () => send("member-join", ""),
    /"member-join": names starting with "member-" are membership events/,
  );
  assert.throws(() => send("ok", "é".repeat(513)), /payload of 1026 bytes: at most 1024/);
  assert.equal(send("a:b.c_d-1", "é".repeat(512)).payload.length, 512);
  assert.equal(c.nodes[0].engine.queue.length > 0, true, "queued for the others");
});

Deno.test("tags (graphite-web's POST /events/) travel with an event; bad ones are refused or dropped", async () => {
  const { c, events } = await cluster(3);
  const [a] = c.nodes;
  const send = (name: string, payload: string, tags: string[]) =>
    events[0].send(name, payload, (k, p) => a.engine.broadcastUser(k, p), tags);
  const sent = send("deploy", "v42", ["web", "prod"]);
  assert.deepEqual(sent.tags, ["web", "prod"]);
  assert.equal("tags" in send("plain", "", []), false, "no tags: no field");
  assert.throws(() => send("x", "", ["a b"]), /event tags: tag "a b": 1-64 characters without whitespace/);
  assert.throws(() => send("x", "", ["t".repeat(65)]), /event tags: tag/);
  assert.throws(
    () => send("x", "", Array.from({ length: MAX_TAGS + 1 }, (_, i) => `t${i}`)),
    /at most 16 tags/,
  );
  assert.throws(
    () => send("x", "p".repeat(MAX_PAYLOAD - 3), ["abcd"]),
    /the payload and the tags take 1025 bytes: at most 1024 together/,
  );
  const good = { name: "x", payload: "", from: "node-0", from_uuid: a.self.uuid, at: 1 };
  for (const bad of [{ ...good, tags: "web" }, { ...good, tags: [5] }, { ...good, tags: ["a\tb"] }]) {
    a.engine.broadcastUser(EVENT_KIND, bad);
  }
  await c.clock.advance(3000);
  for (const e of events.slice(1)) {
    // (broadcasts may arrive in any order)
    const got = e.list().map((x) => [x.name, x.tags]).sort((x, y) =>
      String(x[0]).localeCompare(String(y[0]))
    );
    assert.deepEqual(got, [["deploy", ["web", "prod"]], ["plain", undefined]]);
  }
  assert.match(c.nodes[1].engine.deps.counters.render(), /gossip_events_dropped_total\{why="bad_tags"\} 3/);
});
