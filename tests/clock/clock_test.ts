import assert from "node:assert/strict";
import { DueTimer, parseDuration, VirtualClock } from "../../lib/clock/mod.ts";

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
