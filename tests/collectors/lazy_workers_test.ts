/**
 * Issue 12 (footprint): the services Worker starts only when a service collector has something to
 * talk to; a host without redis/MySQL/MongoDB/status URLs runs one collector Worker, and a services
 * Worker whose servers all went away is stopped.
 */
import assert from "node:assert/strict";
import { CollectorRuntime, SERVICE_COLLECTORS } from "../../lib/collectors/mod.ts";
import { Sandbox } from "../../lib/sandbox/mod.ts";
import { RealClock } from "../../lib/clock/mod.ts";
import { silentLogger } from "../../lib/log/mod.ts";
import { freePort } from "../helpers.ts";

const params = { interval: 10_000, timeout: 8_000, disabled: [], intervals: {} };

Deno.test("no reachable service: the service collectors answer without starting their Worker", async () => {
  const closed = freePort("127.0.0.1");
  const data = { redis_port: closed, mysql_port: closed, mongodb_server: `mongodb://127.0.0.1:${closed}` };
  const sandbox = new Sandbox();
  const rt = new CollectorRuntime({ sandbox, clock: new RealClock(), log: silentLogger, params, data });
  try {
    for (const name of SERVICE_COLLECTORS) {
      const e = await rt.runOnce(name);
      assert.equal(e.active, false, name);
    }
    assert.match(
      rt.entry("redis")!.log,
      new RegExp(`no redis server reachable at 127\\.0\\.0\\.1:${closed}`),
    );
    assert.match(rt.entry("apache")!.log, /apacheStatusUrl is not set/);
    assert.deepEqual(sandbox.workers().map((w) => w.spec.name), [], "no services Worker was started");
    // a server appears: the Worker starts for it, and stops again once nothing answers
    const server = Deno.listen({ hostname: "127.0.0.1", port: closed });
    const accepted = (async () => {
      for await (const c of server) c.close();
    })();
    await rt.runOnce("redis");
    assert.ok(sandbox.workers().some((w) => w.spec.name === "collectors-services"), "started on demand");
    server.close();
    await accepted.catch(() => {});
    await rt.runOnce("redis");
    assert.equal(sandbox.workers().filter((w) => w.running).length, 0, "stopped when no service answers");
  } finally {
    rt.stop();
    sandbox.stopAll();
  }
});
