import assert from "node:assert/strict";
import { createEvaluator } from "../../lib/evaluator/mod.ts";
import { buildApp } from "../../lib/http/mod.ts";
import type { CollectorResultsView } from "../../lib/types.ts";
import { makeTestCtx } from "../helpers.ts";

Deno.test("the evaluator subsystem serves its routes with the node's collectors and configuration data", async () => {
  const ctx = makeTestCtx({
    params: { thresholds: { cpuidle: { warning: 5, critical: 1 } }, "dotted.key": { v: 7 } },
  });
  try {
    const shown: { view?: CollectorResultsView } = {};
    const collectors: CollectorResultsView = {
      get: (n) => shown.view?.get(n),
      names: () => shown.view?.names() ?? [],
    };
    const sub = createEvaluator(ctx, { collectors });
    await sub.start();
    const app = buildApp([sub.routes!()], {
      token: "",
      maxBody: 1 << 20,
      log: ctx.log,
      counters: ctx.counters,
    });
    const evalJson = async (expr: string) => {
      const res = await app.request("/agent/evaluator/eval", {
        method: "POST",
        body: JSON.stringify({ expr }),
      }, { transport: "unix" });
      return { status: res.status, body: await res.json() };
    };
    // no collectors yet: a typed 400, not a crash
    let r = await evalJson("{collector.cpustats.cpuall.%idle} < 1");
    assert.equal(r.status, 400);
    assert.equal(r.body.detail.kind, "missing");
    // collector results are read per request
    shown.view = {
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
