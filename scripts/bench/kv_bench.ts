/**
 * KV benchmark: 3 `kv` agents on loopback (real processes joined by gossip, or `--inprocess`
 * nodes sharing this process), 64 concurrent clients, 256-byte keys and 1 KB values, writes then
 * reads against random nodes (so 2 of 3 requests are forwarded). Prints one JSON object.
 *
 *   deno run -A scripts/bench/kv_bench.ts [--seconds 10] [--clients 64] [--inprocess] [--etcd=no]
 *
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
    inprocess: { type: "boolean", default: false },
    etcd: { type: "string", default: "auto" },
  },
});
const SECONDS = Number(args.values.seconds);
const CLIENTS = Number(args.values.clients);
const KEYSPACE = Number(args.values.keys);

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
}

async function phase(
  urls: string[],
  seconds: number,
  op: (base: string, key: string) => Promise<boolean>,
): Promise<Phase> {
  const lat: number[] = [];
  let errors = 0;
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
  const took = (performance.now() - t0) / 1000;
  lat.sort((a, b) => a - b);
  const r = (x: number) => Math.round(x * 100) / 100;
  return {
    ops: lat.length,
    errors,
    per_second: Math.round((lat.length - errors) / took),
    p50_ms: r(percentile(lat, 50)),
    p99_ms: r(percentile(lat, 99)),
    max_ms: r(lat[lat.length - 1] ?? NaN),
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

async function runKunai(): Promise<Record<string, unknown>> {
  if (args.values.inprocess) {
    const cluster = new FakeCluster();
    const nodes = [];
    for (const n of ["b1", "b2", "b3"]) nodes.push(await startKvNode({ name: n, cluster }));
    for (const n of nodes) n.kv.refreshRing();
    try {
      const urls = nodes.map((n) => n.url);
      await phase(urls, 1, kunaiPut);
      const writes = await phase(urls, SECONDS, kunaiPut);
      const reads = await phase(urls, SECONDS, kunaiGet);
      return { mode: "in-process (3 nodes + clients in one process)", writes, reads };
    } finally {
      await stopAll(nodes);
    }
  }
  const ports = [freePort(), freePort(), freePort()];
  const agents = [];
  try {
    for (let i = 0; i < 3; i++) {
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
    // wait for the ring: every agent sees 3 kv members
    for (let t = 0; t < 200; t++) {
      const seen = await Promise.all(urls.map(async (u) => {
        const m = await (await fetch(`${u}/agent/members`)).json();
        return Object.values(m as Record<string, { state: string }>).filter((x) => x.state === "alive")
          .length;
      }));
      if (seen.every((n) => n === 3)) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    await phase(urls, 1, kunaiPut);
    const writes = await phase(urls, SECONDS, kunaiPut);
    const reads = await phase(urls, SECONDS, kunaiGet);
    return { mode: "3 agent processes on loopback", writes, reads };
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
    await phase(urls, 1, put);
    const writes = await phase(urls, SECONDS, put);
    const reads = await phase(urls, SECONDS, get);
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

const kunai = await runKunai();
const out: Record<string, unknown> = {
  bench: "kv",
  clients: CLIENTS,
  seconds_per_phase: SECONDS,
  key_bytes: 256,
  value_bytes: 1024,
  cpus: navigator.hardwareConcurrency,
  kunai,
};
if (args.values.etcd !== "no") {
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
