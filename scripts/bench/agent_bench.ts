/**
 * Foundation benchmark: agent start time until the API answers, idle RSS, and /agent/info
 * requests per second over the unix socket and over TCP (8 concurrent clients, 3 s each).
 * Prints one JSON line.
 */
import { startAgent } from "../../tests/helpers.ts";

function rssKb(pid: number): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
}

async function load(fetchOne: () => Promise<void>, ms: number, concurrency: number) {
  const lat: number[] = [];
  const end = performance.now() + ms;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (performance.now() < end) {
      const t = performance.now();
      await fetchOne();
      lat.push(performance.now() - t);
    }
  }));
  lat.sort((a, b) => a - b);
  const q = (p: number) => Number(lat[Math.min(lat.length - 1, Math.floor(p * lat.length))].toFixed(3));
  return { requests_per_s: Math.round(lat.length / (ms / 1000)), p50_ms: q(0.5), p99_ms: q(0.99) };
}

const t0 = performance.now();
const a = await startAgent({ name: "bench1" });
const startMs = Math.round(performance.now() - t0);
try {
  await new Promise((r) => setTimeout(r, 1000));
  const idleRss = rssKb(a.child.pid);
  const client = Deno.createHttpClient({ proxy: { transport: "unix", path: a.socket } });
  const unix = await load(
    async () => {
      const r = await fetch("http://kunai/agent/info", { client });
      await r.arrayBuffer();
    },
    3000,
    8,
  );
  client.close();
  const tcp = await load(
    async () => {
      const r = await fetch(`http://127.0.0.1:${a.port}/agent/info`);
      await r.arrayBuffer();
    },
    3000,
    8,
  );
  console.log(JSON.stringify({
    start_to_api_ms: startMs,
    idle_rss_mb: Math.round(idleRss / 102.4) / 10,
    info_unix: unix,
    info_tcp: tcp,
    rss_after_load_mb: Math.round(rssKb(a.child.pid) / 102.4) / 10,
  }));
} finally {
  await a.stop();
  Deno.removeSync(a.dir, { recursive: true });
}
