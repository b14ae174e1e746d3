/**
 * Ends every process a plugin started (main thread, Linux /proc): its process group first, then
 * any process that escaped the group (`setsid`, double fork) but still carries the run's marker in
 * its environment (`KUNAI_RUN=<marker>`, set by the Worker that spawned the plugin), and the
 * descendants of those. No cgroup is needed; a process that clears its own environment AND leaves
 * the group is the only one that can outlive its run.
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

function carriesMarker(pid: number, needle: string): boolean {
  try {
    const env = Deno.readFileSync(`/proc/${pid}/environ`);
    return new TextDecoder().decode(env).split("\0").includes(needle);
  } catch {
    return false;
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
 * one of its children). Repeats a few times so a process forking during the scan is caught.
 * Returns how many processes it signalled after the group kill.
 */
export function reapRun(pgid: number, marker: string, since = 0): number {
  killGroup(pgid);
  if (!marker) return 0;
  const needle = `${RUN_MARKER_VAR}=${marker}`;
  let killed = 0;
  for (let round = 0; round < 3; round++) {
    const all = pids();
    const children = new Map<number, number[]>();
    const targets = new Set<number>();
    for (const pid of all) {
      const st = procStat(pid);
      if (!st || st.state === "Z" || st.start < since) continue;
      const list = children.get(st.ppid) ?? [];
      list.push(pid);
      children.set(st.ppid, list);
      if (st.pgrp === pgid || carriesMarker(pid, needle)) targets.add(pid);
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
    if (!targets.size) break;
    for (const pid of targets) {
      try {
        Deno.kill(pid, "SIGKILL");
        killed++;
      } catch { /* gone */ }
    }
  }
  return killed;
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
