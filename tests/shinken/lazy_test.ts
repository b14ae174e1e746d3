import assert from "node:assert/strict";
import { join } from "node:path";
import { createLazyShinken } from "../../lib/shinken/lazy.ts";
import type { RouteTable } from "../../lib/routing/mod.ts";
import { makeTestCtx, staticImports } from "../helpers.ts";
import { member } from "./fixtures.ts";

const exportOf = async (s: { routes?(): RouteTable }) =>
  await (await s.routes!().request("/agent/shinken/export")).json();

Deno.test("shinken on demand: without a shinken object, start loads nothing and the export route still answers", async () => {
  const ctx = makeTestCtx();
  try {
    const s = createLazyShinken(ctx, { membership: { self: () => member(1), members: () => [member(1)] } });
    await s.start();
    assert.deepEqual(s.info(), { enabled: false });
    const body = await exportOf(s);
    assert.equal(body.enabled, false);
    assert.deepEqual(Object.keys(body.files), [`${member(1).uuid}.cfg`]);
    assert.deepEqual(s.info(), { enabled: false }, "answering the route does not start the exporter");
    await s.stop();
  } finally {
    ctx.cleanup();
  }
});

Deno.test("shinken on demand: with a shinken object, start loads and starts the exporter (files written)", async () => {
  const ctx = makeTestCtx();
  const cfgPath = join(ctx.dir, "agent");
  ctx.config.listeners.shinken = {
    enabled: true,
    cfg_path: cfgPath,
    external_command_file: "",
    reload_command: "",
    monitoring_tool: "nagios",
    host_templates: ["agent", "kunai"],
    reload_delay: 500,
  };
  const members = [member(1), member(2)];
  try {
    const s = createLazyShinken(ctx, { membership: { self: () => members[0], members: () => members } });
    await s.start();
    assert.equal(s.info().enabled, true);
    assert.ok(Deno.statSync(join(cfgPath, `${members[1].uuid}.cfg`)).isFile);
    assert.equal((await exportOf(s)).enabled, true);
    await s.stop();
  } finally {
    ctx.cleanup();
  }
});

Deno.test("the wiring imports only the Shinken export's route and wrapper statically", async () => {
  const shinken = (await staticImports(new URL("../../lib/wiring.ts", import.meta.url)))
    .filter((s) => s.includes("/lib/shinken/")).map((s) => s.replace(/^.*\/lib\/shinken\//, "")).sort();
  assert.deepEqual(shinken, ["lazy.ts", "routes.ts"]);
});
