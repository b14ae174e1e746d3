/**
 * Footprint of one agent with the default configuration (the one `kunai-cluster.sh` writes: name,
 * port, loopback bind/addr, tags ["linux"], no seeds, bootstrap, log_level ERROR): RSS when the API
 * first answers, the mean of the last 5 s of the idle wait, then under a KV write load through the
 * unix socket (with its throughput), and the mean of the last 5 s of `--after` seconds after it. Also the threads, the Workers running and the
 * private/shared split of the process (from /proc/PID/smaps_rollup). Prints one JSON object.
 *
 *   deno run -A scripts/bench/rss_bench.ts [--idle 30] [--load 10] [--clients 16] [--after 40]
 *     [--v8-flags "--lite-mode"]   # KUNAI_V8_FLAGS of the agent ("" = V8's defaults; default: the
 *                                  # agent's own set, lib/v8flags.ts)
 */
import { parseArgs } from "node:util";
import { startAgent } from "../../tests/helpers.ts";
import { AGENT_V8_FLAGS } from "../../lib/v8flags.ts";

const args = parseArgs({
  args: Deno.args,
  options: {
    idle: { type: "string", default: "30" },
    load: { type: "string", default: "10" },
    clients: { type: "string", default: "16" },
    after: { type: "string", default: "40" },
    "v8-flags": { type: "string" },
  },
});
const IDLE_S = Number(args.values.idle);
const LOAD_S = Number(args.values.load);
const CLIENTS = Number(args.values.clients);
const AFTER_S = Number(args.values.after);
const flags = args.values["v8-flags"] ?? AGENT_V8_FLAGS;
Deno.env.set("KUNAI_V8_FLAGS", flags);

const MB = 1024 * 1024;
const round1 = (x: number) => Math.round(x * 10) / 10;

function statusKb(pid: number, field: string): number {
  const m = Deno.readTextFileSync(`/proc/${pid}/status`).match(new RegExp(`^${field}:\\s+(\\d+)`, "m"));
  return m ? Number(m[1]) : NaN;
}
const rssMb = (pid: number) => round1(statusKb(pid, "VmRSS") / 1024);

function rollup(pid: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of Deno.readTextFileSync(`/proc/${pid}/smaps_rollup`).split("\n")) {
    const m = line.match(/^(Rss|Pss|Private_Dirty|Private_Clean|Shared_Clean|Anonymous):\s+(\d+)/);
    if (m) out[`${m[1].toLowerCase()}_mb`] = round1(Number(m[2]) / 1024);
  }
  return out;
}

function cpuMs(pid: number): number {
  const f = Deno.readTextFileSync(`/proc/${pid}/stat`).split(") ")[1].split(" ");
  return (Number(f[11]) + Number(f[12])) * 10;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Samples RSS every 500 ms for `seconds`; mean and max in MB. */
async function sample(pid: number, seconds: number): Promise<{ mean: number; max: number }> {
  const xs: number[] = [];
  const end = Date.now() + seconds * 1000;
  while (Date.now() < end) {
    xs.push(rssMb(pid));
    await sleep(500);
  }
  return { mean: round1(xs.reduce((a, b) => a + b, 0) / xs.length), max: Math.max(...xs) };
}

const agent = await startAgent({
  name: "rss",
  params: { tags: ["linux"], seeds: [], bootstrap: true, log_level: "ERROR" },
  waitMs: 60_000,
});
const pid = agent.child.pid;
const client = Deno.createHttpClient({ proxy: { transport: "unix", path: agent.socket } });
const api = async (method: string, path: string, body?: BodyInit) => {
  const r = await fetch(`http://kunai${path}`, { method, body, client, signal: AbortSignal.timeout(10_000) });
  const text = await r.text();
  return { ok: r.ok, text };
};
try {
  const ready = rssMb(pid);
  await sleep(Math.max(0, IDLE_S - 5) * 1000);
  const idle = await sample(pid, Math.min(5, IDLE_S));
  const idleRollup = rollup(pid);
  const threads = [...Deno.readDirSync(`/proc/${pid}/task`)].length;
  const info = JSON.parse((await api("GET", "/agent/info")).text);
  const workers = (info.workers as Array<{ name: string; running: boolean }>)
    .filter((w) => w.running).map((w) => w.name);

  // KV write load: CLIENTS concurrent writers of 1 KB values over 1 000 keys, through the socket
  const value = "x".repeat(1024);
  let ops = 0, errors = 0;
  const cpu0 = cpuMs(pid);
  const t0 = performance.now();
  const until = t0 + LOAD_S * 1000;
  const loadSamples = sample(pid, LOAD_S);
  await Promise.all(Array.from({ length: CLIENTS }, async (_, c) => {
    let i = c;
    while (performance.now() < until) {
      try {
        const r = await api("PUT", `/kv/bench/${i++ % 1000}`, value);
        if (!r.ok) errors++;
      } catch {
        errors++;
      }
      ops++;
    }
  }));
  const took = performance.now() - t0;
  const cpu = cpuMs(pid) - cpu0;
  const load = await loadSamples;
  await sleep(Math.max(0, AFTER_S - 5) * 1000);
  const after = await sample(pid, Math.min(5, AFTER_S));
  console.log(JSON.stringify({
    bench: "rss",
    v8_flags: flags,
    loadavg_before: Deno.loadavg(),
    rss_mb: {
      ready,
      idle_mean: idle.mean,
      idle_max: idle.max,
      load_mean: load.mean,
      load_max: load.max,
      after_load_mean: after.mean,
    },
    after_load_seconds: AFTER_S,
    idle_seconds: IDLE_S,
    idle_smaps: idleRollup,
    threads,
    workers,
    kv_load: {
      seconds: LOAD_S,
      clients: CLIENTS,
      writes_per_second: Math.round((ops - errors) / (took / 1000)),
      errors,
      agent_cpu_ms_per_write: Math.round((cpu / Math.max(1, ops)) * 1000) / 1000,
    },
    heap_note: `V8 heap of the main isolate from /metrics: ${await heapUsed()} MB used`,
  }));
} finally {
  client.close();
  await agent.stop();
  Deno.removeSync(agent.dir, { recursive: true });
}

async function heapUsed(): Promise<number> {
  const m = (await api("GET", "/metrics")).text.match(/^kunai_process_heap_used_bytes (\d+)/m);
  return m ? round1(Number(m[1]) / MB) : NaN;
}
