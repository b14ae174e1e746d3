import assert from "node:assert/strict";
import { LATE_MAX_PASSES, LateRows, lateSlices, type LateWindow } from "../../lib/metrics/ts_late.ts";

const STEPS = [10, 60];

Deno.test("late rows wait while they keep coming, then are taken once, up to a budget of rows a pass", () => {
  const late = new LateRows(2);
  late.mark(0, 1, "a", 1000);
  late.mark(0, 1, "a", 1990); // 100 buckets
  late.mark(1, 2, "b", 6000); // 1 bucket
  assert.deepEqual(late.take(STEPS), [], "marked since the last pass: still coming");
  assert.deepEqual(late.take(STEPS), [[0, 1, "a", 1000, 1990], [1, 2, "b", 6000, 6000]]);
  assert.deepEqual(late.take(STEPS), [], "taken once");
  // a budget of 150 rows: the first window (100) fits, the second (100) waits for the next pass
  late.mark(0, 3, "c", 0);
  late.mark(0, 3, "c", 990);
  late.mark(0, 4, "d", 0);
  late.mark(0, 4, "d", 990);
  late.take(STEPS);
  assert.deepEqual(late.take(STEPS, 150).map((w) => w[1]), [3]);
  assert.deepEqual(late.take(STEPS, 150).map((w) => w[1]), [4]);
  // one window over the whole budget is taken alone, not never
  late.mark(0, 5, "e", 0);
  late.mark(0, 5, "e", 99_990);
  late.take(STEPS);
  assert.deepEqual(late.take(STEPS, 150).map((w) => w[1]), [5]);
  assert.equal(late.size, 0);
});

Deno.test("a series late at every pass is taken after LATE_MAX_PASSES; a failed pass gives its windows back", () => {
  const late = new LateRows(1);
  let taken = -1;
  for (let pass = 0; pass < LATE_MAX_PASSES + 2 && taken < 0; pass++) {
    late.mark(0, 7, "x", 100 * pass);
    if (late.take(STEPS).length) taken = pass;
  }
  assert.equal(taken, LATE_MAX_PASSES - 1);
  late.mark(0, 8, "y", 50);
  late.take(STEPS);
  const w = late.take(STEPS);
  assert.equal(w.length, 1);
  late.giveBack(w);
  assert.deepEqual(late.take(STEPS), w, "due again at once");
});

Deno.test("late windows are cut into transactions of about LATE_SLICE_ROWS rows", () => {
  const w = (id: number, buckets: number): LateWindow => [0, id, `s${id}`, 0, (buckets - 1) * 10];
  const slices = lateSlices([w(1, 60), w(2, 60), w(3, 30), w(4, 500), w(5, 1)], STEPS, 100);
  assert.deepEqual(slices.map((s) => s.map((x) => x[1])), [[1], [2, 3], [4], [5]]);
});
