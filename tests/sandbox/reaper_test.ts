import assert from "node:assert/strict";
import { join } from "node:path";
import { procStat, reapRun, reapsSettled, trackRefusal } from "../../lib/sandbox/reaper.ts";
import { RUN_MARKER_VAR } from "../../lib/sandbox/protocol.ts";
import { until } from "../helpers.ts";

function environ(pid: number): Uint8Array | null {
  try {
    return Deno.readFileSync(`/proc/${pid}/environ`);
  } catch {
    return null;
  }
}

function cmdline(pid: number): string {
  try {
    return Deno.readTextFileSync(`/proc/${pid}/cmdline`).replaceAll("\0", " ");
  } catch {
    return "";
  }
}

const running = (pid: number) => {
  const st = procStat(pid);
  return st !== null && st.state !== "Z";
};

Deno.test("a setsid child whose environment is not readable yet (mid-exec) is killed by a later scan", async () => {
  // The kernel shows a process's new environment only once its exec has set it up: for a moment
  // it reads empty. The stand-in here stays empty for as long as the test likes: `env -i` runs a
  // shell with no environment, blocked on a FIFO, that then execs into a program carrying the
  // run's marker.
  const dir = Deno.makeTempDirSync({ prefix: "kunai-reap-" });
  const fifo = join(dir, "go");
  assert.equal((await new Deno.Command("mkfifo", { args: [fifo] }).output()).code, 0);
  const tag = `95.${Math.floor(Math.random() * 1e6)}`;
  const marker = `${Deno.pid}.reap.1`;
  const inner = `read x < ${fifo}; exec /usr/bin/env ${RUN_MARKER_VAR}=${marker} /bin/sleep ${tag}`;
  const leader = new Deno.Command("/bin/sh", {
    args: ["-c", `setsid /usr/bin/env -i /bin/sh -c '${inner}' >/dev/null 2>&1 </dev/null &`],
    env: { [RUN_MARKER_VAR]: marker },
    detached: true,
    stdout: "null",
    stderr: "null",
  }).spawn();
  const since = procStat(leader.pid)?.start ?? 0;
  let pid = 0;
  try {
    await leader.status;
    pid = await until("the escaped shell, blocked on the FIFO with an empty environment", () => {
      for (const e of Deno.readDirSync("/proc")) {
        const n = Number(e.name);
        if (Number.isInteger(n) && cmdline(n).includes(`read x < ${fifo}`) && environ(n)?.length === 0) {
          return n;
        }
      }
      return 0;
    });
    let released = false;
    const wait = async () => {
      if (released) return;
      released = true;
      // the exec finishes: the process now carries the marker
      const w = await Deno.open(fifo, { write: true });
      await w.write(new TextEncoder().encode("go\n"));
      w.close();
      await until("the exec to show the marker", () => {
        const env = environ(pid);
        return env !== null && new TextDecoder().decode(env).includes(`${RUN_MARKER_VAR}=${marker}`);
      });
    };
    reapRun(leader.pid, marker, since, wait);
    assert.ok(running(pid), "no marker to see yet: the first scans leave it");
    await reapsSettled();
    await until("the process, marked once its exec is over, to be killed", () => !running(pid));
    assert.ok(released, "a follow-up scan was scheduled");
  } finally {
    if (pid && running(pid)) Deno.kill(pid, "SIGKILL");
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("a plugin caught while its parent reaps it may be tracked; a refusal says what was seen", () => {
  const agent = 4242, pid = 5000;
  // gone, or our child leading its own group (running or zombie)
  assert.equal(trackRefusal(pid, null, agent), null);
  assert.equal(trackRefusal(pid, { state: "S", ppid: agent, pgrp: pid }, agent), null);
  assert.equal(trackRefusal(pid, { state: "Z", ppid: agent, pgrp: pid }, agent), null);
  // read while being reaped: the kernel no longer has its signal state and shows ppid 0, pgrp -1
  // (both seen on a fast check_dummy run; they made the run's process group untracked)
  assert.equal(trackRefusal(pid, { state: "X", ppid: 0, pgrp: -1 }, agent), null);
  assert.equal(trackRefusal(pid, { state: "Z", ppid: 0, pgrp: -1 }, agent), null);
  // another process's child, or ours without a group of its own, or another's zombie group leader
  for (
    const st of [
      { state: "S", ppid: 77, pgrp: pid },
      { state: "R", ppid: agent, pgrp: agent },
      { state: "Z", ppid: 77, pgrp: pid },
    ]
  ) {
    assert.equal(
      trackRefusal(pid, st, agent),
      `pid ${pid} is not a detached child of this agent ` +
        `(state ${st.state}, ppid ${st.ppid}, pgrp ${st.pgrp}; agent pid ${agent})`,
    );
  }
});
