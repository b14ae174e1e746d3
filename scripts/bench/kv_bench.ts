/**
 * KV benchmark: `kv` agents on loopback (real processes joined by gossip, or `--inprocess` nodes
 * sharing this process), 64 concurrent clients, 256-byte keys and 1 KB values, writes then reads
 * against random nodes (with 3 nodes, 2 of 3 requests are forwarded). Prints one JSON object.
 *
 *   deno run -A scripts/bench/kv_bench.ts [--seconds 10] [--clients 64] [--nodes 3] [--inprocess]
 *     [--etcd=no] [--urls URL,URL --pids PID,PID] [--calibrate]
 *
 * Each phase also reports the CPU the servers and this load generator used (% of one core and ms of
 * CPU per request, from /proc), and how busy the whole box was, so a run on a shared machine can be
 * judged. `--nodes 1`: one agent (no forwarding, no replication) to separate local cost from
 * replication cost. `--urls`: load agents started elsewhere (`--pids` for their CPU). `--calibrate`:
 * the generator against a trivial Deno HTTP server in another process (its own ceiling on this box).
 * When `etcd` is installed (Debian: etcd-server), a 3-member etcd runs the same load and the ratios
 * are reported.
 */
import { parseArgs } from "node:util";
import { freePort, startAgent } from "../../tests/helpers.ts";
import { FakeCluster, startKvNode, stopAll } from "../../tests/kv/kv_helpers.ts";

/** The p-th percentile (0..100) of sorted numbers, nearest rank. */
export function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank];
}

const args = parseArgs({
  args: Deno.args,
  options: {
    seconds: { type: "string", default: "10" },
    clients: { type: "string", default: "64" },
    keys: { type: "string", default: "5000" },
    nodes: { type: "string", default: "3" },
    inprocess: { type: "boolean", default: false },
    etcd: { type: "string", default: "auto" },
    urls: { type: "string", default: "" },
    pids: { type: "string", default: "" },
    calibrate: { type: "boolean", default: false },
    "serve-trivial": { type: "string", default: "" },
  },
});
const SECONDS = Number(args.values.seconds);
const CLIENTS = Number(args.values.clients);
const KEYSPACE = Number(args.values.keys);
const NODES = Math.max(1, Number(args.values.nodes));

// --serve-trivial PORT: the calibration server (answers 200 with an empty body), run as a child
if (args.values["serve-trivial"]) {
  Deno.serve(
    { hostname: "127.0.0.1", port: Number(args.values["serve-trivial"]), onListen: () => {} },
    async (req) => {
      await req.body?.cancel();
      return new Response(null);
    },
  );
  setTimeout(() => Deno.exit(0), 15 * 60_000);
  await new Promise(() => {});
}

const keys = Array.from(
  { length: KEYSPACE },
  (_, i) => `bench/${String(i).padStart(8, "0")}/`.padEnd(256, "k"),
);
const value = new Uint8Array(1024).map((_, i) => 97 + (i % 26));

interface Phase {
  ops: number;
  errors: number;
  per_second: number;
  p50_ms: number;
  p99_ms: number;
  max_ms: number;
  /** CPU of the servers (sum, % of one core) and of this generator, and per request. */
  server_cpu_pct?: number;
  server_cpu_ms_per_op?: number;
  gen_cpu_pct: number;
  gen_cpu_ms_per_op: number;
  /** How busy both cores were (everything on the box, % of one core: 200 = all). */
  box_busy_pct: number;
}

const TICK_MS = 10; // USER_HZ = 100

/** utime + stime of a process in ms (0 when gone). */
function cpuMs(pid: number | "self"): number {
  try {
    const st = Deno.readTextFileSync(`/proc/${pid}/stat`);
    const f = st.slice(st.lastIndexOf(")") + 2).split(" ");
    return (Number(f[11]) + Number(f[12])) * TICK_MS;
  } catch {
    return 0;
  }
}

/** Busy ms summed over cores (all but idle and iowait). */
function boxBusyMs(): number {
  try {
    const f = Deno.readTextFileSync("/proc/stat").split("\n")[0].trim().split(/\s+/).slice(1).map(Number);
    return (f.reduce((a, b) => a + b, 0) - f[3] - f[4]) * TICK_MS;
  } catch {
    return NaN;
  }
}

async function phase(
  urls: string[],
  seconds: number,
  op: (base: string, key: string) => Promise<boolean>,
  pids: number[] = [],
): Promise<Phase> {
  const lat: number[] = [];
  let errors = 0;
  const cpu0 = pids.map(cpuMs), gen0 = cpuMs("self"), box0 = boxBusyMs();
  const t0 = performance.now();
  const until = t0 + seconds * 1000;
  await Promise.all(Array.from({ length: CLIENTS }, async (_, c) => {
    let i = c;
    while (performance.now() < until) {
      const base = urls[(i++) % urls.length];
      const key = keys[Math.floor(Math.random() * keys.length)];
      const s = performance.now();
      let ok = false;
      try {
        ok = await op(base, key);
      } catch { /* counted */ }
      lat.push(performance.now() - s);
      if (!ok) errors++;
    }
  }));
  const tookMs = performance.now() - t0;
  const server = pids.reduce((sum, p, i) => sum + cpuMs(p) - cpu0[i], 0);
  const gen = cpuMs("self") - gen0;
  const box = boxBusyMs() - box0;
  lat.sort((a, b) => a - b);
  const r = (x: number) => Math.round(x * 100) / 100;
  const r4 = (x: number) => Math.round(x * 10000) / 10000;
  const n = Math.max(1, lat.length);
  return {
    ops: lat.length,
    errors,
    per_second: Math.round((lat.length - errors) / (tookMs / 1000)),
    p50_ms: r(percentile(lat, 50)),
    p99_ms: r(percentile(lat, 99)),
    max_ms: r(lat[lat.length - 1] ?? NaN),
    ...(pids.length
      ? {
        server_cpu_pct: Math.round((100 * server) / tookMs),
        server_cpu_ms_per_op: r4(server / n),
      }
      : {}),
    gen_cpu_pct: Math.round((100 * gen) / tookMs),
    gen_cpu_ms_per_op: r4(gen / n),
    box_busy_pct: Math.round((100 * box) / tookMs),
  };
}

const kunaiPut = async (base: string, key: string) => {
  const r = await fetch(`${base}/kv/${encodeURIComponent(key)}`, { method: "PUT", body: value });
  await r.body?.cancel();
  return r.ok;
};
const kunaiGet = async (base: string, key: string) => {
  const r = await fetch(`${base}/kv/${encodeURIComponent(key)}?raw`);
  await r.body?.cancel();
  return r.ok || r.status === 404;
};

async function writesThenReads(urls: string[], pids: number[]) {
  await phase(urls, 1, kunaiPut, pids);
  const writes = await phase(urls, SECONDS, kunaiPut, pids);
  const reads = await phase(urls, SECONDS, kunaiGet, pids);
  return { writes, reads };
}

/** The generator against a trivial HTTP server in another process: its ceiling on this box. */
async function runCalibration(): Promise<Record<string, unknown>> {
  const port = freePort();
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL(import.meta.url).pathname, "--serve-trivial", String(port)],
    stdout: "null",
    stderr: "inherit",
  }).spawn();
  try {
    const url = `http://127.0.0.1:${port}`;
    for (let t = 0; t < 100; t++) {
      try {
        await (await fetch(url)).body?.cancel();
        break;
      } catch {
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    return {
      mode: "calibration: generator vs trivial Deno.serve (empty 200)",
      ...await writesThenReads([url], [child.pid]),
    };
  } finally {
    child.kill("SIGTERM");
    await child.status;
  }
}

async function runKunai(): Promise<Record<string, unknown>> {
  if (args.values.urls) {
    const urls = args.values.urls.split(",").filter(Boolean);
    const pids = args.values.pids.split(",").filter(Boolean).map(Number);
    return { mode: `external (${urls.length} URLs)`, ...await writesThenReads(urls, pids) };
  }
  if (args.values.inprocess) {
    const cluster = new FakeCluster();
    const nodes = [];
    for (let i = 0; i < NODES; i++) nodes.push(await startKvNode({ name: `b${i + 1}`, cluster }));
    for (const n of nodes) n.kv.refreshRing();
    try {
      return {
        mode: `in-process (${NODES} nodes + clients in one process)`,
        ...await writesThenReads(nodes.map((n) => n.url), []),
      };
    } finally {
      await stopAll(nodes);
    }
  }
  const ports = Array.from({ length: NODES }, () => freePort());
  const agents = [];
  try {
    for (let i = 0; i < NODES; i++) {
      agents.push(
        await startAgent({
          name: `bench${i}`,
          port: ports[i],
          params: {
            tags: ["kv"],
            seeds: i ? [`127.0.0.1:${ports[0]}`] : [],
            bootstrap: i === 0,
            log_level: "WARNING",
            gossip: { push_pull_interval: "2s" },
          },
        }),
      );
    }
    const urls = ports.map((p) => `http://127.0.0.1:${p}`);
    // wait for the ring: every agent sees every kv member alive
    for (let t = 0; t < 200; t++) {
      const seen = await Promise.all(urls.map(async (u) => {
        const m = await (await fetch(`${u}/agent/members`)).json();
        return Object.values(m as Record<string, { state: string }>).filter((x) => x.state === "alive")
          .length;
      }));
      if (seen.every((n) => n === NODES)) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    return {
      mode: `${NODES} agent process${NODES > 1 ? "es" : ""} on loopback`,
      ...await writesThenReads(urls, agents.map((a) => a.child.pid)),
    };
  } finally {
    for (const a of agents) await a.stop(3000);
    for (const a of agents) Deno.removeSync(a.dir, { recursive: true });
  }
}

/** etcd v3 over its JSON gateway (3 members on loopback), when `etcd` is installed. */
async function runEtcd(): Promise<Record<string, unknown> | null> {
  const which = await new Deno.Command("sh", { args: ["-c", "command -v etcd"], stdout: "piped" }).output();
  if (!which.success) return null;
  const dir = Deno.makeTempDirSync({ prefix: "etcd-bench-" });
  const ports = Array.from({ length: 3 }, () => [freePort(), freePort()]);
  const cluster = ports.map(([, peer], i) => `e${i}=http://127.0.0.1:${peer}`).join(",");
  const procs = ports.map(([client, peer], i) =>
    new Deno.Command("etcd", {
      args: [
        "--name",
        `e${i}`,
        "--data-dir",
        `${dir}/e${i}`,
        "--listen-client-urls",
        `http://127.0.0.1:${client}`,
        "--advertise-client-urls",
        `http://127.0.0.1:${client}`,
        "--listen-peer-urls",
        `http://127.0.0.1:${peer}`,
        "--initial-advertise-peer-urls",
        `http://127.0.0.1:${peer}`,
        "--initial-cluster",
        cluster,
        "--initial-cluster-state",
        "new",
        "--log-level",
        "error",
      ],
      stdout: "null",
      stderr: "null",
    }).spawn()
  );
  const urls = ports.map(([c]) => `http://127.0.0.1:${c}`);
  const b64 = (s: string | Uint8Array) => btoa(typeof s === "string" ? s : String.fromCharCode(...s));
  const v64 = b64(value);
  const put = async (base: string, key: string) => {
    const r = await fetch(`${base}/v3/kv/put`, {
      method: "POST",
      body: JSON.stringify({ key: b64(key), value: v64 }),
    });
    await r.body?.cancel();
    return r.ok;
  };
  const get = async (base: string, key: string) => {
    const r = await fetch(`${base}/v3/kv/range`, { method: "POST", body: JSON.stringify({ key: b64(key) }) });
    await r.body?.cancel();
    return r.ok;
  };
  try {
    for (let t = 0; t < 100; t++) {
      try {
        if (await put(urls[0], "warmup")) break;
      } catch { /* not yet */ }
      await new Promise((r) => setTimeout(r, 200));
    }
    const pids = procs.map((p) => p.pid);
    await phase(urls, 1, put, pids);
    const writes = await phase(urls, SECONDS, put, pids);
    const reads = await phase(urls, SECONDS, get, pids);
    return { mode: "etcd 3 members on loopback (v3 JSON gateway, linearizable reads)", writes, reads };
  } finally {
    for (const p of procs) {
      try {
        p.kill("SIGKILL");
      } catch { /* gone */ }
      await p.status;
    }
    Deno.removeSync(dir, { recursive: true });
  }
}

const loadavg = Deno.loadavg();
const kunai = args.values.calibrate ? await runCalibration() : await runKunai();
const out: Record<string, unknown> = {
  bench: "kv",
  loadavg_before: loadavg,
  clients: CLIENTS,
  seconds_per_phase: SECONDS,
  key_bytes: 256,
  value_bytes: 1024,
  cpus: navigator.hardwareConcurrency,
  kunai,
};
if (args.values.etcd !== "no" && !args.values.calibrate) {
  const etcd = await runEtcd();
  out.etcd = etcd ?? "etcd not installed (apt-get install etcd-server to compare)";
  if (etcd) {
    const k = kunai as { writes: Phase; reads: Phase }, e = etcd as { writes: Phase; reads: Phase };
    out.ratio_kunai_over_etcd = {
      writes_per_second: Math.round((k.writes.per_second / e.writes.per_second) * 100) / 100,
      reads_per_second: Math.round((k.reads.per_second / e.reads.per_second) * 100) / 100,
    };
  }
}
// one line: scripts/bench/run.ts reads the last line
console.log(JSON.stringify(out));
