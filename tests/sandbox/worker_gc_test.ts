import assert from "node:assert/strict";
import { NO_PERMISSIONS, Sandbox } from "../../lib/sandbox/mod.ts";

const MODULE = new URL("../fixtures/sandbox_gc_worker.ts", import.meta.url);

Deno.test("a sandboxed Worker collects its heap after a call that grew it by 2 MB, not after smaller ones", async () => {
  const sb = new Sandbox();
  try {
    const w = sb.spawn({ name: "gc", module: MODULE, permissions: { ...NO_PERMISSIONS, import: true } });
    await w.call("noop"); // the heap level to count growth from
    assert.equal(await w.call("gcCalls"), 0);
    await w.call("grow", { mb: 6 });
    assert.equal(await w.call("gcCalls"), 1, "grown by well over 2 MB: collected once the reply is sent");
    await w.call("noop");
    assert.equal(await w.call("gcCalls"), 1, "no growth since: no collection");
  } finally {
    sb.stopAll();
  }
});
