import assert from "node:assert/strict";
import { ArgvError, shellSyntax, splitArgv } from "../../lib/checks/argv.ts";
import { expandMacros, lookupPath } from "../../lib/checks/macros.ts";
import {
  parsePerfdata,
  parsePluginOutput,
  perfMetricName,
  stateOfExitCode,
} from "../../lib/checks/perfdata.ts";
import { applyResult, initialFlap } from "../../lib/checks/flap.ts";
import { firstDelay, jitteredInterval, percentile } from "../../lib/checks/jitter.ts";
import { appliesTo, defaultApplyOn, makeCheckDef, shortObjectId } from "../../lib/checks/check_def.ts";
import { BadObjectName, objectFilePath } from "../../lib/checks/config_files.ts";

Deno.test("argv splitting honours quotes and escapes without a shell", () => {
  assert.deepEqual(splitArgv(`check_procs -a "my daemon" -w 1: -C 'a b'`), [
    "check_procs",
    "-a",
    "my daemon",
    "-w",
    "1:",
    "-C",
    "a b",
  ]);
  assert.deepEqual(splitArgv(`a\\ b "x\\"y" ''`), ["a b", 'x"y', ""]);
  assert.deepEqual(splitArgv("  one   two\tthree "), ["one", "two", "three"]);
  assert.deepEqual(splitArgv("echo $(rm -rf /) ; ls | cat"), [
    "echo",
    "$(rm",
    "-rf",
    "/)",
    ";",
    "ls",
    "|",
    "cat",
  ]);
  assert.throws(() => splitArgv(`a "unterminated`), (e: unknown) => e instanceof ArgvError && e.column === 3);
  assert.throws(() => splitArgv(`a 'x`), ArgvError);
});

Deno.test("shell syntax outside quotes (and substitutions outside single quotes) is found; macros are not", () => {
  for (
    const [line, want] of [
      ["check_x 2>&1 | head -1", ">"],
      ["check_a; check_b", ";"],
      ["check_a && check_b", "&"],
      ["check_a < /dev/null", "<"],
      ["check_x -H `hostname`", "`"],
      ['check_x -H "$(hostname)"', "$("],
      ["check_x -w $load.warning|load.w$ | tr a-z A-Z", "|"],
    ] as const
  ) assert.equal(shellSyntax(line), want, line);
  for (
    const line of [
      "$nagiosplugins$/check_load -r -w $linux.load-average.warning$ -c $a|b$",
      `check_procs -a "a|b;c&d<e>f" -C 'x | y'`,
      "check_x -a '$(not run)' -b '`nor this`'",
      "check_x a\\|b \\> c",
      `check_x "quoted \\" then | still quoted"`,
    ]
  ) assert.equal(shellSyntax(line), null, line);
});

Deno.test("macros look up check, then service, then configuration data, with | alternatives", () => {
  const check = { mailq: { warning: 1 } };
  const svc = { port: 6379, mailq: { warning: 9, critical: 5 } };
  const data = { load: { warning: 1.5 }, "a.b": { c: "dotted" } };
  const look = (p: string) => lookupPath([check, svc, data], p);
  assert.equal(expandMacros("-w $mailq.warning$ -c $ mailq.critical $", look), "-w 1 -c 5");
  assert.equal(expandMacros("$missing|load.warning$", look), "1.5");
  assert.equal(expandMacros("[$nothing$]", look), "[]");
  assert.equal(expandMacros("$a.b.c$ $port$", look), "dotted 6379");
});

Deno.test("plugin output splits text, long text and perfdata; exit codes map to states", () => {
  const p = parsePluginOutput(
    "DISK OK - free space: / 3326 MB|/=2643MB;5948;5958;0;5968\nline 2\nline 3 | 'my disk'=12%;80;90 load1=0.5\ncount=3\n",
  );
  assert.equal(p.text, "DISK OK - free space: / 3326 MB");
  assert.equal(p.long, "line 2\nline 3");
  assert.deepEqual(p.perf.map((d) => [d.label, d.value, d.uom]), [["/", 2643, "MB"], ["my disk", 12, "%"], [
    "load1",
    0.5,
    "",
  ], ["count", 3, ""]]);
  assert.deepEqual([p.perf[1].min, p.perf[1].max, p.perf[1].warn, p.perf[1].crit], [0, 100, "80", "90"]);
  assert.deepEqual(parsePerfdata("bad a=U b=1.5e2s;;;; 'it''s'=4 =5 c=x"), [
    { label: "b", value: 150, uom: "s", warn: null, crit: null, min: null, max: null },
    { label: "it's", value: 4, uom: "", warn: null, crit: null, min: null, max: null },
  ]);
  assert.deepEqual([0, 1, 2, 3, 4, 127, null].map((c) => stateOfExitCode(c).state), [
    "ok",
    "warning",
    "critical",
    "unknown",
    "unknown",
    "unknown",
    "unknown",
  ]);
  assert.equal(perfMetricName("srv-1", "linux/disk", "/boot"), "srv-1.linux.disk._boot");
  assert.equal(perfMetricName("n", "service:redis", "load1"), "n.service.redis.load1");
});

Deno.test("flap protection holds a failure until N in a row and recovery until M in a row", () => {
  const o = { failuresBeforeCritical: 3, successesBeforeOk: 2 };
  let s = applyResult(initialFlap("ok"), "critical", o);
  assert.equal(s.state, "ok");
  assert.equal(s.applied, false);
  s = applyResult(s, "critical", o);
  assert.equal(s.state, "ok");
  s = applyResult(s, "warning", o);
  assert.equal(s.state, "warning");
  s = applyResult(s, "critical", o);
  assert.equal(s.state, "critical", "moves between non-OK states are immediate");
  s = applyResult(s, "ok", o);
  assert.equal(s.state, "critical");
  assert.match(s.note, /1 of 2 successes/);
  s = applyResult(s, "ok", o);
  assert.equal(s.state, "ok");
  const one = applyResult(initialFlap("ok"), "critical", { failuresBeforeCritical: 1, successesBeforeOk: 1 });
  assert.equal(one.state, "critical");
  assert.equal(applyResult(initialFlap(), "ok", o).state, "ok", "pending goes OK at once");
});

Deno.test("flap protection: a new check's failures are held like an OK one's; a non-OK one moves at once", () => {
  const o = { failuresBeforeCritical: 3, successesBeforeOk: 2 };
  // pending counts as healthy: its first failures are soft too
  const first = applyResult(initialFlap(), "critical", o);
  assert.deepEqual([first.state, first.applied, first.failures], ["pending", false, 1]);
  assert.match(first.note, /soft CRITICAL: 1 of 3 failures/);
  // WARNING, then one OK held back by successes_before_ok (the failure count starts over), then
  // CRITICAL: a check that never recovered moves between non-OK states at once, whatever the count
  let s = applyResult({ state: "warning", failures: 5, successes: 0 }, "ok", o);
  assert.deepEqual([s.state, s.failures], ["warning", 0]);
  s = applyResult(s, "critical", o);
  assert.deepEqual([s.state, s.applied, s.failures], ["critical", true, 1]);
});

Deno.test("jitter stays within ±10% and restored checks wait out their interval", () => {
  for (const r of [0, 0.25, 0.5, 0.999]) {
    const v = jitteredInterval(10_000, r);
    assert.ok(v >= 9000 && v <= 11_000, String(v));
  }
  assert.ok(Math.abs(firstDelay(100_000, 95_000, 10_000, 0.5) - 5000) < 1);
  assert.ok(firstDelay(100_000, 0, 10_000, 0.99) <= 1000);
  assert.equal(percentile([5, 1, 3, 2, 4], 50), 3);
  assert.equal(percentile([1, 2, 3, 4, 100], 99), 100);
  assert.equal(percentile([], 99), 0);
});

Deno.test("apply_on defaults to the pack name or parent directory, else everywhere", () => {
  assert.equal(defaultApplyOn("packs/linux/checks/cpu"), "linux");
  assert.equal(defaultApplyOn("linux/load-average"), "linux");
  assert.equal(defaultApplyOn("mycheck"), "*");
  assert.equal(shortObjectId("packs/linux/checks/cpu"), "linux/cpu");
  assert.ok(appliesTo("*", []));
  assert.ok(appliesTo("linux", ["linux", "kv"]));
  assert.ok(!appliesTo("redis", ["linux"]));
  const d = makeCheckDef({
    id: "x",
    file: "",
    value: { interval: "30s", warning_if: "1 > 0" },
    defaultTimeoutMs: 30_000,
  });
  assert.equal(d.kind, "evaluated");
  assert.equal(d.intervalMs, 30_000);
  assert.equal(
    makeCheckDef({ id: "y", file: "", value: { script: "x", timeout: "5s" }, defaultTimeoutMs: 1 }).timeoutMs,
    5000,
  );
});

Deno.test("object files must stay inside the configuration directory", () => {
  assert.equal(objectFilePath("/etc/kunai", "linux/cpu"), "/etc/kunai/linux/cpu.json");
  for (const bad of ["../x", "a/../../x", "/abs", "a//b", "", "a/./b", "x\u0000y"]) {
    assert.throws(() => objectFilePath("/etc/kunai", bad), BadObjectName, bad);
  }
});
