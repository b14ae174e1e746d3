/**
 * graphite-web's events API over kunai's cluster events (lib/metrics/graphite_events.ts): the same
 * events posted to graphite-web's own events app (Debian's graphite-web, its views and Django model
 * on a temporary SQLite file) and queried there and here must give the same answers — `when`, `what`,
 * `data`, `tags`, order — for time windows, tags and set operations; the POST body's tags normalize
 * as graphite-web stores them; bad bodies and parameters are 400s naming the field.
 */
import assert from "node:assert/strict";
import { graphiteWeb, hasGraphiteWeb } from "./graphite_web.ts";
import {
  clusterEventTags,
  DEFAULT_LIMIT,
  eventsQuery,
  type GraphiteEvent,
  graphiteEvents,
  type GraphiteEventsApi,
  type MemberChange,
  numericId,
  parseEventPost,
} from "../../lib/metrics/graphite_events.ts";
import { metricsRoutes } from "../../lib/metrics/routes.ts";
import { buildApp } from "../../lib/http/mod.ts";
import { silentLogger } from "../../lib/log/mod.ts";
import { Counters } from "../../lib/counters.ts";
import { HttpError } from "../../lib/routing/mod.ts";
import type { ClusterEventRecord } from "../../lib/types.ts";

const hasGraphite = hasGraphiteWeb("graphite.events.views");

const ev = (
  id: string,
  name: string,
  from: string,
  atMs: number,
  payload = "",
  tags?: string[],
): ClusterEventRecord => ({
  id,
  name,
  payload,
  from,
  from_uuid: `uuid-${from}`,
  at: atMs,
  received: atMs + 3,
  authenticated: true,
  ...(tags ? { tags } : {}),
});

const EVENTS: ClusterEventRecord[] = [
  ev("e1", "deploy", "n1", 1_000_000, "v42", ["web"]),
  ev("e2", "deploy", "n2", 1_005_700, "v43", ["db"]),
  ev("e3", "backup", "n1", 1_010_000),
  ev("e4", "deploy", "n1", 1_020_000, 'v44 "canary" é ✓', ["web", "canary"]),
  ev("e5", "restart", "n3", 2_000_000, "x".repeat(1024)),
];
const CHANGES: MemberChange[] = [
  { id: 1, ts: 999_500, name: "n2", addr: "127.0.0.2:7002", change: "joined", incarnation: 1 },
  { id: 2, ts: 1_400_000, name: "n3", addr: "127.0.0.3:7003", change: "suspect", incarnation: 2 },
  { id: 3, ts: 1_500_000, name: "n3", addr: "127.0.0.3:7003", change: "dead", incarnation: 2 },
  { id: 4, ts: 1_600_000, name: "n2", addr: "127.0.0.2:7002", change: "left", incarnation: 5 },
  { id: 5, ts: 1_700_000, name: "n2", addr: "127.0.0.2:7002", change: "reaped", incarnation: 5 },
];
const NOW = 3000;

function fakeApi(events = EVENTS, changes = CHANGES): GraphiteEventsApi & { sent: unknown[] } {
  const sent: unknown[] = [];
  return {
    sent,
    events: () => [...events],
    memberChanges: (fromMs, untilMs, kinds, limit) =>
      changes.filter((c) => c.ts >= fromMs && c.ts <= untilMs && kinds.includes(c.change)).slice(-limit),
    send(name, payload, tags) {
      if (!/^[a-z]+$/.test(name)) throw new Error(`event name ${JSON.stringify(name)}: bad`);
      sent.push({ name, payload, tags });
      return ev("sent-1", name, "n1", 2_500_000, payload, tags.length ? [...tags] : undefined);
    },
  };
}

const query = (q: Record<string, string>, api = fakeApi()) =>
  graphiteEvents(api, eventsQuery(new URLSearchParams(q), NOW));
const withoutIds = (list: GraphiteEvent[]) => list.map(({ id: _, ...rest }) => rest);

/** Queries whose answers must be graphite-web's. */
const QUERIES: Array<Record<string, string>> = [
  {},
  { from: "1000" },
  { from: "1001" },
  { until: "1005" },
  { from: "1005", until: "1005" },
  { from: "1000", until: "1010" },
  { from: "2000", until: "1000" },
  { tags: "deploy" },
  { tags: "deploy web" },
  { tags: "web  deploy" },
  { tags: "web deploy", set: "intersection" },
  { tags: "web deploy", set: "union" },
  { tags: "n1" },
  { tags: "n3 member-failed" },
  { tags: "member-leave member-join", set: "union" },
  { tags: "canary db", set: "union" },
  { tags: "canary db", set: "intersection" },
  { tags: "canary db" },
  { tags: "deploy nope", set: "union" },
  { tags: "deploy nope", set: "intersection" },
  { tags: "nope" },
  { tags: "" },
  { tags: "Deploy" },
  { tags: "kunai", from: "1005", until: "1600" },
  { tags: "deploy", set: "other" },
];

Deno.test({
  name: "get_data answers graphite-web's events for the same events: windows, tags, set operations, order",
  ignore: !hasGraphite,
  async fn() {
    // what kunai answers with no filter is what is posted to graphite-web, with its own `when`
    const all = query({});
    assert.deepEqual(all.map((e) => e.what), [
      "member-join",
      "deploy",
      "deploy",
      "backup",
      "deploy",
      "member-failed",
      "member-leave",
      "restart",
    ]);
    const msOf = [999_500, ...EVENTS.slice(0, 4).map((e) => e.at), 1_500_000, 1_600_000, EVENTS[4].at];
    const post = all.map((e, i) => ({
      what: e.what,
      tags: e.tags.join(" "),
      data: e.data,
      when: msOf[i] / 1000,
    }));
    const oracle = await graphiteWeb<{ posted: Array<{ status: number }>; answers: unknown[] }>({
      events: { post, queries: QUERIES },
    });
    assert.deepEqual(oracle.posted.map((p) => p.status), post.map(() => 200));
    for (const [i, q] of QUERIES.entries()) {
      assert.deepEqual(withoutIds(query(q)), oracle.answers[i], `query ${JSON.stringify(q)}`);
    }
    // the shape: graphite-web's keys in its order, whole seconds, whole-number ids
    const one = query({ tags: "canary" });
    assert.deepEqual(Object.keys(one[0]), ["when", "what", "data", "tags", "id"]);
    assert.equal(one[0].when, 1020);
    assert.equal(one[0].id, numericId("e4"));
    assert.ok(Number.isSafeInteger(one[0].id) && one[0].id >= 0);
    assert.deepEqual(one[0].tags, ["kunai", "deploy", "n1", "web", "canary"]);
  },
});

Deno.test({
  name: "documented differences: a tag no event carries is not ignored; a repeated query tag counts once",
  ignore: !hasGraphite,
  async fn() {
    const all = query({});
    const post = all.map((e) => ({ what: e.what, tags: e.tags.join(" "), data: e.data, when: e.when }));
    const q = { tags: "deploy nope" };
    const oracle = await graphiteWeb<{ answers: Array<Array<{ what: string }>> }>({
      events: { post, queries: [q] },
    });
    assert.deepEqual(oracle.answers[0].map((e) => e.what), ["deploy", "deploy", "deploy"]);
    assert.deepEqual(query(q), []);
    // and with set=intersection a repeated or empty word makes graphite-web's count differ: nothing
    const words = [{ tags: "web web", set: "intersection" }, { tags: "web  deploy", set: "intersection" }];
    const theirs = await graphiteWeb<{ answers: unknown[][] }>({ events: { post, queries: words } });
    assert.deepEqual(theirs.answers, [[], []]);
    for (const w of words) assert.deepEqual(query(w).map((e) => e.data), ["v42", 'v44 "canary" é ✓'], w.tags);
  },
});

Deno.test({
  name:
    "POST /events/ bodies: tags normalize as graphite-web stores them; a non-string, non-array is its 400",
  ignore: !hasGraphite,
  async fn() {
    const bodies: Array<Record<string, unknown>> = [
      { what: "a", tags: "web  db\tx" },
      { what: "b", tags: ["one two", "three"] },
      { what: "c", tags: ["solo"] },
      { what: "d", tags: "" },
      { what: "e" },
      { what: "f", tags: " lead trail " },
      { what: "g", tags: "dup dup" },
    ];
    const oracle = await graphiteWeb<{ answers: Array<Array<{ what: string; tags: string[] }>> }>({
      events: { post: bodies.map((b, i) => ({ ...b, when: 1000 + i })), queries: [{}] },
    });
    for (const [i, b] of bodies.entries()) {
      const theirs = oracle.answers[0][i];
      assert.equal(theirs.what, b.what);
      // kunai keeps each tag once (graphite-web's list repeats a repeated tag)
      assert.deepEqual(parseEventPost(JSON.stringify(b)).tags, [...new Set(theirs.tags)], JSON.stringify(b));
    }
    const bad = await graphiteWeb<{ posted: Array<{ status: number; body: string }> }>({
      events: { post: [{ what: "x", tags: 5 }] },
    });
    assert.equal(bad.posted[0].status, 400);
    assert.throws(
      () => parseEventPost('{"what": "x", "tags": 5}'),
      (e: HttpError) => e.status === 400 && e.message === JSON.parse(bad.posted[0].body).error,
    );
  },
});

Deno.test("POST /events/ bodies: clear 400s naming the field", () => {
  const cases: Array<[string, RegExp]> = [
    ["not json", /invalid JSON body/],
    ["[1]", /expected a JSON object/],
    ["null", /expected a JSON object/],
    ['{"tags": "web"}', /"what" \(required\)/],
    ['{"what": 5}', /"what" \(required\)/],
    ['{"what": "deploy", "data": {"v": 1}}', /"data" must be a string .* got a object/],
    ['{"what": "deploy", "data": null}', /"data" must be a string .* got null/],
    ['{"what": "deploy", "tags": [1]}', /"tags" must be an array or space-separated string/],
    ['{"what": "deploy", "when": 1700000000}', /"when": kunai dates an event when it is sent/],
    ['{"what": "deploy", "tag": "web"}', /unknown field "tag" \(what, tags, data\)/],
  ];
  for (const [body, re] of cases) {
    assert.throws(() => parseEventPost(body), (e: HttpError) => e.status === 400 && re.test(e.message), body);
  }
  assert.deepEqual(parseEventPost('{"what": "deploy", "tags": "web", "data": "v42"}'), {
    name: "deploy",
    payload: "v42",
    tags: ["web"],
  });
});

Deno.test("get_data parameters: graphite times, limit and members; 400 naming a bad one", () => {
  // relative times against the injected now (3000 s): -20min is 1800
  assert.deepEqual(query({ from: "-20min" }).map((e) => e.what), ["restart"]);
  assert.deepEqual(query({ until: "-2000s" }).map((e) => e.when), [999, 1000]);
  // the newest `limit` of the window, oldest first
  assert.deepEqual(query({ limit: "2" }).map((e) => e.what), ["member-leave", "restart"]);
  assert.deepEqual(query({ members: "0" }).map((e) => e.what), [
    "deploy",
    "deploy",
    "backup",
    "deploy",
    "restart",
  ]);
  assert.equal(eventsQuery(new URLSearchParams(), NOW).limit, DEFAULT_LIMIT);
  // a repeated tag counts once (100 words, 1 tag, is fine)
  assert.deepEqual(eventsQuery(new URLSearchParams({ tags: Array(200).fill("web").join(" ") }), NOW).tags, [
    "web",
  ]);
  // now keeps its fraction, as graphite-web's: an event of this very second is in the default window
  const fresh = fakeApi([ev("f", "fresh", "n1", 2_999_400)], []);
  for (const q of [{}, { until: "now" }, { from: "-1s" }] as Array<Record<string, string>>) {
    assert.deepEqual(graphiteEvents(fresh, eventsQuery(new URLSearchParams(q), 2999.5)).map((e) => e.when), [
      2999,
    ]);
  }
  assert.deepEqual(graphiteEvents(fresh, eventsQuery(new URLSearchParams({ from: "-0s" }), 2999.5)), []);
  for (
    const [q, re] of [
      [{ from: "yesterday-ish" }, /from: 'yesterday-ish' is not a time/],
      [{ until: "-3fortnights" }, /until: unknown time unit/],
      [{ limit: "0" }, /limit: expected a whole number from 1 to 10000, got "0"/],
      [{ limit: "10001" }, /limit: expected a whole number/],
      [{ limit: "ten" }, /limit: expected a whole number/],
      [{ members: "maybe" }, /members: expected 1 or 0/],
      [
        { tags: Array.from({ length: 101 }, (_, i) => `t${i}`).join(" ") },
        /tags: at most 100 different tags, got 101/,
      ],
      // a JSONP client would get plain JSON it cannot run: refused, not ignored
      [{ jsonp: "cb" }, /jsonp: not supported/],
    ] as Array<[Record<string, string>, RegExp]>
  ) {
    assert.throws(
      () => eventsQuery(new URLSearchParams(q), NOW),
      (e: HttpError) => e.status === 400 && re.test(e.message),
      JSON.stringify(q),
    );
  }
});

Deno.test("a cluster event's tags: kunai, its name, its sender, its own tags, each once", () => {
  assert.deepEqual(clusterEventTags(ev("i", "deploy", "web-1", 0, "", ["web-1", "prod", "deploy"])), [
    "kunai",
    "deploy",
    "web-1",
    "prod",
  ]);
  assert.notEqual(numericId("a"), numericId("b"));
  assert.equal(numericId("a"), numericId("a"));
});

Deno.test("the routes: get_data and /events/ are reads, POST /events/ a write that sends the event", async () => {
  const api = fakeApi();
  const table = metricsRoutes({
    source: { fetch: () => Promise.resolve([]) },
    names: () => Promise.resolve([]),
    nowSeconds: () => NOW,
    events: api,
  });
  const access = table.routes.filter((r) => r.path.startsWith("/events")).map((r) =>
    `${r.method} ${r.path} ${r.access}`
  );
  assert.deepEqual(access.sort(), [
    "GET /events read",
    "GET /events/ read",
    "GET /events/get_data read",
    "POST /events write",
    "POST /events/ write",
  ]);
  const app = buildApp([table], {
    token: "tok",
    maxBody: 1 << 20,
    log: silentLogger,
    counters: new Counters(),
  });
  const tcp = (path: string, init: RequestInit = {}) => app.request(path, init, { transport: "tcp" });
  const got = await tcp("/events/get_data?from=1000&until=1010&tags=deploy");
  assert.equal(got.status, 200);
  assert.match(got.headers.get("content-type") ?? "", /application\/json/);
  assert.deepEqual((await got.json()).map((e: GraphiteEvent) => e.data), ["v42", "v43"]);
  assert.deepEqual(
    await (await tcp("/events/?tags=restart")).json(),
    await (await tcp("/events/get_data?tags=restart"))
      .json(),
  );
  const bad = await tcp("/events/get_data?from=soon");
  assert.equal(bad.status, 400);
  assert.match((await bad.json()).error, /from: 'soon' is not a time/);

  const body = JSON.stringify({ what: "deploy", tags: "web", data: "v42" });
  for (const headers of [{}, { authorization: "Bearer nope" }] as Array<Record<string, string>>) {
    const r = await tcp("/events/", { method: "POST", body, headers });
    assert.ok([401, 403].includes(r.status), `POST without the right token: ${r.status}`);
    await r.body?.cancel();
  }
  assert.deepEqual(api.sent, []);
  const auth = { authorization: "Bearer tok" };
  const ok = await tcp("/events/", { method: "POST", body, headers: auth });
  assert.equal(ok.status, 200);
  assert.deepEqual(await ok.json(), {
    when: 2500,
    what: "deploy",
    data: "v42",
    tags: ["kunai", "deploy", "n1", "web"],
    id: numericId("sent-1"),
  });
  assert.deepEqual(api.sent, [{ name: "deploy", payload: "v42", tags: ["web"] }]);
  // the event's own refusal (a bad name here) is a 400 with its message
  const refused = await tcp("/events", { method: "POST", body: '{"what": "Bad Name"}', headers: auth });
  assert.equal(refused.status, 400);
  assert.match((await refused.json()).error, /event name "Bad Name"/);
  const unknown = await tcp("/events/", { method: "POST", body: '{"what": "x", "who": 1}', headers: auth });
  assert.equal(unknown.status, 400);
  assert.match((await unknown.json()).error, /unknown field "who"/);
});
