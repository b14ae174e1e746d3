/**
 * daemon.log on a full disk: writing never throws, the failure is said once (recent errors, taps),
 * and, once there is room, no line is glued to a cut one and the number of lost lines is written.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { LogSink } from "../../lib/log/mod.ts";
import { tempDir } from "../helpers.ts";

Deno.test("log: a file that refuses every line (/dev/full) is said once, and the agent goes on", () => {
  const sink = new LogSink({ node: "n1", stderr: false, keepDays: 0 });
  sink.openFile("/dev/full", 0);
  const seen: string[] = [];
  sink.tap("INFO", (l) => seen.push(l));
  const log = sink.logger("checks");
  for (let i = 0; i < 100; i++) log.info(`line ${i}`);
  log.warn("a warning");
  assert.equal(sink.counts.ERROR, 1);
  assert.match(sink.recent.ERROR[0], /\[log\] ERROR: cannot write \/dev\/full: No space left on device/);
  assert.equal(seen.length, 102, "the live readers get every line and the failure");
  sink.close();
});

const root = Deno.uid() === 0;

Deno.test({
  name: "log: on a full tmpfs a cut line is ended and the lost lines counted once there is room (root)",
  ignore: !root,
  fn() {
    using t = tempDir("kunai-logfull-");
    const mnt = join(t.dir, "m");
    Deno.mkdirSync(mnt);
    const run = (...args: string[]) => new Deno.Command(args[0], { args: args.slice(1) }).outputSync();
    assert.ok(run("mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", mnt).success);
    const sink = new LogSink({ node: "n1", stderr: false, keepDays: 0 });
    try {
      const filler = join(mnt, "filler");
      run("dd", "if=/dev/zero", `of=${filler}`, "bs=1k", "count=200");
      const path = join(mnt, "daemon.log");
      sink.openFile(path, 0);
      const log = sink.logger("agent");
      Deno.removeSync(filler);
      run("dd", "if=/dev/zero", `of=${filler}`, "bs=1k", "count=200"); // all but the log's own block
      let i = 0;
      while (sink.counts.ERROR === 0 && i < 10_000) log.info(`line ${i++} ${"x".repeat(37)}`);
      assert.equal(sink.counts.ERROR, 1, "the disk filled up");
      for (let j = 0; j < 5; j++) log.info(`lost ${j}`);
      Deno.removeSync(filler);
      log.info("room again");
      const lines = Deno.readTextFileSync(path).split("\n");
      assert.equal(lines.pop(), "", "ends with a whole line");
      for (const l of lines) assert.match(l, /^n1 \[/, "no line glued to a cut one");
      assert.match(
        lines.at(-2)!,
        /\[log\] WARNING: 6 line\(s\) could not be written to .*daemon\.log \(No space left/,
      );
      assert.match(lines.at(-1)!, /INFO: room again$/);
    } finally {
      sink.close(); // an open file keeps the mount busy
      run("umount", mnt);
    }
  },
});
