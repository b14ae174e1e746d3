/**
 * daemon.log rotates daily at midnight UTC (the reference's handler did; users asked for it),
 * keeps `keepDays` rotated files, and reopens its path on demand (logrotate's move-and-signal).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { LogSink } from "../../lib/log/mod.ts";
import { resolveConfig } from "../../lib/config/mod.ts";
import { tempDir } from "../helpers.ts";

const at = (iso: string) => Date.parse(iso);
const read = (p: string) => Deno.readTextFileSync(p);
const rotated = (dir: string) =>
  [...Deno.readDirSync(dir)].map((e) => e.name).filter((n) => n !== "daemon.log").sort();

Deno.test("log: the first line after midnight UTC moves the day's lines to daemon.log.<day>", () => {
  const t = tempDir("kunai-log-");
  let now = at("2026-12-04T23:59:59.500Z");
  const sink = new LogSink({ node: "n1", stderr: false, now: () => now });
  const path = join(t.dir, "log", "daemon.log");
  try {
    sink.openFile(path);
    const log = sink.logger("agent");
    log.info("before midnight");
    now = at("2026-12-05T00:00:00.000Z");
    log.info("after midnight");
    assert.deepEqual(rotated(join(t.dir, "log")), ["daemon.log.2026-12-04"]);
    assert.match(
      read(`${path}.2026-12-04`),
      /^n1 \[2026-12-04T23:59:59\.500Z\]\[agent\] INFO: before midnight\n$/,
    );
    assert.equal(read(path), "n1 [2026-12-05T00:00:00.000Z][agent] INFO: after midnight\n");
    // the same day again: no rotation
    now = at("2026-12-05T23:59:59.999Z");
    log.info("late");
    assert.deepEqual(rotated(join(t.dir, "log")), ["daemon.log.2026-12-04"]);
    // days without a line: the file is named after the day of its lines, not the day before the rotation
    now = at("2026-12-09T10:00:00.000Z");
    log.info("days later");
    assert.deepEqual(rotated(join(t.dir, "log")), ["daemon.log.2026-12-04", "daemon.log.2026-12-05"]);
    assert.match(read(`${path}.2026-12-05`), /after midnight\n.*late\n$/);
  } finally {
    sink.close();
    t.cleanup();
  }
});

Deno.test("log: keepDays rotated files are kept, older ones deleted and the deletion logged", () => {
  const t = tempDir("kunai-log-");
  let now = at("2026-12-01T12:00:00.000Z");
  const sink = new LogSink({ node: "n1", stderr: false, now: () => now, keepDays: 3 });
  const path = join(t.dir, "daemon.log");
  try {
    sink.openFile(path);
    // a file of someone else in the dir is never touched, nor a name that only looks close
    Deno.writeTextFileSync(join(t.dir, "daemon.log.old"), "x");
    Deno.writeTextFileSync(join(t.dir, "other.log.2026-11-01"), "x");
    for (let d = 0; d < 7; d++) {
      now = at("2026-12-01T12:00:00.000Z") + d * 86_400_000;
      sink.logger("agent").info(`day ${d}`);
    }
    assert.deepEqual(rotated(t.dir), [
      "daemon.log.2026-12-04",
      "daemon.log.2026-12-05",
      "daemon.log.2026-12-06",
      "daemon.log.old",
      "other.log.2026-11-01",
    ]);
    assert.match(read(path), /\[log\] INFO: log rotated; removed daemon\.log\.2026-12-03\n.*day 6\n$/);
    assert.match(read(`${path}.2026-12-06`), /day 5\n$/);
  } finally {
    sink.close();
    t.cleanup();
  }
});

Deno.test("log: keepDays 0 never rotates; a file left from an earlier day rotates under that day", () => {
  const t = tempDir("kunai-log-");
  const path = join(t.dir, "daemon.log");
  let now = at("2026-12-04T08:00:00.000Z");
  const off = new LogSink({ node: "n1", stderr: false, now: () => now, keepDays: 0 });
  try {
    off.openFile(path);
    off.logger("agent").info("one");
    now += 5 * 86_400_000;
    off.logger("agent").info("two");
    assert.deepEqual(rotated(t.dir), []);
    assert.match(read(path), /one\n.*two\n$/);
  } finally {
    off.close();
  }
  // an agent stopped on the 9th and started again on the 11th: its old lines go to daemon.log.2026-12-09
  Deno.utimeSync(path, new Date("2026-12-09T20:00:00Z"), new Date("2026-12-09T20:00:00Z"));
  now = at("2026-12-11T09:00:00.000Z");
  const on = new LogSink({ node: "n1", stderr: false, now: () => now });
  try {
    on.openFile(path);
    on.logger("agent").info("three");
    assert.deepEqual(rotated(t.dir), ["daemon.log.2026-12-09"]);
    assert.match(read(`${path}.2026-12-09`), /one\n.*two\n$/);
    assert.match(read(path), /^n1 \[2026-12-11T09:00:00\.000Z\]\[agent\] INFO: three\n$/);
    // a second rotation on a day that already has a file does not overwrite it
    Deno.writeTextFileSync(`${path}.2026-12-11`, "kept\n");
    now = at("2026-12-12T00:00:01.000Z");
    on.logger("agent").info("four");
    assert.equal(read(`${path}.2026-12-11`), "kept\n");
    assert.match(read(`${path}.2026-12-11.1`), /three\n$/);
  } finally {
    on.close();
    t.cleanup();
  }
});

Deno.test("log: reopen() starts a new file at the path after logrotate moved it", () => {
  const t = tempDir("kunai-log-");
  const path = join(t.dir, "daemon.log");
  const sink = new LogSink({ node: "n1", stderr: false, keepDays: 0 });
  try {
    sink.openFile(path);
    const log = sink.logger("agent");
    log.info("first");
    Deno.renameSync(path, `${path}.1`);
    log.info("still the moved file");
    sink.reopen();
    log.info("new file");
    assert.match(read(`${path}.1`), /first\n.*still the moved file\n$/);
    assert.match(read(path), /^n1 \[.*\]\[agent\] INFO: new file\n$/);
  } finally {
    sink.close();
    t.cleanup();
  }
});

Deno.test("config: log_keep_days defaults to 7 and refuses a negative or non-integer count", async () => {
  const t = tempDir("kunai-log-cfg-");
  try {
    const ok = resolveConfig({ dataDir: t.dir, cfgDir: t.dir, env: {} });
    assert.equal(ok.params.log_keep_days, 7);
    for (const bad of [-1, 1.5, "7"]) {
      Deno.writeTextFileSync(join(t.dir, "local.json"), JSON.stringify({ log_keep_days: bad }));
      await assert.rejects(
        () => Promise.resolve().then(() => resolveConfig({ dataDir: t.dir, cfgDir: t.dir, env: {} })),
        (err: Error) => /local\.json.*log_keep_days/s.test(err.message),
        String(bad),
      );
    }
  } finally {
    t.cleanup();
  }
});

Deno.test("log: a day's file stops at maxBytes, says so once, and the next file says how many lines it held back", () => {
  const t = tempDir("kunai-log-");
  let now = at("2026-12-04T10:00:00.000Z");
  const sink = new LogSink({ node: "n1", stderr: false, now: () => now, maxBytes: 2000 });
  const path = join(t.dir, "daemon.log");
  const seen: string[] = [];
  sink.tap("INFO", (l) => seen.push(l));
  try {
    sink.openFile(path);
    const log = sink.logger("flood");
    for (let i = 0; i < 100; i++) log.warn(`line ${i} ${"x".repeat(50)}`); // ~100 bytes each
    const text = read(path);
    const lines = text.trimEnd().split("\n");
    assert.ok(text.length <= 2000 + 300, `${text.length} bytes`);
    assert.match(
      lines.at(-1)!,
      /WARNING: .*daemon\.log reached log_max_size \(2000 bytes\): the lines that follow are not written/,
    );
    const written = lines.length - 1;
    assert.equal(sink.droppedLines, 100 - written);
    assert.equal(seen.length, 100, "the live readers got every line");
    // the next day: a new file, which starts by saying what the previous one did not take
    now = at("2026-12-05T00:00:01.000Z");
    log.info("a new day");
    assert.match(
      read(path),
      new RegExp(
        `^n1 \\[.*\\]\\[log\\] WARNING: ${
          100 - written
        } line\\(s\\) were not written to the previous file: it had reached log_max_size\\nn1 .*a new day\\n$`,
      ),
    );
    // 0: no limit
    sink.maxBytes = 0;
    for (let i = 0; i < 100; i++) log.warn(`line ${i} ${"x".repeat(50)}`);
    assert.ok(read(path).length > 10_000);
  } finally {
    sink.close();
    t.cleanup();
  }
});

Deno.test("config: log_max_size defaults to 100 MiB, takes sizes, and refuses anything else naming the field", () => {
  const t = tempDir("kunai-log-cfg-");
  try {
    assert.equal(
      resolveConfig({ dataDir: t.dir, cfgDir: t.dir, env: {} }).params.log_max_size,
      100 * 1024 * 1024,
    );
    Deno.writeTextFileSync(join(t.dir, "local.json"), JSON.stringify({ log_max_size: "10MB" }));
    assert.equal(
      resolveConfig({ dataDir: t.dir, cfgDir: t.dir, env: {} }).params.log_max_size,
      10 * 1024 * 1024,
    );
    Deno.writeTextFileSync(join(t.dir, "local.json"), JSON.stringify({ log_max_size: "lots" }));
    assert.throws(
      () => resolveConfig({ dataDir: t.dir, cfgDir: t.dir, env: {} }),
      (err: Error) => /local\.json.*log_max_size/s.test(err.message),
    );
  } finally {
    t.cleanup();
  }
});

Deno.test("log: a rotated file that cannot be deleted is said, not silently kept beyond keepDays", () => {
  const t = tempDir("kunai-log-");
  let now = at("2026-12-01T12:00:00.000Z");
  const sink = new LogSink({ node: "n1", stderr: false, now: () => now, keepDays: 1 });
  const path = join(t.dir, "daemon.log");
  const remove = Deno.removeSync;
  try {
    sink.openFile(path);
    // files of another owner (root can delete anything: the refusal is stood in for)
    (Deno as { removeSync: typeof Deno.removeSync }).removeSync = () => {
      throw new Deno.errors.PermissionDenied("Permission denied (os error 13)");
    };
    for (let d = 0; d < 4; d++) {
      now = at("2026-12-01T12:00:00.000Z") + d * 86_400_000;
      sink.logger("agent").info(`day ${d}`);
    }
    assert.match(
      read(path),
      /\[log\] ERROR: cannot remove .*daemon\.log\.2026-12-0\d: Permission denied .*kept beyond log_keep_days\n/,
    );
  } finally {
    (Deno as { removeSync: typeof Deno.removeSync }).removeSync = remove;
    sink.close();
    t.cleanup();
  }
});
