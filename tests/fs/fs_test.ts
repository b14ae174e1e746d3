import assert from "node:assert/strict";
import { join } from "node:path";
import {
  dirSyncUnsupported,
  DiskFullError,
  pathExists,
  readIfExists,
  ReadOnlyFsError,
  sweepTemps,
  syncDir,
  tempBeside,
  writeAtomic,
} from "../../lib/fs/mod.ts";
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

Deno.test("writeAtomic with fsync syncs the new file before its rename and the directory after it (strace)", async () => {
  using t = tempDir("kunai-fs-");
  const script = join(t.dir, "w.ts");
  const target = join(t.dir, "out", "file.json");
  Deno.writeTextFileSync(
    script,
    `import { writeAtomic } from ${JSON.stringify(new URL("../../lib/fs/mod.ts", import.meta.url).href)};\n` +
      `writeAtomic(${JSON.stringify(target)}, "{}", { fsync: true, mkdir: true });\n`,
  );
  const trace = join(t.dir, "trace");
  const out = await new Deno.Command("strace", {
    args: [
      "-f",
      "-e",
      "trace=openat,fsync,rename",
      "-o",
      trace,
      Deno.execPath(),
      "run",
      "-A",
      "--no-check",
      script,
    ],
    stdout: "null",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  assert.equal(Deno.readTextFileSync(target), "{}");
  const lines = Deno.readTextFileSync(trace).split("\n");
  const fdOf = (re: RegExp) => {
    const i = lines.findIndex((l) => re.test(l));
    return { i, fd: i < 0 ? -1 : Number(/= (\d+)$/.exec(lines[i])?.[1]) };
  };
  const tmp = fdOf(/openat\(.*\/out\/\.file\.json\.kunai-.*O_CREAT\|O_EXCL/);
  const renamed = lines.findIndex((l) => /rename\(.*\.tmp", ".*\/out\/file\.json"\)/.test(l));
  assert.ok(tmp.i >= 0 && renamed > tmp.i, lines.join("\n"));
  const synced = (fd: number, from: number, to: number) =>
    lines.slice(from, to).some((l) =>
      new RegExp(`fsync\\(${fd}[,)]`).test(l) || new RegExp(`fsync\\(${fd} <`).test(l)
    );
  assert.ok(synced(tmp.fd, tmp.i, renamed), "the file's data before the rename");
  const dirLine = lines.findIndex((l, i) =>
    i > renamed && new RegExp(`openat\\(.*"${t.dir}/out", O_RDONLY`).test(l)
  );
  assert.ok(dirLine > renamed, "the directory opened after the rename");
  const dirFd = Number(/= (\d+)$/.exec(lines[dirLine])?.[1]);
  assert.ok(synced(dirFd, dirLine, lines.length), "and synced");
});

Deno.test("sweepTemps removes the temporary files of a process that is gone, nothing else", async () => {
  using t = tempDir("kunai-fs-");
  const gone = new Deno.Command("true").spawn();
  await gone.status; // its pid: no process now
  const dead = gone.pid;
  const names = [
    `.kv.json.kunai-${dead}-0123abcd.tmp`, // a killed agent's: removed
    `.kv.json.kunai-${Deno.pid}-0123abcd.tmp`, // ours, being written
    `.kv.json.kunai-1-0123abcd.tmp`, // a live process's
    `kv.json.kunai-${dead}-0123abcd.tmp`, // not a name writeAtomic makes
    "kv.json",
  ];
  Deno.mkdirSync(join(t.dir, "a", "b"), { recursive: true });
  for (const n of names) {
    Deno.writeTextFileSync(join(t.dir, n), "x");
    Deno.writeTextFileSync(join(t.dir, "a", "b", n), "x");
  }
  const removed = sweepTemps(t.dir).sort();
  assert.deepEqual(removed, [join(t.dir, names[0]), join(t.dir, "a", "b", names[0])].sort());
  assert.deepEqual([...Deno.readDirSync(t.dir)].map((e) => e.name).sort(), [...names.slice(1), "a"].sort());
  // a name made by writeAtomic matches: what it leaves behind is found
  const made = tempBeside(join(t.dir, "x.json"));
  assert.match(made, new RegExp(`/\\.x\\.json\\.kunai-${Deno.pid}-[0-9a-f]{8}\\.tmp$`));
});

Deno.test("syncDir: a file system without directory sync is left alone, an I/O error is thrown", () => {
  syncDir("/proc"); // EINVAL: procfs cannot sync a directory
  const coded = (code: string) => Object.assign(new Error(`os error (${code})`), { code });
  assert.equal(dirSyncUnsupported(coded("EINVAL")), true);
  assert.equal(dirSyncUnsupported(coded("EOPNOTSUPP")), true);
  assert.equal(dirSyncUnsupported(new Deno.errors.PermissionDenied("no read")), true);
  assert.equal(dirSyncUnsupported(coded("EIO")), false, "an EIO after a rename means it may not be on disk");
  assert.equal(dirSyncUnsupported(coded("ENOSPC")), false);
  assert.throws(() => syncDir("/nonexistent-dir-for-kunai-test"), Deno.errors.NotFound);
});
