import assert from "node:assert/strict";
import { LogSink } from "../../lib/log/mod.ts";
import { FailureNote } from "../../lib/log/failure.ts";

Deno.test("a recurring failure is logged once, again once a minute or when it changes, and its end once", () => {
  let now = 1_700_000_000_000;
  const sink = new LogSink({ stderr: false, now: () => now });
  const note = new FailureNote(sink.logger("checks"), "saving check states", 60_000, () => now, 2_000);
  const full = new Error("checks.db: the disk is full");
  note.ok();
  for (let i = 0; i < 6; i++, now += 10_000) note.fail(full); // one minute of 10 s ticks
  assert.equal(sink.counts.ERROR, 1);
  note.fail(full);
  assert.equal(sink.counts.ERROR, 2);
  assert.match(
    sink.recent.ERROR[1],
    /saving check states failed: checks\.db: the disk is full \(7 times since/,
  );
  note.fail(new Error("checks.db: read-only"));
  assert.equal(sink.counts.ERROR, 3, "another reason is said at once");
  assert.ok(note.failing);
  for (let i = 0; i < 10; i++, now += 100) (note.ok(), note.fail(new Error("checks.db: read-only")));
  assert.equal(sink.counts.INFO, 0, "a success between failures does not end it");
  assert.equal(sink.counts.ERROR, 3);
  now += 2_000;
  note.ok();
  note.ok();
  assert.equal(sink.counts.INFO, 1);
  assert.equal(note.failing, false);
  assert.equal(sink.counts.ERROR, 3);
});

Deno.test("a failure note after the clock stepped back an hour: the repeat is said on time, the end is said", () => {
  let now = 1_700_000_000_000;
  const sink = new LogSink({ stderr: false, now: () => now });
  const note = new FailureNote(sink.logger("checks"), "saving check states", 60_000, () => now, 2_000);
  const full = new Error("checks.db: the disk is full");
  note.fail(full);
  now -= 3_600_000;
  for (let i = 0; i < 6; i++, now += 10_000) note.fail(full);
  assert.equal(sink.counts.ERROR, 2, "said again at the step, not an hour later");
  now += 5_000;
  note.ok();
  assert.equal(sink.counts.INFO, 1);
  note.fail(full);
  now -= 3_600_000;
  note.ok();
  assert.equal(sink.counts.INFO, 2, "a success right after a step back ends it");
});
