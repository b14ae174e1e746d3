import assert from "node:assert/strict";
import { startAgent } from "../helpers.ts";

Deno.test({
  name: "a real agent evaluates the README's cpu rule through kunai evaluator eval",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const agent = await startAgent({
      name: "evaluator-e2e",
      params: { bootstrap: true, thresholds: { cpuidle: { warning: 5, critical: 1 } } },
    });
    try {
      const list = await agent.cli(["evaluator", "list", "--json"]);
      assert.equal(list.code, 0, list.stderr);
      assert.ok(JSON.parse(list.stdout).includes("has_package"));

      const simple = await agent.cli(["evaluator", "eval", "--json", "'%s%%' % (100 - 97.5)"]);
      assert.equal(simple.code, 0, simple.stderr);
      assert.deepEqual(JSON.parse(simple.stdout), { expr: "'%s%%' % (100 - 97.5)", result: "2.5%" });

      const bad = await agent.cli(["evaluator", "eval", "1 +"]);
      assert.equal(bad.code, 1);
      assert.match(bad.stderr, /syntax error: unexpected end of expression \(column 4\)/);

      // collectors run in the agent: wait for the first cpustats result, then the README rule works
      const criticalIf = "{collector.cpustats.cpuall.%idle} < {configuration.thresholds.cpuidle.critical}";
      const okOutput = "'OK: cpu is great: %s%%' % (100-{collector.cpustats.cpuall.%idle})";
      const deadline = Date.now() + 25_000;
      let last = "";
      while (Date.now() < deadline) {
        const r = await agent.cli(["evaluator", "eval", "--json", criticalIf]);
        last = r.stdout + r.stderr;
        if (r.code === 0) {
          assert.equal(typeof JSON.parse(r.stdout).result, "boolean");
          const out = await agent.cli(["evaluator", "eval", "--json", okOutput]);
          assert.equal(out.code, 0, out.stderr);
          assert.match(JSON.parse(out.stdout).result, /^OK: cpu is great: \d+(\.\d+)?%$/);
          return;
        }
        assert.match(last, /missing/, "only 'not collected yet' may fail");
        await new Promise((res) => setTimeout(res, 500));
      }
      assert.fail(`cpustats never appeared: ${last}`);
    } finally {
      await agent.stop();
    }
  },
});
