/**
 * A backfill into the time-series store after its first background pass (history replayed from
 * carbon, a relay's buffer): `--series` series of 23 h at 10 s, two-decimal values, written to a
 * file database; then `--passes` passes in slices as the agent runs them. Reports the database's
 * used bytes and the points a week's graph (level 1, 1 min) shows before and after the passes, the
 * passes' times and the longest the event loop waited meanwhile (ts_late.ts's slices). Prints one
 * JSON object.
 *
 *   deno run -A scripts/bench/metrics_backfill_bench.ts [--series 100] [--passes 3]
 */
import { parseArgs } from "node:util";
import { openDatabase } from "../../lib/store/mod.ts";
import { compileRules, METRICS_MIGRATIONS, parseRetentions, TimeSeriesStore } from "../../lib/metrics/mod.ts";

const args = parseArgs({
  args: Deno.args,
  options: { series: { type: "string", default: "100" }, passes: { type: "string", default: "3" } },
});
const N = Number(args.values.series), PASSES = Number(args.values.passes);
const dir = Deno.makeTempDirSync({ prefix: "kunai-backfill-" });
try {
  const db = openDatabase(`${dir}/metrics.db`, METRICS_MIGRATIONS);
  const now = { t: 1_700_006_400 + 30 * 86_400 };
  const store = new TimeSeriesStore(db, {
    levels: parseRetentions("10s:1d,1m:31d,1h:1y"),
    rules: compileRules([]),
    now: () => now.t * 1000,
    maxPending: 1_000_000,
  });
  store.rollup(); // the agent's first pass: every span before now is taken
  const t0 = performance.now();
  for (let i = 0; i < N; i++) {
    for (let t = now.t - 86_400 + 10; t < now.t - 3600; t += 10) {
      store.add(`bf.s${i}`, Math.round(Math.sin(t / 600) * 10_000) / 100, t);
    }
    store.flush();
  }
  const loadMs = performance.now() - t0;
  const usedKib = () => {
    const r = db.get<{ p: number; f: number; s: number }>(
      "SELECT (SELECT page_count FROM pragma_page_count) AS p, (SELECT freelist_count FROM pragma_freelist_count) AS f, (SELECT page_size FROM pragma_page_size) AS s",
    )!;
    return Math.round(((r.p - r.f) * r.s) / 1024);
  };
  const weekPoints = () =>
    store.fetch("bf.s0", now.t - 7 * 86_400, now.t).values.filter((v) => v !== null).length;
  const before = { used_kib: usedKib(), week_graph_points: weekPoints() };
  let gap = 0, last = performance.now();
  const monitor = setInterval(() => {
    const t = performance.now();
    gap = Math.max(gap, t - last);
    last = t;
  }, 1);
  const passes: number[] = [];
  for (let k = 0; k < PASSES; k++) {
    const t = performance.now();
    await store.rollupInSlices(500);
    passes.push(Math.round(performance.now() - t));
  }
  clearInterval(monitor);
  console.log(JSON.stringify({
    bench: "metrics_backfill",
    series: N,
    points: store.stats.points_late,
    load_ms: Math.round(loadMs),
    before,
    after: { used_kib: usedKib(), week_graph_points: weekPoints() },
    passes_ms: passes,
    max_event_loop_gap_ms: Math.round(gap),
    points_compacted: store.stats.points_compacted,
    points_rolled: store.stats.points_rolled,
  }));
  db.close();
} finally {
  Deno.removeSync(dir, { recursive: true });
}
