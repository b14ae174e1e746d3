import assert from "node:assert/strict";
import { join } from "node:path";
import { createChecks } from "../../lib/checks/mod.ts";
import { buildApp } from "../../lib/http/mod.ts";
import type { MemberRecord, MembershipView } from "../../lib/types.ts";
import { makeTestCtx, type TestCtx } from "../helpers.ts";

function appFor(ctx: TestCtx, checks: ReturnType<typeof createChecks>) {
  const app = buildApp([checks.routes!()], {
    token: "secret",
    maxBody: 1 << 20,
    log: ctx.log,
    counters: ctx.counters,
  });
  return (path: string, init: RequestInit = {}, unix = true) =>
    app.request(path, init, { transport: unix ? "unix" : "tcp" });
}

Deno.test("check routes: list, get, PUT writes the file atomically inside cfg_dir, DELETE removes it", async () => {
  const ctx = makeTestCtx({
    tags: ["linux"],
    files: { "linux/one.json": { check: { critical_if: "1 > 2", ok_output: "'one ok'" } } },
  });
  const checks = createChecks(ctx);
  const req = appFor(ctx, checks);
  try {
    await checks.start();
    const all = await (await req("/agent/checks")).json();
    assert.deepEqual(Object.keys(all), ["linux/one"]);
    assert.equal(all["linux/one"].apply_on, "linux");
    assert.equal((await req("/agent/checks/nope")).status, 404);

    const body = JSON.stringify({
      check: { interval: "30s", warning_if: "2 > 1", warning_output: "'hot'", apply_on: "*" },
    });
    assert.equal(
      (await req("/agent/checks/web/hot", { method: "PUT", body }, false)).status,
      401,
      "TCP without token",
    );
    const put = await req("/agent/checks/web/hot", { method: "PUT", body });
    assert.equal(put.status, 200);
    const file = join(ctx.config.cfgDir, "web/hot.json");
    const saved = JSON.parse(Deno.readTextFileSync(file));
    assert.equal(saved.check.warning_if, "2 > 1");
    assert.equal(saved.check.state, undefined);
    await checks.runCheck("web/hot");
    const got = await (await req("/agent/checks/web/hot")).json();
    assert.deepEqual([got.state, got.output, got.active, got.from], ["warning", "hot", true, `file:${file}`]);

    for (const bad of ["../escape", "a/../../b", "%2e%2e/x"]) {
      const r = await req(`/agent/checks/${bad}`, { method: "PUT", body });
      assert.ok(r.status === 400 || r.status === 404, `${bad}: ${r.status}`);
    }
    const badType = await req("/agent/checks/t", {
      method: "PUT",
      body: JSON.stringify({ interval: "often" }),
    });
    assert.equal(badType.status, 400);
    assert.match(JSON.stringify(await badType.json()), /interval/);
    assert.equal((await req("/agent/checks/t", { method: "PUT", body: "{nope" })).status, 400);

    assert.equal((await req("/agent/checks/web/hot", { method: "DELETE" })).status, 200);
    assert.throws(() => Deno.statSync(file));
    assert.equal((await req("/agent/checks/web/hot")).status, 404);
  } finally {
    await checks.stop();
    ctx.cleanup();
  }
});

Deno.test("services follow their embedded check, are published on our node and shown with passing members", async () => {
  const ctx = makeTestCtx({
    tags: ["redis"],
    files: {
      "services/redis.json": {
        service: {
          name: "redis",
          port: 6379,
          check: { critical_if: "{configuration.down}", critical_output: "'down'", ok_output: "'up'" },
        },
      },
    },
    params: {},
  });
  ctx.config.data.down = false;
  let membership: MembershipView | undefined;
  const checks = createChecks(ctx, {
    membership: {
      self: () => membership!.self(),
      members: () => membership?.members() ?? [membership!.self()],
    },
  });
  const req = appFor(ctx, checks);
  const changes: string[][] = [];
  ctx.bus.on("services.changed", (e) => changes.push(e.names));
  try {
    await checks.start();
    assert.ok(checks.isActive("service:redis"), "service apply_on defaults to its name");
    await checks.runCheck("service:redis");
    let svc = ctx.node.services().redis as Record<string, unknown>;
    assert.deepEqual([svc.state, svc.state_id, svc.port], ["ok", 0, 6379]);
    const n = changes.length;
    await checks.runCheck("service:redis");
    assert.equal(changes.length, n, "no change, no services.changed");
    ctx.config.data.down = true;
    await checks.runCheck("service:redis");
    svc = ctx.node.services().redis as Record<string, unknown>;
    assert.deepEqual([svc.state_id, (svc.check as Record<string, unknown>).output], [2, "down"]);
    assert.equal(changes.length, n + 1);

    const one = await (await req("/agent/services/redis")).json();
    assert.equal(one.state, "critical");
    const self = {
      uuid: ctx.node.uuid,
      name: "test-node",
      addr: "127.0.0.1",
      port: 1,
      incarnation: 1,
      state: "alive",
      tags: [],
      services: ctx.node.services(),
      zone: "",
    } as MemberRecord;
    const other = {
      ...self,
      uuid: "b",
      name: "other",
      services: { redis: { state_id: 0, check: { state: "ok", state_id: 0, output: "up" } } },
    } as MemberRecord;
    const dead = { ...other, uuid: "c", name: "dead-one", state: "dead" } as MemberRecord;
    const view: MembershipView = {
      self: () => self,
      members: () => [self, other, dead],
    };
    membership = view;
    const st = await (await req("/state/services")).json();
    assert.deepEqual(st.redis.members, ["other", "test-node"]);
    assert.deepEqual(st.redis["passing-members"], ["other"]);
    assert.deepEqual(st.redis["failing-members"], ["test-node"]);
    assert.deepEqual([st.redis.passing, st.redis.failing], [1, 1]);
    const nope = await req("/state/services/nope");
    assert.equal(nope.status, 404);
    assert.equal((await nope.json()).error, "service not found");

    const local = await (await req("/agent/state")).json();
    assert.deepEqual(Object.keys(local.checks), ["service:redis"]);
    const remote = await (await req("/agent/state/other")).json();
    assert.equal(remote.services.redis.state_id, 0);
    assert.equal(remote.checks["service:redis"].output, "up");
    assert.equal((await req("/agent/state/ghost")).status, 404);
    // another node's services come from the network as any JSON: a null one threw (HTTP 500)
    const odd = {
      ...other,
      uuid: "d",
      name: "odd",
      services: { gone: null, text: "up", strcheck: { check: "ok" }, redis: other.services.redis },
    } as unknown as MemberRecord;
    membership = { self: () => self, members: () => [self, other, dead, odd] };
    const oddState = await req("/agent/state/odd");
    assert.equal(oddState.status, 200);
    assert.deepEqual(Object.keys((await oddState.json()).checks), ["service:redis"]);
    membership = view;

    const put = await req("/agent/services/web", {
      method: "PUT",
      body: JSON.stringify({ port: 80, apply_on: "*" }),
    });
    assert.equal(put.status, 200);
    assert.ok(Deno.statSync(join(ctx.config.cfgDir, "web.json")).isFile);
    assert.ok("web" in ctx.node.services());
    assert.equal((await req("/agent/services/web", { method: "DELETE" })).status, 200);
    assert.ok(!("web" in ctx.node.services()));
  } finally {
    await checks.stop();
    ctx.cleanup();
  }
});
