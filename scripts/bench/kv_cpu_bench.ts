/**
 * CPU per replicated KV write, in one process: 3 kv nodes (real HTTP between them, the agent's peer
 * routes) and `--writers` concurrent writers calling the nodes' API in turn (2 in 3 writes are
 * forwarded to the owner, every write is replicated to 2 copies). Reports writes/s and the
 * process's CPU ms per write (user + system), which depends far less than throughput on how busy
 * a shared box is; the HTTP parsing of client requests is not included (see kv_bench.ts).
 *
 *   deno run -A scripts/bench/kv_cpu_bench.ts [--seconds 6] [--writers 16,64] [--value 100] [--key BASE64] [--http]
 *     [--preload N --preload-size BYTES]
 *
 * `--preload N` first stores N values of `--preload-size` bytes (default 1 MiB) at keys spread
 * among the written ones: what a few large values cost the writes of small ones.
 */
import { parseArgs } from "node:util";
import process from "node:process";
import { FakeCluster, type KvTestNode, startKvNode, stopAll } from "../../tests/kv/kv_helpers.ts";

const args = parseArgs({
  args: Deno.args,
  options: {
    seconds: { type: "string", default: "6" },
    writers: { type: "string", default: "16,64" },
    value: { type: "string", default: "100" },
    keys: { type: "string", default: "10000" },
    key: { type: "string", default: "" },
    http: { type: "boolean", default: false },
    preload: { type: "string", default: "0" },
    "preload-size": { type: "string", default: String(1 << 20) },
  },
});
const SECONDS = Number(args.values.seconds);
const VALUE = new Uint8Array(Number(args.values.value)).fill(120);
const KEYS = Number(args.values.keys);

const cluster = new FakeCluster();
const nodes: KvTestNode[] = [];
for (const name of ["c1", "c2", "c3"]) {
  nodes.push(
    await startKvNode({
      name,
      cluster,
      key: args.values.key || undefined,
      stream: !args.values.http,
      kv: { anti_entropy_interval: "30s" },
    }),
  );
}
for (const n of nodes) n.kv.refreshRing();
const PRELOAD = Number(args.values.preload);
const preloadValue = new Uint8Array(Number(args.values["preload-size"])).fill(121);
for (let i = 0; i < PRELOAD; i++) {
  await nodes[i % nodes.length].kv.put(
    `bench/${Math.floor((i * KEYS) / Math.max(1, PRELOAD))}~big`,
    preloadValue,
  );
}

async function phase(writers: number): Promise<Record<string, unknown>> {
  const until = performance.now() + SECONDS * 1000;
  const before = process.cpuUsage();
  const peerBefore = nodes.map((n) => n.kv.info() as Record<string, number>);
  let ok = 0, errors = 0, i = 0;
  const lat: number[] = [];
  await Promise.all(Array.from({ length: writers }, async () => {
    while (performance.now() < until) {
      const n = nodes[i++ % nodes.length];
      const t0 = performance.now();
      try {
        await n.kv.put(`bench/${Math.floor(Math.random() * KEYS)}`, VALUE);
        ok++;
        lat.push(performance.now() - t0);
      } catch {
        errors++;
      }
    }
  }));
  const cpu = process.cpuUsage(before);
  const cpuMs = (cpu.user + cpu.system) / 1000;
  const after = nodes.map((n) => n.kv.info() as Record<string, number>);
  const requests = after.reduce((s, a, j) => s + a.peer_requests - peerBefore[j].peer_requests, 0);
  const items = after.reduce((s, a, j) => s + a.peer_batched_items - peerBefore[j].peer_batched_items, 0);
  const commits = after.reduce((s, a, j) => s + a.group_commits - peerBefore[j].group_commits, 0);
  lat.sort((a, b) => a - b);
  return {
    writers,
    writes_per_s: Math.round(ok / SECONDS),
    errors,
    p50_ms: +lat[Math.floor(lat.length * 0.5)]?.toFixed(2),
    p99_ms: +lat[Math.floor(lat.length * 0.99)]?.toFixed(2),
    cpu_ms_per_write: +(cpuMs / Math.max(1, ok)).toFixed(3),
    peer_messages_per_write: +(requests / Math.max(1, ok)).toFixed(2),
    items_per_peer_message: +(items / Math.max(1, requests)).toFixed(2),
    commits_per_write: +(commits / Math.max(1, ok)).toFixed(2),
  };
}

const load = () => Deno.loadavg().map((x) => +x.toFixed(2));
const out: Record<string, unknown> = {
  bench: "kv_cpu",
  loadavg_before: load(),
  sealed: !!args.values.key,
  preload: PRELOAD ? { values: PRELOAD, bytes: preloadValue.length } : null,
  peer_transport: args.values.http ? "http" : "stream",
  phases: [],
};
try {
  await phase(16); // warm-up (JIT, caches)
  for (const w of args.values.writers.split(",").map(Number)) (out.phases as unknown[]).push(await phase(w));
} finally {
  await stopAll(nodes);
}
out.loadavg_after = load();
console.log(JSON.stringify(out));
