/**
 * A real agent: `kunai collectors list|show|run` and the `/agent/info` collectors section.
 */
import assert from "node:assert/strict";
import { runKunai, startAgent } from "../helpers.ts";

Deno.test("cli: collectors list/show against a running agent, run in-process, info section", async () => {
  const a = await startAgent({ name: "coll1" });
  try {
    // the first round lands within a second or so (cpustats samples twice 200 ms apart)
    let shown: Record<string, { active: boolean; results: Record<string, Record<string, number>> }> = {};
    for (let i = 0; i < 200; i++) {
      const r = await a.cli(["collectors", "show", "cpustats", "--json"]);
      if (r.code === 0) {
        shown = JSON.parse(r.stdout);
        if (shown.cpustats?.active) break;
      }
      await new Promise((res) => setTimeout(res, 100));
    }
    assert.equal(shown.cpustats.active, true);
    const idle = shown.cpustats.results.cpuall["%idle"];
    assert.ok(idle >= 0 && idle <= 100);

    const list = await a.cli(["collectors", "list"]);
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /^cpustats\s+:enabled$/m);
    assert.match(list.stdout, /^mongodb\s+:disabled$/m);

    const show = await a.cli(["collectors", "show"]);
    assert.match(show.stdout, /\[Collector memory\]/);
    assert.match(show.stdout, /\[Disabled collectors\]/);
    assert.doesNotMatch(show.stdout, /\[Collector mongodb\]/);
    const all = JSON.parse((await a.cli(["collectors", "show", "--all", "--json"])).stdout);
    assert.equal(all.mongodb.active, false);
    assert.match(all.mongodb.log, /no MongoDB server reachable/);
    const missing = await a.cli(["collectors", "show", "nope"]);
    assert.equal(missing.code, 1);

    const info = JSON.parse((await a.cli(["info", "--json"])).stdout);
    assert.deepEqual(info.collectors.cpustats, { name: "cpustats", active: true, log: "" });
    assert.equal(info.docker.enabled, false);
  } finally {
    await a.stop();
  }

  const run = await runKunai(["collectors", "run", "loadaverage", "--json"]);
  assert.equal(run.code, 0, run.stderr);
  const entry = JSON.parse(run.stdout);
  assert.equal(entry.active, true);
  assert.deepEqual(Object.keys(entry.results), ["load1", "load5", "load15"]);
  const bad = await runKunai(["collectors", "run", "nope"]);
  assert.equal(bad.code, 2);
  assert.match(bad.stdout + bad.stderr, /no collector named nope/);
});
