/**
 * Benchmark (issue 5): a kunai agent with every default collector at 10 s, side by side with
 * Debian's collectd (cpu, memory, df, disk, interface, load at 10 s, csv output) and
 * prometheus-node-exporter scraped every 10 s, for the same duration on the same machine.
 * Reports CPU % (utime+stime over wall time) and RSS (mean/max of VmRSS sampled every 10 s).
 * Human-readable ratios go to stderr; the result is the last stdout line, one JSON object.
 *
 *   deno task bench collectors                       (BENCH_SECONDS, default 300)
 *   deno run -A scripts/bench/collectors_bench.ts [seconds]
 */
import { join } from "node:path";
import { freePort, startAgent } from "../../tests/helpers.ts";
import { LINUX_COLLECTORS, SERVICE_COLLECTORS } from "../../lib/collectors/mod.ts";

const seconds = Number(Deno.args[0] ?? Deno.env.get("BENCH_SECONDS") ?? 300);
const HZ = 100;

function cpuTicks(pid: number): number {
  const s = Deno.readTextFileSync(`/proc/${pid}/stat`);
  const f = s.slice(s.lastIndexOf(")") + 2).split(" ");
  return Number(f[11]) + Number(f[12]); // utime + stime
}
function rssKb(pid: number): number {
  return Number(/VmRSS:\s+(\d+)/.exec(Deno.readTextFileSync(`/proc/${pid}/status`))?.[1] ?? 0);
}

const dir = Deno.makeTempDirSync({ prefix: "kunai-bench-" });
Deno.writeTextFileSync(
  join(dir, "collectd.conf"),
  `Interval 10
BaseDir "${dir}"
PIDFile "${dir}/collectd.pid"
PluginDir "/usr/lib/collectd"
TypesDB "/usr/share/collectd/types.db"
LoadPlugin cpu
LoadPlugin memory
LoadPlugin df
LoadPlugin disk
LoadPlugin interface
LoadPlugin load
LoadPlugin csv
<Plugin csv>
  DataDir "${dir}/csv"
</Plugin>
`,
);
const collectd = new Deno.Command("collectd", {
  args: ["-f", "-C", join(dir, "collectd.conf")],
  stdout: "null",
  stderr: "null",
}).spawn();
const nePort = freePort();
const ne = new Deno.Command("prometheus-node-exporter", {
  args: [`--web.listen-address=127.0.0.1:${nePort}`],
  stdout: "null",
  stderr: "null",
}).spawn();
const agent = await startAgent({ name: "bench" });
// the same agent with every collector disabled: no collector Worker is ever spawned (baseline)
const base = await startAgent({
  name: "bench-base",
  params: {
    collectors: { disabled: [...LINUX_COLLECTORS, ...SERVICE_COLLECTORS], docker_socket: "/nonexistent" },
  },
});
const procs = {
  kunai: agent.child.pid,
  "kunai-no-collectors": base.child.pid,
  collectd: collectd.pid,
  "node-exporter": ne.pid,
};
await new Promise((r) => setTimeout(r, 2000));
const t0 = performance.now();
const start = Object.fromEntries(Object.entries(procs).map(([k, p]) => [k, cpuTicks(p)]));
const rss: Record<string, number[]> = Object.fromEntries(Object.keys(procs).map((k) => [k, []]));
let scrapeBytes = 0;
for (let t = 0; t < seconds; t += 10) {
  const res = await fetch(`http://127.0.0.1:${nePort}/metrics`);
  scrapeBytes = (await res.arrayBuffer()).byteLength;
  for (const [k, p] of Object.entries(procs)) rss[k].push(rssKb(p));
  await new Promise((r) => setTimeout(r, 10_000));
}
const wall = (performance.now() - t0) / 1000;
const out: Record<string, { cpu_pct: number; rss_mean_mb: number; rss_max_mb: number }> = {};
for (const [k, p] of Object.entries(procs)) {
  const cpu = ((cpuTicks(p) - start[k]) / HZ / wall) * 100;
  const r = rss[k];
  out[k] = {
    cpu_pct: Math.round(cpu * 1000) / 1000,
    rss_mean_mb: Math.round(r.reduce((a, b) => a + b, 0) / r.length / 102.4) / 10,
    rss_max_mb: Math.round(Math.max(...r) / 102.4) / 10,
  };
}
const coll = JSON.parse((await agent.cli(["collectors", "list", "--json"])).stdout);
const ratios: Record<string, { cpu_x: number; rss_x: number }> = {};
for (const k of ["collectd", "node-exporter"]) {
  ratios[k] = {
    cpu_x: Math.round((out.kunai.cpu_pct / out[k].cpu_pct) * 100) / 100,
    rss_x: Math.round((out.kunai.rss_mean_mb / out[k].rss_mean_mb) * 100) / 100,
  };
  console.error(`kunai/${k}: cpu x${ratios[k].cpu_x.toFixed(2)}, rss x${ratios[k].rss_x.toFixed(2)}`);
}
// the collectors' own cost in kunai: the agent minus the same agent without collectors
const marginal = {
  cpu_pct: Math.round((out.kunai.cpu_pct - out["kunai-no-collectors"].cpu_pct) * 1000) / 1000,
  rss_mb: Math.round((out.kunai.rss_mean_mb - out["kunai-no-collectors"].rss_mean_mb) * 10) / 10,
};
console.log(JSON.stringify({
  seconds: Math.round(wall),
  node_exporter_scrape_bytes: scrapeBytes,
  results: out,
  kunai_vs: ratios,
  collectors_marginal: marginal,
  kunai_active_collectors: Object.keys(coll).filter((k) => coll[k].active).length,
}));
await agent.stop();
await base.stop();
collectd.kill("SIGTERM");
ne.kill("SIGTERM");
await Promise.all([collectd.status, ne.status]);
Deno.removeSync(dir, { recursive: true });
