import assert from "node:assert/strict";
import { HeapCollect, HeapPolicy } from "../../lib/process_metrics/mod.ts";

const MB = 1024 * 1024;

Deno.test("a collection is due once the heap grew minGrowth above what the last one left", () => {
  const p = new HeapPolicy(4 * MB);
  assert.equal(p.due(12 * MB), false, "the first sample sets the floor");
  assert.equal(p.due(15 * MB), false);
  assert.equal(p.due(16 * MB), true);
  p.collected(13 * MB); // live objects grew a little
  assert.equal(p.due(16.5 * MB), false, "growth is counted from what the collection left");
  assert.equal(p.due(11 * MB), false, "V8 collected on its own: a lower floor");
  assert.equal(p.due(15 * MB), true);
});

Deno.test("HeapCollect collects only when quiet and past the policy's threshold, never without gc()", () => {
  let heap = 10 * MB;
  let calls = 0;
  const gc = () => {
    calls++;
    heap = 9 * MB;
  };
  const h = new HeapCollect(new HeapPolicy(4 * MB), gc, () => heap);
  assert.equal(h.available, true);
  assert.equal(h.sample(0, 0, heap), false, "first sample: no reference yet");
  heap = 20 * MB;
  assert.equal(h.sample(10_000, 2_000, heap), false, "20 % of a core since the last sample: busy");
  assert.equal(calls, 0);
  assert.equal(h.sample(20_000, 2_100, heap), true, "quiet and 10 MB above the floor");
  assert.equal(calls, 1);
  assert.equal(h.collections, 1);
  assert.equal(h.released, 11 * MB);
  assert.equal(h.sample(30_000, 2_150, 12 * MB), false, "3 MB above what the collection left");
  assert.equal(calls, 1);

  const none = new HeapCollect(new HeapPolicy(0), undefined, () => heap);
  assert.equal(none.available, false, "V8 started without --expose-gc");
  assert.equal(none.sample(0, 0, heap), false);
  assert.equal(none.sample(10_000, 0, 50 * MB), false);
});
