import assert from "node:assert/strict";
import { join } from "node:path";
import { createChecks, installDefaultPack } from "../../lib/checks/mod.ts";
import { createDetectors } from "../../lib/detectors/mod.ts";
import { resolveConfig } from "../../lib/config/mod.ts";
import type { CollectorResultsView } from "../../lib/types.ts";
import { makeTestCtx } from "../helpers.ts";

/** Collector results the tests hand to createChecks/createDetectors. */
let collectors: import("../../lib/types.ts").CollectorResultsView | undefined;

Deno.test("the default pack installs once and its checks, detectors and service load and evaluate", async () => {
  collectors = undefined;
  const ctx = makeTestCtx({ tags: ["linux"] });
  const data = ctx.config.params.data;
  // a copy cut off by a kill at an earlier first start (the name before, and ours): not loaded, removed
  const parent = join(data, "global-configuration");
  for (const left of ["packs.tmp-4242", ".packs.tmp-4243"]) {
    Deno.mkdirSync(join(parent, left, "linux", "checks"), { recursive: true });
    Deno.writeTextFileSync(join(parent, left, "linux", "checks", "cpu.json"), '{"check": {"ok_output": "cut');
  }
  const files = installDefaultPack(data);
  assert.ok(files.some((f) => f.endsWith("global-configuration/packs/linux/checks/cpu.json")));
  assert.deepEqual([...Deno.readDirSync(parent)].map((e) => e.name), ["packs"]);
  assert.deepEqual(installDefaultPack(data), [], "never overwrites an existing packs dir");
  ctx.config = resolveConfig({ cfgDir: ctx.config.cfgDir, env: { HOME: ctx.dir } });

  const results: Record<string, Record<string, unknown>> = {
    cpustats: { cpuall: { "%idle": 97.5 } },
    diskusage: { "/": { pct_used: 91 } },
    loadaverage: { load1: 5.5 },
    system: { cpucount: 4, publicip: "10.0.2.15" },
    memory: { phys_used: 42 },
    redis: { available: false },
  };
  collectors = {
    get: (n) => results[n],
    names: () => Object.keys(results),
  } satisfies CollectorResultsView;
  const checks = createChecks(ctx, { collectors });
  const detectors = createDetectors(ctx, { collectors });
  try {
    await checks.start();
    const ids = Object.keys(checks.allViews());
    for (
      const id of [
        "linux/cpu",
        "linux/disks",
        "linux/load",
        "linux/memory",
        "nagios/load",
        "nagios/disk",
        "nagios/procs",
        "nagios/mailq",
        "service:redis",
      ]
    ) {
      assert.ok(ids.includes(id), `${id} in ${ids}`);
      assert.equal(checks.view(id)!.problems, undefined, `${id}: ${checks.view(id)!.problems}`);
    }
    for (const id of ["linux/cpu", "linux/disks", "linux/load", "linux/memory"]) await checks.runCheck(id);
    const st = (id: string) => [checks.view(id)!.state, checks.view(id)!.output];
    assert.deepEqual(st("linux/cpu"), ["ok", "OK: cpu is great: 2.5%"]);
    // 100 - 66.73 is 33.269999999999996 in floats: the pack rounds, as Python 2's str() did for the original
    results.cpustats = { cpuall: { "%idle": 66.73 } };
    await checks.runCheck("linux/cpu");
    assert.deepEqual(st("linux/cpu"), ["ok", "OK: cpu is great: 33.27%"]);
    assert.deepEqual(st("linux/disks"), ["warning", "Warning: / is at 91%"]);
    assert.deepEqual(st("linux/load"), ["critical", "Critical: load is at 5.50 for 4 cpus"]);
    assert.deepEqual(st("linux/memory"), ["ok", "OK: memory is at 42%"]);
    assert.equal(checks.isActive("nagios/load"), false, "nagios checks need the 'nagios' tag");

    const dry = await detectors.dryRun();
    assert.deepEqual(Object.keys(dry).sort(), [
      "centos",
      "debian",
      "mongodb",
      "postfix",
      "redis",
      "virtualbox",
    ]);
    for (const [name, r] of Object.entries(dry)) assert.equal(r.error, undefined, `${name}: ${r.error}`);
    assert.deepEqual(dry.virtualbox, { matched: true, tags: ["virtualbox"], new_tags: ["virtualbox"] });

    ctx.node.setSourceTags("test", ["redis", "nagios"]);
    assert.ok(checks.isActive("service:redis"));
    await checks.runCheck("service:redis");
    assert.equal((ctx.node.services().redis as { state: string }).state, "critical");
    let plugins = false;
    try {
      plugins = Deno.statSync("/usr/lib/nagios/plugins/check_procs").isFile;
    } catch { /* not installed */ }
    if (plugins) {
      await Promise.all(["nagios/load", "nagios/disk", "nagios/procs"].map((id) => checks.runCheck(id)));
      for (const id of ["nagios/load", "nagios/disk", "nagios/procs"]) {
        assert.notEqual(checks.view(id)!.state, "unknown", `${id}: ${checks.view(id)!.output}`);
      }
    }
    assert.ok(Deno.statSync(join(data, "global-configuration/packs/nagios/package.json")).isFile);
  } finally {
    await checks.stop();
    await detectors.stop();
    ctx.cleanup();
  }
});
