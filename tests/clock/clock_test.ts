import assert from "node:assert/strict";
import {
  DueTimer,
  gridDelay,
  LazyInterval,
  parseDuration,
  RealClock,
  VirtualClock,
} from "../../lib/clock/mod.ts";
import { steppedClock } from "../clock_step.ts";

Deno.test("the virtual clock fires timers in order and only when time advances", async () => {
  const c = new VirtualClock(0);
  const fired: string[] = [];
  c.setTimeout(() => fired.push("b@200"), 200);
  c.setTimeout(() => fired.push("a@100"), 100);
  const iv = c.setInterval(() => fired.push(`i@${c.now()}`), 150);
  const cancelled = c.setTimeout(() => fired.push("never"), 120);
  c.clearTimeout(cancelled);
  await c.advance(99);
  assert.deepEqual(fired, []);
  await c.advance(251);
  assert.deepEqual(fired, ["a@100", "i@150", "b@200", "i@300"]);
  c.clearInterval(iv);
  let slept = false;
  const p = c.sleep(1000).then(() => slept = true);
  await c.advance(999);
  assert.equal(slept, false);
  await c.advance(1);
  await p;
  assert.equal(slept, true);
  assert.equal(c.now(), 1350);
});

Deno.test("durations parse in ms, s, m, h, d and bare seconds", () => {
  assert.equal(parseDuration("10s"), 10_000);
  assert.equal(parseDuration("500ms"), 500);
  assert.equal(parseDuration("2m"), 120_000);
  assert.equal(parseDuration("1h"), 3_600_000);
  assert.equal(parseDuration(5), 5000);
  assert.equal(parseDuration("1.5s"), 1500);
  assert.equal(parseDuration("soon"), null);
  assert.equal(parseDuration(-1), null);
});

Deno.test("DueTimer: one timer for many jobs; jobs due together wake together; stop forgets the plan", async () => {
  const clock = new VirtualClock();
  const fired: Array<[string[], number]> = [];
  const due = new DueTimer<string>(clock, (ids, now) => {
    fired.push([ids, now]);
    for (const id of ids) due.set(id, now + (id === "slow" ? 3000 : 1000));
  });
  const t0 = clock.now();
  due.set("a", t0);
  due.set("b", t0);
  due.set("slow", t0 + 500);
  await clock.advance(100);
  assert.equal(fired.length, 0, "nothing before start()");
  due.start();
  await clock.advance(0);
  assert.deepEqual(fired.map(([ids]) => ids), [["a", "b"]]);
  await clock.advance(3000);
  assert.deepEqual(fired.map(([ids, at]) => [ids, at - t0]), [
    [["a", "b"], 100],
    [["slow"], 500],
    [["a", "b"], 1100],
    [["a", "b"], 2100],
    [["a", "b"], 3100],
  ]);
  due.delete("a");
  due.stop();
  await clock.advance(10_000);
  assert.equal(fired.length, 5, "stopped: no more wake-ups");
  assert.equal(due.plan().size, 0);
});

Deno.test("LazyInterval: no timer while idle; a poke runs the job on the interval's grid; true keeps it ticking", async () => {
  const clock = new VirtualClock(0);
  const runs: number[] = [];
  let work = 0;
  const lazy = new LazyInterval(clock, 200, () => {
    runs.push(clock.now());
    if (work > 0) work--;
    return work > 0;
  });
  lazy.poke();
  await clock.advance(1000);
  assert.equal(runs.length, 0, "not started: a poke does nothing");
  lazy.start(); // grid: 1000, 1200, 1400...
  await clock.advance(1000);
  assert.equal(runs.length, 0, "started, never poked: never runs");
  assert.equal(clock.pending, 0, "and holds no timer");
  await clock.advance(50); // t = 2050
  work = 3;
  lazy.poke();
  lazy.poke(); // a second poke while armed changes nothing
  await clock.advance(1000);
  assert.deepEqual(runs, [2200, 2400, 2600], "on the grid, until the job says it is done");
  assert.equal(clock.pending, 0, "asleep again");
  assert.equal(lazy.ticks, 3);
  work = 1;
  lazy.poke();
  lazy.stop();
  await clock.advance(1000);
  assert.equal(runs.length, 3, "stop() cancels an armed tick");
  // start(true): armed at once (a job that starts with work queued)
  const armedRuns: number[] = [];
  const armed = new LazyInterval(clock, 100, () => {
    armedRuns.push(clock.now());
  });
  const t = clock.now();
  armed.start(true);
  await clock.advance(250);
  assert.deepEqual(armedRuns, [t + 100], "ran one interval after start, then slept");
});

Deno.test("LazyInterval leading: a poke a period after the last tick runs at once; pokes within the period wait for the grid", async () => {
  const clock = new VirtualClock(0);
  const runs: number[] = [];
  let work = 0;
  const lazy = new LazyInterval(clock, 1000, () => {
    runs.push(clock.now());
    if (work > 0) work--;
    return work > 0;
  }, { leading: true });
  lazy.start(false, 0); // grid: 1000, 2000...
  await clock.advance(10_050); // t = 10 050: quiet for longer than a period
  lazy.poke();
  assert.deepEqual(runs, [], "not inside the poke itself: after the work of this wake-up");
  await clock.advance(0);
  assert.deepEqual(runs, [10_050], "in the same instant, no grid wait");
  await clock.advance(300);
  lazy.poke(); // 300 ms after that tick: batched on the grid
  await clock.advance(1000);
  assert.deepEqual(runs, [10_050, 11_000]);
  // a job with work left keeps ticking on the grid
  await clock.advance(5000); // t = 16 350
  work = 3;
  lazy.poke();
  await clock.advance(4000);
  assert.deepEqual(runs.slice(2), [16_350, 17_000, 18_000]);
  assert.equal(clock.pending, 0, "asleep again");
  // without `leading`, the same poke waits for the grid
  const plain: number[] = [];
  const grid = new LazyInterval(clock, 1000, () => void plain.push(clock.now()));
  grid.start(false, 0);
  await clock.advance(50); // t = 20 400
  grid.poke();
  await clock.advance(1000);
  assert.deepEqual(plain, [21_000]);
  lazy.stop();
  grid.stop();
});

Deno.test("RealClock measures how late its timeouts fire", async () => {
  const clock = new RealClock();
  // due in 1 ms while the loop is stalled for 40 ms: it fires late
  const due = performance.now();
  await new Promise<void>((resolve) => {
    clock.setTimeout(resolve, 1);
    const until = performance.now() + 40;
    while (performance.now() < until) { /* stalled again */ }
  });
  assert.ok(performance.now() - due >= 40);
  assert.ok(clock.lag.lastMs >= 35, `lag ${clock.lag.lastMs} ms`);
  assert.ok(clock.lag.maxMs >= clock.lag.lastMs);
});

Deno.test("LazyInterval burst: pokes within `burst` of a leading tick also run at once; later ones wait for the grid", async () => {
  const clock = new VirtualClock(0);
  const runs: number[] = [];
  const lazy = new LazyInterval(clock, 2000, () => void runs.push(clock.now()), {
    leading: true,
    burst: 100,
  });
  lazy.start(false, 0); // grid: 2000, 4000...
  await clock.advance(10_003); // quiet: the first result of a wake-up runs at once
  lazy.poke();
  await clock.advance(0);
  await clock.advance(5); // t = 10 008: another result of the same wake-up, a few turns later
  lazy.poke();
  await clock.advance(0);
  assert.deepEqual(runs, [10_003, 10_008], "both in the wake-up that brought them");
  await clock.advance(200); // t = 10 208: past the burst, within the period: on the grid
  lazy.poke();
  await clock.advance(2000);
  assert.deepEqual(runs, [10_003, 10_008, 12_000]);
  // without `burst`, the second poke waits for the grid
  const plain: number[] = [];
  const noBurst = new LazyInterval(clock, 2000, () => void plain.push(clock.now()), { leading: true });
  noBurst.start(false, 0);
  await clock.advance(7_997); // t = 20 205
  noBurst.poke();
  await clock.advance(0);
  await clock.advance(5);
  noBurst.poke();
  await clock.advance(2000);
  assert.deepEqual(plain, [20_205, 22_000]);
  lazy.stop();
  noBurst.stop();
});

Deno.test("LazyInterval: after the wall clock steps back an hour, pokes still batch on the grid (no burst for the hour)", async () => {
  const base = new VirtualClock(1_800_000_000_000);
  const clock = steppedClock(base);
  let runs = 0;
  const lazy = new LazyInterval(clock, 1000, () => void runs++, { leading: true, burst: 100 });
  lazy.start(false, 0);
  lazy.poke();
  await base.advance(0);
  assert.equal(runs, 1, "the leading tick");
  clock.step(-3_600_000);
  await base.advance(500); // past the burst
  // a result every 10 ms for 2 s: one tick a period, not one per poke
  for (let i = 0; i < 200; i++) {
    lazy.poke();
    await base.advance(10);
  }
  assert.ok(runs <= 4, `${runs - 1} ticks in 2 s after the step`);
  lazy.stop();
});

Deno.test("DueTimer: a job due in 10 s runs in 10 s whether the wall clock steps back or forward an hour", async () => {
  for (const step of [-3_600_000, 3_600_000]) {
    const base = new VirtualClock(1_800_000_000_000);
    const clock = steppedClock(base);
    const fired: Array<[string, number]> = [];
    const due = new DueTimer<string>(clock, (ids, now) => ids.forEach((id) => fired.push([id, now])));
    due.set("cpu", clock.now() + 10_000);
    due.start();
    await base.advance(1_000);
    clock.step(step);
    await base.advance(8_900);
    assert.equal(fired.length, 0, `step ${step}: ran early`);
    await base.advance(200);
    assert.deepEqual(fired.map(([id]) => id), ["cpu"], `step ${step}: not run 10 s after it was planned`);
    const handed = fired[0][1] - (base.now() + step);
    assert.ok(handed <= 0 && handed >= -200, "handed the wall clock's time (the grid its next run goes on)");
    // planned again from that time: 10 s later on both clocks
    due.set("cpu", fired[0][1] + 10_000);
    assert.equal(due.plan().get("cpu"), fired[0][1] + 10_000, "plan() shows wall-clock times");
    await base.advance(10_000);
    assert.equal(fired.length, 2);
    due.stop();
  }
});

Deno.test("gridDelay: a long limit lands on the wake grid, a short one stays exact", () => {
  const t0 = 1_700_000_000_000; // on the 10 s grid
  assert.equal(gridDelay(t0, 8_000), 10_000, "a round's 8 s limit fires with the next round");
  assert.equal(gridDelay(t0 + 3_000, 8_000), 17_000, "never before its time, less than a step late");
  assert.equal(gridDelay(t0 + 2_000, 8_000), 8_000, "already on the grid");
  assert.equal(gridDelay(t0 + 1, 16_000), 19_999);
  assert.equal(gridDelay(t0 + 1, 4_999), 4_999, "under half a step: exact");
  assert.equal(gridDelay(t0 + 1, 50), 50);
  assert.equal(gridDelay(t0 + 1, -5), 0);
  assert.equal(gridDelay(t0 + 7, 3_000, 1_000), 3_993, "another grid");
});

Deno.test("LazyInterval: a job that throws keeps its interval (the error still goes up)", async () => {
  const clock = new VirtualClock(0);
  const runs: number[] = [];
  const lazy = new LazyInterval(clock, 100, () => {
    runs.push(clock.now());
    if (runs.length === 1) throw new Error("a bug in the job");
    return runs.length < 3;
  });
  lazy.start(true);
  await assert.rejects(() => clock.advance(150), /a bug in the job/);
  await clock.advance(1000);
  assert.deepEqual(runs, [100, 200, 300], "it ran again after the throw, until it said it was done");
});
