/**
 * Idle CPU of whole agents (issue 12: ≤ 0.15 % of a core for one agent with the default pack at the
 * default 10 s collector interval). Starts, at the same time, one agent alone in its cluster and a
 * cluster of three (the second and third seeded with the first), each with the configuration
 * `../shared/bench/kunai-cluster.sh` writes (tags ["linux"]: the linux pack's checks and detectors
 * apply; every collector at its default interval; log level ERROR), lets start-up settle, then
 * measures each process over the window: CPU % of one core from /proc/<pid>/stat (utime + stime,
 * USER_HZ 100), and where it went, per thread (/proc/<pid>/task/<tid>/stat: the main isolate, the
 * Workers, V8's platform threads, tokio threads; "exited" is what threads that ended in the window
 * used: the process total minus the live threads). Idle agents barely compete for the CPU, so the
 * four run side by side. Prints one JSON line.
 *
 *   deno task bench idle_cpu            (IDLE_SECONDS window, default 90; IDLE_WARMUP_SECONDS, default 20)
 *   flock /tmp/kunai-anchor-bench.lock deno task bench idle_cpu
 */
import { type AgentProc, freePort, startAgent } from "../../tests/helpers.ts";
import type { MemberRecord } from "../../lib/types.ts";
import { AgentClient } from "../../lib/client/mod.ts";

const WINDOW_S = Number(Deno.env.get("IDLE_SECONDS") ?? 90);
const WARMUP_S = Number(Deno.env.get("IDLE_WARMUP_SECONDS") ?? 20);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** utime + stime ticks of a /proc stat line (the comm field may hold spaces). */
function ticksOf(stat: string): number {
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return Number(f[11]) + Number(f[12]);
}

interface Snapshot {
  total: number;
  threads: Map<number, { comm: string; ticks: number }>;
}

function snapshot(pid: number): Snapshot {
  const threads = new Map<number, { comm: string; ticks: number }>();
  for (const e of Deno.readDirSync(`/proc/${pid}/task`)) {
    try {
      const comm = Deno.readTextFileSync(`/proc/${pid}/task/${e.name}/comm`).trim();
      threads.set(Number(e.name), {
        comm,
        ticks: ticksOf(Deno.readTextFileSync(`/proc/${pid}/task/${e.name}/stat`)),
      });
    } catch { /* the thread ended meanwhile */ }
  }
  return { total: ticksOf(Deno.readTextFileSync(`/proc/${pid}/stat`)), threads };
}

function kindOf(pid: number, tid: number, comm: string): string {
  if (tid === pid) return "main";
  if (comm.startsWith("worker-")) return "workers";
  if (comm.startsWith("V8 ")) return "v8_platform";
  if (comm.startsWith("tokio")) return "tokio";
  return "other";
}

const pct = (ticks: number, secs: number) => Math.round(ticks / secs * 1000) / 1000; // ticks are 1/100 s

function report(pid: number, a: Snapshot, b: Snapshot, secs: number) {
  const by: Record<string, number> = { main: 0, workers: 0, v8_platform: 0, tokio: 0, other: 0 };
  let live = 0;
  for (const [tid, t] of b.threads) {
    const d = t.ticks - (a.threads.get(tid)?.ticks ?? 0);
    by[kindOf(pid, tid, t.comm)] += d;
    live += d;
  }
  const total = b.total - a.total;
  const threads_pct: Record<string, number> = {};
  for (const [k, v] of Object.entries(by)) threads_pct[k] = pct(v, secs);
  threads_pct.exited = pct(Math.max(0, total - live), secs);
  return { cpu_pct: pct(total, secs), cpu_s: total / 100, threads_pct };
}

const median = (v: number[]) => [...v].sort((x, y) => x - y)[Math.floor(v.length / 2)];

const params = (seeds: string[]) => ({
  tags: ["linux"],
  seeds,
  bootstrap: seeds.length === 0,
  log_level: "ERROR",
});
const agents: AgentProc[] = [];
try {
  const solo = await startAgent({ name: "solo", params: params([]), waitMs: 60_000 });
  agents.push(solo);
  const p0 = freePort();
  const first = await startAgent({ name: "c0", port: p0, params: params([]), waitMs: 60_000 });
  agents.push(first);
  const seed = `127.0.0.1:${p0}`;
  agents.push(
    ...await Promise.all(
      [1, 2].map((i) => startAgent({ name: `c${i}`, params: params([seed]), waitMs: 60_000 })),
    ),
  );
  const cluster = agents.slice(1);
  // the three see each other alive before the window starts
  const deadline = Date.now() + 60_000;
  for (const a of cluster) {
    const c = new AgentClient({ socket: a.socket, timeoutMs: 5000 });
    try {
      while (true) {
        const m = Object.values(await c.json<Record<string, MemberRecord>>("GET", "/agent/members"));
        if (m.filter((r) => r.state === "alive").length >= 3) break;
        if (Date.now() > deadline) throw new Error(`${a.socket}: the three agents did not converge`);
        await sleep(200);
      }
    } finally {
      c.close();
    }
  }
  await sleep(WARMUP_S * 1000);
  const before = agents.map((a) => snapshot(a.child.pid));
  const t0 = performance.now();
  await sleep(WINDOW_S * 1000);
  const after = agents.map((a) => snapshot(a.child.pid));
  const secs = (performance.now() - t0) / 1000;
  const runs = agents.map((a, i) => report(a.child.pid, before[i], after[i], secs));
  console.log(JSON.stringify({
    window_s: Math.round(secs * 10) / 10,
    warmup_s: WARMUP_S,
    loadavg: Deno.readTextFileSync("/proc/loadavg").split(" ").slice(0, 3).map(Number),
    one_agent: runs[0],
    three_agents: {
      cpu_pct_median: median(runs.slice(1).map((r) => r.cpu_pct)),
      cpu_pct: runs.slice(1).map((r) => r.cpu_pct),
      agents: runs.slice(1),
    },
    target_pct: 0.15,
  }));
} finally {
  await Promise.all(agents.map((a) => a.stop(5000).catch(() => {})));
  for (const a of agents) {
    try {
      Deno.removeSync(a.dir, { recursive: true });
    } catch { /* already gone */ }
  }
}
