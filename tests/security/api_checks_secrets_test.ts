/**
 * A check or service written through the HTTP API (a write route) must not read configuration
 * secrets: its output is served by the open read route /agent/checks/NAME, so
 * `ok_output: "'{configuration.mysql_password}'"` published the password. Such checks see what
 * `POST /agent/evaluator/eval` sees; checks of the configuration files (written by the admin) see all.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { createChecks } from "../../lib/checks/mod.ts";
import { resolveConfig } from "../../lib/config/mod.ts";
import { buildApp } from "../../lib/http/mod.ts";
import { makeTestCtx } from "../helpers.ts";

Deno.test("checks and services the API wrote evaluate with the public lookup, config-file checks with the full one", async () => {
  const ctx = makeTestCtx({
    params: {
      mysql_password: "hunter2",
      mongodb_server: "mongodb://admin:hunter4@127.0.0.1/admin",
      thresholds: { cpu: 90 },
    },
    files: {
      "admin.json": { check: { critical_if: "False", ok_output: "'{configuration.mysql_password}'" } },
    },
  });
  const checks = createChecks(ctx);
  const app = buildApp([checks.routes!()], {
    token: "t",
    maxBody: 1 << 20,
    log: ctx.log,
    counters: ctx.counters,
  });
  const unix = (path: string, init: RequestInit = {}) => app.request(path, init, { transport: "unix" });
  const put = async (path: string, body: unknown) => {
    const r = await unix(path, { method: "PUT", body: JSON.stringify(body) });
    assert.equal(r.status, 200, await r.clone().text());
  };
  // what anyone reads over TCP
  const shown = async (id: string) => await (await app.request(`/agent/checks/${id}`)).text();
  try {
    await checks.start();
    await put("/agent/checks/leak", {
      check: { critical_if: "False", ok_output: "'{configuration.mysql_password}'" },
    });
    await put("/agent/checks/url", {
      check: { critical_if: "False", ok_output: "'{configuration.mongodb_server}'" },
    });
    await put("/agent/checks/free", {
      check: { critical_if: "{configuration.thresholds.cpu} < 50", ok_output: "'ok'" },
    });
    await put("/agent/checks/plugin", { check: { script: "check_dummy 0 $mysql_password$" } });
    await put("/agent/services/svc", {
      service: { check: { critical_if: "False", ok_output: "'{configuration.mysql_password}'" } },
    });
    // a body cannot opt out: what the API writes is marked so
    await put("/agent/checks/optout", {
      check: { critical_if: "False", ok_output: "'{configuration.mysql_password}'", written_by: "api" },
    });
    assert.equal(
      JSON.parse(Deno.readTextFileSync(join(ctx.config.cfgDir, "leak.json"))).check.written_by,
      "api",
      "the mark is in the file, so a reload keeps it",
    );
    // as after a restart: the API's checks are files now
    ctx.config = resolveConfig({ cfgDir: ctx.config.cfgDir, env: { HOME: ctx.dir } });
    checks.loadFromConfig();
    checks.relink();
    for (const id of ["leak", "url", "free", "plugin", "service:svc", "optout", "admin"]) {
      await checks.runCheck(id).catch(() => {});
    }
    for (const id of ["leak", "plugin", "service:svc", "optout"]) {
      const text = await shown(id);
      assert.doesNotMatch(text, /hunter/, `${id}: ${text}`);
      assert.match(text, /looks like a secret \('mysql_password'\)/, `${id}: ${text}`);
    }
    const url = JSON.parse(await shown("url"));
    assert.equal(url.output, "mongodb://admin:********@127.0.0.1/admin");
    const free = JSON.parse(await shown("free"));
    assert.deepEqual([free.state, free.output], ["ok", "ok"], "public data still works");
    const admin = JSON.parse(await shown("admin"));
    assert.deepEqual([admin.state, admin.output], ["ok", "hunter2"], "the admin's own check sees everything");
  } finally {
    await checks.stop();
    ctx.cleanup();
  }
});
