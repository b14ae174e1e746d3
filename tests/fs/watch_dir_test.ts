import assert from "node:assert/strict";
import { join } from "node:path";
import { VirtualClock } from "../../lib/clock/mod.ts";
import { LogSink } from "../../lib/log/mod.ts";
import { DataDirWatch, WATCH_MS } from "../../lib/fs/watch_dir.ts";
import { tempDir } from "../helpers.ts";

Deno.test("the data dir removed or replaced under the agent is said once, with what to do", async () => {
  using t = tempDir();
  const dir = join(t.dir, "data");
  Deno.mkdirSync(dir);
  const clock = new VirtualClock(1_700_000_000_000);
  const sink = new LogSink({ stderr: false });
  const w = new DataDirWatch(dir, clock, sink.logger("agent"), 4242);
  w.start();
  try {
    await clock.advance(3 * WATCH_MS);
    assert.equal(sink.counts.ERROR, 0);
    Deno.removeSync(dir, { recursive: true });
    await clock.advance(WATCH_MS);
    assert.equal(sink.counts.ERROR, 1);
    assert.match(
      sink.recent.ERROR[0],
      /data dir .*data was removed under the running agent: .*kill -TERM 4242/,
    );
    Deno.mkdirSync(dir); // made again by hand: another directory, the agent's files are not in it
    await clock.advance(3 * WATCH_MS);
    assert.equal(sink.counts.ERROR, 1, "said once");
    assert.equal(w.check(), false);
  } finally {
    w.stop();
  }
});

Deno.test("the data dir is looked at on the epoch grid, in a wake-up the 10 s jobs make anyway", async () => {
  using t = tempDir();
  const dir = join(t.dir, "data");
  Deno.mkdirSync(dir);
  const grid = 1_700_000_010_000; // a multiple of WATCH_MS (30 s)
  const clock = new VirtualClock(grid - 12_345);
  const sink = new LogSink({ stderr: false });
  const w = new DataDirWatch(dir, clock, sink.logger("agent"));
  w.start();
  try {
    Deno.removeSync(dir, { recursive: true });
    await clock.advance(12_344);
    assert.equal(sink.counts.ERROR, 0, "not before the grid's tick");
    await clock.advance(1);
    assert.equal(sink.counts.ERROR, 1, "at the tick");
  } finally {
    w.stop();
  }
});
