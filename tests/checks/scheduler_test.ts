import assert from "node:assert/strict";
import { Scheduler } from "../../lib/checks/scheduler.ts";
import { jitteredOnGrid } from "../../lib/checks/jitter.ts";
import { VirtualClock } from "../../lib/clock/mod.ts";
import { steppedClock } from "../clock_step.ts";

Deno.test("runs repeat within ±10% of the interval", async () => {
  const clock = new VirtualClock();
  const starts: number[] = [];
  let seed = 1;
  const rand = () => (seed = (seed * 16807) % 2147483647) / 2147483647;
  const s = new Scheduler(clock, 4, (_id) => {
    starts.push(clock.now());
    return Promise.resolve();
  }, rand);
  s.set("a", 10_000, 0);
  await clock.advance(200_000);
  s.stop();
  assert.ok(starts.length >= 18 && starts.length <= 22, String(starts.length));
  for (let i = 1; i < starts.length; i++) {
    const gap = starts[i] - starts[i - 1];
    assert.ok(gap >= 9000 && gap <= 11_000, `gap ${gap}`);
  }
  assert.equal(s.delayStats().max, 0);
});

Deno.test("a check never overlaps itself and concurrency is bounded", async () => {
  const clock = new VirtualClock();
  let running = 0, peak = 0;
  const perId = new Map<string, number>();
  let overlap = false;
  const s = new Scheduler(clock, 3, async (id) => {
    running++;
    peak = Math.max(peak, running);
    perId.set(id, (perId.get(id) ?? 0) + 1);
    if (perId.get(id)! > 1) overlap = true;
    await clock.sleep(25_000); // longer than the interval
    perId.set(id, perId.get(id)! - 1);
    running--;
  });
  for (let i = 0; i < 10; i++) s.set(`c${i}`, 10_000, 0);
  await clock.advance(120_000);
  assert.equal(peak, 3);
  assert.equal(overlap, false);
  assert.ok(s.runs >= 12, String(s.runs));
  assert.ok(s.delayStats().p99 > 0, "queued runs show a scheduling delay");
  s.stop();
});

Deno.test("a restored last_check delays the first run; removal stops runs", async () => {
  const clock = new VirtualClock(1_000_000);
  const starts: Array<[string, number]> = [];
  const s = new Scheduler(clock, 4, (id) => {
    starts.push([id, clock.now()]);
    return Promise.resolve();
  }, () => 0.5);
  s.set("recent", 60_000, 1_000_000 - 10_000);
  s.set("gone", 10_000, 0);
  await clock.advance(1000);
  s.remove("gone");
  await clock.advance(100_000);
  assert.deepEqual(starts.filter(([id]) => id === "gone").length, 1);
  const first = starts.find(([id]) => id === "recent")!;
  assert.equal(first[1], 1_000_000 + 50_000);
  s.stop();
});

Deno.test("a run that returns a number is retried that many ms later, then resumes its interval", async () => {
  const clock = new VirtualClock(0);
  const starts: number[] = [];
  const s = new Scheduler(clock, 4, (_id) => {
    starts.push(clock.now());
    return Promise.resolve(starts.length < 3 ? 1000 : undefined);
  }, () => 0.5);
  s.set("a", 30_000, 0);
  await clock.advance(65_000);
  s.stop();
  // the first run is spread at start (500 ms with this rand), then retries come 1 s apart
  assert.deepEqual(starts, [500, 1500, 2500, 32_500, 62_500]);
});

Deno.test("a run that throws is reported and counted, and the check stays scheduled", async () => {
  const clock = new VirtualClock();
  const reported: string[] = [];
  let calls = 0;
  const s = new Scheduler(
    clock,
    2,
    () => {
      calls++;
      return Promise.reject(new Error("boom"));
    },
    () => 0.5,
    (id, err) => reported.push(`${id}: ${(err as Error).message}`),
  );
  s.set("bad", 10_000, 0);
  await clock.advance(35_000);
  s.stop();
  assert.ok(calls >= 3, `ran ${calls} times`);
  assert.equal(s.failures, calls);
  assert.deepEqual(new Set(reported), new Set(["bad: boom"]));
});

Deno.test("with a grid, runs move onto it within their ±10 % and stay there; each gap stays within ±10 %", async () => {
  const clock = new VirtualClock(1_003_700); // off the 10 s grid
  const starts = new Map<string, number[]>();
  let seed = 7;
  const rand = () => (seed = (seed * 16807) % 2147483647) / 2147483647;
  const s = new Scheduler(clock, 4, (id) => {
    starts.set(id, [...starts.get(id) ?? [], clock.now()]);
    return Promise.resolve();
  }, rand);
  s.set("cpu", 10_000, 0, 10_000);
  s.set("load", 30_000, 0, 10_000);
  s.set("disks", 300_000, 0, 10_000);
  s.set("plain", 10_000, 0); // no grid: the plain jitter
  await clock.advance(1_800_000);
  s.stop();
  for (
    const [id, interval] of [["cpu", 10_000], ["load", 30_000], ["disks", 300_000], [
      "plain",
      10_000,
    ]] as const
  ) {
    const t = starts.get(id)!;
    for (let i = 1; i < t.length; i++) {
      const gap = t[i] - t[i - 1];
      assert.ok(gap >= interval * 0.9 && gap <= interval * 1.1, `${id}: gap ${gap}`);
    }
    if (id === "plain") {
      assert.ok(t.filter((x) => x % 10_000 !== 0).length > t.length / 2, "plain runs keep their own phase");
      continue;
    }
    // the first run is within a second of the start; from the (interval-dependent) drift on, every run is on the grid
    const onGrid = t.findIndex((x) => x % 10_000 === 0);
    assert.ok(onGrid >= 1 && onGrid <= 6, `${id}: on the grid from run ${onGrid}`);
    assert.deepEqual(t.slice(onGrid).filter((x) => x % 10_000 !== 0), [], `${id} left the grid`);
  }
  assert.ok(starts.get("cpu")!.length >= 170, "cpu still runs every ~10 s");
  assert.ok(starts.get("disks")!.length >= 5);
});

Deno.test("jitteredOnGrid: the grid instant nearest the jittered time, else the window's end nearest the grid", () => {
  // 300 s: several grid instants in [270 s, 330 s]: the draw picks among them
  assert.equal(jitteredOnGrid(1_000_000, 300_000, 0, 10_000), 1_270_000);
  assert.equal(jitteredOnGrid(1_000_000, 300_000, 0.99, 10_000), 1_330_000);
  assert.equal(jitteredOnGrid(1_000_000, 300_000, 0.52, 10_000), 1_300_000);
  // 10 s from 3.7 s past the grid: window [12.7, 14.7] s holds none; its start is nearer 10 s than its end is to 20 s
  assert.equal(jitteredOnGrid(3_700, 10_000, 0.5, 10_000), 12_700);
  assert.equal(jitteredOnGrid(7_700, 10_000, 0.5, 10_000), 18_700);
  // no grid: the plain jittered interval
  assert.equal(jitteredOnGrid(3_700, 10_000, 0.5, 0), 13_700);
});

Deno.test("a check running while the wall clock steps back an hour runs again an interval later, with no hour-long delay", async () => {
  const base = new VirtualClock(1_800_000_000_000);
  const clock = steppedClock(base);
  const starts: number[] = [];
  let stepNow = false;
  const s = new Scheduler(clock, 4, async () => {
    starts.push(base.now());
    if (stepNow) {
      stepNow = false;
      await base.sleep(2_000); // a slow plugin: the step lands while it runs
      clock.step(-3_600_000);
    }
  });
  s.set("disk", 10_000, 0);
  await base.advance(25_000);
  assert.ok(starts.length >= 2, String(starts.length));
  stepNow = true;
  const before = starts.length;
  await base.advance(30_000);
  s.stop();
  assert.ok(
    starts.length >= before + 2,
    `runs after the step: ${starts.slice(before).map((t) => t - starts[0])}`,
  );
  assert.ok(s.delayStats().max < 60_000, `a delay of ${s.delayStats().max} ms recorded`);
});
