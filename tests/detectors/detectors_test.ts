import assert from "node:assert/strict";
import { join } from "node:path";
import { createChecks } from "../../lib/checks/mod.ts";
import { createDetectors } from "../../lib/detectors/mod.ts";
import { buildApp } from "../../lib/http/mod.ts";
import { makeTestCtx } from "../helpers.ts";
import { VirtualClock } from "../../lib/clock/mod.ts";

/** Collector results the tests hand to createChecks/createDetectors. */
let collectors: import("../../lib/types.ts").CollectorResultsView | undefined;

Deno.test("a detector on a temp file gains and (with removal on) loses a tag, and checks re-link", async () => {
  collectors = undefined;
  const ctx = makeTestCtx();
  // expressions read only files every user may read (the broker's rule): open the test dir
  Deno.chmodSync(ctx.dir, 0o755);
  const flag = join(ctx.dir, "flag");
  ctx.config.objects.detector["flagged"] = {
    id: "flagged",
    file: "",
    root: "",
    value: { tags: ["flagged"], apply_if: `fileexists('${flag}')`, interval: "10s", remove_when_false: true },
  };
  ctx.config.objects.detector["sticky"] = {
    id: "sticky",
    file: "",
    root: "",
    value: { tags: ["sticky"], apply_if: `grep('sticky', '${flag}')`, interval: "10s" },
  };
  ctx.config.objects.check["flagged/x"] = {
    id: "flagged/x",
    file: "",
    root: "",
    value: { warning_if: "1 > 2", ok_output: "'ok'" },
  };
  const checks = createChecks(ctx, { collectors });
  const detectors = createDetectors(ctx, { collectors });
  const tagEvents: string[][] = [];
  ctx.bus.on("tags.changed", (e) => tagEvents.push(e.tags));
  try {
    await checks.start();
    await detectors.start();
    assert.equal(checks.isActive("flagged/x"), false);
    await detectors.runDetector("flagged");
    assert.deepEqual(ctx.node.tags(), []);

    Deno.writeTextFileSync(flag, "this host is STICKY\n");
    const dry = await detectors.dryRun();
    assert.deepEqual(dry.flagged, { matched: true, tags: ["flagged"], new_tags: ["flagged"] });
    assert.deepEqual(ctx.node.tags(), [], "a dry run applies nothing");
    await detectors.runDetector("flagged");
    await detectors.runDetector("sticky");
    assert.deepEqual(ctx.node.tags().sort(), ["flagged", "sticky"]);
    assert.equal(checks.isActive("flagged/x"), true, "checks re-link on tags.changed");

    Deno.removeSync(flag);
    await detectors.runDetector("flagged");
    await detectors.runDetector("sticky");
    assert.deepEqual(ctx.node.tags(), ["sticky"], "removal only with remove_when_false");
    assert.equal(checks.isActive("flagged/x"), false);
    assert.deepEqual(tagEvents.map((t) => t.sort().join(",")), ["flagged", "flagged,sticky", "sticky"]);

    const list = detectors.list();
    assert.deepEqual(list.map((d) => [d.name, d.matched]), [["flagged", false], ["sticky", false]]);
  } finally {
    await detectors.stop();
    await checks.stop();
    ctx.cleanup();
  }
});

Deno.test("detector routes list and dry-run; an apply_if error keeps tags and is reported", async () => {
  collectors = undefined;
  const ctx = makeTestCtx({
    files: {
      "detectors/yes.json": { detector: { tags: ["linux"], apply_if: "1 == 1", interval: "10s" } },
      "detectors/bad.json": {
        detector: { tags: ["x"], apply_if: "nosuchfn(1)", interval: "10s", remove_when_false: true },
      },
    },
  });
  const detectors = createDetectors(ctx, { collectors });
  const app = buildApp([detectors.routes!()], {
    token: "",
    maxBody: 1 << 20,
    log: ctx.log,
    counters: ctx.counters,
  });
  try {
    const list = await (await app.request("/agent/detectors")).json();
    assert.deepEqual(list.map((d: { name: string }) => d.name), ["detectors/bad", "detectors/yes"]);
    const run = await (await app.request("/agent/detectors/run")).json();
    assert.deepEqual(run["detectors/yes"], { matched: true, tags: ["linux"], new_tags: ["linux"] });
    assert.equal(run["detectors/bad"].matched, false);
    assert.match(run["detectors/bad"].error, /bad\.json: apply_if: .*nosuchfn/);
    const one = await (await app.request("/agent/detectors/run/detectors/yes")).json();
    assert.deepEqual(Object.keys(one), ["detectors/yes"]);
    const nope = await app.request("/agent/detectors/run/nope");
    assert.equal(nope.status, 404);
    // the error names the ids that exist (the CLI prints it as is)
    assert.match(
      (await nope.json()).error,
      /^detector not found: "nope" \(known: detectors\/bad, detectors\/yes;/,
    );
    await detectors.runDetector("detectors/bad");
    assert.deepEqual(ctx.node.tags(), []);
    assert.ok(ctx.sink.recent.WARNING.some((l) => l.includes("nosuchfn")));
  } finally {
    ctx.cleanup();
  }
});

Deno.test("detectors run on their interval once started", async () => {
  collectors = undefined;
  const ctx = makeTestCtx();
  ctx.config.objects.detector["always"] = {
    id: "always",
    file: "",
    root: "",
    value: { tags: ["auto"], apply_if: "True", interval: "10s" },
  };
  const detectors = createDetectors(ctx, { collectors });
  const clock = ctx.clock as import("../../lib/clock/mod.ts").VirtualClock;
  try {
    await detectors.start();
    await clock.advance(1);
    for (let i = 0; i < 20 && !ctx.node.tags().includes("auto"); i++) {
      await new Promise((r) => setTimeout(r, 5));
    }
    assert.deepEqual(ctx.node.tags(), ["auto"]);
    assert.equal(clock.pending > 0, true, "next run planned");
  } finally {
    await detectors.stop();
    ctx.cleanup();
  }
});

Deno.test("at start a detector waits for its collector's first results, retrying every second, without warning", async () => {
  collectors = undefined;
  const clock = new VirtualClock(0);
  const ctx = makeTestCtx({ clock });
  const data: Record<string, Record<string, unknown>> = {};
  collectors = { get: (n) => data[n], names: () => ["system"] };
  ctx.config.objects.detector["virtualbox"] = {
    id: "virtualbox",
    file: "",
    root: "",
    value: {
      tags: ["virtualbox"],
      apply_if: "ip_in_range('{collector.system.publicip}', '10.0.2.0/24')",
      interval: "10s",
    },
  };
  const detectors = createDetectors(ctx, { collectors });
  try {
    await detectors.start();
    await clock.advance(2000);
    assert.deepEqual(ctx.node.tags(), []);
    assert.equal(ctx.sink.recent.WARNING.length, 0, "no warning while the collector has not run yet");
    data.system = { publicip: "10.0.2.15" };
    await clock.advance(1500);
    assert.deepEqual(ctx.node.tags(), ["virtualbox"], "retried within a second once results exist");
  } finally {
    await detectors.stop();
    ctx.cleanup();
  }
});

Deno.test("one timer serves every detector; those sharing an interval run together, each when due", async () => {
  collectors = undefined;
  const clock = new VirtualClock(0);
  const ctx = makeTestCtx({ clock });
  const def = (apply_if: string, interval: string) => ({ tags: ["t"], apply_if, interval });
  for (
    const [id, v] of Object.entries({ a: def("True", "10s"), b: def("False", "10s"), c: def("1 > 2", "30s") })
  ) {
    ctx.config.objects.detector[id] = { id, file: "", root: "", value: v };
  }
  const detectors = createDetectors(ctx, { collectors });
  const launches = () =>
    Object.fromEntries(detectors.list().map((d) => [d.id as string, d.last_launch as number]));
  const walk = async (ms: number) => {
    for (let t = 0; t < ms; t += 1000) {
      await clock.advance(1000);
      await new Promise((r) => setTimeout(r, 0));
    }
  };
  try {
    await detectors.start();
    await walk(1000);
    assert.equal(clock.pending, 1, "a single timer for the three");
    assert.deepEqual(launches(), { a: 0, b: 0, c: 0 });
    await walk(20_000);
    assert.deepEqual(launches(), { a: 20, b: 20, c: 0 });
    await walk(10_000);
    assert.deepEqual(launches(), { a: 30, b: 30, c: 30 });
    assert.equal(clock.pending, 1);
    // a reload plans every detector now; the runs then go back to the epoch grid of their interval
    detectors.loadFromConfig();
    await walk(1000);
    assert.deepEqual(launches(), { a: 31, b: 31, c: 31 });
    await walk(10_000);
    assert.deepEqual(launches(), { a: 40, b: 40, c: 31 });
    await walk(20_000);
    assert.deepEqual(launches(), { a: 60, b: 60, c: 60 }, "every interval's grid meets the others'");
    await detectors.stop();
    assert.equal(clock.pending, 0, "stop clears the timer");
  } finally {
    await detectors.stop();
    ctx.cleanup();
  }
});

Deno.test("a reload that renames a detector keeps its tags without a flap; a changed rule drops them", async () => {
  collectors = undefined;
  const ctx = makeTestCtx();
  const rule = { tags: ["web"], apply_if: "1 == 1", interval: "10s", remove_when_false: true };
  ctx.config.objects.detector["old"] = { id: "old", file: "", root: "", value: rule };
  const detectors = createDetectors(ctx, { collectors });
  const tagEvents: string[] = [];
  ctx.bus.on("tags.changed", (e) => tagEvents.push(`+${e.added.join(",")} -${e.removed.join(",")}`));
  try {
    await detectors.runDetector("old");
    assert.deepEqual(ctx.node.tags(), ["web"]);
    assert.deepEqual(tagEvents, ["+web -"]);

    delete ctx.config.objects.detector["old"];
    ctx.config.objects.detector["pack/new"] = { id: "pack/new", file: "", root: "", value: { ...rule } };
    detectors.loadFromConfig();
    assert.deepEqual(ctx.node.tags(), ["web"], "the renamed detector's tag stays");
    await detectors.runDetector("pack/new");
    assert.deepEqual(ctx.node.tags(), ["web"]);
    assert.deepEqual(tagEvents, ["+web -"], "no tags.changed for a rename");
    assert.equal(detectors.list().find((d) => d.id === "pack/new")?.matched, true);

    delete ctx.config.objects.detector["pack/new"];
    ctx.config.objects.detector["other"] = {
      id: "other",
      file: "",
      root: "",
      value: { ...rule, tags: ["web", "nginx"] },
    };
    detectors.loadFromConfig();
    assert.deepEqual(ctx.node.tags(), [], "another rule is another detector: its tags come from its run");
    assert.deepEqual(tagEvents, ["+web -", "+ -web"]);
  } finally {
    await detectors.stop();
    ctx.cleanup();
  }
});
