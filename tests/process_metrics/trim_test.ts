import assert from "node:assert/strict";
import { MallocTrim, TrimPolicy } from "../../lib/process_metrics/mod.ts";

const MB = 1024 * 1024;

Deno.test("a trim is due once malloc holds minFree more free bytes than the last trim left", () => {
  const p = new TrimPolicy(8 * MB);
  assert.equal(p.due(0), false);
  assert.equal(p.due(7 * MB), false);
  assert.equal(p.due(8 * MB), true);
  p.trimmed(6 * MB); // fragments the trim could not return
  assert.equal(p.due(13 * MB), false, "growth is counted from what the trim left");
  assert.equal(p.due(14 * MB), true);
  assert.equal(p.due(2 * MB), false, "free memory reused since");
  assert.equal(p.due(10 * MB), true, "a new burst counts from the lower level");
});

Deno.test("MallocTrim reads glibc's free bytes and trims only when quiet and past the policy's threshold", {
  ignore: Deno.build.os !== "linux",
}, () => {
  const idle = new MallocTrim(new TrimPolicy(1024 * MB));
  const eager = new MallocTrim(new TrimPolicy(0));
  try {
    assert.equal(idle.available, true, "glibc's mallinfo2/malloc_trim are reachable through FFI");
    const free = idle.freeBytes();
    assert.ok(typeof free === "number" && free >= 0);
    assert.equal(idle.sample(0, 0), false, "first sample: no reference yet");
    assert.equal(idle.sample(10_000, 100), false, "quiet, but well under the threshold: no trim");
    assert.equal(idle.trims, 0);
    assert.equal(eager.sample(0, 0), false);
    assert.equal(
      eager.sample(10_000, 2_000),
      false,
      "busy (20 % of a core) since the last sample: left alone",
    );
    assert.equal(eager.sample(20_000, 2_100), true, "quiet again and at the threshold: trimmed");
    assert.equal(eager.trims, 1);
    assert.ok(eager.released >= 0);
  } finally {
    idle.close();
    eager.close();
  }
});

Deno.test("trimNow trims whatever the policy says and resets its floor", {
  ignore: Deno.build.os !== "linux",
}, () => {
  const t = new MallocTrim(new TrimPolicy(1 * MB));
  try {
    t.policy.trimmed(1024 * 1024 * MB); // a floor no real free count reaches
    assert.equal(t.trimNow(), true, "glibc reachable: trimmed without the policy's say");
    assert.equal(t.trims, 1);
    assert.equal(
      t.policy.due((t.freeBytes() ?? 0) + 2 * MB),
      true,
      "the floor is what the trim left: growth beyond it counts again",
    );
  } finally {
    t.close();
  }
});
