import assert from "node:assert/strict";
import { join } from "node:path";
import { NO_PERMISSIONS, Sandbox } from "../../lib/sandbox/mod.ts";
import { REPO, tempDir } from "../helpers.ts";

/** A Worker that asks the main thread to track/kill arbitrary pids. */
function workerModule(dir: string): URL {
  const p = join(dir, "groups_worker.ts");
  Deno.writeTextFileSync(
    p,
    `import { killProcessGroup, serve, trackProcessGroup } from "file://${REPO}/lib/sandbox/worker_kit.ts";
serve({
  async track(p: { pid: number }) { await trackProcessGroup(p.pid); return "tracked"; },
  async kill(p: { pid: number }) { await killProcessGroup(p.pid); return "killed"; },
});
`,
  );
  return new URL(`file://${p}`);
}

Deno.test("process-group kills are limited to detached children the Worker registered", async () => {
  const { dir, cleanup } = tempDir();
  const sandbox = new Sandbox();
  const module = workerModule(dir);
  const sleeper = new Deno.Command("sleep", { args: ["30"], detached: true }).spawn();
  const attached = new Deno.Command("sleep", { args: ["30"] }).spawn();
  try {
    const off = sandbox.spawn({ name: "no-groups", module, permissions: NO_PERMISSIONS });
    await assert.rejects(off.call("track", { pid: sleeper.pid }), /not allowed/);
    const w = sandbox.spawn({ name: "groups", module, permissions: NO_PERMISSIONS, processGroups: true });
    await assert.rejects(w.call("track", { pid: 1 }), /not allowed/);
    await assert.rejects(
      w.call("track", { pid: attached.pid }),
      new RegExp(`not a detached child of this agent \\(state [A-Z], ppid ${Deno.pid}, pgrp \\d+; agent pid`),
    );
    await assert.rejects(w.call("kill", { pid: sleeper.pid }), /not registered/);
    assert.equal(await w.call("track", { pid: sleeper.pid }), "tracked");
    assert.deepEqual(w.trackedGroups, [sleeper.pid]);
    w.terminate(); // tracked groups die with the Worker
    const st = await sleeper.status;
    assert.equal(st.signal, "SIGKILL");
  } finally {
    try {
      attached.kill("SIGKILL");
    } catch { /* gone */ }
    try {
      sleeper.kill("SIGKILL");
    } catch { /* gone */ }
    await attached.status;
    await sleeper.status;
    sandbox.stopAll();
    cleanup();
  }
});
