/**
 * Issue 10 (lifecycle): a reload that changes free data used by collectors (`redis_port`) reaches
 * them: the next run talks to the new port, with the services Worker's net permission updated.
 */
import assert from "node:assert/strict";
import { createCollectors } from "../../lib/collectors/mod.ts";
import { freePort, makeTestCtx } from "../helpers.ts";

Deno.test("a reload's new redis_port reaches the redis collector and its Worker's permissions", async () => {
  const first = freePort("127.0.0.1"), second = freePort("127.0.0.1");
  const ctx = makeTestCtx({ params: { redis_port: first } });
  const collectors = createCollectors(ctx);
  try {
    let e = await collectors.runOnce("redis");
    assert.match(e.log, new RegExp(`127\\.0\\.0\\.1:${first}\\b`));
    ctx.config.data = { ...ctx.config.data, redis_port: second };
    await collectors.start();
    ctx.bus.emit("config.reloaded", { files: [] });
    e = await collectors.runOnce("redis");
    assert.match(e.log, new RegExp(`no redis server reachable at 127\\.0\\.0\\.1:${second}\\b`), e.log);
    assert.doesNotMatch(e.log, /net access|NotCapable|permission/i, "the Worker may reach the new port");
  } finally {
    await collectors.stop();
    ctx.cleanup();
  }
});
