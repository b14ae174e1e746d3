/**
 * Hole 9: the lock only asked whether the recorded pid existed (a reused pid or a zombie blocked a
 * restart) and `agent stop` returned while the old process still held its lock and port, so
 * `agent stop && agent start` failed.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { acquireLock, LockHeld, lockHolder, processRunning, releaseLock } from "../../lib/lockfile.ts";
import { REPO, runKunai, SHARED_DENO_DIR, startAgent, tempDir } from "../helpers.ts";

const ADDR = "127.0.0.44";

Deno.test("a lock file naming a live unrelated pid does not block: only a held OS lock does", () => {
  const { dir, cleanup } = tempDir("kunai-sec-lock-");
  const path = join(dir, "kunai.pid");
  try {
    Deno.writeTextFileSync(path, "1\n"); // init: alive, and not an agent
    assert.equal(lockHolder(path), null);
    acquireLock(path);
    assert.equal(Deno.readTextFileSync(path).trim(), String(Deno.pid));
    assert.equal(lockHolder(path), Deno.pid);
    assert.throws(() => acquireLock(path), LockHeld, "a second agent in this process is refused");
    releaseLock(path);
    assert.throws(() => Deno.statSync(path), Deno.errors.NotFound);
  } finally {
    cleanup();
  }
});

Deno.test("a lock held by another process refuses with its pid; kill -9 of the holder frees it at once", async () => {
  const { dir, cleanup } = tempDir("kunai-sec-lock-");
  const path = join(dir, "kunai.pid");
  const script = join(dir, "holder.ts");
  Deno.writeTextFileSync(
    script,
    `import { acquireLock } from ${JSON.stringify(join(REPO, "lib/lockfile.ts"))};\n` +
      `acquireLock(${JSON.stringify(path)});\nconsole.log("locked");\nsetInterval(() => {}, 1000);\n`,
  );
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--config", join(REPO, "deno.json"), script],
    env: SHARED_DENO_DIR,
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  try {
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    assert.match((await reader.read()).value ?? "", /locked/);
    reader.releaseLock();
    assert.equal(lockHolder(path), child.pid);
    assert.throws(() => acquireLock(path), (err) => err instanceof LockHeld && err.pid === child.pid);
    child.kill("SIGKILL");
    await child.status;
    assert.ok(Deno.statSync(path).isFile, "the killed holder left its file behind");
    acquireLock(path); // and it does not matter
    releaseLock(path);
  } finally {
    try {
      child.kill("SIGKILL");
    } catch { /* exited */ }
    await child.stdout.cancel().catch(() => {});
    await child.status;
    cleanup();
  }
});

Deno.test("processRunning: a zombie (exited, not reaped, still in /proc) counts as exited", async () => {
  // sh starts `sleep 0.3` in the background, prints its pid, then becomes `sleep 3`, which never reaps it
  // (a child that exits before the exec may be reaped by sh itself: `sleep 0` made this test flaky)
  const parent = new Deno.Command("sh", {
    args: ["-c", "sleep 0.3 & echo $!; exec sleep 3"],
    stdout: "piped",
  }).spawn();
  try {
    const reader = parent.stdout.pipeThrough(new TextDecoderStream()).getReader();
    const zombie = Number(((await reader.read()).value ?? "").trim());
    reader.releaseLock();
    const state = () => {
      try {
        const s = Deno.readTextFileSync(`/proc/${zombie}/stat`);
        return s.slice(s.lastIndexOf(")") + 2, s.lastIndexOf(")") + 3);
      } catch {
        return "gone";
      }
    };
    const end = Date.now() + 2000;
    while (state() !== "Z" && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
    assert.equal(state(), "Z", "the child is a zombie");
    assert.equal(processRunning(zombie), false);
    assert.equal(processRunning(parent.pid), true);
  } finally {
    parent.kill("SIGKILL");
    await parent.stdout.cancel().catch(() => {});
    await parent.status;
  }
});

Deno.test("agent stop returns once the process has exited, so agent stop && agent start works", async () => {
  const a = await startAgent({ name: "restart", addr: ADDR });
  let daemonStarted = false;
  try {
    const stop = await a.cli(["agent", "stop"]);
    assert.equal(stop.code, 0, stop.stderr);
    assert.equal(processRunning(a.child.pid), false, "exited when agent stop returned");
    // same port, same data dir, same lock: straight away
    const start = await runKunai(["agent", "start", "--daemon", "--cfg-dir", a.cfgDir], { HOME: a.dir });
    assert.equal(start.code, 0, start.stderr + start.stdout);
    daemonStarted = true;
    const pid = Number(/pid (\d+)/.exec(start.stdout)?.[1]);
    assert.equal(await (await fetch(`http://${ADDR}:${a.port}/agent/name`)).text(), "restart");
    const again = await a.cli(["agent", "stop"]);
    assert.equal(again.code, 0, again.stderr);
    daemonStarted = false;
    assert.equal(processRunning(pid), false);
  } finally {
    if (daemonStarted) await a.cli(["agent", "stop"]);
    await a.stop();
    Deno.removeSync(a.dir, { recursive: true });
  }
});

Deno.test("after kill -9 the agent restarts at once on the same data dir and port", async () => {
  const a = await startAgent({ name: "crash", addr: ADDR });
  await a.kill9();
  assert.ok(Deno.statSync(join(a.dir, "kunai.pid")).isFile, "kill -9 left the pid file");
  const b = await startAgent({ name: "crash", addr: ADDR, port: a.port, dir: a.dir });
  try {
    assert.equal(await (await fetch(`http://${ADDR}:${b.port}/agent/name`)).text(), "crash");
  } finally {
    await b.stop();
    Deno.removeSync(a.dir, { recursive: true });
  }
});
