/**
 * Issue 12 (idle CPU): a refused service precheck backs off (probes at rounds 0, 1, 3, 7, 15...,
 * never more than 2 minutes apart); every round still records the collector's run with the refusal,
 * a service that appears later is collected at the next probe, explicit runs always probe, and a
 * reload probes again at once.
 */
import assert from "node:assert/strict";
import { CollectorRuntime, type GroupSpec } from "../../lib/collectors/mod.ts";
import { PRECHECK_BACKOFF_MAX_MS, PrecheckBackoff, skipsAfter } from "../../lib/collectors/backoff.ts";
import { NO_PERMISSIONS, type Sandbox } from "../../lib/sandbox/mod.ts";
import { VirtualClock } from "../../lib/clock/mod.ts";
import { silentLogger } from "../../lib/log/mod.ts";
import type { RunReply } from "../../lib/collectors/protocol.ts";

async function walk(clock: VirtualClock, ms: number): Promise<void> {
  for (let t = 0; t < ms; t += 5000) {
    await clock.advance(Math.min(5000, ms - t));
    for (let i = 0; i < 3; i++) await new Promise((r) => setTimeout(r, 0));
  }
}

/** A runtime with one prechecked group ("svc") on a virtual clock; the server is up when `up.on`. */
function setup(interval = 10_000) {
  const clock = new VirtualClock(0);
  const up = { on: false };
  const probes: number[] = [];
  const workerCalls: number[] = [];
  let running = false;
  const worker = {
    get running() {
      return running;
    },
    call: () => {
      running = true;
      workerCalls.push(clock.now());
      return Promise.resolve(up.on ? { results: { answered: 1 } } : { results: null, inactive: "gone" });
    },
    terminate() {
      running = false;
    },
  };
  const group: GroupSpec = {
    name: "collectors-svc",
    module: new URL("../fixtures/collectors/test_worker.ts", import.meta.url),
    permissions: { ...NO_PERMISSIONS },
    brokerAllow: [],
    collectors: ["svc"],
    precheck: (): Promise<RunReply | null> => {
      probes.push(clock.now());
      return Promise.resolve(
        up.on ? null : { results: { available: false }, inactive: "no svc server reachable" },
      );
    },
  };
  const rt = new CollectorRuntime({
    sandbox: { spawn: () => worker } as unknown as Sandbox,
    clock,
    log: silentLogger,
    params: { interval, timeout: 8_000, disabled: [], intervals: {} },
    data: {},
    groups: [group],
  });
  return { clock, up, probes, workerCalls, rt };
}

Deno.test("precheck back-off: probes at rounds 0, 1, 3, 7, 15, then every 2 minutes; every round is still recorded", async () => {
  const { clock, probes, workerCalls, rt } = setup();
  const lastChecks: number[] = [];
  rt.start();
  try {
    for (let t = 0; t < 400_000; t += 10_000) {
      await walk(clock, 10_000);
      lastChecks.push(rt.entry("svc")!.last_check);
    }
    assert.deepEqual(probes, [0, 10_000, 30_000, 70_000, 150_000, 270_000, 390_000]);
    assert.deepEqual(workerCalls, [], "no Worker for a refused service");
    // the collector still runs every round: its entry moves on with the refusal's reason
    assert.deepEqual(lastChecks, lastChecks.map((_, i) => (i + 1) * 10));
    const e = rt.entry("svc")!;
    assert.equal(e.active, false);
    assert.equal(e.log, "no svc server reachable");
    assert.deepEqual(e.results, { available: false });
  } finally {
    rt.stop();
  }
});

Deno.test("precheck back-off: a service that appears is collected at the next probe, within 2 minutes", async () => {
  const { clock, up, probes, workerCalls, rt } = setup();
  rt.start();
  try {
    await walk(clock, 400_500); // last probe at 390 s, the next due at 510 s
    up.on = true;
    await walk(clock, 120_000);
    assert.equal(probes.at(-1), 510_000);
    assert.deepEqual(workerCalls.slice(0, 2), [510_000, 520_000], "collected from the next probe on");
    assert.equal(rt.entry("svc")!.active, true);
    // it goes away again: the Worker stops and the probes start over at every round
    up.on = false;
    const before = probes.length;
    await walk(clock, 40_000);
    assert.equal(rt.entry("svc")!.active, false);
    assert.ok(probes.length - before >= 2, `probed again at once (${probes.slice(before)})`);
  } finally {
    rt.stop();
  }
});

Deno.test("precheck back-off: an explicit run always probes; a reload probes at the next round", async () => {
  const { clock, up, probes, rt } = setup();
  rt.start();
  try {
    await walk(clock, 75_000); // probes 0, 10, 30, 70 s: held until 150 s
    assert.deepEqual(probes, [0, 10_000, 30_000, 70_000]);
    up.on = true;
    const e = await rt.runOnce("svc");
    assert.equal(e.active, true, "runOnce probed and collected");
    up.on = false;
    await walk(clock, 20_000); // the Worker finds nothing and stops; 80 and 90 s probe again
    assert.deepEqual(probes.slice(4), [75_000, 90_000]);
    rt.reconfigure({ svc_port: 1 });
    await walk(clock, 10_000);
    assert.deepEqual(probes.slice(6), [100_000], "the reload's next round probes");
  } finally {
    rt.stop();
  }
});

Deno.test("precheck back-off: skips double up to the cap; none when the interval is the cap", () => {
  assert.deepEqual([1, 2, 3, 4, 5, 6, 40].map((k) => skipsAfter(k, 10_000, 120_000)), [
    0,
    1,
    3,
    7,
    11,
    11,
    11,
  ]);
  assert.deepEqual([1, 2, 5].map((k) => skipsAfter(k, 60_000, 120_000)), [0, 1, 1]);
  assert.deepEqual([1, 5].map((k) => skipsAfter(k, 120_000, 120_000)), [0, 0]);
  assert.deepEqual([1, 5].map((k) => skipsAfter(k, 600_000, 120_000)), [0, 0]);
  const b = new PrecheckBackoff(PRECHECK_BACKOFF_MAX_MS);
  const reply = { results: null, inactive: "x" };
  assert.equal(b.held("a"), null);
  b.refused("a", reply, 10_000);
  assert.equal(b.held("a"), null, "after one refusal the next round probes");
  b.refused("a", reply, 10_000);
  assert.equal(b.held("a"), reply);
  assert.equal(b.held("a"), null);
  assert.equal(b.streak("a"), 2);
  b.answered("a");
  assert.equal(b.streak("a"), 0);
});
