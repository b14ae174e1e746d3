/**
 * What the TCP front costs and what it buys: requests/s and latency of the same app served directly
 * by Deno.serve and through the front (16 concurrent keep-alive clients, small and 64 KB answers,
 * three interleaved 2 s rounds, median round; and the server's CPU time per request, which the box's
 * load does not skew), and how long 200 slow-loris connections (one byte every 500 ms) stay open with a 2 s
 * header deadline (directly served: never closed, measured up to 6 s). Prints one JSON line.
 */
import { denoRun } from "../../tests/helpers.ts";

async function load(url: string, ms: number, concurrency: number) {
  const lat: number[] = [];
  const end = performance.now() + ms;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (performance.now() < end) {
      const t = performance.now();
      const r = await fetch(url);
      await r.arrayBuffer();
      lat.push(performance.now() - t);
    }
  }));
  lat.sort((a, b) => a - b);
  const q = (p: number) => Number(lat[Math.min(lat.length - 1, Math.floor(p * lat.length))].toFixed(3));
  return { requests_per_s: Math.round(lat.length / (ms / 1000)), p50_ms: q(0.5), p99_ms: q(0.99) };
}

/** Seconds until every one of `n` slow clients is closed by the server (null: still open at `capMs`). */
async function loris(port: number, n: number, capMs: number): Promise<number | null> {
  const t0 = performance.now();
  const conns = await Promise.all(
    Array.from({ length: n }, () => Deno.connect({ hostname: "127.0.0.1", port })),
  );
  let open = n;
  for (const c of conns) {
    (async () => {
      const buf = new Uint8Array(512);
      try {
        while ((await c.read(buf)) !== null) { /* drain */ }
      } catch { /* reset */ }
      open--;
    })();
  }
  const head = new TextEncoder().encode("GET / HTTP/1.1\r\nHost: x\r\nX-Slow: " + "a".repeat(500));
  for (let i = 0; open > 0 && performance.now() - t0 < capMs; i++) {
    await Promise.all(conns.map((c) => c.write(head.subarray(i, i + 1)).catch(() => 0)));
    await new Promise((r) => setTimeout(r, 500));
  }
  const secs = open === 0 ? Number(((performance.now() - t0) / 1000).toFixed(2)) : null;
  for (const c of conns) {
    try {
      c.close();
    } catch { /* closed */ }
  }
  return secs;
}

/** CPU seconds (user + system) the process has used so far. */
function cpuSeconds(pid: number): number {
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(f[11]) + Number(f[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
}

/** Server CPU per request: load-independent, unlike requests per second on a shared box. */
async function cpuPerRequest(pid: number, url: string, n: number): Promise<number> {
  const before = cpuSeconds(pid);
  let left = n;
  await Promise.all(Array.from({ length: 16 }, async () => {
    while (left-- > 0) await (await fetch(url)).arrayBuffer();
  }));
  return Math.round(((cpuSeconds(pid) - before) / n) * 1e6);
}

const child = new Deno.Command(Deno.execPath(), {
  args: denoRun("scripts/bench/http_front_server.ts"),
  stdout: "piped",
  stderr: "inherit",
}).spawn();
try {
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  const ports = JSON.parse((await reader.read()).value ?? "{}") as { direct: number; front: number };
  const out: Record<string, unknown> = {};
  // interleaved rounds, median of each: the box is shared and its load drifts
  type Run = Awaited<ReturnType<typeof load>>;
  const runs: Record<string, Run[]> = {};
  for (const port of Object.values(ports)) await load(`http://127.0.0.1:${port}/`, 500, 16); // warm up
  for (let round = 0; round < 3; round++) {
    for (const path of ["/", "/big"]) {
      for (const [name, port] of Object.entries(ports)) {
        (runs[`${name} ${path}`] ??= []).push(await load(`http://127.0.0.1:${port}${path}`, 2000, 16));
      }
    }
  }
  const median = (xs: Run[]) => [...xs].sort((a, b) => a.requests_per_s - b.requests_per_s)[1];
  for (const name of Object.keys(ports)) {
    out[name] = { small: median(runs[`${name} /`]), big_64k: median(runs[`${name} /big`]) };
  }
  const cpu: Record<string, number> = {};
  for (const [name, port] of Object.entries(ports)) {
    cpu[name] = await cpuPerRequest(child.pid, `http://127.0.0.1:${port}/`, 20_000);
  }
  out.server_cpu_us_per_small_request = cpu;
  out.slowloris_200_all_closed_after_s = {
    direct: await loris(ports.direct, 200, 6000),
    front_header_timeout_2s: await loris(ports.front, 200, 6000),
  };
  console.log(JSON.stringify(out));
} finally {
  child.kill("SIGTERM");
  const t = setTimeout(() => child.kill("SIGKILL"), 5000);
  await child.status;
  clearTimeout(t);
}
