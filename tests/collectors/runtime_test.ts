/**
 * The collectors subsystem with a test Worker: scheduling, sandbox denials, kept results on
 * failure, timeouts, no overlap, persistence, bus events and the /collectors routes.
 */
import assert from "node:assert/strict";
import {
  CollectorRuntime,
  createCollectors,
  type GroupSpec,
  SLOW_COLLECTORS,
} from "../../lib/collectors/mod.ts";
import { NO_PERMISSIONS, Sandbox } from "../../lib/sandbox/mod.ts";
import { RealClock, VirtualClock } from "../../lib/clock/mod.ts";
import { steppedClock } from "../clock_step.ts";
import { silentLogger } from "../../lib/log/mod.ts";
import { makeTestCtx, until } from "../helpers.ts";
import { fill } from "../store/fill.ts";
import { buildApp } from "../../lib/http/mod.ts";
import type { CollectorResultEvent } from "../../lib/types.ts";

const testGroup = (collectors: string[]): GroupSpec[] => [{
  name: "collectors-test",
  module: new URL("../fixtures/collectors/test_worker.ts", import.meta.url),
  permissions: { ...NO_PERMISSIONS },
  brokerAllow: ["/proc/loadavg"],
  collectors,
}];

function ctxWith(collectors: Record<string, unknown>) {
  return makeTestCtx({ clock: new RealClock(), params: { collectors } });
}

Deno.test("sandbox: a collector reading outside its grant is inactive with the reason; the rest keeps running", async () => {
  const ctx = ctxWith({ interval: "150ms", timeout: "2s" });
  const c = createCollectors(ctx, { groups: testGroup(["good", "nosy", "direct"]) });
  const events: CollectorResultEvent[] = [];
  ctx.bus.on("collector.result", (e) => events.push(e));
  try {
    await c.start();
    await until("3 results from good", () => ((c.get("good")?.count as number) ?? 0) >= 3, 5000);
    await until(
      "a first run of nosy and direct",
      () => c.entry("nosy")!.last_check > 0 && c.entry("direct")!.last_check > 0,
      5000,
    );
    const nosy = c.entry("nosy")!;
    assert.equal(nosy.active, false);
    assert.match(nosy.log, /permission denied/);
    assert.match(nosy.log, /\/etc\/shadow/);
    assert.equal(nosy.results, null);
    const direct = c.entry("direct")!;
    assert.equal(direct.active, false);
    assert.match(direct.log, /permission denied.*(read|--allow)/i);
    assert.equal(c.entry("good")!.active, true);
    assert.ok(events.some((e) => e.name === "nosy" && !e.active));
    assert.ok(ctx.sink.recent.WARNING.some((l) => /broker refused read of \/etc\/shadow/.test(l)));
    assert.deepEqual(c.info().nosy, { name: "nosy", active: false, log: nosy.log });
  } finally {
    await c.stop();
    ctx.cleanup();
  }
});

Deno.test("runtime: failures keep the previous results; metrics and bus points use <node>.<collector>.<path>", async () => {
  const ctx = ctxWith({ interval: "1h", timeout: "2s" });
  const c = createCollectors(ctx, { groups: testGroup(["good"]) });
  const points: Array<[string, number, number]> = [];
  ctx.bus.on("metrics.points", (p) => points.push(...p.points));
  try {
    const e1 = await c.runOnce("good");
    assert.equal(e1.active, true);
    assert.deepEqual(e1.metrics, [["count", 1], ["ok", 1], ["nested.value", 1.5]]);
    assert.deepEqual(points.map((p) => p[0]), [
      "test-node.good.count",
      "test-node.good.ok",
      "test-node.good.nested.value",
    ]);
    assert.equal(c.get("good")?.count, 1, "the subsystem is the results view lib/agent.ts hands out");
    // break it: the next run fails, results stay
    await ctx.sandbox.workers()[0].call("breakGood");
    const e2 = await c.runOnce("good");
    assert.equal(e2.active, false);
    assert.match(e2.log, /good broke on purpose/);
    assert.deepEqual(e2.results, e1.results);
    assert.equal(points.length, 3, "no points from a failed run");
  } finally {
    await c.stop();
    ctx.cleanup();
  }
});

Deno.test("runtime: a run longer than the timeout fails; runs never overlap", async () => {
  const ctx = ctxWith({ interval: "1h", timeout: "300ms" });
  const c = createCollectors(ctx, { groups: testGroup(["slow", "good"]) });
  try {
    assert.equal((await c.runOnce("good")).active, true, "Worker started before timing");
    const a = c.runOnce("slow");
    const b = c.runOnce("slow");
    assert.equal(a, b, "a second run joins the one in flight");
    const t0 = Date.now();
    const e = await a;
    assert.ok(Date.now() - t0 < 2000);
    assert.equal(e.active, false);
    assert.match(e.log, /longer than 300 ms/);
    // the timed-out call is still running in the Worker: the next run is skipped, not stacked
    const again = await c.runOnce("slow");
    assert.match(again.log, /previous run has not finished/);
    // the Worker is still usable for the other collectors of the group
    assert.equal((await c.runOnce("good")).results!.count, 2);
  } finally {
    await c.stop();
    ctx.cleanup();
  }
});

Deno.test("runtime: results are persisted and restored at start; routes answer the reference shape", async () => {
  const ctx = ctxWith({ interval: "1h", timeout: "2s", disabled: ["nosy"] });
  try {
    const c1 = createCollectors(ctx, { groups: testGroup(["good", "nosy"]) });
    await c1.runOnce("good");
    await c1.runOnce("good");
    await c1.stop();
    const saved = ctx.store.open("collectors").get<{ entry: string }>(
      "SELECT entry FROM collector_results WHERE name = 'good'",
    )!;
    assert.equal(JSON.parse(saved.entry).metrics, undefined, "the flattened metrics are not stored");
    const c2 = createCollectors(ctx, { groups: testGroup(["good", "nosy"]) });
    assert.equal(c2.get("good")?.count, 2, "restored before any run");
    assert.deepEqual(c2.entry("good")!.metrics, [["count", 2], ["ok", 1], ["nested.value", 1.5]], "rebuilt");
    assert.deepEqual(c2.names(), ["good", "nosy"]);
    assert.equal(c2.entry("nosy")!.log, "disabled in configuration (collectors.disabled)");
    const app = buildApp([c2.routes!()], {
      token: "",
      maxBody: 1 << 20,
      log: ctx.log,
      counters: ctx.counters,
    });
    const all = await (await app.request("/collectors")).json();
    assert.deepEqual(Object.keys(all).sort(), ["good", "nosy"]);
    assert.deepEqual(Object.keys(all.good).sort(), [
      "active",
      "last_check",
      "log",
      "metrics",
      "name",
      "next_check",
      "results",
    ]);
    assert.ok(all.good.next_check >= all.good.last_check);
    assert.equal((await (await app.request("/collectors/good")).json()).results.count, 2);
    const none = await app.request("/collectors/none");
    assert.equal(none.status, 404);
    assert.equal((await none.json()).error, "collector not found");
    await c2.stop();
  } finally {
    ctx.cleanup();
  }
});

Deno.test("runtime: costly or static collectors run at most every minute unless configured", () => {
  const ctx = ctxWith({ interval: "10s", intervals: { system: "15s" } });
  try {
    const c = new CollectorRuntime({
      sandbox: ctx.sandbox,
      clock: ctx.clock,
      log: ctx.log,
      params: ctx.config.params.collectors,
      data: {},
    });
    assert.equal(c.intervalOf("cpustats"), 10_000);
    assert.equal(c.intervalOf("openports"), SLOW_COLLECTORS.openports);
    assert.equal(c.intervalOf("system"), 15_000, "collectors.intervals wins");
    assert.equal(c.workers().length, 0, "Workers start on the first run only");
  } finally {
    ctx.cleanup();
  }
});

Deno.test("sandbox broker statfs: sizes for paths on statfsAllow only, and never a read permission", async () => {
  const sandbox = new Sandbox();
  const w = sandbox.spawn({
    name: "statfs-test",
    module: new URL("../fixtures/collectors/test_worker.ts", import.meta.url),
    permissions: { ...NO_PERMISSIONS },
    statfsAllow: ["/"],
  });
  try {
    const s = await w.call<{ blocks: number; bsize: number; files: number }>("statfs", { path: "/" }, 20_000);
    assert.ok(s.blocks > 0 && s.bsize > 0);
    await assert.rejects(w.call("statfs", { path: "/tmp" }), (e: Error) => e.name === "BrokerDenied");
    await assert.rejects(w.call("read", { path: "/" }), (e: Error) => e.name === "BrokerDenied");
    assert.equal(w.deniedReads, 2);
  } finally {
    sandbox.stopAll();
  }
});

/** Advances a virtual clock 1 s at a time, letting each run's promise chain settle in between. */
async function walk(clock: VirtualClock, ms: number): Promise<void> {
  for (let t = 0; t < ms; t += 1000) {
    await clock.advance(Math.min(1000, ms - t));
    await new Promise((r) => setTimeout(r, 0));
  }
}

Deno.test("runtime: one timer for every collector; collectors sharing an interval run together, each when due", async () => {
  const clock = new VirtualClock(0);
  const calls: Array<[number, string]> = [];
  const fakeWorker = {
    running: true,
    call: (_method: string, p: { name: string }) => {
      calls.push([clock.now(), p.name]);
      return Promise.resolve({ results: { n: calls.length } });
    },
    terminate() {},
  };
  const rt = new CollectorRuntime({
    sandbox: { spawn: () => fakeWorker } as unknown as Sandbox,
    clock,
    log: silentLogger,
    params: { interval: 10_000, timeout: 8_000, disabled: ["off"], intervals: { slow: 30_000 } },
    data: {},
    groups: [{ ...testGroup(["a", "b", "slow", "off"])[0] }],
  });
  rt.start();
  await walk(clock, 1);
  assert.equal(clock.pending, 1, "a single timer waits for the next due collector");
  await walk(clock, 34_999);
  const at = (t: number) => calls.filter(([c]) => c === t).map(([, n]) => n).sort();
  assert.deepEqual(at(0), ["a", "b", "slow"]);
  assert.deepEqual(at(10_000), ["a", "b"]);
  assert.deepEqual(at(20_000), ["a", "b"]);
  assert.deepEqual(at(30_000), ["a", "b", "slow"]);
  assert.equal(calls.length, 10, "no run outside those four wake-ups; the disabled one never runs");
  assert.deepEqual([...rt.schedule()].sort(), [["a", 40_000], ["b", 40_000], ["slow", 60_000]]);
  assert.equal(rt.entry("a")!.next_check, 40);
  rt.stop();
  assert.equal(clock.pending, 0, "stop clears the timer");
  await walk(clock, 60_000);
  assert.equal(calls.length, 10);
});

Deno.test("runtime: a wall clock stepped back an hour during a run: the collectors run on, every interval", async () => {
  const base = new VirtualClock(1_800_000_000_000);
  const clock = steppedClock(base);
  const calls: number[] = [];
  let stepDuringRun = false;
  const fakeWorker = {
    running: true,
    call: async () => {
      calls.push(base.now());
      if (stepDuringRun) {
        stepDuringRun = false;
        await base.sleep(500);
        clock.step(-3_600_000);
      }
      return { results: { n: calls.length } };
    },
    terminate() {},
  };
  const rt = new CollectorRuntime({
    sandbox: { spawn: () => fakeWorker } as unknown as Sandbox,
    clock,
    log: silentLogger,
    params: { interval: 10_000, timeout: 8_000, disabled: [], intervals: {} },
    data: {},
    groups: [{ ...testGroup(["a"])[0] }],
  });
  rt.start();
  await walk(base, 25_000);
  const before = calls.length;
  assert.ok(before >= 2, String(before));
  stepDuringRun = true;
  await walk(base, 40_000);
  rt.stop();
  const after = calls.slice(before).map((t) => (t - calls[0]) / 1000);
  assert.ok(after.length >= 3, `runs in the 40 s after a step during a run: ${after}`);
});

Deno.test("runtime: a run that outlasts its interval is due again as soon as it ends", async () => {
  const clock = new VirtualClock(0);
  const calls: number[] = [];
  const rt = new CollectorRuntime({
    sandbox: {
      spawn: () => ({
        running: true,
        // each run takes 15 s of the clock (under a 20 s timeout)
        call: () => {
          calls.push(clock.now());
          return clock.sleep(15_000).then(() => ({ results: { ok: 1 } }));
        },
        terminate() {},
      }),
    } as unknown as Sandbox,
    clock,
    log: silentLogger,
    params: { interval: 10_000, timeout: 20_000, disabled: [], intervals: {} },
    data: {},
    groups: testGroup(["x"]),
  });
  rt.start();
  await walk(clock, 46_000);
  assert.deepEqual(calls, [0, 15_000, 30_000, 45_000]);
  rt.stop();
});

Deno.test("runtime: collectors of a batching group due together go in one Worker message; each keeps its own outcome and timeout", async () => {
  const ctx = ctxWith({ interval: "1h", timeout: "300ms" });
  const groups = testGroup(["good", "nosy", "slow", "crash"]).map((g) => ({ ...g, batch: true }));
  const c = createCollectors(ctx, { groups });
  try {
    // a warm Worker (the batch then has no start-up grace): one plain run first
    assert.equal((await c.runOnce("good")).results!.count, 1);
    const t0 = Date.now();
    await c.start();
    await until(
      "every collector ran",
      () => c.entries().every((e) => e.last_check > 0 && e.log !== "not run yet"),
    );
    const good = c.entry("good")!,
      nosy = c.entry("nosy")!,
      slow = c.entry("slow")!,
      crash = c.entry("crash")!;
    assert.equal(good.active, true);
    assert.equal(good.results!.count, 2);
    assert.equal(nosy.active, false);
    assert.match(nosy.log, /^permission denied: /);
    assert.equal(slow.active, false);
    assert.match(slow.log, /took longer than 300 ms/);
    assert.match(crash.log, /no collector crash/);
    assert.ok(Date.now() - t0 < 4000, "the slow one did not hold the others for its 5 s");
    const w = ctx.sandbox.workers()[0];
    assert.equal(await w.call("batches"), 1, "one runMany for the four");
    assert.equal(w.starts, 1);
  } finally {
    await c.stop();
    ctx.cleanup();
  }
});

Deno.test("runtime: a batch whose Worker stops answering fails each of its runs at twice the timeout", async () => {
  const clock = new VirtualClock(0);
  let calls = 0;
  const rt = new CollectorRuntime({
    sandbox: {
      spawn: () => ({
        running: true,
        call: () => (calls++, new Promise(() => {})), // never answers
        terminate() {},
      }),
    } as unknown as Sandbox,
    clock,
    log: silentLogger,
    params: { interval: 60_000, timeout: 1_000, disabled: [], intervals: {} },
    data: {},
    groups: [{ ...testGroup(["x", "y"])[0], batch: true }],
  });
  rt.start();
  await walk(clock, 1_000);
  assert.equal(calls, 1, "one message for both");
  assert.equal(rt.entry("x")!.log, "not run yet");
  await walk(clock, 2_000);
  for (const n of ["x", "y"]) {
    assert.equal(rt.entry(n)!.active, false);
    assert.match(rt.entry(n)!.log, /run took longer than 2000 ms/);
  }
  // the call never settled: the next runs are skipped, not stacked on the stuck Worker
  await walk(clock, 60_000);
  assert.equal(calls, 1);
  assert.match(rt.entry("x")!.log, /previous run has not finished/);
  rt.stop();
});

Deno.test("runtime: the entries a round brings due for a save are written in one transaction", async () => {
  const ctx = ctxWith({ interval: "1h", timeout: "2s" });
  const groups = testGroup(["good", "nosy", "crash"]).map((g) => ({ ...g, batch: true }));
  const c = createCollectors(ctx, { groups });
  const db = ctx.store.open("collectors");
  const tx = db.transaction.bind(db);
  let transactions = 0;
  db.transaction = <T>(fn: () => T): T => (transactions++, tx(fn));
  const rows = () =>
    db.all<{ name: string }>("SELECT name FROM collector_results ORDER BY name").map((r) => r.name);
  try {
    await c.start();
    await until("the three entries saved", () => rows().length === 3 || undefined);
    assert.deepEqual(rows(), ["crash", "good", "nosy"]);
    assert.equal(transactions, 1, "one commit for the round's three first results");
    // a second result within the minute is not saved again
    await c.runOnce("good");
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(transactions, 1);
  } finally {
    await c.stop();
    ctx.cleanup();
  }
});

Deno.test("runtime: a full collectors.db is said once, not per collector and round, and its end once", async () => {
  const ctx = ctxWith({ interval: "100ms", timeout: "2s" });
  const groups = testGroup(["good", "nosy"]).map((g) => ({ ...g, batch: true }));
  const c = createCollectors(ctx, { groups });
  const db = ctx.store.open("collectors");
  const { room } = fill(
    db,
    (i, text) => db.run("INSERT INTO collector_results VALUES (?, ?, 0)", `fill${i}-${text}`, text),
  );
  const lines: string[] = [];
  const untap = ctx.sink.tap("INFO", (l) => lines.push(l));
  const errors = () => lines.filter((l) => l.includes(" ERROR: ") && l.includes("collectors.db"));
  try {
    await c.start();
    await until("four rounds", () => ((c.get("good")?.count as number) ?? 0) >= 4 || undefined, 5000);
    assert.equal(errors().length, 1, errors().join("\n"));
    assert.match(errors()[0], /saving collector results failed: .*collectors\.db: the disk is full/);
    room();
    await until(
      "saved once there is room",
      () =>
        db.all("SELECT name FROM collector_results WHERE name IN ('good', 'nosy')").length === 2 || undefined,
    );
    await until(
      "its end said",
      () => lines.some((l) => /saving collector results works again/.test(l)) || undefined,
    );
    assert.equal(errors().length, 1);
  } finally {
    untap();
    await c.stop();
    ctx.cleanup();
  }
});
