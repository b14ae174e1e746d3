/**
 * Queries (`kunai event query`): what a target accepts from the network (shape, size, deadline,
 * clock skew), which members are asked, and how a node answers: the stdout of its handler of
 * `query:NAME` with the payload on stdin, `no-handler`, a failure with its exit code, a timeout
 * within the asker's deadline, `busy` past QUERY_MAX_RUNNING, and nothing run for an unauthenticated
 * asker, who gets the same answer whether a handler exists or not.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { RealClock } from "../../lib/clock/mod.ts";
import { createHandlers } from "../../lib/handlers/mod.ts";
import {
  askQuery,
  checkQuestion,
  parseRequest,
  QUERY_MAX_RUNNING,
  QUERY_MAX_SENDING,
  QUERY_MAX_TIMEOUT_MS,
  QUERY_RESPONSE_BYTES,
  QUERY_SKEW_MS,
  type QueryRequest,
  queryTargets,
} from "../../lib/handlers/queries.ts";
import type { MemberRecord } from "../../lib/types.ts";
import { makeTestCtx, type TestCtx } from "../helpers.ts";
import { memberRecord } from "./fixtures.ts";

const NOW = 1_700_000_000_000;
const enc = (o: unknown) => new TextEncoder().encode(JSON.stringify(o));

function request(extra: Partial<QueryRequest> = {}): QueryRequest {
  return {
    v: 1,
    qid: crypto.randomUUID(),
    name: "uptime",
    payload: "",
    from: "web-2",
    from_uuid: "f".repeat(40),
    issued: NOW,
    deadline: NOW + 5000,
    ...extra,
  };
}

Deno.test("a question from the network: malformed, oversized, expired or from the future is refused", () => {
  assert.equal((parseRequest(enc(request()), NOW) as QueryRequest).name, "uptime");
  const cases: Array<[Uint8Array, RegExp]> = [
    [new Uint8Array([0xff, 0xfe]), /^malformed: not JSON/],
    [enc([1]), /^malformed: not an object/],
    [enc({ ...request(), v: 2 }), /^malformed: unknown version/],
    [enc(request({ name: "a b" })), /^malformed: name/],
    [enc(request({ payload: "p".repeat(1025) })), /^malformed: payload/],
    [enc(request({ qid: "q".repeat(65) })), /^malformed: qid/],
    [enc({ ...request(), issued: "now" }), /^malformed: issued/],
    [enc(request({ deadline: NOW })), /^malformed: deadline/],
    [enc(request({ deadline: NOW + QUERY_MAX_TIMEOUT_MS + 1 })), /^malformed: deadline/],
    [enc(request({ issued: NOW + 60_000, deadline: NOW + 61_000 })), /^expired: issued in the future/],
    [enc(request({ issued: NOW - 10_000, deadline: NOW - 1 })), /^expired$/],
  ];
  for (const [body, want] of cases) assert.match(parseRequest(body, NOW) as string, want);
});

Deno.test("the asker checks the name, the payload's size and the timeout before sending anything", () => {
  assert.throws(() => checkQuestion("a b", "", 5000), /query name "a b": 1-64 letters/);
  assert.throws(() => checkQuestion("x", "é".repeat(513), 5000), /payload of 1026 bytes: at most 1024/);
  assert.throws(() => checkQuestion("x", "", 50), /timeout of 50 ms: from 100 ms to 60 s/);
  assert.throws(() => checkQuestion("x", "", 61_000), /timeout/);
  checkQuestion("x", "é".repeat(512), 60_000);
});

Deno.test("targets: alive or suspect members, with the tag, among the names or uuids given", () => {
  const m = (name: string, state: MemberRecord["state"], tags: string[]): MemberRecord => ({
    ...memberRecord(`${name}-uuid`, name),
    state,
    tags,
  });
  const all = [
    m("c", "alive", ["web"]),
    m("a", "suspect", ["web"]),
    m("b", "dead", ["web"]),
    m("d", "alive", []),
  ];
  const names = (f: Parameters<typeof queryTargets>[1]) => queryTargets(all, f).map((x) => x.name);
  assert.deepEqual(names({}), ["a", "c", "d"]);
  assert.deepEqual(names({ tag: "web" }), ["a", "c"]);
  assert.deepEqual(names({ tag: "*" }), ["a", "c", "d"]);
  assert.deepEqual(names({ nodes: ["d", "c-uuid", "b"] }), ["c", "d"]);
});

/** A node's handlers; `ctx`: another run of the same node (its data dir). Dispose it at the end. */
function setup(handlers: Record<string, Record<string, unknown>>, keyed = true, ctx?: TestCtx) {
  const files: Record<string, unknown> = {};
  for (const [id, h] of Object.entries(handlers)) files[`handlers/${id}.json`] = { event_handler: h };
  ctx ??= makeTestCtx({ clock: new RealClock(), name: "web-1", files, tags: ["web"] });
  const logs: string[] = [];
  ctx.log = { ...ctx.log, warn: (m: string) => logs.push(`WARN ${m}`), info: () => {} };
  const self = { ...memberRecord(ctx.node.uuid, "web-1", "127.0.0.1"), tags: ["web"] };
  const h = createHandlers(ctx, {
    membership: { self: () => self, members: () => [self] },
    keyed: () => keyed,
  });
  const ask = async (q: QueryRequest) => JSON.parse(new TextDecoder().decode(await h.answerPeer(enc(q))));
  return { ctx, h, logs, ask, [Symbol.dispose]: () => ctx.cleanup() };
}

const now = () => Date.now();

Deno.test("a node answers with its handler's stdout (payload on stdin), its exit code, or no-handler", async () => {
  using s = setup({
    echo: { events: ["query:echo"], command: "printf 'got:'; cat; echo; echo \"$KUNAI_EVENT_NAME\"" },
    fail: { events: ["query:f*"], command: "echo half; exit 3" },
    big: { events: ["query:big"], command: `head -c ${QUERY_RESPONSE_BYTES + 100} /dev/zero | tr '\\0' x` },
    other: { events: ["*", "deploy"], command: "echo never" },
  });
  const { h, ask } = s;
  await h.start();
  try {
    const q = (name: string, payload = "") =>
      request({ name, payload, issued: now(), deadline: now() + 10_000 });
    let a = await ask(q("echo", "$(id) hello"));
    assert.equal(a.status, "ok");
    assert.equal(a.output, "got:$(id) hello\nquery:echo\n");
    assert.equal(a.node, "web-1");
    assert.equal(a.handler, "handlers/echo");
    a = await ask(q("fail"));
    assert.deepEqual([a.status, a.code, a.output], ["failed", 3, "half\n"]);
    a = await ask(q("big"));
    assert.deepEqual([a.status, a.output.length, a.truncated], ["ok", QUERY_RESPONSE_BYTES, true]);
    // `*` is every sent event, not a query
    a = await ask(q("deploy"));
    assert.equal(a.status, "no-handler");
    assert.equal(h.eventHandlers().find((x) => x.name === "handlers/other")!.runs, 0);
    // through the asking agent's own write route: answered locally, listed per node
    const r = await h.query("echo", "local", {}, 5000);
    assert.equal(r.targets, 1);
    assert.equal(r.answers[0].output, "got:local\nquery:echo\n");
  } finally {
    await h.stop();
  }
});

Deno.test("a handler slower than the asker's deadline is killed and reported as timeout", async () => {
  using s = setup({ slow: { events: ["query:slow"], command: "sleep 30", timeout: "60s" } });
  const { h, ask } = s;
  await h.start();
  try {
    const t0 = Date.now();
    const a = await ask(request({ name: "slow", issued: t0, deadline: t0 + 1500 }));
    assert.equal(a.status, "timeout");
    assert.equal(h.eventHandlers()[0].last?.timed_out, true);
  } finally {
    await h.stop();
  }
});

Deno.test(`past ${QUERY_MAX_RUNNING} questions running at once, the next is refused as busy`, async () => {
  using s = setup({ slow: { events: ["query:slow"], command: "sleep 1" } });
  const { h, ask } = s;
  await h.start();
  try {
    const t0 = Date.now();
    const q = () => ask(request({ name: "slow", issued: t0, deadline: t0 + 10_000 }));
    const running = Array.from({ length: QUERY_MAX_RUNNING }, q);
    await new Promise((r) => setTimeout(r, 100));
    const extra = await q();
    assert.equal(extra.status, "refused");
    assert.match(extra.error, /^busy: 4 queries running/);
    for (const a of await Promise.all(running)) assert.equal(a.status, "ok");
  } finally {
    await h.stop();
  }
});

Deno.test("bytes that are not a question are a 400 for the sender; a late question gets a refusal", async () => {
  using s = setup({});
  const { h } = s;
  await assert.rejects(
    () => h.answerPeer(new TextEncoder().encode("not an envelope")),
    /query refused: malformed/,
  );
  const late = JSON.parse(
    new TextDecoder().decode(
      await h.answerPeer(enc(request({ issued: now() - 10_000, deadline: now() - 1 }))),
    ),
  );
  assert.deepEqual([late.status, late.error], ["refused", "expired"]);
});

const seenFile = (ctx: TestCtx) => join(ctx.config.params.data, "query-seen.json");

Deno.test("a question a handler ran for is a replay in this run and the next; a damaged record refuses the older ones", async () => {
  const echo = { echo: { events: ["query:echo"], command: "echo ran" } };
  const first = setup(echo);
  const { ctx } = first;
  const q = request({ name: "echo", issued: now(), deadline: now() + 20_000 });
  await first.h.start();
  try {
    assert.equal((await first.ask(q)).status, "ok");
    const again = await first.ask(q);
    assert.deepEqual([again.status, again.error], ["refused", "replay: this question was answered before"]);
    assert.equal(first.h.eventHandlers()[0].runs, 1);
    assert.equal(Deno.statSync(seenFile(ctx)).mode! & 0o777, 0o600);
  } finally {
    await first.h.stop();
  }
  // the next run of the node: the question, captured and sent again, still runs nothing
  using next = setup(echo, true, ctx);
  await next.h.start();
  try {
    const replayed = await next.ask(q);
    assert.deepEqual([replayed.status, replayed.error], [
      "refused",
      "replay: this question was answered before",
    ]);
    assert.equal(next.h.eventHandlers()[0].runs, 0);
    assert.ok(next.logs.some((l) => /query echo from web-2 refused: replay/.test(l)), next.logs.join("\n"));
    const fresh = await next.ask(request({ name: "echo", issued: now(), deadline: now() + 20_000 }));
    assert.deepEqual([fresh.status, fresh.output], ["ok", "ran\n"]);
  } finally {
    await next.h.stop();
  }
  // a damaged record: a question issued before the start (plus the skew) may have been answered
  Deno.writeTextFileSync(seenFile(ctx), "{not json");
  const third = setup(echo, true, ctx);
  await third.h.start();
  try {
    assert.ok(
      third.logs.some((l) =>
        l.includes(`queries: ${seenFile(ctx)}: not JSON`) && /refused as possible replays/.test(l)
      ),
      third.logs.join("\n"),
    );
    const older = await third.ask(request({ name: "echo", issued: now() - 1000, deadline: now() + 20_000 }));
    assert.deepEqual([older.status, older.error], ["refused", "replay: this question was answered before"]);
    // a record that cannot be saved (the data dir is gone): refused, nothing runs
    Deno.removeSync(ctx.config.params.data, { recursive: true });
    const unsaved = await third.ask(
      request({ name: "echo", issued: now() + QUERY_SKEW_MS, deadline: now() + 40_000 }),
    );
    assert.equal(unsaved.status, "refused");
    assert.match(unsaved.error, /^unrecorded: /);
    assert.equal(third.h.eventHandlers()[0].runs, 0);
  } finally {
    await third.h.stop();
  }
});

Deno.test("without a cluster key a question from another agent runs nothing, handler or not", async () => {
  using s = setup({ echo: { events: ["query:echo"], command: "echo ran" } }, false);
  const { h, ask, logs } = s;
  await h.start();
  try {
    const t0 = Date.now();
    const withHandler = await ask(request({ name: "echo", issued: t0, deadline: t0 + 5000 }));
    const without = await ask(request({ name: "none", issued: t0, deadline: t0 + 5000 }));
    assert.equal(withHandler.status, "refused");
    assert.deepEqual(withHandler, without, "the asker cannot tell whether a handler exists");
    assert.equal(h.eventHandlers()[0].runs, 0);
    assert.equal(h.eventHandlers()[0].skipped_unauthenticated, 1);
    assert.ok(logs.some((l) => /refused query echo from web-2/.test(l)), logs.join("\n"));
    // the agent's own question still runs (its write route is authenticated)
    const r = await h.query("echo", "", {}, 5000);
    assert.equal(r.answers[0].output, "ran\n");
    assert.throws(
      () => Deno.statSync(seenFile(s.ctx)),
      Deno.errors.NotFound,
      "nothing written for the network",
    );
  } finally {
    await h.stop();
  }
});

Deno.test({
  name: "the asker sends at most QUERY_MAX_SENDING questions at once and checks every answer it gets back",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    let inFlight = 0, most = 0;
    const serve = (answer: () => Response, delayMs = 0) =>
      Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
        await req.arrayBuffer();
        inFlight++;
        most = Math.max(most, inFlight);
        await new Promise((r) => setTimeout(r, delayMs));
        inFlight--;
        return answer();
      });
    const servers = {
      good: serve(() => Response.json({ status: "ok", output: "fine", code: 0 }), 20),
      junk: serve(() => new Response("{not json")),
      odd: serve(() => Response.json({ status: "pwned" })),
      big: serve(() =>
        Response.json({ status: "ok", output: "y".repeat(QUERY_RESPONSE_BYTES * 2), node: "liar" })
      ),
      down: serve(() => new Response("no", { status: 500 })),
    };
    const at = (name: string, s: keyof typeof servers) => ({
      ...memberRecord(`${name}-uuid`, name, "127.0.0.1"),
      port: servers[s].addr.port,
    });
    const members = [
      ...Array.from({ length: 100 }, (_, i) => at(`m${String(i).padStart(3, "0")}`, "good")),
      at("x-junk", "junk"),
      at("x-odd", "odd"),
      at("x-big", "big"),
      at("x-down", "down"),
    ];
    try {
      const r = await askQuery(
        {
          selfUuid: "none",
          members: () => members,
          now: () => Date.now(),
          local: () => Promise.reject(new Error("not a target")),
          seal: (b) => Promise.resolve(b),
          open: (b) => Promise.resolve({ ok: true as const, plain: b }),
        },
        "who",
        "",
        {},
        10_000,
      );
      assert.equal(r.targets, 104);
      assert.ok(most > 1 && most <= QUERY_MAX_SENDING, `${most} at once`);
      assert.equal(r.answers.filter((a) => a.status === "ok").length, 101);
      const by = Object.fromEntries(r.answers.map((a) => [a.node, a]));
      assert.deepEqual([by["x-junk"].status, by["x-junk"].error], ["refused", "malformed answer"]);
      assert.deepEqual([by["x-odd"].status, by["x-odd"].error], ["refused", "malformed answer"]);
      // named by our membership, not by its claim; its output cut to the limit and said so
      assert.equal(by["x-big"].node, "x-big");
      assert.equal(by["x-big"].output!.length, QUERY_RESPONSE_BYTES);
      assert.equal(by["x-big"].truncated, true);
      assert.equal(by["x-down"].status, "refused");
      assert.match(by["x-down"].error!, /^HTTP 500: no/);
    } finally {
      for (const s of Object.values(servers)) await s.shutdown();
    }
  },
});
