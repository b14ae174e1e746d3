import assert from "node:assert/strict";
import { createEvaluator } from "../../lib/evaluator/mod.ts";
import { makeTestCtx } from "../helpers.ts";

Deno.test("the evaluator subsystem serves its routes with the node's collectors and configuration data", async () => {
  const ctx = makeTestCtx({
    params: { thresholds: { cpuidle: { warning: 5, critical: 1 } }, "dotted.key": { v: 7 } },
  });
  try {
    const sub = createEvaluator(ctx);
    await sub.start();
    const app = sub.routes!();
    const evalJson = async (expr: string) => {
      const res = await app.request("/agent/evaluator/eval", {
        method: "POST",
        body: JSON.stringify({ expr }),
      });
      return { status: res.status, body: await res.json() };
    };
    // no collectors yet: a typed 400, not a crash
    let r = await evalJson("{collector.cpustats.cpuall.%idle} < 1");
    assert.equal(r.status, 400);
    assert.equal(r.body.detail.kind, "missing");
    // the view appears once collectors are built (read per request)
    ctx.views.collectors = {
      get: (n) => (n === "cpustats" ? { cpuall: { "%idle": 0.5 } } : undefined),
      names: () => ["cpustats"],
    };
    r = await evalJson("{collector.cpustats.cpuall.%idle} < {configuration.thresholds.cpuidle.critical}");
    assert.deepEqual(r, { status: 200, body: true });
    r = await evalJson("{configuration.dotted.key.v} * 6");
    assert.deepEqual(r, { status: 200, body: 42 });
    assert.deepEqual(sub.info(), { functions: 13, evaluations: 3, failures: 1 });
    assert.equal(ctx.counters.get("evaluator_evaluations_total", { result: "ok" }), 2);
    assert.equal(ctx.counters.get("evaluator_evaluations_total", { result: "missing" }), 1);
    await sub.stop();
  } finally {
    ctx.cleanup();
  }
});
