import assert from "node:assert/strict";
import { createProcessMetrics } from "../../lib/process_metrics/mod.ts";
import { cpuUsage } from "../../lib/process_metrics/rusage.ts";
import { makeTestCtx } from "../helpers.ts";

const cpuOf = (text: string) => Number(/^kunai_process_cpu_seconds_total (\S+)$/m.exec(text)?.[1]);

Deno.test("process metrics are read at every /metrics render, not only on the 10 s timer", async () => {
  const ctx = makeTestCtx(); // virtual clock: the 10 s timer never fires here
  const p = createProcessMetrics(ctx);
  try {
    await p.start();
    const before = cpuOf(ctx.counters.render());
    assert.ok(before > 0, "CPU seconds are reported");
    // burn 40 ms of CPU (measured as CPU, not as wall time: a loaded box deschedules this thread): the
    // next scrape shows it (it showed the start-up sample until the timer)
    const cpuMs = () => {
      const u = cpuUsage();
      return (u.user + u.system) / 1000;
    };
    const from = cpuMs(), deadline = performance.now() + 10_000;
    let x = 0;
    while (cpuMs() < from + 40 && performance.now() < deadline) {
      for (let i = 0; i < 10_000; i++) x += Math.sqrt(x + 1);
    }
    assert.ok(cpuMs() >= from + 40, "40 ms of CPU burnt within 10 s");
    const after = ctx.counters.render();
    assert.ok(cpuOf(after) >= before + 0.03, `CPU ${before} -> ${cpuOf(after)}`);
    assert.match(after, /^kunai_process_resident_memory_bytes [1-9]\d+$/m);
    assert.match(after, /^kunai_process_open_fds [1-9]\d*$/m);
  } finally {
    await p.stop();
    ctx.cleanup();
  }
  // stopped: the hook is gone (a render no longer samples)
  const again = ctx.counters.render();
  const cpu = cpuOf(again);
  const until = performance.now() + 40;
  let y = 0;
  while (performance.now() < until) y += Math.sqrt(y + 1);
  assert.equal(cpuOf(ctx.counters.render()), cpu);
});
