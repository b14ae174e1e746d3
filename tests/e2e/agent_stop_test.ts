/**
 * The agent's stop: subsystems stop in reverse order within the shared budget, and a part that
 * took a while is logged with its time (which one ate the budget on a busy host), a fast one not.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { Agent } from "../../lib/agent.ts";
import { resolveConfig } from "../../lib/config/mod.ts";
import type { Subsystem } from "../../lib/subsystem.ts";
import { freePort, tempDir } from "../helpers.ts";

function fake(name: string, stopMs: number, order: string[]): Subsystem {
  return {
    name,
    start: () => Promise.resolve(),
    stop: async () => {
      await new Promise((r) => setTimeout(r, stopMs));
      order.push(name);
    },
    info: () => ({}),
  };
}

Deno.test({
  name: "a stop logs each part that took a while, with its time, in reverse start order",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    using t = tempDir("kunai-stop-");
    const cfgDir = join(t.dir, "etc");
    Deno.mkdirSync(cfgDir);
    Deno.writeTextFileSync(
      join(cfgDir, "local.json"),
      JSON.stringify({
        name: "st",
        bind: "127.0.0.1",
        addr: "127.0.0.1",
        port: freePort(),
        data: join(t.dir, "data"),
        log: join(t.dir, "log"),
        lock: join(t.dir, "kunai.pid"),
        socket: join(t.dir, "kunai.sock"),
        bootstrap: true,
      }),
    );
    const order: string[] = [];
    const agent = new Agent({
      config: resolveConfig({ cfgDir, env: { HOME: t.dir } }),
      stderrLogs: false,
      build: () => [fake("quick", 0, order), fake("slowpoke", 400, order)],
    });
    await agent.start();
    await agent.stop("test");
    assert.deepEqual(order, ["slowpoke", "quick"]);
    const log = [...Deno.readDirSync(join(t.dir, "log"))]
      .map((e) => Deno.readTextFileSync(join(t.dir, "log", e.name))).join("");
    assert.match(log, /stopping: subsystem slowpoke took \d{3,} ms/);
    assert.doesNotMatch(log, /subsystem quick took/);
  },
});
