/**
 * Event handlers (`event_handler` objects): the command runs with the payload on stdin and the
 * event in its environment, never in its command line, and without the agent's environment;
 * events from other agents run nothing unless gossip is sealed with a cluster key; name patterns
 * and `apply_on`; one run at a time with a bounded queue; the timeout kills the process group;
 * bad definitions are configuration errors naming the field; the read route shows no command.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { RealClock } from "../../lib/clock/mod.ts";
import { ConfigError, resolveConfig } from "../../lib/config/mod.ts";
import { createHandlers } from "../../lib/handlers/mod.ts";
import { EventHandlers, MAX_QUEUED } from "../../lib/handlers/event_handlers.ts";
import { matchesEvent } from "../../lib/handlers/event_handler_def.ts";
import type { ShellResult } from "../../lib/process/mod.ts";
import type { ClusterEventRecord } from "../../lib/types.ts";
import { makeTestCtx, tempDir, until } from "../helpers.ts";
import { memberRecord } from "./fixtures.ts";

/** What a command that ran and exited 0 gives (the fake runners' answer). */
const DONE: ShellResult = {
  code: 0,
  signal: null,
  stdout: new Uint8Array(),
  stderr: new Uint8Array(),
  dropped: { stdout: 0, stderr: 0 },
  timedOut: false,
  durationMs: 1,
};

let seq = 0;
function event(name: string, payload = "", extra: Partial<ClusterEventRecord> = {}): ClusterEventRecord {
  return {
    id: `id-${++seq}`,
    name,
    payload,
    from: "web-2",
    from_uuid: "f".repeat(40),
    at: 1_700_000_000_000,
    received: Date.now(),
    authenticated: true,
    ...extra,
  };
}

function setup(
  handlers: Record<string, Record<string, unknown>>,
  opts: { keyed?: boolean; tags?: string[] } = {},
) {
  const files: Record<string, unknown> = {};
  for (const [id, h] of Object.entries(handlers)) files[`handlers/${id}.json`] = { event_handler: h };
  const ctx = makeTestCtx({ clock: new RealClock(), name: "web-1", files, tags: opts.tags ?? [] });
  const logs: string[] = [];
  const base = ctx.log;
  ctx.log = {
    ...base,
    info: (m: string) => logs.push(`INFO ${m}`),
    warn: (m: string) => logs.push(`WARN ${m}`),
    error: (m: string) => logs.push(`ERROR ${m}`),
  };
  const self = memberRecord(ctx.node.uuid, "web-1");
  const h = createHandlers(ctx, { membership: { self: () => self }, keyed: () => opts.keyed ?? true });
  return { ctx, h, logs };
}

Deno.test("the payload reaches the command on stdin and the event in its environment, never in the command line", async () => {
  const t = tempDir("kunai-evh-");
  const out = join(t.dir, "out");
  Deno.mkdirSync(out);
  const { ctx, h, logs } = setup({
    deploy: {
      events: ["deploy"],
      command: `cat > ${out}/stdin; env > ${out}/env; echo done "$KUNAI_EVENT_NAME"`,
    },
  });
  try {
    await h.start();
    const payload = `v42 $(touch ${out}/pwned) \`touch ${out}/pwned2\`; touch ${out}/pwned3 'x"`;
    ctx.bus.emit("cluster.event", event("deploy", payload));
    await until("the handler ran", () => h.eventHandlers()[0].runs === 1, 10_000);
    assert.equal(Deno.readTextFileSync(join(out, "stdin")), payload);
    for (const f of ["pwned", "pwned2", "pwned3"]) {
      assert.ok(!existsSync(join(out, f)), `${f} must not exist`);
    }
    const env = Object.fromEntries(
      Deno.readTextFileSync(join(out, "env")).trim().split("\n").map((
        l,
      ) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
    );
    assert.equal(env.KUNAI_EVENT_NAME, "deploy");
    assert.equal(env.KUNAI_EVENT_FROM, "web-2");
    assert.equal(env.KUNAI_EVENT_FROM_UUID, "f".repeat(40));
    assert.equal(env.KUNAI_EVENT_AT, "1700000000000");
    assert.equal(env.KUNAI_SELF_NAME, "web-1");
    assert.equal(env.KUNAI_SELF_UUID, ctx.node.uuid);
    assert.ok(env.PATH.startsWith("/usr/local/sbin:"));
    // nothing of the agent's environment (a KUNAI_HTTP_TOKEN, DENO_DIR...): only what runEnv gives, and sh's own
    const shells = ["PWD", "SHLVL", "_", "OLDPWD"];
    const extra = Object.keys(env).filter((k) =>
      !["PATH", "LANG", "HOME", ...shells].includes(k) && !/^KUNAI_(EVENT|SELF)_[A-Z_]+$/.test(k)
    );
    assert.deepEqual(extra, [], "the agent's environment stays out of the command's");
    assert.ok(
      Object.keys(Deno.env.toObject()).some((k) => !(k in env)),
      "the test's own environment differs",
    );
    const view = h.eventHandlers()[0];
    assert.equal(view.name, "handlers/deploy");
    assert.equal(view.failures, 0);
    assert.equal(view.last?.event, "deploy");
    assert.equal(view.last?.code, 0);
    assert.ok(!("command" in view), "the read view hides the command");
    assert.ok(
      logs.some((l) =>
        /^INFO event handler handlers\/deploy for event deploy from web-2: exit 0 in \d+ ms: done deploy$/
          .test(l)
      ),
      logs.join("\n"),
    );
  } finally {
    await h.stop();
    ctx.cleanup();
    t.cleanup();
  }
});

Deno.test("a sender name with a NUL (no environment can hold one) still runs the handler", async () => {
  const t = tempDir("kunai-evh-");
  const out = join(t.dir, "from");
  const { ctx, h } = setup({
    deploy: { events: ["deploy"], command: `printf %s "$KUNAI_EVENT_FROM" > ${out}` },
  });
  try {
    await h.start();
    ctx.bus.emit("cluster.event", event("deploy", "", { from: "web\u00002", from_uuid: "f\u0000" }));
    await until("the handler ran", () => h.eventHandlers()[0].runs === 1, 10_000);
    assert.equal(h.eventHandlers()[0].failures, 0, "it started");
    assert.equal(Deno.readTextFileSync(out), "web 2");
  } finally {
    await h.stop();
    ctx.cleanup();
    t.cleanup();
  }
});

function existsSync(p: string): boolean {
  try {
    Deno.statSync(p);
    return true;
  } catch {
    return false;
  }
}

Deno.test("an unauthenticated event from another agent runs nothing: counted, logged once, warned at start", async () => {
  const t = tempDir("kunai-evh-");
  const { ctx, h, logs } = setup({ deploy: { events: ["*"], command: `touch ${t.dir}/ran` } }, {
    keyed: false,
  });
  try {
    await h.start();
    assert.ok(
      logs.some((l) =>
        /^WARN event handlers handlers\/deploy run only for events sent by this agent: without encryption_key/
          .test(l)
      ),
      logs.join("\n"),
    );
    ctx.bus.emit("cluster.event", event("deploy", "", { authenticated: false }));
    ctx.bus.emit("cluster.event", event("other", "", { authenticated: false }));
    const v = h.eventHandlers()[0];
    assert.equal(v.skipped_unauthenticated, 2);
    assert.equal(v.runs, 0);
    assert.equal(logs.filter((l) => /skipped event/.test(l)).length, 1, "logged once per handler");
    assert.equal(
      ctx.counters.get("event_handler_skipped_total", { handler: "handlers/deploy", why: "unauthenticated" }),
      2,
    );
    // the same agent's own event (authenticated: sent through its write route) runs it
    ctx.bus.emit("cluster.event", event("deploy"));
    await until("the local event ran the handler", () => existsSync(join(t.dir, "ran")), 10_000);
  } finally {
    await h.stop();
    ctx.cleanup();
    t.cleanup();
  }
});

Deno.test("event names: exact, prefix* and *; apply_on limits a handler to nodes with that tag", async () => {
  assert.ok(matchesEvent(["deploy"], "deploy"));
  assert.ok(!matchesEvent(["deploy"], "deploy-web"));
  assert.ok(matchesEvent(["deploy-*"], "deploy-web"));
  assert.ok(matchesEvent(["deploy-*"], "deploy-"));
  assert.ok(!matchesEvent(["deploy-*"], "deploy"));
  assert.ok(matchesEvent(["x", "*"], "anything"));
  const t = tempDir("kunai-evh-");
  const { ctx, h } = setup({
    web: { events: ["deploy-*"], command: `echo "$KUNAI_EVENT_NAME" >> ${t.dir}/web` },
    db: { events: ["deploy-*"], command: `echo "$KUNAI_EVENT_NAME" >> ${t.dir}/db`, apply_on: "db" },
  }, { tags: ["web"] });
  try {
    await h.start();
    ctx.bus.emit("cluster.event", event("deploy"));
    ctx.bus.emit("cluster.event", event("deploy-web"));
    ctx.bus.emit("cluster.event", event("deploy-all"));
    await until(
      "two runs",
      () => h.eventHandlers().find((v) => v.name === "handlers/web")!.runs === 2,
      10_000,
    );
    assert.equal(Deno.readTextFileSync(join(t.dir, "web")), "deploy-web\ndeploy-all\n", "in arrival order");
    const db = h.eventHandlers().find((v) => v.name === "handlers/db")!;
    assert.equal(db.applies, false);
    assert.equal(db.runs, 0);
    assert.ok(!existsSync(join(t.dir, "db")));
  } finally {
    await h.stop();
    ctx.cleanup();
    t.cleanup();
  }
});

Deno.test("one run at a time per handler; past MAX_QUEUED waiting events the rest are dropped and counted", async () => {
  using ctx = makeTestCtx({
    clock: new RealClock(),
    files: { "h.json": { event_handler: { events: ["e"], command: "true" } } },
  });
  let running = 0, most = 0, calls = 0;
  const gates: Array<() => void> = [];
  const fake = async (): Promise<ShellResult> => {
    calls++;
    running++;
    most = Math.max(most, running);
    await new Promise<void>((r) => gates.push(r));
    running--;
    return DONE;
  };
  const eh = new EventHandlers(ctx, () => true, fake);
  for (let i = 0; i < MAX_QUEUED + 5; i++) eh.onEvent(event("e"));
  let v = eh.list()[0];
  assert.equal(v.running, true);
  assert.equal(v.queued, MAX_QUEUED);
  assert.equal(v.dropped, 4, "one running, MAX_QUEUED waiting, the rest dropped");
  while (calls < MAX_QUEUED + 1 || gates.length) {
    await until("a run waiting", () => gates.length > 0, 5000);
    gates.shift()!();
    await new Promise((r) => setTimeout(r, 0));
  }
  await until("all ran", () => eh.list()[0].runs === MAX_QUEUED + 1 && !eh.list()[0].running, 5000);
  v = eh.list()[0];
  assert.equal(most, 1);
  assert.equal(v.queued, 0);
  assert.equal(ctx.counters.get("event_handler_dropped_total", { handler: "h" }), 4);
  eh.stop();
});

Deno.test("a command past its timeout is killed with its whole process group, and reported as such", async () => {
  const t = tempDir("kunai-evh-");
  const { ctx, h, logs } = setup({
    slow: { events: ["e"], command: `sleep 30 & echo $! > ${t.dir}/child; wait`, timeout: "400ms" },
  });
  try {
    await h.start();
    ctx.bus.emit("cluster.event", event("e"));
    await until("the run ended", () => h.eventHandlers()[0].runs === 1, 10_000);
    const v = h.eventHandlers()[0];
    assert.equal(v.last?.timed_out, true);
    assert.equal(v.failures, 1);
    const child = Number(Deno.readTextFileSync(join(t.dir, "child")).trim());
    await until(
      "the background child is gone",
      () => !existsSync(`/proc/${child}`) || /\) Z /.test(Deno.readTextFileSync(`/proc/${child}/stat`)),
      5000,
    );
    assert.ok(
      logs.some((l) =>
        /^WARN event handler handlers\/slow for event e from web-2: killed after its timeout of 400 ms/.test(
          l,
        )
      ),
      logs.join("\n"),
    );
  } finally {
    await h.stop();
    ctx.cleanup();
    t.cleanup();
  }
});

Deno.test("bad event_handler definitions are configuration errors naming the file and field", () => {
  const cases: Array<[Record<string, unknown>, RegExp]> = [
    [{ events: [], command: "true" }, /events: expected a non-empty list of event names/],
    [{ events: ["bad name"], command: "true" }, /events\[0\]: "bad name" is not an event name/],
    [{ events: ["a*b"], command: "true" }, /events\[0\]: "a\*b" is not an event name/],
    [{ events: ["deploy"] }, /command/],
    [{ events: ["deploy"], command: "true", timeout: "5ms" }, /timeout/],
  ];
  for (const [def, want] of cases) {
    const t = tempDir("kunai-evh-cfg-");
    Deno.writeTextFileSync(join(t.dir, "local.json"), JSON.stringify({ data: join(t.dir, "data") }));
    Deno.mkdirSync(join(t.dir, "handlers"));
    Deno.writeTextFileSync(join(t.dir, "handlers", "deploy.json"), JSON.stringify({ event_handler: def }));
    try {
      assert.throws(() => resolveConfig({ cfgDir: t.dir, env: { HOME: t.dir } }), (err: unknown) => {
        assert.ok(err instanceof ConfigError, String(err));
        assert.match(err.message, /handlers\/deploy\.json/);
        assert.match(err.message, want);
        return true;
      }, JSON.stringify(def));
    } finally {
      t.cleanup();
    }
  }
});

Deno.test("a reload keeps a remaining handler's counters and queue, adds new handlers, drops removed ones", async () => {
  using ctx = makeTestCtx({
    clock: new RealClock(),
    files: { "a.json": { event_handler: { events: ["x"], command: "true" } } },
  });
  const eh = new EventHandlers(ctx, () => true, () => Promise.resolve(DONE));
  eh.onEvent(event("x"));
  await until("a ran", () => eh.list()[0].runs === 1);
  const a = ctx.config.objects.event_handler["a"];
  ctx.config.objects.event_handler = {
    a: { ...a, value: { ...(a.value as Record<string, unknown>), events: ["x", "y"] } },
    b: { ...a, id: "b", value: { events: ["y"], command: "true", timeout: 1000 } },
  };
  eh.reload();
  assert.deepEqual(eh.list().map((v) => [v.name, v.events, v.runs]), [["a", ["x", "y"], 1], ["b", ["y"], 0]]);
  eh.onEvent(event("y"));
  await until("both ran", () => eh.list().every((v) => v.runs >= 1) && eh.list()[0].runs === 2);
  ctx.config.objects.event_handler = { b: ctx.config.objects.event_handler["b"] };
  eh.reload();
  assert.deepEqual(eh.list().map((v) => v.name), ["b"]);
  eh.stop();
});

Deno.test("a reload while a handler's command runs: its later events still run, with the new command", async () => {
  using ctx = makeTestCtx({
    clock: new RealClock(),
    files: { "a.json": { event_handler: { events: ["x"], command: "echo old" } } },
  });
  const ran: string[] = [];
  const gates: Array<() => void> = [];
  const fake = async (command: string): Promise<ShellResult> => {
    ran.push(command);
    await new Promise<void>((r) => gates.push(r));
    return DONE;
  };
  const eh = new EventHandlers(ctx, () => true, fake);
  eh.onEvent(event("x"));
  await until("the first run started", () => gates.length === 1);
  const a = ctx.config.objects.event_handler["a"];
  ctx.config.objects.event_handler = {
    a: { ...a, value: { ...(a.value as Record<string, unknown>), command: "echo new" } },
  };
  eh.reload(); // while "echo old" runs
  eh.onEvent(event("x")); // waits for the run in progress
  gates.shift()!();
  await until("the second run started", () => gates.length === 1);
  gates.shift()!();
  await until("idle", () => !eh.list()[0].running);
  eh.onEvent(event("x")); // after the reload's run ended: must run, not wait forever
  await until("the third run started", () => gates.length === 1, 5000);
  gates.shift()!();
  await until("three runs counted", () => eh.list()[0].runs === 3 && !eh.list()[0].running);
  assert.deepEqual(ran, ["echo old", "echo new", "echo new"]);
  assert.equal(eh.list()[0].queued, 0);
  eh.stop();
});

Deno.test("a reload while events wait: only those the new definition still wants are run", async () => {
  using ctx = makeTestCtx({
    clock: new RealClock(),
    files: { "a.json": { event_handler: { events: ["deploy*"], command: "echo deploy" } } },
  });
  const ran: string[] = [];
  const gates: Array<() => void> = [];
  const fake = async (_command: string, o?: { env?: Record<string, string> }): Promise<ShellResult> => {
    ran.push(String(o?.env?.KUNAI_EVENT_NAME ?? "?"));
    await new Promise<void>((r) => gates.push(r));
    return DONE;
  };
  const eh = new EventHandlers(ctx, () => true, fake as never);
  eh.onEvent(event("deploy-a"));
  await until("the first run started", () => gates.length === 1);
  eh.onEvent(event("deploy-b"));
  eh.onEvent(event("deploy-c"));
  assert.equal(eh.list()[0].queued, 2);
  const a = ctx.config.objects.event_handler["a"];
  ctx.config.objects.event_handler = {
    a: { ...a, value: { ...(a.value as Record<string, unknown>), events: ["deploy-c"] } },
  };
  eh.reload(); // deploy-b no longer concerns this handler
  assert.equal(eh.list()[0].queued, 1);
  gates.shift()!();
  await until("the second run started", () => gates.length === 1);
  gates.shift()!();
  await until("idle", () => !eh.list()[0].running);
  assert.deepEqual(ran, ["deploy-a", "deploy-c"]);
  eh.stop();
});
