/** The dry-run routes are open reads: concurrent requests share one run (a run may start `rpm -q`). */
import assert from "node:assert/strict";
import { detectorsRoutes } from "../../lib/detectors/routes.ts";
import type { Detectors } from "../../lib/detectors/detectors.ts";
import { buildApp } from "../../lib/http/mod.ts";
import { makeTestCtx } from "../helpers.ts";

Deno.test("concurrent dry runs of the detectors share one run; a later request runs again", async () => {
  let runs = 0;
  let gate = Promise.withResolvers<void>();
  const d = {
    list: () => [{ id: "linux/postfix" }],
    has: (name: string) => name === "linux/postfix",
    dryRun: async (name?: string) => {
      runs++;
      await gate.promise;
      return { [name ?? "all"]: { matched: true } };
    },
  } as unknown as Detectors;
  const ctx = makeTestCtx();
  const app = buildApp([detectorsRoutes(d)], {
    token: "",
    maxBody: 1 << 20,
    log: ctx.log,
    counters: ctx.counters,
  });
  try {
    const asks = Array.from({ length: 20 }, () => app.request("/agent/detectors/run"));
    const one = Array.from({ length: 5 }, () => app.request("/agent/detectors/run/linux/postfix"));
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(runs, 2, "one run for all, one for the named detector");
    gate.resolve();
    for (const r of await Promise.all(asks)) assert.deepEqual(await r.json(), { all: { matched: true } });
    for (const r of await Promise.all(one)) {
      assert.deepEqual(await r.json(), { "linux/postfix": { matched: true } });
    }
    gate = Promise.withResolvers<void>();
    gate.resolve();
    await (await app.request("/agent/detectors/run")).json();
    assert.equal(runs, 3, "a request after the run ended runs again");
  } finally {
    ctx.cleanup();
  }
});
