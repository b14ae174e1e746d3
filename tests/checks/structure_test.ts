/**
 * Issue 11 fixes in checks: one dotted-path walker (`$x.0$` and `{configuration.x.0}` agree),
 * routes declared in a RouteTable with every change a write route, and a check created through
 * the API keeps the `apply_on` it was given (`*` when none, so `api/test` runs).
 */
import assert from "node:assert/strict";
import { createChecks, expandMacros, lookupPath } from "../../lib/checks/mod.ts";
import { evaluate } from "../../lib/evaluator/mod.ts";
import { RouteTable } from "../../lib/routing/mod.ts";
import { buildApp } from "../../lib/http/mod.ts";
import { makeTestCtx } from "../helpers.ts";

Deno.test("$x.0$ and {configuration.x.0} answer the same (arrays, dotted keys, missing)", async () => {
  const data = { x: ["first", "second"], "a.b": { c: 3 }, n: { list: [{ v: 7 }] } };
  const lookup = (p: string) => lookupPath([data], p);
  for (const [path, want] of [["x.0", "first"], ["x.1", "second"], ["a.b.c", "3"], ["n.list.0.v", "7"]]) {
    assert.equal(expandMacros(`$${path}$`, lookup), want, path);
    assert.equal(String(await evaluate(`'{configuration.${path}}'`, { lookup })), want, path);
  }
  assert.equal(expandMacros("$x.2$", lookup), "");
  await assert.rejects(evaluate("{configuration.x.2}", { lookup }), /no value for 'x.2'/);
});

Deno.test("check routes are a RouteTable; every PUT and DELETE is a write route, the state for another agent a peer one", () => {
  const ctx = makeTestCtx();
  try {
    const table = createChecks(ctx).routes!();
    assert.ok(table instanceof RouteTable);
    const peer = table.routes.filter((r) => r.access === "peer").map((r) => `${r.method} ${r.path}`);
    assert.deepEqual(peer, ["POST /checks-internal/state"]);
    const changes = table.routes.filter((r) => r.method !== "GET" && r.access !== "peer");
    assert.ok(changes.length >= 4);
    for (const r of changes) assert.equal(r.access, "write", `${r.method} ${r.path}`);
    for (const r of table.routes.filter((r) => r.method === "GET")) assert.equal(r.access, "read");
  } finally {
    ctx.cleanup();
  }
});

Deno.test("a check PUT through the API keeps its apply_on (default *), runs, and is refused over TCP without a token", async () => {
  const ctx = makeTestCtx({ tags: ["linux"] });
  const checks = createChecks(ctx);
  const app = buildApp([checks.routes!()], {
    token: "tok",
    maxBody: 1 << 20,
    log: ctx.log,
    counters: ctx.counters,
  });
  const put = (name: string, body: unknown, transport = "unix", auth?: string) =>
    app.request(`/agent/checks/${name}`, {
      method: "PUT",
      headers: auth ? { authorization: `Bearer ${auth}` } : {},
      body: JSON.stringify(body),
    }, { transport });
  try {
    await checks.start();
    assert.equal((await put("api/nope", { critical_if: "False" }, "tcp")).status, 401);
    assert.equal((await put("api/nope", { critical_if: "False" }, "tcp", "bad")).status, 403);
    let r = await put("api/test", { critical_if: "1 > 2", ok_output: "'fine'" });
    assert.equal(r.status, 200, await r.clone().text());
    let v = await r.json();
    assert.equal(v.apply_on, "*");
    assert.equal(v.active, true, "an API check with no apply_on runs everywhere");
    await checks.runCheck("api/test");
    assert.equal(checks.view("api/test")!.output, "fine");
    r = await put("api/tagged", { critical_if: "False", apply_on: "linux" }, "tcp", "tok");
    v = await r.json();
    assert.deepEqual([v.apply_on, v.active], ["linux", true]);
    // a reload reads the written file back with the same apply_on
    const file = Deno.readTextFileSync(`${ctx.config.cfgDir}/api/test.json`);
    assert.equal(JSON.parse(file).check.apply_on, "*");
  } finally {
    await checks.stop();
    ctx.cleanup();
  }
});

Deno.test("secret-named check and service fields are masked in views and in the published services", async () => {
  const ctx = makeTestCtx({
    files: {
      "db.json": {
        check: { critical_if: "False", ok_output: "'$db_password$'", db_password: "hunter2", apply_on: "*" },
      },
      "redis.json": { service: { name: "redis", port: 6379, auth_token: "tok-123", apply_on: "*" } },
    },
  });
  const checks = createChecks(ctx);
  try {
    await checks.start();
    const view = checks.view("db")!;
    assert.equal(view.db_password, "********");
    const svc = checks.serviceViews().redis;
    assert.equal(svc.auth_token, "********");
    assert.equal(svc.port, 6379);
    assert.ok(!JSON.stringify(ctx.node.services()).includes("tok-123"), "gossip never carries the secret");
  } finally {
    await checks.stop();
    ctx.cleanup();
  }
});
