/**
 * Graphite plaintext ingest, kunai vs carbon-cache (Debian graphite-carbon, throttles off), same load
 * generator, same run (`/work/shared/bench/run-carbon-anchor.sh`): the highest rate of points/s on
 * 10 000 series that is persisted (>= 99.9 % written once drained) with CPU and RSS. kunai runs with
 * a 1 s finest level like the anchor's schema, so every point is its own row; "written" is its
 * count of points committed to metrics.db (`/agent/info` → metrics.store.points_written).
 * Prints one JSON object.
 *
 *   deno run -A scripts/bench/metrics_carbon_bench.ts [--duration 10] [--rates "20000 40000 ..."] [--carbon=no]
 */
import { parseArgs } from "node:util";
import { freePort, startAgent } from "../../tests/helpers.ts";

const args = parseArgs({
  args: Deno.args,
  options: {
    duration: { type: "string", default: "10" },
    confirm: { type: "string", default: "20" },
    rates: { type: "string", default: "20000 40000 80000 120000 160000 200000 250000" },
    carbon: { type: "string", default: "yes" },
    anchor: { type: "string", default: "/work/shared/bench/run-carbon-anchor.sh" },
  },
});

async function anchor(env: Record<string, string>): Promise<Record<string, unknown>> {
  const out = await new Deno.Command("bash", {
    args: [args.values.anchor],
    env: {
      DURATION: args.values.duration,
      CONFIRM_DURATION: args.values.confirm,
      RATES: args.values.rates,
      PHASES: "tuned",
      DRAIN_MAX: "20",
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

const carbon = args.values.carbon === "no" ? null : await anchor({
  PORT: String(freePort()),
  PICKLE_PORT: String(freePort()),
  QUERY_PORT: String(freePort()),
});
const port = freePort("127.0.0.1"); // the anchor's load generator sends to 127.0.0.1
const agent = await startAgent({
  name: "bench-carbon",
  addr: "127.0.0.18",
  params: {
    graphite: { enabled: true, port, bind: "127.0.0.1", udp: false },
    metrics: { retentions: "1s:1h,1m:1d,1h:1y" },
    log_level: "WARNING",
  },
});
const writtenCmd = `curl -s --unix-socket ${agent.socket} http://kunai/agent/info | ` +
  `node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).metrics.store.points_written))'`;
let kunai: Record<string, unknown>;
try {
  kunai = await anchor({
    TARGET_PID: String(agent.child.pid),
    PORT: String(port),
    WRITTEN_CMD: writtenCmd,
    NAME: "kunai",
  });
} finally {
  await agent.stop();
  Deno.removeSync(agent.dir, { recursive: true });
}
console.log(JSON.stringify({ bench: "metrics_carbon", carbon, kunai }));
