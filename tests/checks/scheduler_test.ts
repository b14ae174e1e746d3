import assert from "node:assert/strict";
import { Scheduler } from "../../lib/checks/scheduler.ts";
import { VirtualClock } from "../../lib/clock/mod.ts";

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
