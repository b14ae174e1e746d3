/** KeptFiles: the broker's open handles of in-memory files read again and again. */
import assert from "node:assert/strict";
import { KeptFiles, MAX_BROKER_FILE } from "../../lib/sandbox/broker.ts";
import { NO_PERMISSIONS, Sandbox } from "../../lib/sandbox/mod.ts";
import { openFds } from "../../lib/process_metrics/mod.ts";

const linux = { ignore: Deno.build.os !== "linux" };
const read = (k: KeptFiles, p: string) => k.read(p, MAX_BROKER_FILE, true);

Deno.test("kept files: a second read is fresh content through the same descriptor", linux, async () => {
  const k = new KeptFiles();
  const before = openFds();
  try {
    const a = read(k, "/proc/uptime");
    assert.equal(openFds(), before + 1);
    await new Promise((r) => setTimeout(r, 40));
    const b = read(k, "/proc/uptime");
    assert.notEqual(b, a, "generated anew, not the first read's text");
    assert.ok(Number(b.split(" ")[0]) > Number(a.split(" ")[0]));
    assert.equal(read(k, "/proc/uptime").length > 0, true);
    assert.equal(k.size, 1);
    assert.equal(openFds(), before + 1, "one descriptor for any number of reads");
  } finally {
    k.close();
  }
  assert.equal(openFds(), before);
});

Deno.test(
  "kept files: at most max open, the least recently read closed first; close(true) keeps none",
  linux,
  () => {
    const k = new KeptFiles(2);
    const before = openFds();
    read(k, "/proc/uptime");
    read(k, "/proc/loadavg");
    read(k, "/proc/uptime");
    assert.match(read(k, "/proc/stat"), /^cpu /);
    assert.equal(k.size, 2);
    assert.equal(openFds(), before + 2);
    k.close(true);
    assert.equal(openFds(), before);
    assert.match(read(k, "/proc/loadavg"), /^\d/, "still answers");
    assert.equal(k.size, 0);
    assert.equal(openFds(), before);
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
