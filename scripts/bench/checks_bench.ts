/**
 * Checks benchmark (issue 4): 500 evaluated checks every 10 s + 50 real Nagios plugin checks every
 * 60 s in one agent for BENCH_SECONDS (default 300). Reports the scheduler's delay percentiles, the
 * agent's CPU % of one core over the window (with the plugins it reaped, as the shared
 * run-nagios-anchor.sh counts Nagios's: utime+stime+cutime+cstime; and without them) and its RSS.
 * Prints one JSON line.
 */
import { startAgent } from "../../tests/helpers.ts";

const seconds = Number(Deno.env.get("BENCH_SECONDS") ?? 300);
const PLUGINS = [
  "check_load -w 900,900,900 -c 999,999,999",
  "check_procs -w 5000 -c 9000",
  "check_disk -w 5% -c 2% -p /",
];

function procStat(pid: number): { cpuTicks: number; childTicks: number; rssKb: number } {
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  return {
    cpuTicks: Number(f[11]) + Number(f[12]),
    childTicks: Number(f[13]) + Number(f[14]),
    rssKb: Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0),
  };
}

const files: Record<string, unknown> = {};
for (let i = 0; i < 500; i++) {
  files[`bench/eval${i}.json`] = {
    check: {
      interval: "10s",
      critical_if: `{collector.memory.phys_used} > {configuration.limits.critical} + ${i % 3}`,
      warning_if: `{collector.memory.phys_used} > {configuration.limits.warning}`,
      ok_output: `'OK: memory %d%% (check ${i})' % {collector.memory.phys_used}`,
      critical_output: "'Critical'",
      warning_output: "'Warning'",
    },
  };
}
for (let i = 0; i < 50; i++) {
  files[`bench/plugin${i}.json`] = {
    check: { interval: "60s", script: `$nagiosplugins$/${PLUGINS[i % PLUGINS.length]}` },
  };
}
files["limits.json"] = { limits: { warning: 98, critical: 99 } };

const a = await startAgent({ name: "checkbench", params: { tags: ["bench"] }, files });
try {
  await new Promise((r) => setTimeout(r, 15_000)); // warm-up: first runs spread over the first interval
  const hz = 100;
  const s0 = procStat(a.child.pid), t0 = performance.now();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const s1 = procStat(a.child.pid), t1 = performance.now();
  const client = Deno.createHttpClient({ proxy: { transport: "unix", path: a.socket } });
  const info = await (await fetch("http://kunai/agent/info", { client })).json();
  const checks = await (await fetch("http://kunai/agent/checks", { client })).json() as Record<
    string,
    { state: string; kind: string }
  >;
  client.close();
  const states: Record<string, number> = {};
  for (const c of Object.values(checks)) {
    states[`${c.kind}:${c.state}`] = (states[`${c.kind}:${c.state}`] ?? 0) + 1;
  }
  console.log(JSON.stringify({
    seconds,
    checks: Object.keys(checks).length,
    runs: info.checks?.runs,
    scheduling_delay_ms: info.checks?.scheduling_delay_ms,
    cpu_pct_of_core: Math.round(((s1.cpuTicks - s0.cpuTicks) / hz) / ((t1 - t0) / 1000) * 1000) / 10,
    cpu_pct_with_plugins: Math.round(
      ((s1.cpuTicks + s1.childTicks - s0.cpuTicks - s0.childTicks) / hz) / ((t1 - t0) / 1000) * 1000,
    ) / 10,
    rss_mb: Math.round(s1.rssKb / 102.4) / 10,
    states,
    targets: { delay_p99_ms: 250, cpu_pct: 5 },
  }));
} finally {
  await a.stop();
  Deno.removeSync(a.dir, { recursive: true });
}
