import assert from "node:assert/strict";
import {
  BUSY_RETRY_MS,
  COLLECT_AT_MS,
  MAX_DEFERRALS,
  PAGES_ONLY_AT_MS,
  settleAfterStart,
  type SettleDeps,
  settleStep,
} from "../../lib/process_metrics/settle.ts";

/** Deps that record every effect, with timers driven by hand. */
function fakeDeps(opts: { gc?: boolean; trim?: boolean; release?: boolean } = {}) {
  const calls: string[] = [];
  const timers = new Map<number, { fn: () => void; ms: number }>();
  let next = 1;
  const deps: SettleDeps = {
    release: () => {
      calls.push("release");
      return opts.release === false ? null : { mappings: 3, bytes: 4096, failed: 0 };
    },
    gc: opts.gc === false ? undefined : () => calls.push("gc"),
    trim: () => {
      calls.push("trim");
      return opts.trim !== false;
    },
    setTimer: (fn, ms) => {
      timers.set(next, { fn, ms });
      return next++;
    },
    clearTimer: (id) => timers.delete(id),
  };
  /** Fires the one pending timer; returns its delay. */
  const fire = () => {
    assert.equal(timers.size, 1, "exactly one timer pending");
    const [id, t] = [...timers][0];
    timers.delete(id);
    t.fn();
    return t.ms;
  };
  return { deps, calls, timers, fire };
}

Deno.test("a start-up step collects garbage, then trims malloc, then releases file pages", () => {
  const f = fakeDeps();
  const r = settleStep(f.deps, "collect");
  assert.deepEqual(f.calls, ["gc", "trim", "release"]);
  assert.deepEqual(r, {
    startup: true,
    releasedBytes: 4096,
    mappings: 3,
    failed: 0,
    errors: [],
    collected: true,
    trimmed: true,
  });
});

Deno.test("a refresh step only releases file pages", () => {
  const f = fakeDeps();
  const r = settleStep(f.deps, "pages");
  assert.deepEqual(f.calls, ["release"]);
  assert.equal(r.startup, false);
  assert.equal(r.collected, false);
  assert.equal(r.trimmed, false);
});

Deno.test("without gc, glibc or /proc a step reports nothing done", () => {
  const f = fakeDeps({ gc: false, trim: false, release: false });
  const r = settleStep(f.deps, "collect");
  assert.deepEqual(f.calls, ["trim", "release"]);
  assert.deepEqual(r, {
    startup: true,
    releasedBytes: 0,
    mappings: 0,
    failed: 0,
    errors: [],
    collected: false,
    trimmed: false,
  });
});

Deno.test("settleAfterStart runs at once, then at each moment, then every refresh period", () => {
  const f = fakeDeps();
  const reports: boolean[] = [];
  const stop = settleAfterStart((s) => reports.push(s.startup), f.deps, [0, 2_000, 10_000], 600_000, []);
  assert.deepEqual(reports, [true], "the first step runs synchronously");
  assert.equal(f.fire(), 2_000);
  assert.equal(f.fire(), 8_000, "delays are between consecutive moments");
  assert.deepEqual(reports, [true, true, true]);
  assert.equal(f.fire(), 600_000);
  assert.equal(f.fire(), 600_000);
  assert.deepEqual(reports, [true, true, true, false, false], "refreshes release file pages only");
  stop();
  assert.equal(f.timers.size, 0, "stop cancels the pending timer");
});

Deno.test("stop before the first timer leaves nothing scheduled and nothing runs later", () => {
  const f = fakeDeps();
  let n = 0;
  const stop = settleAfterStart(() => n++, f.deps, [1_000], 5_000);
  assert.equal(n, 0, "no step at 0 ms");
  assert.equal(f.timers.size, 1);
  const [[, t]] = [...f.timers];
  stop();
  assert.equal(f.timers.size, 0);
  t.fn(); // a timer that fired anyway after stop()
  assert.equal(n, 0);
});

Deno.test("the late steps wait while the agent is busy, the start-up ones do not, and not forever", () => {
  const f = fakeDeps();
  let busy = true;
  f.deps.busy = () => busy;
  const reports: boolean[] = [];
  settleAfterStart((s) => reports.push(s.startup), f.deps, [0, 2_000, 60_000], 600_000, []);
  assert.equal(reports.length, 1, "the first step runs even when busy");
  assert.equal(f.fire(), 2_000);
  assert.equal(reports.length, 2, "a short step runs even when busy");
  assert.equal(f.fire(), 58_000);
  assert.equal(reports.length, 2, "the +60 s step waits while busy");
  assert.equal(f.fire(), BUSY_RETRY_MS);
  assert.equal(reports.length, 2);
  busy = false;
  assert.equal(f.fire(), BUSY_RETRY_MS);
  assert.deepEqual(reports, [true, true, true], "runs once quiet, as a start-up step");
  busy = true;
  assert.equal(f.fire(), 600_000);
  for (let i = 0; i < MAX_DEFERRALS; i++) assert.equal(f.fire(), BUSY_RETRY_MS);
  assert.deepEqual(reports, [true, true, true, false], "a refresh runs after MAX_DEFERRALS retries anyway");
  assert.equal(f.fire(), 600_000, "and the next is planned a period later");
});

Deno.test("by default the +2 s step releases file pages only; gc and trim wait for +10 s", () => {
  const f = fakeDeps();
  const steps: Array<{ full: boolean; collected: boolean; trimmed: boolean }> = [];
  const stop = settleAfterStart(
    (s) => steps.push({ full: s.startup, collected: s.collected, trimmed: s.trimmed }),
    f.deps,
  );
  assert.deepEqual(PAGES_ONLY_AT_MS, [2_000]);
  assert.equal(f.fire(), 2_000);
  assert.equal(f.fire(), 8_000);
  assert.deepEqual(steps.map((s) => s.full), [true, false, true], "0 s full, +2 s pages only, +10 s full");
  assert.deepEqual(steps[1], { full: false, collected: false, trimmed: false });
  assert.ok(steps[2].collected, "the +10 s step collects garbage");
  stop();
});

Deno.test("a trim step trims malloc and releases file pages without a collection", () => {
  const f = fakeDeps();
  const r = settleStep(f.deps, "trim");
  assert.deepEqual(f.calls, ["trim", "release"]);
  assert.equal(r.startup, true);
  assert.equal(r.collected, false);
  assert.equal(r.trimmed, true);
});

Deno.test("by default only the 0 s and +10 s steps collect; +60 s trims and releases, refreshes release", () => {
  const f = fakeDeps();
  const stop = settleAfterStart(() => {}, f.deps);
  assert.deepEqual(COLLECT_AT_MS, [0, 10_000]);
  assert.deepEqual(f.calls, ["gc", "trim", "release"], "the 0 s step");
  f.calls.length = 0;
  assert.equal(f.fire(), 2_000);
  assert.deepEqual(f.calls, ["release"], "+2 s: file pages only");
  f.calls.length = 0;
  assert.equal(f.fire(), 8_000);
  assert.deepEqual(f.calls, ["gc", "trim", "release"], "+10 s: the full step");
  f.calls.length = 0;
  assert.equal(f.fire(), 50_000);
  assert.deepEqual(f.calls, ["trim", "release"], "+60 s: no collection");
  f.calls.length = 0;
  assert.equal(f.fire(), 600_000);
  assert.deepEqual(f.calls, ["release"], "the refresh");
  stop();
});

Deno.test("the +10 s step waits while the agent is busy (a KV node under load), the +2 s one does not", () => {
  const f = fakeDeps();
  let busy = true;
  f.deps.busy = () => busy;
  const steps: boolean[] = [];
  const stop = settleAfterStart((s) => steps.push(s.collected), f.deps);
  assert.equal(f.fire(), 2_000);
  assert.deepEqual(steps, [true, false], "+0 s and the +2 s pages-only step run while busy");
  assert.equal(f.fire(), 8_000);
  assert.deepEqual(steps, [true, false], "the +10 s step waits");
  assert.equal(f.fire(), BUSY_RETRY_MS);
  busy = false;
  assert.equal(f.fire(), BUSY_RETRY_MS);
  assert.deepEqual(steps, [true, false, true], "and collects once the agent is quiet");
  stop();
});
