/** KeptFiles: the broker's open handles of in-memory files read again and again. */
import assert from "node:assert/strict";
import { KeptFiles, MAX_BROKER_FILE } from "../../lib/sandbox/broker.ts";
import { NO_PERMISSIONS, Sandbox } from "../../lib/sandbox/mod.ts";

const linux = { ignore: Deno.build.os !== "linux" };
const read = (k: KeptFiles, p: string) => k.read(p, MAX_BROKER_FILE, true);

/**
 * The descriptors of this process open on `path` (by fd number). Counted per file, not for the whole
 * process: the parallel test run opens and closes descriptors in other modules all the time.
 */
function fdsOn(path: string): string[] {
  const out: string[] = [];
  for (const e of Deno.readDirSync("/proc/self/fd")) {
    try {
      if (Deno.readLinkSync(`/proc/self/fd/${e.name}`) === path) out.push(e.name);
    } catch { /* closed meanwhile */ }
  }
  return out;
}

function tempFile(text: string): string {
  const p = Deno.makeTempFileSync({ prefix: "kunai-kept-" });
  Deno.writeTextFileSync(p, text);
  return Deno.realPathSync(p);
}

Deno.test("kept files: a second read is fresh content through the same descriptor", linux, async () => {
  const k = new KeptFiles();
  const path = tempFile("one");
  try {
    assert.equal(read(k, path), "one");
    const fds = fdsOn(path);
    assert.equal(fds.length, 1, "the file is kept open");
    Deno.writeTextFileSync(path, "two, longer"); // same inode, rewritten in place
    assert.equal(read(k, path), "two, longer", "read again from the start, not the first read's text");
    Deno.writeTextFileSync(path, "3");
    assert.equal(read(k, path), "3", "a shorter content is not padded with the old one");
    assert.deepEqual(fdsOn(path), fds, "one descriptor, the same, for any number of reads");
    assert.equal(k.size, 1);
    // procfs generates its files anew at each read from the start
    const a = read(k, "/proc/uptime");
    await new Promise((r) => setTimeout(r, 40));
    const b = read(k, "/proc/uptime");
    assert.ok(Number(b.split(" ")[0]) > Number(a.split(" ")[0]), `${b} after ${a}`);
    assert.equal(k.size, 2);
  } finally {
    k.close();
    assert.deepEqual(fdsOn(path), [], "closed with the broker");
    Deno.removeSync(path);
  }
});

Deno.test(
  "kept files: at most max open, the least recently read closed first; close(true) keeps none",
  linux,
  () => {
    const k = new KeptFiles(2);
    const [a, b, c] = ["a", "b", "c"].map(tempFile);
    try {
      read(k, a);
      read(k, b);
      read(k, a);
      assert.equal(read(k, c), "c");
      assert.equal(k.size, 2);
      assert.deepEqual([a, b, c].map((p) => fdsOn(p).length), [1, 0, 1], "b, read least recently, closed");
      k.close(true);
      assert.deepEqual([a, b, c].map((p) => fdsOn(p).length), [0, 0, 0]);
      assert.equal(read(k, b), "b", "still answers");
      assert.equal(k.size, 0);
      assert.equal(fdsOn(b).length, 0, "without keeping it open");
    } finally {
      k.close();
      for (const p of [a, b, c]) Deno.removeSync(p);
    }
  },
);

Deno.test(
  "kept files: the file of a process that ended is not served stale; not found as without keeping",
  linux,
  async () => {
    const child = new Deno.Command("sleep", { args: ["30"] }).spawn();
    const k = new KeptFiles();
    try {
      const path = `/proc/${child.pid}/stat`;
      assert.match(read(k, path), new RegExp(`^${child.pid} \\(sleep\\)`));
      child.kill("SIGKILL");
      await child.status;
      assert.throws(() => read(k, path), Deno.errors.NotFound);
      assert.equal(k.size, 0);
    } finally {
      k.close();
    }
  },
);

Deno.test(
  "a Worker's broker keeps its /proc files open between reads and closes them when it stops",
  linux,
  async () => {
    const sb = new Sandbox();
    const w = sb.spawn({
      name: "probe",
      module: new URL("../fixtures/sandbox_probe_worker.ts", import.meta.url),
      permissions: { ...NO_PERMISSIONS, import: true },
      brokerAllow: ["/proc/stat"],
    });
    try {
      for (let i = 0; i < 3; i++) {
        const r = await w.call<{ ok: boolean; text?: string }>("readBroker", { path: "/proc/stat" });
        assert.match(r.text!, /^cpu /);
      }
      assert.equal(w.keptFiles, 1);
    } finally {
      sb.stopAll();
    }
    assert.equal(w.keptFiles, 0);
  },
);
