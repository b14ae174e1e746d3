/**
 * DNS side by side with dnsmasq (shared/bench/run-dns-anchor.sh): the anchor measures dnsmasq, then
 * kunai's DNS subsystem (real sockets and handler, scripts/bench/dns_server.ts) over the same 100
 * simulated nodes (`web-N` → 1 A; 5 tags → 20 A each), with dnsperf. Short runs (DURATION 5 s, 10
 * clients, 10 k qps fixed rate for latency). Prints one JSON line with both summaries and the ratios.
 * The anchor script path can be set with DNS_ANCHOR.
 */
import { denoRun, freePort } from "../../tests/helpers.ts";

const anchor = Deno.env.get("DNS_ANCHOR") ?? "/work/shared/bench/run-dns-anchor.sh";
const env = { DURATION: "5", CLIENTS: "10", RATES: "10000", NODES: "100", OUTSTANDING: "100" };

async function runAnchor(extra: Record<string, string>): Promise<Record<string, unknown>> {
  const out = await new Deno.Command("flock", {
    args: ["/tmp/kunai-anchor-bench.lock", anchor],
    env: { ...env, ...extra },
    stdout: "piped",
    stderr: "inherit",
  }).output();
  const last = new TextDecoder().decode(out.stdout).trim().split("\n").at(-1) ?? "";
  return JSON.parse(last);
}

const port = freePort();
const server = new Deno.Command(Deno.execPath(), {
  args: denoRun("scripts/bench/dns_server.ts", String(port), env.NODES),
  stdout: "piped",
  stderr: "inherit",
}).spawn();
try {
  const reader = server.stdout.pipeThrough(new TextDecoderStream()).getReader();
  const first = await reader.read();
  if (!first.value?.includes("ready")) throw new Error("bench DNS server did not start");
  reader.releaseLock();
  const dnsmasq = await runAnchor({});
  const kunai = await runAnchor({ TARGET_PORT: String(port), TARGET_PID: String(server.pid), NAME: "kunai" });
  type Runs = Record<string, { qps: number; p99_ms?: number; server_rss_kb?: number }>;
  const ratio = (label: string) => {
    const a = (dnsmasq.runs as Runs)[label]?.qps, b = (kunai.runs as Runs)[label]?.qps;
    return a && b ? Math.round(b / a * 100) / 100 : null;
  };
  const kr = kunai.runs as Runs;
  console.log(JSON.stringify({
    dnsmasq,
    kunai,
    qps_ratio_single: ratio("single-c10-q100"),
    qps_ratio_tags_20_nodes: ratio("tags-c10-q100"),
    kunai_p99_ms_at_10k: kr["single-rate10000-c10"]?.p99_ms ?? null,
    dnsmasq_p99_ms_at_10k: (dnsmasq.runs as Runs)["single-rate10000-c10"]?.p99_ms ?? null,
  }));
} finally {
  server.kill("SIGTERM");
  await server.status;
}
