/**
 * An aggregator's state taken out (`exportState`) and added to another one (`mergeState`): what a
 * stop hands to the next start. Merged, the two halves flush as one aggregator that got both.
 */
import assert from "node:assert/strict";
import { StatsdAggregator, type StatsdOptions } from "../../lib/metrics/statsd_aggregator.ts";

const T = 1_700_000_010;
const OPTS: StatsdOptions = { intervalSeconds: 10, percentiles: [90, 50], maxTimerValues: 1000 };

function sorted(points: Array<[string, number, number]>): Array<[string, number, number]> {
  return [...points].sort((a, b) => a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0);
}

function fed(lines: string[], opts = OPTS): StatsdAggregator {
  const a = new StatsdAggregator(opts);
  for (const l of lines) a.ingestLine(l);
  return a;
}

/** An aggregator's state as the stop stores it (through JSON). */
const stored = (a: StatsdAggregator) => JSON.parse(JSON.stringify(a.exportState()));

Deno.test("statsd state handed over and merged flushes as one aggregator that received both halves", () => {
  const before = [
    "hits:5|c",
    "hits:2|c|@0.5",
    "only.before:1|c",
    "rt:10|ms",
    "rt:30|ms",
    "rt:20|ms|@0.5",
    "t.before:4|ms",
    "users:alice|s",
    "users:bob|s",
    "temp:7|g",
    "q:3|g",
  ];
  const after = [
    "hits:3|c",
    "only.after:2|c",
    "rt:40|ms",
    "rt:5|ms",
    "users:bob|s",
    "users:carol|s",
    "temp:9|g",
  ];
  const whole = fed([...before, ...after]);
  const first = fed(before);
  const second = fed(after);
  second.mergeState(stored(first));
  const got = sorted(second.flush(T));
  assert.deepEqual(got, sorted(whole.flush(T)));
  const m = new Map(got.map(([n, v]) => [n, v]));
  assert.equal(m.get("stats.gauges.hits.count"), 12);
  assert.equal(m.get("stats.timers.rt.count"), 6);
  assert.equal(m.get("stats.sets.users.count"), 3);
  assert.equal(m.get("stats.gauges.temp"), 9, "the newer gauge wins");
  assert.equal(m.get("stats.gauges.q"), 3, "a gauge only handed over is kept");
  // exporting changed nothing: the first aggregator still flushes its own half
  assert.equal(new Map(first.flush(T).map(([n, v]) => [n, v])).get("stats.gauges.hits.count"), 9);
});

Deno.test("merged timer values stay within maxTimerValues; count, sum, lower and upper stay exact", () => {
  const opts = { ...OPTS, maxTimerValues: 100 };
  const first = fed(Array.from({ length: 150 }, (_, i) => `rt:${i + 1}|ms`), opts); // a reservoir already
  const second = fed(Array.from({ length: 80 }, (_, i) => `rt:${i + 151}|ms`), opts);
  second.mergeState(stored(first));
  const [[, values, seen]] = second.dump("timers", 1000).entries as Array<[string, number[], number]>;
  assert.equal(values.length, 100);
  assert.equal(seen, 230);
  assert.equal(new Set(values).size, 100, "each value drawn once");
  // each side in proportion to the values it stands for: ~35 of 100 from the 80 of 230
  const late = values.filter((v) => v > 150).length;
  assert.ok(late >= 20 && late <= 50, `${late} of the later values`);
  const m = new Map(second.flush(T).map(([n, v]) => [n, v]));
  assert.equal(m.get("stats.timers.rt.count"), 230);
  assert.equal(m.get("stats.timers.rt.sum"), 230 * 231 / 2);
  assert.equal(m.get("stats.timers.rt.lower"), 1);
  assert.equal(m.get("stats.timers.rt.upper"), 230);
});

Deno.test("a merge respects the distinct-name cap: names beyond it are counted as dropped", () => {
  const opts = { ...OPTS, maxKeys: 2 };
  const a = fed(["a:1|c", "b:1|c"], opts);
  a.mergeState(stored(fed(["a:2|c", "c:5|c"], opts)));
  assert.equal(a.stats.dropped, 1);
  const m = new Map(a.flush(T).map(([n, v]) => [n, v]));
  assert.equal(m.get("stats.gauges.a.count"), 3);
  assert.equal(m.has("stats.gauges.c.count"), false);
});
