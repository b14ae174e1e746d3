/**
 * Differential test against etsy statsd's own flush code (`lib/process_metrics.js` of the npm
 * package statsd@0.9.0, the version the shared bench runs): random timers, sampled or not, with
 * several percentile thresholds, must give the statistics etsy computes for every key kunai writes
 * (count, count_ps, lower, upper, sum, mean, median, std, and per percentile upper_p, sum_p,
 * mean_p), and kunai writes a percentile statistic exactly when etsy does.
 */
import assert from "node:assert/strict";
import { xorshift } from "../helpers.ts";
import etsy from "statsd/lib/process_metrics.js";
import { timerStatistics, TimerValues } from "../../lib/metrics/mod.ts";

type EtsyMetrics = {
  counters: Record<string, number>;
  timers: Record<string, number[]>;
  timer_counters: Record<string, number>;
  gauges: Record<string, number>;
  sets: Record<string, unknown>;
  pctThreshold: number[];
  histogram: unknown[];
  timer_data?: Record<string, Record<string, number>>;
  counter_rates?: Record<string, number>;
};
const processMetrics = (etsy as unknown as {
  process_metrics(
    m: EtsyMetrics,
    calc: string[],
    flushMs: number,
    ts: number,
    cb: (m: EtsyMetrics) => void,
  ): void;
}).process_metrics;

const close = (a: number, b: number) => Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(a), Math.abs(b));

Deno.test("statsd timers: kunai's flush statistics are etsy statsd's (500 random timers, sampled or not)", () => {
  const rand = xorshift(20261204);
  const flushSeconds = 10;
  let compared = 0;
  for (let c = 0; c < 500; c++) {
    const n = 1 + Math.floor(rand() * (c % 5 === 0 ? 3 : 60));
    const rate = c % 3 === 0 ? 0.1 + Math.floor(rand() * 9) / 10 : 1;
    const integers = c % 2 === 0;
    const values = Array.from({ length: n }, () => integers ? Math.floor(rand() * 1000) : rand() * 500 - 50);
    const percentiles = c % 4 === 0
      ? [90]
      : c % 4 === 1
      ? [50, 90, 99]
      : c % 4 === 2
      ? [99.9, 1, 100]
      : [75, 95];

    const t = new TimerValues(10_000, c + 1);
    for (const v of values) t.add(v, rate);
    const ours = new Map(timerStatistics(t, percentiles, flushSeconds));

    let theirs: Record<string, number> = {};
    processMetrics(
      {
        counters: {},
        timers: { t: [...values] },
        timer_counters: { t: n / rate },
        gauges: {},
        sets: {},
        pctThreshold: percentiles,
        histogram: [],
      },
      [],
      flushSeconds * 1000,
      0,
      (m) => theirs = m.timer_data!.t,
    );
    const ctx = `case ${c}: ${n} values at rate ${rate}, percentiles ${percentiles}`;
    for (const key of ["count", "count_ps", "lower", "upper", "sum", "mean", "median", "std"]) {
      assert.ok(ours.has(key), `${ctx}: kunai has no ${key}`);
      assert.ok(
        close(ours.get(key)!, theirs[key]),
        `${ctx}: ${key} kunai ${ours.get(key)} etsy ${theirs[key]}`,
      );
      compared++;
    }
    for (const p of percentiles) {
      const sfx = String(p).replace(".", "_");
      for (const stat of ["upper", "sum", "mean"]) {
        const key = `${stat}_${sfx}`;
        assert.equal(
          ours.has(key),
          key in theirs,
          `${ctx}: ${key} written by ${ours.has(key) ? "kunai" : "etsy"} only`,
        );
        if (!(key in theirs)) continue;
        assert.ok(
          close(ours.get(key)!, theirs[key]),
          `${ctx}: ${key} kunai ${ours.get(key)} etsy ${theirs[key]}`,
        );
        compared++;
      }
    }
  }
  assert.ok(compared > 5000, `only ${compared} statistics compared`);
});
