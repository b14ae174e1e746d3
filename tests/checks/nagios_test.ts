import assert from "node:assert/strict";
import { join } from "node:path";
import { createChecks, resolveCommand } from "../../lib/checks/mod.ts";
import { NagiosRunner } from "../../lib/checks/nagios_runner.ts";
import { makeTestCtx, processesWith, until } from "../helpers.ts";
import type { CheckResultEvent } from "../../lib/types.ts";

const PLUGINS = "/usr/lib/nagios/plugins";
const havePlugins = (() => {
  try {
    return Deno.statSync(`${PLUGINS}/check_load`).isFile;
  } catch {
    return false;
  }
})();

function loadAvg(): number[] {
  return Deno.readTextFileSync("/proc/loadavg").split(" ").slice(0, 3).map(Number);
}

Deno.test({
  name: "check_load is OK, WARNING or CRITICAL by thresholds and its perfdata becomes metrics",
  ignore: !havePlugins,
  async fn() {
    const ctx = makeTestCtx({
      tags: ["linux"],
      files: {
        "load/ok.json": {
          check: {
            script: "$nagiosplugins$/check_load -w $load.warning$ -c $load.critical$",
            load: { warning: "900,900,900", critical: "1000,1000,1000" },
          },
        },
        "load/warn.json": { check: { script: "$nagiosplugins$/check_load -w 0,0,0 -c 1000,1000,1000" } },
        "load/crit.json": { check: { script: "check_load -w 0,0,0 -c 0,0,0" } },
      },
    });
    const checks = createChecks(ctx);
    const points: Array<[string, number, number]> = [];
    ctx.bus.on("metrics.points", (e) => points.push(...e.points));
    try {
      ctx.node.setSourceTags("test", ["load"]);
      await checks.start();
      assert.ok(checks.isActive("load/ok"), "apply_on defaults to the parent dir");
      await Promise.all(["load/ok", "load/warn", "load/crit"].map((id) => checks.runCheck(id)));
      const ok = checks.view("load/ok")!;
      assert.equal(ok.state, "ok", String(ok.output));
      assert.match(String(ok.output), /^LOAD OK - total load average/);
      assert.ok(!String(ok.output).includes("|"), "perfdata is not part of the output");
      if (Math.max(...loadAvg()) > 0) {
        assert.equal(checks.view("load/warn")!.state, "warning", String(checks.view("load/warn")!.output));
        assert.equal(checks.view("load/crit")!.state_id, 2, String(checks.view("load/crit")!.output));
      }
      const names = points.map((p) => p[0]);
      assert.ok(names.includes("test-node.load.ok.load1"), names.join(","));
      assert.ok(names.includes("test-node.load.ok.load15"));
      const p = points.find((x) => x[0] === "test-node.load.ok.load1")!;
      assert.ok(p[1] >= 0 && Number.isInteger(p[2]));
      assert.equal((ok.perfdata as Array<{ label: string }>)[0].label, "load1");
    } finally {
      await checks.stop();
      ctx.cleanup();
    }
  },
});

Deno.test({
  name: "a plugin that sleeps past its timeout becomes UNKNOWN and leaves no process behind",
  ignore: !havePlugins,
  async fn() {
    const marker = `73.${Math.floor(Math.random() * 1e6)}`;
    const ctx = makeTestCtx();
    const pluginDir = join(ctx.dir, "plugins");
    Deno.chmodSync(ctx.dir, 0o755); // plugins run as nagios_user (nobody) when the tests run as root
    Deno.mkdirSync(pluginDir);
    const script = join(pluginDir, "check_slow");
    Deno.writeTextFileSync(
      script,
      `#!/bin/sh\nsleep ${marker} &\nsleep ${marker} &\necho "SLOW starting"\nwait\n`,
    );
    Deno.chmodSync(script, 0o755);
    ctx.config.params.checks.plugin_dirs = [PLUGINS, pluginDir];
    ctx.config.objects.check["slow"] = {
      id: "slow",
      file: join(ctx.dir, "etc/slow.json"),
      root: join(ctx.dir, "etc"),
      value: { script: `${script}`, timeout: "1s" },
    };
    const checks = createChecks(ctx);
    try {
      await checks.start();
      const t0 = Date.now();
      await checks.runCheck("slow");
      const took = Date.now() - t0;
      const v = checks.view("slow")!;
      assert.equal(v.state, "unknown");
      assert.match(String(v.output), /timed out after 1s.*SLOW starting/);
      // the plugin sleeps 73 s: ending far sooner proves the kill, with room for a busy box
      assert.ok(took < 40_000, `took ${took} ms`);
      await new Promise((r) => setTimeout(r, 100));
      assert.deepEqual(processesWith(`sleep ${marker}`), [], "the whole process group was killed");
      assert.deepEqual(ctx.sandbox.workers().flatMap((w) => w.trackedGroups), []);
    } finally {
      await checks.stop();
      ctx.cleanup();
    }
  },
});

Deno.test({
  name: "a plugin outside the allowed directories is refused, also through a symlink",
  ignore: !havePlugins,
  async fn() {
    const ctx = makeTestCtx({ files: { "evil.json": { check: { script: "/bin/echo hello" } } } });
    const pluginDir = join(ctx.dir, "plugins");
    Deno.chmodSync(ctx.dir, 0o755); // plugins run as nagios_user (nobody) when the tests run as root
    Deno.mkdirSync(pluginDir);
    Deno.symlinkSync("/bin/echo", join(pluginDir, "check_echo"));
    ctx.config.params.checks.plugin_dirs = [pluginDir];
    ctx.config.objects.check["link"] = { id: "link", file: "", root: "", value: { script: "check_echo hi" } };
    const checks = createChecks(ctx);
    try {
      await checks.start();
      for (const id of ["evil", "link"]) {
        await checks.runCheck(id);
        const v = checks.view(id)!;
        assert.equal(v.state, "unknown");
        assert.match(String(v.output), /outside the allowed plugin directories/);
      }
      // Even a command that slips past resolution is refused by the Worker's run permission.
      const runner = new NagiosRunner(ctx.sandbox);
      runner.allow([`${PLUGINS}/check_load`]);
      const r = await runner.run(["/bin/echo", "x"], 2000, 1000);
      assert.match(String(r.error), /not an allowed plugin/);
      const ok = await runner.run(
        [`${PLUGINS}/check_load`, "-w", "900,900,900", "-c", "999,999,999"],
        5000,
        1000,
      );
      assert.equal(ok.code, 0, ok.output);
      runner.stop();
    } finally {
      await checks.stop();
      ctx.cleanup();
    }
  },
});

Deno.test({
  name:
    "exit codes above 3 and a missing plugin are UNKNOWN; shell: true runs through /bin/sh; output is capped",
  ignore: !havePlugins,
  async fn() {
    const ctx = makeTestCtx();
    const pluginDir = join(ctx.dir, "plugins");
    Deno.chmodSync(ctx.dir, 0o755); // plugins run as nagios_user (nobody) when the tests run as root
    Deno.mkdirSync(pluginDir);
    Deno.writeTextFileSync(join(pluginDir, "check_rc"), `#!/bin/sh\necho "rc $1"\nexit $1\n`);
    Deno.chmodSync(join(pluginDir, "check_rc"), 0o755);
    ctx.config.params.checks.plugin_dirs = [pluginDir];
    const add = (id: string, value: Record<string, unknown>) =>
      ctx.config.objects.check[id] = { id, file: "", root: "", value: { ...value } };
    add("rc1", { script: "check_rc 1" });
    add("rc7", { script: "check_rc 7" });
    add("nope", { script: "check_nope" });
    add("sh", { script: "echo 'piped OK' | tr a-z A-Z", shell: true });
    Deno.writeTextFileSync(
      join(pluginDir, "check_big"),
      `#!/bin/sh\nhead -c 200000 /dev/zero | tr '\\0' a\necho\nexit 0\n`,
    );
    Deno.chmodSync(join(pluginDir, "check_big"), 0o755);
    add("big", { script: "check_big" });
    const checks = createChecks(ctx);
    try {
      await checks.start();
      await Promise.all(["rc1", "rc7", "nope", "sh", "big"].map((id) => checks.runCheck(id)));
      const big = String(checks.view("big")!.output);
      assert.equal(checks.view("big")!.state, "ok");
      assert.ok(big.startsWith("aaaa") && big.length < 64 * 1024 + 100, String(big.length));
      assert.match(big, /output truncated at 65536 bytes/);
      assert.deepEqual([checks.view("rc1")!.state, checks.view("rc1")!.output], ["warning", "rc 1"]);
      assert.equal(checks.view("rc7")!.state, "unknown");
      assert.match(String(checks.view("rc7")!.output), /exited with code 7/);
      assert.match(String(checks.view("nope")!.output), /check_nope not found/);
      assert.deepEqual([checks.view("sh")!.state, checks.view("sh")!.output], ["ok", "PIPED OK"]);
    } finally {
      await checks.stop();
      ctx.cleanup();
    }
  },
});

Deno.test("$nagiosplugins$ set in the check or the configuration wins over checks.plugin_dirs, and is allowed", async () => {
  const ctx = makeTestCtx();
  Deno.chmodSync(ctx.dir, 0o755); // plugins run as nagios_user (nobody) when the tests run as root
  const plugin = (dir: string, text: string) => {
    Deno.mkdirSync(join(ctx.dir, dir));
    Deno.writeTextFileSync(join(ctx.dir, dir, "check_where"), `#!/bin/sh\necho "${text}"\nexit 1\n`);
    Deno.chmodSync(join(ctx.dir, dir, "check_where"), 0o755);
  };
  plugin("default", "from plugin_dirs");
  plugin("site", "from the configuration");
  plugin("own", "from the check");
  plugin("other", "outside");
  ctx.config.params.checks.plugin_dirs = [join(ctx.dir, "default")];
  const add = (id: string, value: Record<string, unknown>) =>
    ctx.config.objects.check[id] = { id, file: "", root: "", value: { ...value } };
  add("site", { script: "$nagiosplugins$/check_where" });
  add("own", { script: "$nagiosplugins$/check_where", nagiosplugins: join(ctx.dir, "own") });
  add("escape", { script: "$nagiosplugins$/../other/check_where" });
  const checks = createChecks(ctx);
  try {
    ctx.config.data.nagiosplugins = join(ctx.dir, "site");
    await checks.start();
    await Promise.all(["site", "own", "escape"].map((id) => checks.runCheck(id)));
    assert.deepEqual([checks.view("site")!.state, checks.view("site")!.output], [
      "warning",
      "from the configuration",
    ]);
    assert.deepEqual([checks.view("own")!.state, checks.view("own")!.output], ["warning", "from the check"]);
    assert.equal(checks.view("escape")!.state, "unknown");
    assert.match(String(checks.view("escape")!.output), /outside the allowed plugin directories/);
    // nobody sets it: the first existing plugin_dirs entry
    delete ctx.config.data.nagiosplugins;
    checks.loadFromConfig();
    await checks.runCheck("site");
    assert.deepEqual([checks.view("site")!.state, checks.view("site")!.output], [
      "warning",
      "from plugin_dirs",
    ]);
  } finally {
    await checks.stop();
    ctx.cleanup();
  }
});

Deno.test("a script with shell syntax runs through /bin/sh as in the original (said once at load); shell: false keeps argv", async () => {
  const ctx = makeTestCtx();
  Deno.chmodSync(ctx.dir, 0o755); // plugins run as nagios_user (nobody) when the tests run as root
  const pluginDir = join(ctx.dir, "plugins");
  Deno.mkdirSync(pluginDir);
  Deno.writeTextFileSync(
    join(pluginDir, "check_two"),
    `#!/bin/sh\necho "first $1"\necho second >&2\nexit 1\n`,
  );
  Deno.chmodSync(join(pluginDir, "check_two"), 0o755);
  ctx.config.params.checks.plugin_dirs = [pluginDir];
  const add = (id: string, value: Record<string, unknown>) =>
    ctx.config.objects.check[id] = { id, file: "", root: "", value: { ...value } };
  add("piped", { script: "$nagiosplugins$/check_two $word$ 2>&1 | head -1", word: "line" });
  add("argv", { script: "check_two 'a ; b'" });
  add("literal", { script: "check_two ';'", shell: false });
  add("forced", { script: "check_two x ; tr a-z A-Z", shell: false });
  const lines: string[] = [];
  const info = ctx.log.info;
  ctx.log.info = (m: string, ...r: unknown[]) => {
    lines.push(m);
    info.call(ctx.log, m, ...r);
  };
  const checks = createChecks(ctx);
  try {
    await checks.start();
    await Promise.all(["piped", "argv", "literal", "forced"].map((id) => checks.runCheck(id)));
    // the pipe's status is head's (0): as sh -c gave it in the original
    assert.deepEqual([checks.view("piped")!.state, checks.view("piped")!.output], ["ok", "first line"]);
    assert.deepEqual([checks.view("argv")!.state, checks.view("argv")!.output], [
      "warning",
      "first a ; b\nsecond",
    ]);
    assert.equal(checks.view("literal")!.output, "first ;\nsecond");
    assert.equal(checks.view("forced")!.output, "first x\nsecond", "shell: false passes ; as an argument");
    const said = lines.filter((l) => /shell syntax/.test(l));
    assert.equal(said.length, 1, said.join("\n"));
    assert.match(said[0], /^check piped: its script holds shell syntax \(>\): run through \/bin\/sh/);
  } finally {
    await checks.stop();
    ctx.cleanup();
  }
});

Deno.test("the plugin runner Worker stops when idle and starts again for the next run", async () => {
  const ctx = makeTestCtx();
  const runner = new NagiosRunner(ctx.sandbox, { idleMs: 150 });
  try {
    runner.allow(["/bin/echo"]);
    assert.equal(runner.running, false, "not started before the first run");
    const first = await runner.run(["/bin/echo", "one"], 5000, 1000);
    assert.equal(first.code, 0, String(first.error ?? ""));
    assert.match(first.output, /one/);
    assert.equal(runner.running, true);
    await until("the idle Worker stops", () => !runner.running);
    assert.equal(ctx.sandbox.workers().some((w) => w.running), false, "its isolate is gone");
    const again = await runner.run(["/bin/echo", "two"], 5000, 1000);
    assert.equal(again.code, 0, String(again.error ?? ""));
    assert.match(again.output, /two/);
    assert.equal(again.generation, first.generation, "an idle stop does not supersede results");
  } finally {
    runner.stop();
    ctx.cleanup();
  }
});

Deno.test("two plugin runners of one process never hand out the same run marker (the reaper kills by marker)", async () => {
  const ctx = makeTestCtx();
  const runners = [new NagiosRunner(ctx.sandbox), new NagiosRunner(ctx.sandbox)];
  try {
    const markers: string[] = [];
    for (const runner of runners) {
      runner.allow(["/usr/bin/env"]);
      const r = await runner.run(["/usr/bin/env"], 5000, 10_000);
      assert.equal(r.code, 0, String(r.error ?? ""));
      const m = r.output.match(/^KUNAI_RUN=(\S+)$/m);
      assert.ok(m, r.output);
      markers.push(m[1]);
    }
    // both runners' first run: the sequence alone (`<pid>.1`) would collide
    for (const m of markers) assert.match(m, new RegExp(`^${Deno.pid}\\.[0-9a-z]+\\.1$`));
    assert.notEqual(markers[0], markers[1]);
  } finally {
    for (const r of runners) r.stop();
    ctx.cleanup();
  }
});

Deno.test("a run asked while the same check runs shares that run: the plugin runs once", async () => {
  const ctx = makeTestCtx({ files: { "slow.json": { check: { script: "check_slow", interval: "1h" } } } });
  const pluginDir = join(ctx.dir, "plugins");
  Deno.chmodSync(ctx.dir, 0o755); // plugins run as nagios_user (nobody) when the tests run as root
  Deno.mkdirSync(pluginDir);
  Deno.chmodSync(pluginDir, 0o777);
  const count = join(pluginDir, "count");
  Deno.writeTextFileSync(
    join(pluginDir, "check_slow"),
    `#!/bin/sh\necho x >> ${count}\nsleep 0.3\necho SLOW OK\n`,
  );
  Deno.chmodSync(join(pluginDir, "check_slow"), 0o755);
  ctx.config.params.checks.plugin_dirs = [pluginDir];
  const checks = createChecks(ctx);
  try {
    await checks.start();
    await checks.runCheck("slow"); // (shares the scheduler's first run, if that one is under way)
    assert.equal(checks.view("slow")!.state, "ok", String(checks.view("slow")!.output));
    Deno.removeSync(count);
    await Promise.all([checks.runCheck("slow"), checks.runCheck("slow"), checks.runCheck("slow")]);
    assert.equal(Deno.readTextFileSync(count), "x\n", "one plugin run for three asks");
    await checks.runCheck("slow");
    assert.equal(Deno.readTextFileSync(count), "x\nx\n", "a later ask runs it again");
  } finally {
    await checks.stop();
    ctx.cleanup();
  }
});

Deno.test("a run asked after the check's definition was replaced runs the new one, not the old run in flight", async () => {
  const ctx = makeTestCtx({ files: { "slow.json": { check: { script: "check_old", interval: "1h" } } } });
  const pluginDir = join(ctx.dir, "plugins");
  Deno.chmodSync(ctx.dir, 0o755); // plugins run as nagios_user (nobody) when the tests run as root
  Deno.mkdirSync(pluginDir);
  Deno.chmodSync(pluginDir, 0o777);
  Deno.writeTextFileSync(join(pluginDir, "check_old"), "#!/bin/sh\nsleep 0.5\necho OLD OK\n");
  Deno.writeTextFileSync(join(pluginDir, "check_new"), "#!/bin/sh\necho NEW OK\n");
  for (const f of ["check_old", "check_new"]) Deno.chmodSync(join(pluginDir, f), 0o755);
  ctx.config.params.checks.plugin_dirs = [pluginDir];
  const checks = createChecks(ctx);
  try {
    await checks.start();
    const old = checks.runCheck("slow"); // in flight for 0.5 s
    const def = ctx.config.objects.check["slow"];
    ctx.config.objects.check["slow"] = {
      ...def,
      value: { ...(def.value as Record<string, unknown>), script: "check_new" },
    };
    checks.loadFromConfig();
    await checks.runCheck("slow");
    assert.equal(checks.view("slow")!.output, "NEW OK", String(checks.view("slow")!.output));
    await old;
    assert.equal(checks.view("slow")!.output, "NEW OK", "the old run's result is discarded");
  } finally {
    await checks.stop();
    ctx.cleanup();
  }
});

Deno.test("a silenced check's changes carry the silence: until OK again (the recovery notifies), or for a time", async () => {
  const ctx = makeTestCtx({ files: { "flip.json": { check: { script: "check_flip", interval: "1h" } } } });
  const pluginDir = join(ctx.dir, "plugins");
  Deno.chmodSync(ctx.dir, 0o755); // plugins run as nagios_user (nobody) when the tests run as root
  Deno.mkdirSync(pluginDir);
  const rc = join(pluginDir, "rc");
  Deno.writeTextFileSync(rc, "2");
  Deno.chmodSync(rc, 0o644);
  Deno.writeTextFileSync(
    join(pluginDir, "check_flip"),
    `#!/bin/sh\nr=$(cat ${rc})\necho "FLIP $r"\nexit $r\n`,
  );
  Deno.chmodSync(join(pluginDir, "check_flip"), 0o755);
  ctx.config.params.checks.plugin_dirs = [pluginDir];
  const events: CheckResultEvent[] = [];
  ctx.bus.on("check.changed", (e) => events.push(e));
  const silences: Array<{ id: string; reason: string | null }> = [];
  ctx.bus.on("check.silenced", (e) => silences.push({ id: e.id, reason: e.silenced?.reason ?? null }));
  const checks = createChecks(ctx);
  const flip = async (code: number) => {
    Deno.writeTextFileSync(rc, String(code));
    await checks.runNow("flip");
  };
  try {
    await checks.start();
    await checks.runNow("flip");
    assert.equal(checks.view("flip")!.state, "critical");
    assert.throws(() => checks.silence("nope", {}), /no check named "nope"/);
    assert.throws(() => checks.silence("flip", { for: "soon" }), /for: expected a duration/);
    // an acknowledgement: until the check is OK again
    const v = checks.silence("flip", { reason: "disk ordered" });
    assert.deepEqual(v.silenced, {
      reason: "disk ordered",
      since: (v.silenced as { since: number }).since,
      until: null,
    });
    await flip(1);
    assert.deepEqual(
      events.at(-1)!.silenced,
      { reason: "disk ordered", until: null },
      "critical -> warning: silenced",
    );
    await flip(0);
    assert.equal(events.at(-1)!.state, "ok");
    assert.equal(events.at(-1)!.silenced, undefined, "the recovery is notified");
    assert.equal(checks.view("flip")!.silenced, undefined, "and the silence is over");
    assert.throws(
      () => checks.silence("flip", {}),
      /is ok: a silence without "for" lasts until it is OK again/,
    );
    // for a time: every change within it, the recovery too
    checks.silence("flip", { for: "1h" });
    await flip(2);
    await flip(0);
    assert.equal(events.at(-1)!.state, "ok");
    assert.equal(events.at(-1)!.silenced?.until !== null, true, "a timed silence covers the recovery too");
    assert.equal(checks.unsilence("flip"), true);
    assert.equal(checks.unsilence("flip"), false);
    await flip(2);
    assert.equal(events.at(-1)!.silenced, undefined);
    // each silence and unsilence over the API is announced (the Shinken export acknowledges in Nagios);
    // an unsilence of a check without one is not
    assert.deepEqual(silences, [
      { id: "flip", reason: "disk ordered" },
      { id: "flip", reason: "" },
      { id: "flip", reason: null },
    ]);
  } finally {
    await checks.stop();
    ctx.cleanup();
  }
});

/** A test context whose check `c` runs plugin `name` from a fresh plugin directory (not there yet). */
function pluginCtx(check: Record<string, unknown>) {
  const ctx = makeTestCtx({ files: { "c.json": { check } } });
  const pluginDir = join(ctx.dir, "plugins");
  Deno.chmodSync(ctx.dir, 0o755); // plugins run as nagios_user (nobody) when the tests run as root
  Deno.mkdirSync(pluginDir);
  Deno.chmodSync(pluginDir, 0o777);
  ctx.config.params.checks.plugin_dirs = [pluginDir];
  const install = (name: string, body: string) => {
    Deno.writeTextFileSync(join(pluginDir, name), `#!/bin/sh\n${body}\n`);
    Deno.chmodSync(join(pluginDir, name), 0o755);
  };
  return { ctx, install };
}

Deno.test("a plugin missing when the check was loaded runs once it is installed, without a reload", async () => {
  const { ctx, install } = pluginCtx({ script: "check_later", interval: "1h" });
  const checks = createChecks(ctx);
  try {
    await checks.start();
    await checks.runCheck("c");
    let v = checks.view("c")!;
    assert.equal(v.state, "unknown");
    assert.match(String(v.output), /check_later.*not found|not found.*check_later/);
    assert.match(String((v.problems as string[])[0]), /check_later/);
    install("check_later", "echo LATER OK");
    await checks.runCheck("c");
    v = checks.view("c")!;
    assert.equal(v.state, "ok", String(v.output));
    assert.equal(v.output, "LATER OK");
    assert.equal(v.problems, undefined, "the problem is no longer shown");
  } finally {
    await checks.stop();
    ctx.cleanup();
  }
});

Deno.test("an interval under 1 s is raised to 1 s and said: the check still runs", async () => {
  const { ctx, install } = pluginCtx({ script: "check_fast", interval: "500ms" });
  install("check_fast", "echo FAST OK");
  const checks = createChecks(ctx);
  try {
    await checks.start();
    await checks.runCheck("c");
    const v = checks.view("c")!;
    assert.equal(v.output, "FAST OK", String(v.output));
    assert.deepEqual(v.problems, ['interval "500ms" is below 1s; using 1s']);
  } finally {
    await checks.stop();
    ctx.cleanup();
  }
});

Deno.test("a reload that leaves a check as it was keeps the result of its run in flight", async () => {
  const { ctx, install } = pluginCtx({ script: "check_slow2", interval: "1h" });
  install("check_slow2", "sleep 0.4\necho SLOW RESULT");
  const checks = createChecks(ctx);
  try {
    await checks.start();
    const run = checks.runCheck("c"); // (or the scheduler's first run, under way)
    await new Promise((r) => setTimeout(r, 100));
    // the same files read again, as SIGHUP does: a new object with the same definition
    ctx.config.objects.check["c"] = structuredClone(ctx.config.objects.check["c"]);
    checks.loadFromConfig();
    await run;
    assert.equal(checks.view("c")!.output, "SLOW RESULT");
  } finally {
    await checks.stop();
    ctx.cleanup();
  }
});

Deno.test("a removed check's silence and state go with it (at reload, and at a start without it)", async () => {
  const { ctx, install } = pluginCtx({ script: "check_bad", interval: "1h" });
  install("check_bad", "echo BAD\nexit 2");
  const events: CheckResultEvent[] = [];
  ctx.bus.on("check.changed", (e) => events.push(e));
  const def = ctx.config.objects.check["c"];
  const cycle = async (fn: (checks: ReturnType<typeof createChecks>) => Promise<void>) => {
    const checks = createChecks(ctx);
    try {
      await checks.start();
      await fn(checks);
    } finally {
      await checks.stop();
    }
  };
  try {
    // at reload: silenced, removed, added again
    await cycle(async (checks) => {
      await checks.runNow("c");
      checks.silence("c", { reason: "known" });
      delete ctx.config.objects.check["c"];
      checks.loadFromConfig();
      ctx.config.objects.check["c"] = def;
      checks.loadFromConfig();
      assert.equal(checks.view("c")!.state, "pending", "its old state is gone");
      assert.equal(checks.view("c")!.silenced, undefined);
      await checks.runNow("c");
      assert.equal(events.at(-1)!.state, "critical");
      assert.equal(events.at(-1)!.silenced, undefined, "the old silence mutes nothing");
      checks.silence("c", { reason: "known" });
    });
    // removed while the agent was down, then added again
    delete ctx.config.objects.check["c"];
    await cycle(() => Promise.resolve());
    ctx.config.objects.check["c"] = def;
    await cycle((checks) => {
      assert.equal(checks.view("c")!.silenced, undefined);
      assert.equal(checks.view("c")!.state, "pending");
      return Promise.resolve();
    });
  } finally {
    ctx.cleanup();
  }
});

Deno.test("a check a reload makes passive leaves the schedule and starts over", async () => {
  const { ctx, install } = pluginCtx({ script: "check_crit", interval: "1h" });
  install("check_crit", "echo CRIT\nexit 2");
  const checks = createChecks(ctx);
  try {
    await checks.start();
    await checks.runCheck("c");
    assert.equal(checks.view("c")!.state, "critical");
    assert.notEqual(checks.view("c")!.next_check, null);
    const def = ctx.config.objects.check["c"];
    ctx.config.objects.check["c"] = { ...def, value: { interval: "1h", script: "" } };
    checks.loadFromConfig();
    const v = checks.view("c")!;
    assert.equal(v.kind, "passive");
    assert.equal(v.next_check, null, "nothing to run: not scheduled");
    assert.equal(v.state, "pending", "the plugin's last CRITICAL is not this check's state");
  } finally {
    await checks.stop();
    ctx.cleanup();
  }
});

Deno.test("a plugin path a macro emptied names the macro nothing set, not only the path it left", () => {
  const dir = Deno.makeTempDirSync();
  try {
    const dirs = { pluginDirs: [dir], libexec: join(dir, "libexec") };
    const look = (p: string) => (p === "warn" ? "5" : undefined);
    const refused = (script: string) => {
      try {
        resolveCommand(script, look, dirs);
      } catch (err) {
        return (err as Error).message;
      }
      return assert.fail(`${script}: resolved`);
    };
    assert.equal(
      refused("$nagios_plugins$/check_load -w $warn$"),
      "plugin /check_load does not exist ($nagios_plugins$ is not set: empty; did you mean $nagiosplugins$?)",
    );
    assert.match(
      refused("$plug|other$check_x"),
      /plugin check_x not found in .* \(\$plug\|other\$ is not set: empty\)$/,
    );
    assert.equal(refused("$a$$b$ -x"), "script is empty ($a$, $b$ are not set: empty)");
    // a macro that is set is not blamed; a missing plugin is still said as before
    assert.equal(refused(`${dir}/check_nope -w $warn$`), `plugin ${dir}/check_nope does not exist`);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
