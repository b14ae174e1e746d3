import assert from "node:assert/strict";
import { createChecks } from "../../lib/checks/mod.ts";
import type { CheckResultEvent, CollectorResultsView } from "../../lib/types.ts";
import { makeTestCtx } from "../helpers.ts";
import { VirtualClock } from "../../lib/clock/mod.ts";

/** The README's cpu check, verbatim. */
const README_CPU = `{
    "check": {
        "interval":          "10s",
        "apply_on":          "linux",

        "ok_output":         "'OK: cpu is great: %s%%' % (100-{collector.cpustats.cpuall.%idle})",

        "critical_if":      "{collector.cpustats.cpuall.%idle} < {configuration.thresholds.cpuidle.critical}",
        "critical_output":  "'Critical: cpu is too high: %s%%' % (100-{collector.cpustats.cpuall.%idle})",

        "warning_if":       "{collector.cpustats.cpuall.%idle} < {configuration.thresholds.cpuidle.warning}",
        "warning_output":   "'Warning: cpu is very high: %s%%' % (100-{collector.cpustats.cpuall.%idle})",

        "thresholds" :       {"cpuidle" : { "warning": 5, "critical": 1} }
    }
}`;

function fixedCollectors(data: Record<string, Record<string, unknown>>): CollectorResultsView {
  return { get: (n) => data[n], names: () => Object.keys(data) };
}

/** Collector results the tests hand to createChecks/createDetectors. */
let collectors: import("../../lib/types.ts").CollectorResultsView | undefined;

Deno.test("README cpu check goes ok, warning, critical from fixed collector data", async () => {
  collectors = undefined;
  const ctx = makeTestCtx({ tags: ["linux"], files: { "linux/cpu.json": README_CPU } });
  const data = { cpustats: { cpuall: { "%idle": 50.5 } } };
  collectors = fixedCollectors(data);
  const checks = createChecks(ctx, { collectors });
  const events: CheckResultEvent[] = [];
  ctx.bus.on("check.changed", (e) => events.push(e));
  try {
    await checks.start();
    assert.ok(checks.isActive("linux/cpu"));
    await checks.runCheck("linux/cpu");
    let v = checks.view("linux/cpu")!;
    assert.equal(v.state, "ok");
    assert.equal(v.output, "OK: cpu is great: 49.5%");
    data.cpustats.cpuall["%idle"] = 3;
    await checks.runCheck("linux/cpu");
    v = checks.view("linux/cpu")!;
    assert.deepEqual([v.state, v.state_id, v.output], ["warning", 1, "Warning: cpu is very high: 97%"]);
    data.cpustats.cpuall["%idle"] = 0.5;
    await checks.runCheck("linux/cpu");
    await checks.runCheck("linux/cpu");
    v = checks.view("linux/cpu")!;
    assert.deepEqual([v.state, v.state_id, v.output], ["critical", 2, "Critical: cpu is too high: 99.5%"]);
    assert.deepEqual(events.map((e) => `${e.old_state}>${e.state}`), [
      "pending>ok",
      "ok>warning",
      "warning>critical",
    ], "transitions only");
    assert.deepEqual(events[2].handlers, ["default"]);
  } finally {
    await checks.stop();
    ctx.cleanup();
  }
});

Deno.test("a check with only warning_if works and errors become UNKNOWN with the error text", async () => {
  collectors = undefined;
  const ctx = makeTestCtx({
    files: {
      "w.json": {
        check: {
          warning_if: "{collector.mem.used} > 90",
          warning_output: "'high %d' % {collector.mem.used}",
          ok_output: "'fine'",
        },
      },
      "missing.json": { check: { critical_if: "{collector.mem.nope} > 1" } },
      "typeerr.json": { check: { critical_if: "'a' + 1" } },
    },
  });
  const mem = { used: 50 };
  collectors = fixedCollectors({ mem });
  const checks = createChecks(ctx, { collectors });
  try {
    await checks.start();
    await checks.runCheck("w");
    assert.deepEqual([checks.view("w")!.state, checks.view("w")!.output], ["ok", "fine"]);
    mem.used = 95;
    await checks.runCheck("w");
    assert.deepEqual([checks.view("w")!.state, checks.view("w")!.output], ["warning", "high 95"]);
    await checks.runCheck("missing");
    const m = checks.view("missing")!;
    assert.equal(m.state, "unknown");
    assert.match(String(m.output), /missing\.json: critical_if: .*nope/);
    await checks.runCheck("typeerr");
    assert.equal(checks.view("typeerr")!.state, "unknown");
    assert.match(String(checks.view("typeerr")!.output), /critical_if/);
  } finally {
    await checks.stop();
    ctx.cleanup();
  }
});

Deno.test("without collectors a collector lookup gives a clear UNKNOWN", async () => {
  collectors = undefined;
  const ctx = makeTestCtx({
    files: { "c.json": { check: { critical_if: "{collector.cpustats.cpuall.%idle} < 1" } } },
  });
  const checks = createChecks(ctx, { collectors });
  try {
    await checks.start();
    await checks.runCheck("c");
    assert.equal(checks.view("c")!.state, "unknown");
    assert.match(String(checks.view("c")!.output), /no collector results/);
  } finally {
    await checks.stop();
    ctx.cleanup();
  }
});

Deno.test("a syntax error in critical_if is reported with file, field and column; other checks still run", async () => {
  collectors = undefined;
  const ctx = makeTestCtx({
    files: {
      "broken.json": { check: { critical_if: "{collector.mem.used} > > 3" } },
      "good.json": { check: { critical_if: "1 > 2", ok_output: "'good'" } },
    },
  });
  collectors = fixedCollectors({ mem: { used: 1 } });
  const checks = createChecks(ctx, { collectors });
  try {
    await checks.start();
    const b = checks.view("broken")!;
    const problems = b.problems as string[];
    assert.equal(problems.length, 1);
    assert.match(problems[0], /broken\.json: critical_if: .*column 24/);
    await checks.runCheck("broken");
    await checks.runCheck("good");
    assert.equal(checks.view("broken")!.state, "unknown");
    assert.match(String(checks.view("broken")!.output), /broken\.json: critical_if:.*column 24/);
    assert.deepEqual([checks.view("good")!.state, checks.view("good")!.output], ["ok", "good"]);
    assert.ok(ctx.sink.recent.WARNING.some((l) => l.includes("broken.json")), "logged at load");
  } finally {
    await checks.stop();
    ctx.cleanup();
  }
});

Deno.test("state is persisted and restored at start; flap protection holds soft failures", async () => {
  collectors = undefined;
  const ctx = makeTestCtx({
    files: {
      "f.json": {
        check: {
          critical_if: "{collector.x.v} > 1",
          failures_before_critical: 2,
          ok_output: "'ok'",
          critical_output: "'bad'",
        },
      },
    },
  });
  const x = { v: 0 };
  collectors = fixedCollectors({ x });
  let checks = createChecks(ctx, { collectors });
  try {
    await checks.start();
    await checks.runCheck("f");
    x.v = 5;
    await checks.runCheck("f");
    let v = checks.view("f")!;
    assert.equal(v.state, "ok");
    assert.match(String(v.soft), /1 of 2 failures/);
    await checks.runCheck("f");
    v = checks.view("f")!;
    assert.deepEqual([v.state, v.output], ["critical", "bad"]);
    const lastCheck = v.last_check;
    await checks.stop();
    checks = createChecks(ctx, { collectors });
    v = checks.view("f")!;
    assert.deepEqual([v.state, v.state_id, v.output, v.last_check], ["critical", 2, "bad", lastCheck]);
    assert.deepEqual(checks.history("f").map((h) => h.state), ["critical", "ok"]);
  } finally {
    await checks.stop();
    ctx.cleanup();
  }
});

Deno.test("config.reloaded re-reads checks: new ones appear, removed ones stop", async () => {
  collectors = undefined;
  const ctx = makeTestCtx({ files: { "a.json": { check: { warning_if: "False", ok_output: "'a'" } } } });
  const checks = createChecks(ctx, { collectors });
  try {
    await checks.start();
    assert.ok(checks.isActive("a"));
    delete ctx.config.objects.check["a"];
    ctx.config.objects.check["b"] = {
      id: "b",
      file: "",
      root: "",
      value: { warning_if: "True", warning_output: "'b'" },
    };
    ctx.bus.emit("config.reloaded", { files: [] });
    assert.equal(checks.view("a"), undefined);
    assert.ok(checks.isActive("b"));
    await checks.runCheck("b");
    assert.equal(checks.view("b")!.state, "warning");
  } finally {
    await checks.stop();
    ctx.cleanup();
  }
});

Deno.test("at start a check waits for its collector's first results instead of going UNKNOWN", async () => {
  collectors = undefined;
  const clock = new VirtualClock(0);
  const ctx = makeTestCtx({ tags: ["linux"], files: { "linux/cpu.json": README_CPU }, clock });
  const data: Record<string, Record<string, unknown>> = {};
  // the collector exists (is scheduled) but has produced nothing yet
  collectors = { get: (n) => data[n], names: () => ["cpustats"] };
  const checks = createChecks(ctx, { collectors });
  try {
    await checks.start();
    await checks.runCheck("linux/cpu");
    assert.equal(checks.view("linux/cpu")!.state, "pending");
    data.cpustats = { cpuall: { "%idle": 80 } };
    await checks.runCheck("linux/cpu");
    assert.equal(checks.view("linux/cpu")!.state, "ok");
    // past the grace period a missing collector is an UNKNOWN with the reason
    delete data.cpustats;
    await clock.advance(61_000);
    await checks.runCheck("linux/cpu");
    assert.equal(checks.view("linux/cpu")!.state, "unknown");
    assert.match(String(checks.view("linux/cpu")!.output), /collector 'cpustats' has no results/);
  } finally {
    await checks.stop();
    ctx.cleanup();
  }
});

Deno.test("a renewed silence keeps when it began; a timed silence is over at its end", async () => {
  collectors = undefined;
  const clock = new VirtualClock(1_000_000);
  const ctx = makeTestCtx({
    clock,
    files: { "down.json": { check: { interval: "1d", critical_if: "True", critical_output: "'down'" } } },
  });
  collectors = fixedCollectors({});
  const checks = createChecks(ctx, { collectors });
  try {
    await checks.start();
    await checks.runCheck("down");
    assert.equal(checks.view("down")!.state, "critical");
    checks.silence("down", { reason: "first", for: "1h" });
    await clock.advance(60_000);
    const v = checks.silence("down", { reason: "longer", for: "1h" });
    assert.deepEqual(v.silenced, { reason: "longer", since: 1_000_000, until: 1_060_000 + 3_600_000 });
    await clock.advance(3_600_000 - 1);
    assert.ok(checks.view("down")!.silenced, "still silenced a millisecond before its end");
    await clock.advance(1);
    assert.equal(checks.view("down")!.silenced, undefined, "over at its end");
  } finally {
    await checks.stop();
    ctx.cleanup();
  }
});

Deno.test("a state change is logged with at most 300 characters of the output's first line", async () => {
  collectors = undefined;
  const ctx = makeTestCtx({
    files: {
      "big.json": { check: { critical_if: "True", critical_output: "'x' * 70000 + '\\nsecond line'" } },
    },
  });
  collectors = fixedCollectors({});
  const checks = createChecks(ctx, { collectors });
  const lines: string[] = [];
  const untap = ctx.sink.tap("INFO", (l) => lines.push(l));
  try {
    await checks.start();
    await checks.runCheck("big");
    assert.equal(checks.view("big")!.state, "critical");
    const logged = lines.find((l) => l.includes("check big:"));
    assert.ok(logged, lines.join("\n"));
    assert.match(logged, /check big: \w+ -> critical: x{300}… \(70000 characters\)$/);
  } finally {
    untap();
    await checks.stop();
    ctx.cleanup();
  }
});

Deno.test("a check removed from the configuration by a reload leaves no state behind", async () => {
  const ctx = makeTestCtx({ tags: ["linux"], files: { "linux/cpu.json": README_CPU } });
  const data = { cpustats: { cpuall: { "%idle": 0.5 } } };
  const checks = createChecks(ctx, { collectors: fixedCollectors(data) });
  try {
    await checks.start();
    await checks.runCheck("linux/cpu");
    await checks.runCheck("linux/cpu");
    assert.equal(checks.view("linux/cpu")!.state, "critical");
    const def = ctx.config.objects.check["linux/cpu"];
    delete ctx.config.objects.check["linux/cpu"];
    checks.loadFromConfig();
    assert.equal(checks.view("linux/cpu"), undefined);
    // defined again later: it starts over rather than from the state it had
    ctx.config.objects.check["linux/cpu"] = def;
    checks.loadFromConfig();
    assert.equal(checks.view("linux/cpu")!.state, "pending");
  } finally {
    await checks.stop();
    ctx.cleanup();
  }
});

Deno.test("a steady check's row waits up to a minute between writes; a stop writes its newest run", async () => {
  collectors = undefined;
  const clock = new VirtualClock(1_000_000);
  const ctx = makeTestCtx({
    files: {
      "s.json": {
        check: {
          interval: "1h",
          critical_if: "{collector.x.v} > 1",
          ok_output: "'fine'",
          critical_output: "'bad'",
        },
      },
    },
    clock,
  });
  const x = { v: 0 };
  collectors = fixedCollectors({ x });
  const checks = createChecks(ctx, { collectors });
  const stored = () =>
    ctx.store.handle("checks")!.get<{ last_check: number; successes: number }>(
      "SELECT last_check, successes FROM check_state WHERE id = 's'",
    );
  try {
    await checks.start();
    const run = async () => {
      await clock.advance(10_000);
      await checks.runCheck("s");
      checks.history("s"); // flushes
    };
    await run(); // pending -> ok: written
    const first = stored()!.last_check;
    await run();
    await run();
    assert.deepEqual(
      { ...stored() },
      { last_check: first, successes: 1 },
      "ok again and again: not rewritten yet",
    );
    for (let i = 0; i < 4; i++) await run();
    assert.equal(stored()!.last_check, first + 60, "a minute after the written row");
    x.v = 5;
    await run(); // a change: written at once
    assert.equal(stored()!.last_check, first + 70);
    await run(); // critical again, the failure counter past its threshold
    assert.equal(stored()!.last_check, first + 70);
    await checks.stop();
    assert.equal(stored()!.last_check, first + 80, "the stop wrote the newest run");
  } finally {
    await checks.stop();
    ctx.cleanup();
  }
});
