/**
 * Ends every process a plugin started (main thread, Linux /proc): its process group first, then
 * any process that escaped the group (`setsid`, double fork) but still carries the run's marker in
 * its environment (`KUNAI_RUN=<marker>`, set by the Worker that spawned the plugin), and the
 * descendants of those. No cgroup is needed; a process that clears its own environment AND leaves
 * the group is the only one that can outlive its run.
 *
 * A process caught in the middle of an `execve` shows an empty or cut-short environment for a moment
 * (see `markerOf`): a scan that meets one scans again a little later (`SETTLE_DELAYS_MS`), so a
 * `setsid` child exec'ing its program just as the run ends is not missed.
 * `reapsSettled()` waits for those follow-up scans (the agent awaits it when it stops).
 */
import { RUN_MARKER_VAR } from "./protocol.ts";

/** SIGKILLs a process group; false when it had no member left. */
function killGroup(pgid: number): boolean {
  try {
    Deno.kill(-pgid, "SIGKILL");
    return true;
  } catch {
    return false;
  }
}

/** State, ppid, pgid and start time (clock ticks after boot) of one process, or null when gone. */
export function procStat(pid: number): { ppid: number; pgrp: number; state: string; start: number } | null {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return { state: f[0], ppid: Number(f[1]), pgrp: Number(f[2]), start: Number(f[19]) };
  } catch {
    return null;
  }
}

/**
 * Why `pid` may not be tracked as a run's process group, or null when it may: it is gone, our
 * own child (`agentPid`) leading its own group, or being reaped. The kernel drops a process's
 * signal state while its parent reaps it, and its stat then shows ppid 0 and pgrp -1 (state Z or X)
 * for a moment: a plugin that exits at once is often caught there, and is as good as gone.
 */
export function trackRefusal(
  pid: number,
  st: { ppid: number; pgrp: number; state: string } | null,
  agentPid: number,
): string | null {
  if (!st) return null;
  if (st.pgrp === pid && st.ppid === agentPid) return null;
  if (st.ppid === 0 && st.pgrp === -1) return null;
  return `pid ${pid} is not a detached child of this agent ` +
    `(state ${st.state}, ppid ${st.ppid}, pgrp ${st.pgrp}; agent pid ${agentPid})`;
}

/** Delays of the follow-up scans while a young process is mid-exec (≈0.3 s in all). */
export const SETTLE_DELAYS_MS = [5, 10, 20, 40, 80, 160];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Follow-up scans still to come. */
const settling = new Set<Promise<void>>();

/**
 * "yes"/"no" from the process's environment; "unsettled" when an exec is in progress: the new
 * program's environment is empty until the kernel has set it up, and a read that began on the old
 * program's memory stops short when the exec frees it (the text then lacks its final NUL).
 */
function markerOf(pid: number, needle: string): "yes" | "no" | "unsettled" {
  try {
    const env = Deno.readFileSync(`/proc/${pid}/environ`);
    if (env.length === 0 || env[env.length - 1] !== 0) return "unsettled";
    return new TextDecoder().decode(env).split("\0").includes(needle) ? "yes" : "no";
  } catch {
    return "no";
  }
}

function pids(): number[] {
  const out: number[] = [];
  try {
    for (const e of Deno.readDirSync("/proc")) {
      const n = Number(e.name);
      if (Number.isInteger(n) && n > 1 && n !== Deno.pid) out.push(n);
    }
  } catch { /* no /proc: nothing more than the group kill */ }
  return out;
}

/**
 * Kills the group `pgid` and every process marked with `marker` (and their descendants), looking
 * only at processes started at or after `since` (the leader's start time: nothing older can be
 * one of its children). Repeats a few times so a process forking during the scan is caught, and
 * scans again later (in the background) while a young process's environment is unreadable yet.
 * Returns how many processes it signalled after the group kill in its synchronous rounds.
 */
export function reapRun(
  pgid: number,
  marker: string,
  since = 0,
  wait: (ms: number) => Promise<unknown> = sleep,
): number {
  killGroup(pgid);
  if (!marker) return 0;
  const needle = `${RUN_MARKER_VAR}=${marker}`;
  let killed = 0;
  let unsettled = false;
  for (let round = 0; round < 3; round++) {
    const r = scan(pgid, needle, since);
    killed += r.killed;
    unsettled = r.unsettled;
    if (!r.found) break;
  }
  if (unsettled) settleLater(pgid, needle, since, wait);
  return killed;
}

/** One pass over /proc: kills the targets found; tells whether a young process was mid-exec. */
function scan(
  pgid: number,
  needle: string,
  since: number,
): { found: boolean; killed: number; unsettled: boolean } {
  const children = new Map<number, number[]>();
  const targets = new Set<number>();
  let unsettled = false;
  for (const pid of pids()) {
    const st = procStat(pid);
    if (!st || st.state === "Z" || st.start < since) continue;
    const list = children.get(st.ppid) ?? [];
    list.push(pid);
    children.set(st.ppid, list);
    if (st.pgrp === pgid) {
      targets.add(pid);
      continue;
    }
    const m = markerOf(pid, needle);
    if (m === "yes") targets.add(pid);
    // kernel threads (children of kthreadd, pid 2) have no environment either
    else if (m === "unsettled" && st.ppid !== 2) unsettled = true;
  }
  // descendants of marked processes (a child that cleared its environment)
  const queue = [...targets];
  while (queue.length) {
    for (const c of children.get(queue.pop()!) ?? []) {
      if (!targets.has(c)) {
        targets.add(c);
        queue.push(c);
      }
    }
  }
  let killed = 0;
  for (const pid of targets) {
    try {
      Deno.kill(pid, "SIGKILL");
      killed++;
    } catch { /* gone */ }
  }
  return { found: targets.size > 0, killed, unsettled };
}

/** Scans again after each of `SETTLE_DELAYS_MS` until no young process is mid-exec. */
function settleLater(
  pgid: number,
  needle: string,
  since: number,
  wait: (ms: number) => Promise<unknown>,
): void {
  const done = (async () => {
    for (const ms of SETTLE_DELAYS_MS) {
      await wait(ms);
      if (!scan(pgid, needle, since).unsettled) return;
    }
  })();
  settling.add(done);
  done.finally(() => settling.delete(done));
}

/** Resolves when the follow-up scans started by `reapRun` are over (at most ~0.3 s). */
export async function reapsSettled(): Promise<void> {
  while (settling.size) await Promise.all([...settling]);
}

/** True when `pid` is a running (not zombie) process. */
function alive(pid: number): boolean {
  const st = procStat(pid);
  return st !== null && st.state !== "Z";
}

/**
 * Kills processes left by plugin runs of an agent that no longer exists (it was killed with -9
 * while they ran): their `KUNAI_RUN=<agent pid>.<runner>.<n>` names a dead pid. Run once at start. A marker
 * whose agent pid is alive (another agent, or a reused pid) is left alone. Returns how many died.
 */
export function reapOrphanRuns(): number {
  let killed = 0;
  const prefix = `${RUN_MARKER_VAR}=`;
  for (const pid of pids()) {
    let env: string[];
    try {
      env = new TextDecoder().decode(Deno.readFileSync(`/proc/${pid}/environ`)).split("\0");
    } catch {
      continue;
    }
    const marker = env.find((e) => e.startsWith(prefix))?.slice(prefix.length);
    const owner = Number(marker?.split(".")[0]);
    if (!marker || !Number.isInteger(owner) || owner <= 1 || owner === Deno.pid || alive(owner)) continue;
    try {
      Deno.kill(pid, "SIGKILL");
      killed++;
    } catch { /* gone */ }
  }
  return killed;
}
