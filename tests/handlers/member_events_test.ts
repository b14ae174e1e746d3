/**
 * Membership events for event handlers: `member.*` changes are batched per quiet period into one
 * run per event name with one line per node on stdin; a node's latest change wins; an update counts
 * only when what a handler acts on changed; `*` does not catch them and `member-*` catches nothing
 * else; without a cluster key they run nothing; bad names are configuration or send errors.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { RealClock, VirtualClock } from "../../lib/clock/mod.ts";
import { ConfigError, resolveConfig } from "../../lib/config/mod.ts";
import { createHandlers } from "../../lib/handlers/mod.ts";
import { matchesEvent } from "../../lib/handlers/event_handler_def.ts";
import {
  MEMBER_MAX_WAIT_MS,
  MEMBER_QUIET_MS,
  MemberEventBatcher,
  type MemberEventName,
  memberLine,
} from "../../lib/handlers/member_events.ts";
import type { MemberRecord } from "../../lib/types.ts";
import { makeTestCtx, tempDir, until } from "../helpers.ts";
import { memberRecord } from "./fixtures.ts";

function node(i: number, extra: Partial<MemberRecord> = {}): MemberRecord {
  return { ...memberRecord(String(i).padStart(8, "0"), `n${i}`, `127.0.0.${i}`), ...extra };
}

function batcher() {
  const clock = new VirtualClock();
  const got: Array<[MemberEventName, string[]]> = [];
  const b = new MemberEventBatcher(clock, (name, recs) => got.push([name, recs.map((r) => r.name)]));
  return { clock, got, b };
}

Deno.test("a join storm is one batch, delivered once the membership is quiet, nodes sorted by name", async () => {
  const { clock, got, b } = batcher();
  for (const i of [3, 1, 2]) {
    b.change("member.joined", node(i));
    await clock.advance(MEMBER_QUIET_MS - 100);
  }
  assert.deepEqual(got, [], "still arriving: nothing delivered");
  await clock.advance(100);
  assert.deepEqual(got, [["member-join", ["n1", "n2", "n3"]]]);
  b.change("member.dead", node(2));
  b.change("member.left", node(3));
  await clock.advance(MEMBER_QUIET_MS);
  assert.deepEqual(got.slice(1), [["member-leave", ["n3"]], ["member-failed", ["n2"]]]);
});

Deno.test("a change that never stops is delivered MEMBER_MAX_WAIT_MS after the first", async () => {
  const { clock, got, b } = batcher();
  const start = clock.now();
  let deliveredAt = -1;
  for (let i = 1; i < 100 && deliveredAt < 0; i++) {
    b.change("member.joined", node(i));
    await clock.advance(MEMBER_QUIET_MS / 2);
    if (got.length) deliveredAt = clock.now() - start;
  }
  assert.equal(deliveredAt, MEMBER_MAX_WAIT_MS);
  assert.equal(got.length, 1);
  assert.equal(got[0][1].length, MEMBER_MAX_WAIT_MS / (MEMBER_QUIET_MS / 2));
});

Deno.test("a node's latest change in a batch wins; the one it was last reported with is not repeated", async () => {
  const { clock, got, b } = batcher();
  b.change("member.joined", node(1));
  b.change("member.dead", node(1));
  await clock.advance(MEMBER_QUIET_MS);
  assert.deepEqual(got, [["member-failed", ["n1"]]]);
  // failed, then back and failed again within one batch: still failed, nothing new to tell
  b.change("member.joined", node(1));
  b.change("member.dead", node(1));
  await clock.advance(MEMBER_QUIET_MS);
  assert.deepEqual(got.length, 1);
  b.change("member.joined", node(1));
  await clock.advance(MEMBER_QUIET_MS);
  assert.deepEqual(got[1], ["member-join", ["n1"]]);
});

Deno.test("member-update: tags, address, services or maintenance, not a check's state or an incarnation", async () => {
  const { clock, got, b } = batcher();
  b.change("member.joined", node(1));
  await clock.advance(MEMBER_QUIET_MS);
  got.length = 0;
  const svc = { http: { name: "http", check: { state: "ok" } } };
  b.change("member.updated", node(1, { incarnation: 5 }));
  await clock.advance(MEMBER_QUIET_MS);
  assert.deepEqual(got, [], "a bumped incarnation alone (a refuted suspicion) is no update");
  const steps: Array<[Partial<MemberRecord>, boolean]> = [
    [{ tags: ["web"] }, true],
    [{ tags: ["web"], incarnation: 9 }, false],
    [{ tags: ["web"], services: svc }, true],
    [{ tags: ["web"], services: { http: { name: "http", check: { state: "critical" } } } }, false],
    [{ tags: ["web"], services: svc, addr: "127.0.0.9" }, true],
    [
      {
        tags: ["web"],
        services: svc,
        addr: "127.0.0.9",
        maintenance: { reason: "r", since: 1, until: null },
      },
      true,
    ],
  ];
  for (const [extra, reported] of steps) {
    got.length = 0;
    b.change("member.updated", node(1, extra));
    await clock.advance(MEMBER_QUIET_MS);
    assert.deepEqual(got, reported ? [["member-update", ["n1"]]] : [], JSON.stringify(extra));
  }
  // a node first seen through an update (joined before the handlers started) sets the baseline
  got.length = 0;
  b.change("member.updated", node(7, { tags: ["db"] }));
  await clock.advance(MEMBER_QUIET_MS);
  assert.deepEqual(got, []);
  b.change("member.reaped", node(1));
  await clock.advance(MEMBER_QUIET_MS);
  assert.deepEqual(got, [["member-reap", ["n1"]]]);
});

Deno.test("a member line is NAME, ADDR, UUID, TAGS separated by tabs; no field can break the line", () => {
  assert.equal(memberLine(node(1, { tags: ["web", "linux"] })), "n1\t127.0.0.1\t00000001\tweb,linux");
  assert.equal(memberLine(node(1)), "n1\t127.0.0.1\t00000001\t");
  const evil = memberLine(node(2, { name: "x\ny\tz\u0000", tags: ["a\nb"] }));
  assert.equal(evil.split("\n").length, 1);
  assert.equal(evil.split("\t").length, 4);
});

Deno.test("a member line stays one line for CPython's splitlines (U+0085, U+2028, U+2029 in a forged name)", async () => {
  // a handler in Python reading `sys.stdin.read().splitlines()` saw a second, forged node in one name
  const forged = node(2, {
    name: "x\u2028evil\t10.6.6.6\tbeef\tadmin\u0085y\u2029z\u001c",
    addr: "10.0.0.2\u2028",
    tags: ["a\u0085b"],
  });
  const stdin = [node(1), forged].map((m) => memberLine(m) + "\n").join("");
  const out = await new Deno.Command("python3", {
    args: [
      "-c",
      "import sys, json; print(json.dumps([l.split('\\t') for l in sys.stdin.read().splitlines()]))",
    ],
    stdin: "piped",
    stdout: "piped",
  }).spawn();
  const w = out.stdin.getWriter();
  await w.write(new TextEncoder().encode(stdin));
  await w.close();
  const lines = JSON.parse(new TextDecoder().decode((await out.output()).stdout)) as string[][];
  assert.equal(lines.length, 2, JSON.stringify(lines));
  assert.deepEqual(lines.map((l) => l.length), [4, 4]);
  assert.equal(lines[1][0], "x evil 10.6.6.6 beef admin y z ");
  assert.deepEqual(lines[1].slice(1), ["10.0.0.2 ", "00000002", "a b"]);
});

Deno.test("patterns: member-* and member names catch membership events only; * and prefixes do not", () => {
  assert.ok(matchesEvent(["member-join"], "member-join"));
  assert.ok(matchesEvent(["member-*"], "member-failed"));
  assert.ok(!matchesEvent(["member-join"], "member-leave"));
  assert.ok(!matchesEvent(["*"], "member-join"));
  assert.ok(!matchesEvent(["mem*", "m*"], "member-join"));
  assert.ok(!matchesEvent(["member-*"], "deploy"));
  assert.ok(matchesEvent(["*"], "deploy"));
});

function setup(events: string[], out: string, keyed: boolean) {
  const files = {
    "handlers/members.json": {
      event_handler: {
        events,
        command: `cat > ${out}/"$KUNAI_EVENT_NAME"; env > ${out}/"$KUNAI_EVENT_NAME.env"`,
      },
    },
  };
  const ctx = makeTestCtx({ clock: new RealClock(), name: "web-1", files });
  const logs: string[] = [];
  ctx.log = { ...ctx.log, warn: (m: string) => logs.push(`WARN ${m}`), info: () => {} };
  const self = memberRecord(ctx.node.uuid, "web-1");
  const h = createHandlers(ctx, { membership: { self: () => self }, keyed: () => keyed });
  return { ctx, h, logs };
}

Deno.test("with a cluster key, a batch of joins runs the handler once: one line per node on stdin", async () => {
  const t = tempDir("kunai-memev-");
  const { ctx, h } = setup(["member-join", "member-failed"], t.dir, true);
  try {
    await h.start();
    ctx.bus.emit("member.joined", memberRecord(ctx.node.uuid, "web-1")); // ourselves: never reported
    for (const i of [2, 3]) ctx.bus.emit("member.joined", node(i, { tags: ["web"] }));
    ctx.bus.emit("cluster.event", {
      id: "e1",
      name: "member-join",
      payload: "forged",
      from: "x",
      from_uuid: "x",
      at: 1,
      received: 1,
      authenticated: true,
    });
    await until("the handler ran", () => h.eventHandlers()[0].runs === 1, 10_000);
    assert.equal(
      Deno.readTextFileSync(join(t.dir, "member-join")),
      "n2\t127.0.0.2\t00000002\tweb\nn3\t127.0.0.3\t00000003\tweb\n",
    );
    const env = Deno.readTextFileSync(join(t.dir, "member-join.env"));
    assert.match(env, /^KUNAI_EVENT_FROM=web-1$/m);
    assert.match(env, /^KUNAI_EVENT_ID=member-join-\d+-1$/m);
    ctx.bus.emit("member.dead", node(3));
    await until("the failure ran", () => h.eventHandlers()[0].runs === 2, 10_000);
    assert.equal(Deno.readTextFileSync(join(t.dir, "member-failed")), "n3\t127.0.0.3\t00000003\t\n");
    assert.equal(h.eventHandlers()[0].runs, 2, "the user event named member-join ran nothing");
  } finally {
    await h.stop();
    ctx.cleanup();
    t.cleanup();
  }
});

Deno.test("without a cluster key, membership events run nothing: skipped, counted, warned", async () => {
  const t = tempDir("kunai-memev-");
  const { ctx, h, logs } = setup(["member-*"], t.dir, false);
  try {
    await h.start();
    assert.ok(
      logs.some((l) =>
        /run only for events sent by this agent: .*membership events and queries from other agents run nothing/
          .test(l)
      ),
      logs.join("\n"),
    );
    ctx.bus.emit("member.joined", node(2));
    await until("the skip was counted", () => h.eventHandlers()[0].skipped_unauthenticated === 1, 10_000);
    assert.equal(h.eventHandlers()[0].runs, 0);
    assert.ok(logs.some((l) => /skipped event member-join .*membership events/.test(l)), logs.join("\n"));
  } finally {
    await h.stop();
    ctx.cleanup();
    t.cleanup();
  }
});

Deno.test("an event_handler naming an unknown membership event is a configuration error", () => {
  const t = tempDir("kunai-memev-cfg-");
  Deno.writeTextFileSync(join(t.dir, "local.json"), JSON.stringify({ data: join(t.dir, "data") }));
  Deno.mkdirSync(join(t.dir, "handlers"));
  const write = (events: string[]) =>
    Deno.writeTextFileSync(
      join(t.dir, "handlers", "m.json"),
      JSON.stringify({ event_handler: { events, command: "true" } }),
    );
  try {
    write(["member-joined"]);
    assert.throws(() => resolveConfig({ cfgDir: t.dir, env: { HOME: t.dir } }), (err: unknown) => {
      assert.ok(err instanceof ConfigError, String(err));
      assert.match(err.message, /handlers\/m\.json/);
      assert.match(
        err.message,
        /events\[0\]: "member-joined": membership events are member-join, member-leave/,
      );
      return true;
    });
    write(["member-join", "member-*", "deploy"]);
    resolveConfig({ cfgDir: t.dir, env: { HOME: t.dir } });
  } finally {
    t.cleanup();
  }
});
