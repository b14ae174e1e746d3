/**
 * 20 real agents on loopback (127.0.0.1 … 127.0.0.20), gossip encrypted, LAN defaults: join
 * propagation of one new agent, kill -9 detection, steady-state gossip bandwidth, CPU and RSS per
 * agent. When `serf` is installed (Debian package), the same scenario runs with 20 `serf agent`s
 * and the ratios are reported. Prints one JSON line. KUNAI_BENCH_AGENTS changes the count.
 *
 * Every observer polls its own view in its own loop (20 ms apart), so one slow observer never
 * delays the others; times are when the last observer first saw the change.
 */
import { AgentClient } from "../../lib/client/mod.ts";
import { generateKey } from "../../lib/gossip/mod.ts";
import type { MemberRecord } from "../../lib/types.ts";
import { type AgentProc, freePort, startAgent } from "../../tests/helpers.ts";

const N = Number(Deno.env.get("KUNAI_BENCH_AGENTS") ?? 20);
if (!Deno.env.get("DENO_DIR") && Deno.env.get("HOME")) {
  Deno.env.set("DENO_DIR", `${Deno.env.get("HOME")}/.cache/deno`);
}
const addr = (i: number) => `127.0.0.${i + 1}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function rssKb(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+)/.exec(Deno.readTextFileSync(`/proc/${pid}/status`));
    return m ? Number(m[1]) : NaN;
  } catch {
    return NaN;
  }
}

/** CPU seconds (user + system) used so far by a process. */
function cpuSeconds(pid: number): number {
  try {
    const f = Deno.readTextFileSync(`/proc/${pid}/stat`).split(") ")[1].split(" ");
    return (Number(f[11]) + Number(f[12])) / 100;
  } catch {
    return NaN;
  }
}

function median(v: number[]): number {
  const s = v.filter(Number.isFinite).sort((a, b) => a - b);
  return s.length ? s[Math.floor(s.length / 2)] : NaN;
}

const round1 = (x: number) => Math.round(x * 10) / 10;

/** Each observer polls on its own; resolves with the latest first-true time (ms), or -1. */
async function allObserve<T>(
  observers: T[],
  check: (o: T) => Promise<boolean>,
  maxMs: number,
): Promise<number> {
  const t0 = performance.now();
  const times = await Promise.all(observers.map(async (o) => {
    while (performance.now() - t0 < maxMs) {
      if (await check(o).catch(() => false)) return performance.now() - t0;
      await sleep(20);
    }
    return -1;
  }));
  return times.some((t) => t < 0) ? -1 : Math.round(Math.max(...times));
}

// ------------------------------------------------------------------ kunai

const clients = new Map<string, AgentClient>();
function clientOf(a: AgentProc): AgentClient {
  let c = clients.get(a.socket);
  if (!c) clients.set(a.socket, c = new AgentClient({ socket: a.socket, timeoutMs: 5000 }));
  return c;
}

async function members(a: AgentProc): Promise<MemberRecord[]> {
  return Object.values(await clientOf(a).json<Record<string, MemberRecord>>("GET", "/agent/members"));
}

async function bytesSent(a: AgentProc): Promise<number> {
  const info = await clientOf(a).json<{ gossip: { traffic: { bytesSent: number } } }>("GET", "/agent/info");
  return info.gossip.traffic.bytesSent;
}

async function benchKunai() {
  const key = generateKey();
  const ports = Array.from({ length: N }, (_, i) => freePort(addr(i)));
  const seed = `${addr(0)}:${ports[0]}`;
  const start = (i: number) =>
    startAgent({
      name: `k${i}`,
      addr: addr(i),
      port: ports[i],
      waitMs: 60_000,
      params: { encryption_key: key, seeds: i === 0 ? [] : [seed], bootstrap: i === 0, log_level: "WARNING" },
    });
  const agents: AgentProc[] = [];
  try {
    agents.push(await start(0));
    // the first N-1 in small batches (Deno boots are CPU-bound)
    for (let i = 1; i < N - 1; i += 4) {
      const batch = Array.from({ length: Math.min(4, N - 1 - i) }, (_, j) => start(i + j));
      agents.push(...await Promise.all(batch));
    }
    const conv = await allObserve(
      agents,
      async (a) => (await members(a)).filter((r) => r.state === "alive").length === N - 1,
      60_000,
    );
    if (conv < 0) throw new Error("kunai: the first agents did not converge");
    await sleep(5000);
    // join propagation of one new agent
    const spawnedAt = performance.now();
    const newcomer = await start(N - 1);
    const readyMs = Math.round(performance.now() - spawnedAt);
    const joinFromReady = await allObserve(
      agents,
      async (a) => (await members(a)).some((r) => r.name === `k${N - 1}` && r.state === "alive"),
      30_000,
    );
    agents.push(newcomer);
    // steady state: bytes sent and CPU over 30 s, RSS
    await sleep(5000);
    const before = await Promise.all(agents.map(bytesSent));
    const cpuBefore = agents.map((a) => cpuSeconds(a.child.pid));
    const t0 = performance.now();
    await sleep(30_000);
    const after = await Promise.all(agents.map(bytesSent));
    const secs = (performance.now() - t0) / 1000;
    const cpu = agents.map((a, i) => (cpuSeconds(a.child.pid) - cpuBefore[i]) / secs * 100);
    const bps = after.map((b, i) => (b - before[i]) / secs);
    const rss = agents.map((a) => rssKb(a.child.pid));
    // kill -9 detection
    const victim = agents[N - 1];
    await victim.kill9();
    const tk = performance.now();
    let firstSuspect = -1;
    const detect = await allObserve(agents.slice(0, N - 1), async (a) => {
      const st = (await members(a)).find((r) => r.name === `k${N - 1}`)?.state;
      if (firstSuspect < 0 && (st === "suspect" || st === "dead")) {
        firstSuspect = Math.round(performance.now() - tk);
      }
      return st === "dead";
    }, 120_000);
    return {
      agents: N,
      join_propagation_ms: {
        from_agent_ready: joinFromReady,
        from_process_spawn: joinFromReady < 0 ? -1 : readyMs + joinFromReady,
      },
      detection_ms: { first_suspect: firstSuspect, all_dead: detect },
      steady_state_kbit_per_s_per_agent: {
        median: round1(median(bps) * 8 / 1000),
        max: round1(Math.max(...bps) * 8 / 1000),
      },
      cpu_percent_per_agent_steady: round1(median(cpu)),
      rss_mb_per_agent: {
        median: Math.round(median(rss) / 1024),
        note: "whole agent: collectors, checks, KV, workers",
      },
    };
  } finally {
    for (const c of clients.values()) c.close();
    clients.clear();
    await Promise.all(agents.map((a) => a.stop(3000).catch(() => {})));
    for (const a of agents) {
      try {
        Deno.removeSync(a.dir, { recursive: true });
      } catch { /* ignore */ }
    }
  }
}

// ------------------------------------------------------------------ serf

function serfAvailable(): boolean {
  try {
    return new Deno.Command("serf", { args: ["version"], stdout: "null", stderr: "null" }).outputSync()
      .success;
  } catch {
    return false;
  }
}

interface Serf {
  child: Deno.ChildProcess;
  rpc: string;
}

async function serfMembers(s: Serf): Promise<Array<{ name: string; status: string }>> {
  const out = await new Deno.Command("serf", {
    args: ["members", `-rpc-addr=${s.rpc}`, "-format=json"],
    stdout: "piped",
    stderr: "null",
  }).output();
  return JSON.parse(new TextDecoder().decode(out.stdout)).members;
}

async function benchSerf() {
  const key = btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(32))));
  const ports = Array.from({ length: N }, (_, i) => freePort(addr(i)));
  const rpcs = Array.from({ length: N }, (_, i) => `${addr(i)}:${freePort(addr(i))}`);
  const spawn = (i: number): Serf => {
    const args = [
      "agent",
      `-node=s${i}`,
      `-bind=${addr(i)}:${ports[i]}`,
      `-rpc-addr=${rpcs[i]}`,
      `-encrypt=${key}`,
      "-log-level=err",
      "-profile=lan",
    ];
    if (i > 0) args.push(`-join=${addr(0)}:${ports[0]}`);
    return {
      child: new Deno.Command("serf", { args, stdout: "null", stderr: "null" }).spawn(),
      rpc: rpcs[i],
    };
  };
  const serfs: Serf[] = [];
  try {
    serfs.push(spawn(0));
    await sleep(500);
    for (let i = 1; i < N - 1; i++) serfs.push(spawn(i));
    const conv = await allObserve(
      serfs,
      async (s) => (await serfMembers(s)).filter((r) => r.status === "alive").length === N - 1,
      60_000,
    );
    if (conv < 0) throw new Error("serf: the first agents did not converge");
    await sleep(5000);
    const spawnedAt = performance.now();
    const newcomer = spawn(N - 1);
    const join = await allObserve(
      serfs,
      async (s) => (await serfMembers(s)).some((r) => r.name === `s${N - 1}` && r.status === "alive"),
      30_000,
    );
    const joinFromSpawn = join < 0 ? -1 : Math.round(performance.now() - spawnedAt);
    serfs.push(newcomer);
    await sleep(5000);
    const rss = serfs.map((s) => rssKb(s.child.pid));
    const cpuBefore = serfs.map((s) => cpuSeconds(s.child.pid));
    await sleep(10_000);
    const cpu = serfs.map((s, i) => (cpuSeconds(s.child.pid) - cpuBefore[i]) / 10 * 100);
    const victim = serfs[N - 1];
    victim.child.kill("SIGKILL");
    await victim.child.status;
    const tk = performance.now();
    let firstSuspect = -1;
    const detect = await allObserve(serfs.slice(0, N - 1), async (s) => {
      const st = (await serfMembers(s)).find((r) => r.name === `s${N - 1}`)?.status;
      if (firstSuspect < 0 && st && st !== "alive") firstSuspect = Math.round(performance.now() - tk);
      return st === "failed";
    }, 120_000);
    return {
      agents: N,
      join_propagation_ms: { from_process_spawn: joinFromSpawn },
      detection_ms: { first_suspect_visible: firstSuspect, all_failed: detect },
      cpu_percent_per_agent_steady: round1(median(cpu)),
      rss_mb_per_agent: { median: Math.round(median(rss) / 1024) },
    };
  } finally {
    for (const s of serfs) {
      try {
        s.child.kill("SIGKILL");
      } catch { /* gone */ }
      await s.child.status.catch(() => {});
    }
  }
}

const kunai = await benchKunai();
console.error("kunai", JSON.stringify(kunai));
const serf = serfAvailable() ? await benchSerf() : null;
if (serf) console.error("serf", JSON.stringify(serf));
const ratio = (a: number, b: number) => (a > 0 && b > 0 ? Math.round((a / b) * 100) / 100 : null);
console.log(JSON.stringify({
  kunai,
  serf: serf ?? "serf not installed (apt-get install serf)",
  kunai_over_serf: serf
    ? {
      join_from_spawn: ratio(
        kunai.join_propagation_ms.from_process_spawn,
        serf.join_propagation_ms.from_process_spawn,
      ),
      detection_all: ratio(kunai.detection_ms.all_dead, serf.detection_ms.all_failed),
      rss: ratio(kunai.rss_mb_per_agent.median, serf.rss_mb_per_agent.median),
    }
    : null,
  targets: { convergence_p99_ms: 3000, detection_median_ms: 15000, kbit_per_s: 40 },
}));
