import assert from "node:assert/strict";
import { join } from "node:path";
import { DiskFullError, pathExists, readIfExists, ReadOnlyFsError, writeAtomic } from "../../lib/fs/mod.ts";
import { errorAnswer } from "../../lib/http/mod.ts";
import { Counters } from "../../lib/counters.ts";
import { silentLogger } from "../../lib/log/mod.ts";
import { tempDir } from "../helpers.ts";

Deno.test("pathExists: files and folders are there, a missing path is not; other errors are thrown", () => {
  const t = tempDir("kunai-fs-");
  try {
    assert.equal(pathExists(t.dir), true);
    assert.equal(pathExists(`${t.dir}/nope`), false);
    writeAtomic(`${t.dir}/f.txt`, "x");
    assert.equal(pathExists(`${t.dir}/f.txt`), true);
    assert.equal(readIfExists(`${t.dir}/f.txt`), "x");
    assert.equal(readIfExists(`${t.dir}/nope`), null);
    // a path through a regular file is not "missing": stat fails with ENOTDIR, which is reported
    assert.throws(() => pathExists(`${t.dir}/f.txt/inside`));
  } finally {
    t.cleanup();
  }
});

Deno.test("a full disk, a read-only file system: writeAtomic names the file (507, 503 on HTTP), no temporary file left", () => {
  const counters = new Counters();
  const answer = errorAnswer(
    new DiskFullError("/etc/kunai/local.json", new Error("No space left on device (os error 28)")),
    { log: silentLogger, counters },
    "PUT /agent/zone",
  );
  assert.equal(answer.status, 507);
  assert.match(answer.body.error, /^\/etc\/kunai\/local\.json: the disk is full \(No space left on device/);
  const ro = errorAnswer(
    new ReadOnlyFsError("/etc/kunai/local.json", new Error("Read-only file system (os error 30)")),
    { log: silentLogger, counters },
    "PUT /agent/zone",
  );
  assert.equal(ro.status, 503);
  assert.match(ro.body.error, /local\.json: the file system is read-only/);
  if (Deno.uid() !== 0) return; // the rest mounts a tmpfs
  using t = tempDir();
  const mnt = join(t.dir, "m");
  Deno.mkdirSync(mnt);
  const run = (...args: string[]) => new Deno.Command(args[0], { args: args.slice(1) }).outputSync();
  assert.ok(run("mount", "-t", "tmpfs", "-o", "size=16k", "tmpfs", mnt).success);
  try {
    const file = join(mnt, "local.json");
    assert.throws(
      () => writeAtomic(file, "x".repeat(64 * 1024)),
      (e) => e instanceof DiskFullError && e.file === file && /No space left on device/.test(e.message),
    );
    assert.deepEqual([...Deno.readDirSync(mnt)], []);
    assert.ok(run("mount", "-o", "remount,ro", mnt).success);
    assert.throws(
      () => writeAtomic(file, "x"),
      (e) => e instanceof ReadOnlyFsError && e.file === file && /Read-only file system/.test(e.message),
    );
  } finally {
    run("umount", mnt);
  }
});
