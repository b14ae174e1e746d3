/**
 * `/render` latency on an in-process store: one 24 h series at 10 s (8 640 points) and `sumSeries` of
 * 100 such series, p50/p95 over repeated requests through the route table, after the background
 * pass has compacted complete hours into chunks (steady state), and the bytes the chunks take.
 * Prints one JSON object.
 *
 *   deno run -A scripts/bench/metrics_render_bench.ts [--requests 50] [--values sin|decimal|count]
 *
 * `--values`: `sin` (default) arbitrary doubles, kept raw in chunks; `decimal` the same rounded to two
 * decimals as the collectors give them; `count` integers as statsd's counts: both packed.
 */
import { parseArgs } from "node:util";
import { makeTestCtx } from "../../tests/helpers.ts";
import { createMetrics } from "../../lib/metrics/mod.ts";
import { VirtualClock } from "../../lib/clock/mod.ts";

const args = parseArgs({
  args: Deno.args,
  options: { requests: { type: "string", default: "50" }, values: { type: "string", default: "sin" } },
});
const N = Number(args.values.requests);
const VALUES: Record<string, (t: number, s: number) => number> = {
  sin: (t, s) => Math.sin(t / 600) + s,
  decimal: (t, s) => Math.round((Math.sin(t / 600) + s) * 100) / 100,
  count: (t, s) => Math.round((Math.sin(t / 600) + 1) * 50 * (s + 1)),
};
const value = VALUES[args.values.values];
if (!value) throw new Error(`--values: one of ${Object.keys(VALUES).join(", ")}`);
const clock = new VirtualClock(1_700_000_000_000);
const ctx = makeTestCtx({ clock });
const m = createMetrics(ctx);
await m.start();
const now = Math.floor(clock.now() / 1000);
const t0 = performance.now();
for (let s = 0; s < 100; s++) {
  for (let t = now - 86_400 + 10; t <= now; t += 10) {
    m.service.store.add(`bench.s${s}`, value(t, s), t);
  }
  m.service.store.flush();
}
const loadMs = performance.now() - t0;
// steady state: complete hours are compacted into chunks by the background pass
const t1 = performance.now();
m.service.store.rollup();
const compactMs = performance.now() - t1;
const routes = m.routes();

function pct(xs: number[], p: number): number {
  const v = [...xs].sort((a, b) => a - b);
  return Number(v[Math.min(v.length - 1, Math.ceil((p / 100) * v.length) - 1)].toFixed(2));
}
async function measure(target: string): Promise<{ p50: number; p95: number; points: number }> {
  const times: number[] = [];
  let points = 0;
  for (let i = 0; i < N; i++) {
    const t = performance.now();
    const res = await routes.request(`/render?target=${encodeURIComponent(target)}&from=-24h`);
    const body = await res.json() as Array<{ datapoints: unknown[] }>;
    times.push(performance.now() - t);
    points = body[0].datapoints.length;
  }
  return { p50: pct(times, 50), p95: pct(times, 95), points };
}
const db = ctx.store.handle("metrics")!;
const chunks = db.all<{ level: number; n: number; bytes: number }>(
  "SELECT level, COUNT(*) AS n, SUM(length(data)) AS bytes FROM chunks GROUP BY level",
).map((r) => ({ ...r }));
const one = await measure("bench.s0");
const sum100 = await measure("sumSeries(bench.*)");
await m.stop();
ctx.cleanup();
console.log(JSON.stringify({
  bench: "metrics_render",
  values: args.values.values,
  load_8640x100_points_ms: Math.round(loadMs),
  chunks,
  rollup_and_compact_ms: Math.round(compactMs),
  one_series_24h_ms: one,
  sumSeries_100_ms: sum100,
  targets: { one_series_p95_ms: 50, sumSeries_p95_ms: 200 },
}));
