/**
 * statsd ingest, kunai vs etsy statsd 0.9.0, same load generator, same run
 * (`/work/shared/bench/run-statsd-anchor.sh`): the highest rate (metrics/s) taken with < 0.1 % loss
 * at 1 and at 20 metrics per datagram, with CPU and RSS. Loss for kunai is read from its own count
 * of accepted samples (`/agent/info` → statsd.metrics). Prints one JSON object.
 *
 *   deno run -A scripts/bench/metrics_statsd_bench.ts [--duration 5] [--rounds 1]
 *     [--rates1 "25000 ... 200000"] [--rates20 "100000 ... 2000000"] [--etsy=no]
 * The default sweeps reach 200 k/s and 2 M/s: with its 4 MiB receive buffer kunai took the old tops
 * (125 k/s, 1 M/s) without loss (2026-12-02), so they measured the sweep, not kunai.
 */
import { parseArgs } from "node:util";
import { freePort, startAgent } from "../../tests/helpers.ts";

const args = parseArgs({
  args: Deno.args,
  options: {
    duration: { type: "string", default: "5" },
    rounds: { type: "string", default: "1" },
    rates1: { type: "string", default: "25000 50000 75000 100000 125000 150000 200000" },
    rates20: { type: "string", default: "100000 200000 400000 600000 800000 1000000 1500000 2000000" },
    etsy: { type: "string", default: "yes" },
    anchor: { type: "string", default: "/work/shared/bench/run-statsd-anchor.sh" },
  },
});

async function anchor(env: Record<string, string>): Promise<Record<string, unknown>> {
  const out = await new Deno.Command("bash", {
    args: [args.values.anchor],
    env: {
      DURATION: args.values.duration,
      RATES_1: args.values.rates1,
      RATES_20: args.values.rates20,
      PAUSE: "1",
      ...env,
    },
    stdout: "piped",
    stderr: "inherit",
  }).output();
  const text = new TextDecoder().decode(out.stdout).trim().split("\n").at(-1) ?? "";
  try {
    return JSON.parse(text);
  } catch {
    return { error: `no JSON from the anchor script (exit ${out.code})`, output: text.slice(-300) };
  }
}

type Best = { rate: number; cpu_pct: number; rss_kb: number } | null;
const best = (r: Record<string, unknown>, k: string) => (r[k] as Best)?.rate ?? null;

const HOST = "127.0.0.15";
// the anchor's load generator sends to 127.0.0.1
const port = freePort("127.0.0.1");
const agent = await startAgent({
  name: "bench-statsd",
  addr: HOST,
  params: { statsd: { enabled: true, port, bind: "127.0.0.1", interval: 10 }, log_level: "WARNING" },
});
const receivedCmd = `curl -s --unix-socket ${agent.socket} http://kunai/agent/info | ` +
  `node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).statsd.metrics))'`;
const rounds: Array<Record<string, unknown>> = [];
try {
  for (let i = 0; i < Number(args.values.rounds); i++) {
    const etsy = args.values.etsy === "no"
      ? null
      : await anchor({ PORT: String(freePort()), MGMT_PORT: String(freePort()) });
    const kunai = await anchor({
      TARGET_PID: String(agent.child.pid),
      PORT: String(port),
      RECEIVED_CMD: receivedCmd,
      NAME: "kunai",
    });
    rounds.push({ etsy, kunai });
  }
} finally {
  await agent.stop();
  Deno.removeSync(agent.dir, { recursive: true });
}
const median = (xs: Array<number | null>) => {
  const v = xs.filter((x): x is number => x !== null).sort((a, b) => a - b);
  return v.length ? v[Math.floor(v.length / 2)] : null;
};
const summary: Record<string, unknown> = {};
for (const k of ["best_1_per_packet", "best_20_per_packet"]) {
  const kunai = median(rounds.map((r) => best(r.kunai as Record<string, unknown>, k)));
  const etsy = median(rounds.map((r) => r.etsy ? best(r.etsy as Record<string, unknown>, k) : null));
  summary[k] = { kunai, etsy, ratio: kunai !== null && etsy ? Number((kunai / etsy).toFixed(2)) : null };
}
console.log(JSON.stringify({ bench: "metrics_statsd", summary, rounds }));
