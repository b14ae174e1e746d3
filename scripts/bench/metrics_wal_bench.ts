/**
 * The metrics store's write and rollup cost against SQLite's WAL auto-checkpoint threshold: an
 * agent's collectors give ~400 points every 10 s, one per series; they are appended to the fresh
 * rows, and each settle (in the rollup passes, every five minutes of data) dirties ~400 pages of
 * the points table (clustered by series), which a checkpoint copies back into the database.
 * Simulated time (no waiting): `--ticks` rounds of 10 s, a write after each, a rollup pass every six,
 * on a file database under the temp dir, for each threshold in turn, alternated `--pairs` times.
 * Reports the CPU-bound wall time of the writes and of the passes (ms, summed over the run) and the
 * size the -wal file reached. Prints one JSON object.
 *
 *   deno run -A scripts/bench/metrics_wal_bench.ts [--series 400] [--ticks 720] [--pairs 2]
 */
import { parseArgs } from "node:util";
import { join } from "node:path";
import { openDatabase } from "../../lib/store/mod.ts";
import { compileRules, METRICS_MIGRATIONS, parseRetentions, TimeSeriesStore } from "../../lib/metrics/mod.ts";
import { METRICS_WAL_AUTOCHECKPOINT } from "../../lib/metrics/service.ts";

const args = parseArgs({
  args: Deno.args,
  options: {
    series: { type: "string", default: "400" },
    ticks: { type: "string", default: "720" },
    pairs: { type: "string", default: "2" },
  },
});
const SERIES = Number(args.values.series),
  TICKS = Number(args.values.ticks),
  PAIRS = Number(args.values.pairs);
const THRESHOLDS = [1000, METRICS_WAL_AUTOCHECKPOINT]; // SQLite's default, then the agent's

async function run(threshold: number): Promise<{ write_ms: number; rollup_ms: number; wal_bytes: number }> {
  const dir = Deno.makeTempDirSync({ prefix: "kunai-walbench-" });
  try {
    const db = openDatabase(join(dir, "metrics.db"), METRICS_MIGRATIONS);
    db.exec(`PRAGMA wal_autocheckpoint = ${threshold}`);
    const now = { t: 1_700_000_000 - (1_700_000_000 % 3600) };
    const store = new TimeSeriesStore(db, {
      levels: parseRetentions("10s:1d,1m:31d,1h:1y"), // the agent's default retentions
      rules: compileRules([]),
      now: () => now.t * 1000,
      maxPending: 100_000,
    });
    const names = Array.from({ length: SERIES }, (_, i) => `bench.host.collector${i % 15}.metric_${i}`);
    let writeMs = 0, rollupMs = 0;
    for (let tick = 0; tick < TICKS; tick++) {
      now.t += 10;
      for (let i = 0; i < names.length; i++) store.add(names[i], (i * 7 + tick) % 100, now.t);
      let t = performance.now();
      store.flush();
      writeMs += performance.now() - t;
      if (tick % 6 === 5) {
        t = performance.now();
        await store.rollupInSlices();
        rollupMs += performance.now() - t;
      }
    }
    const walBytes = Deno.statSync(join(dir, "metrics.db-wal")).size;
    db.close();
    return { write_ms: Math.round(writeMs), rollup_ms: Math.round(rollupMs), wal_bytes: walBytes };
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
}

const runs: Array<{ wal_autocheckpoint: number; write_ms: number; rollup_ms: number; wal_bytes: number }> =
  [];
for (let p = 0; p < PAIRS; p++) {
  for (const th of p % 2 ? [...THRESHOLDS].reverse() : THRESHOLDS) {
    const r = { wal_autocheckpoint: th, ...(await run(th)) };
    console.error(JSON.stringify(r));
    runs.push(r);
  }
}
const median = (xs: number[]) => {
  const v = [...xs].sort((a, b) => a - b);
  return v.length % 2 ? v[(v.length - 1) / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
};
const by = (th: number, k: "write_ms" | "rollup_ms" | "wal_bytes") =>
  median(runs.filter((r) => r.wal_autocheckpoint === th).map((r) => r[k]));
const [dflt, ours] = THRESHOLDS;
console.log(JSON.stringify({
  series: SERIES,
  simulated_s: TICKS * 10,
  runs,
  write_ms: { sqlite_default: by(dflt, "write_ms"), agent: by(ours, "write_ms") },
  rollup_ms: { sqlite_default: by(dflt, "rollup_ms"), agent: by(ours, "rollup_ms") },
  wal_bytes: { sqlite_default: by(dflt, "wal_bytes"), agent: by(ours, "wal_bytes") },
  write_ratio: Math.round((by(ours, "write_ms") / by(dflt, "write_ms")) * 100) / 100,
}));
