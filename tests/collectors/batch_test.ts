import assert from "node:assert/strict";
import { VirtualClock } from "../../lib/clock/mod.ts";
import { askMany } from "../../lib/collectors/batch.ts";
import type { MethodServer } from "../../lib/sandbox/mod.ts";

/** A Worker that never answers. */
const silent: MethodServer = {
  spec: { name: "silent" },
  running: true,
  deniedReads: 0,
  call: () => new Promise(() => {}),
  terminate() {},
};

Deno.test("askMany: the batch's limit lands on the wake grid, a tick after the runs' own limits", async () => {
  const t0 = 1_700_000_002_500; // 2.5 s past a tick of the 10 s grid
  const clock = new VirtualClock(t0);
  const asks = askMany(silent, { names: ["a", "b"], timeoutMs: 8_000 }, 16_000, clock, () => {});
  let failedAt = 0;
  let message = "";
  asks.get("a")!().catch((err: Error) => {
    failedAt = clock.now();
    message = err.message;
  });
  // the runs' 8 s limits land on the tick at +17.5 s; 16 s alone would land there too
  await clock.advance(17_500);
  assert.equal(failedAt, 0, "not on the tick of the runs' own limits");
  await clock.advance(10_000 - 1);
  assert.equal(failedAt, 0);
  await clock.advance(1);
  assert.equal(failedAt, t0 + 27_500, "on the next tick");
  assert.match(message, /run took longer than 16000 ms/);
});

Deno.test("askMany: a short limit stays exact", async () => {
  const clock = new VirtualClock(1_700_000_002_500);
  const asks = askMany(silent, { names: ["a", "b"], timeoutMs: 100 }, 300, clock, () => {});
  let failed = false;
  asks.get("b")!().catch(() => failed = true);
  await clock.advance(299);
  assert.equal(failed, false);
  await clock.advance(1);
  assert.equal(failed, true);
});
