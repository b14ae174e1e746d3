/**
 * What graphite_conformance_test.ts cannot show: the 400s for wrong arguments (each naming the
 * function and the parameter), the bounds on work, consolidateBy's effect on maxDataPoints,
 * stacked across the targets of one request, and Python's number formats against CPython.
 */
import assert from "node:assert/strict";
import { HOURLY_YEAR } from "./render_fixtures.ts";
import { matchNames, render, renderRequest, type SeriesSource, TargetError } from "../../lib/metrics/mod.ts";
import type { FetchedSeries } from "../../lib/metrics/mod.ts";
import { pyFloat, pyG, pyRound } from "../../lib/py_number.ts";

const N = null;
/** Hand-made series at step 10 from t=100, whatever the range asked (recorded in `fetched`). */
const DATA: Record<string, Array<number | null>> = {
  "web1.cpu.user": [1, 2, 3, N, 5],
  "web2.cpu.user": [4, 4, 4, 4, 4],
};
const fetched: Array<[string, number, number]> = [];
const source: SeriesSource = {
  fetch(pattern: string, from: number, until: number): Promise<FetchedSeries[]> {
    fetched.push([pattern, from, until]);
    return Promise.resolve(
      matchNames(pattern, Object.keys(DATA)).map((name) => ({
        name,
        start: 100,
        end: 150,
        step: 10,
        values: [...DATA[name]],
      })),
    );
  },
};

async function run(targets: string | string[], extra: Record<string, string> = {}) {
  const q = new URLSearchParams({ from: "100000", until: "100050", ...extra });
  for (const t of [targets].flat()) q.append("target", t);
  return await render(renderRequest(q, 200000), source);
}

Deno.test("a wrong argument is a 400 naming the function and the parameter", async () => {
  const refused: Array<[string, RegExp]> = [
    ["scale(web1.cpu.user)", /scale: missing required argument 'factor'/],
    [`alias(web1.cpu.user, "a", "b")`, /alias: too many arguments \(at most 2\)/],
    ["sortByName(web1.cpu.user, 5)", /sortByName: argument 2 \(natural\) must be true or false, not 5/],
    [
      `groupByNode(web1.cpu.user, 1, "nosuch")`,
      /groupByNode: argument 3 \(callback\): 'nosuch' is not one of/,
    ],
    [
      `groupByNode(web1.cpu.user, 1.5)`,
      /groupByNode: argument 2 \(nodeNum\) must be a node index \(a whole number\) or a tag name/,
    ],
    ["sumSeries(web1.cpu.user, foo=1)", /sumSeries: unexpected keyword argument 'foo'/],
    ["scale(web1.cpu.user, 2, factor=3)", /scale: too many arguments/],
    [
      `summarize(web1.cpu.user, "1min", intervalString="1h")`,
      /summarize: argument 'intervalString' is given twice/,
    ],
    [`timeShift(web1.cpu.user, "1 h")`, /timeShift: '1 h' is not an interval/],
    [`timeShift(web1.cpu.user, "1fortnight")`, /timeShift: '1fortnight': unknown time unit 'fortnight'/],
    ["log(web1.cpu.user, 1)", /log: base must be more than 0 and not 1, not 1/],
    ["limit(web1.cpu.user, 1.5)", /limit: argument 2 \(n\) must be a whole number, not 1.5/],
    [
      `grep(web1.cpu.user, "(a)\\1")`,
      /grep: regular expression '\(a\)\\1': backreferences are not supported/,
    ],
    [
      `aliasSub(web1.cpu.user, "(", "x")`,
      /aliasSub: regular expression '\(': missing \), unterminated subpattern/,
    ],
    [`hitcount(web1.cpu.user, "-1h")`, /hitcount: interval '-1h' must be more than 0/],
    [
      "divideSeries(web1.cpu.user, web*.cpu.user)",
      /divideSeries: argument 2 \(divisorSeries\) must be exactly one/,
    ],
    [
      "movingAverage(web1.cpu.user, 0)",
      /movingAverage: window must be a whole number of points \(at least 1\)/,
    ],
    // graphite-web answers these with a meaningless series (a negative index into the sorted
    // points; a flat line named "0"): kunai refuses them instead
    ["nPercentile(web1.cpu.user, -5)", /nPercentile: the percentile n must be more than 0 and at most 100/],
    ["countSeries()", /countSeries: needs a series list/],
  ];
  for (const [target, message] of refused) {
    await assert.rejects(() => run(target), (err: Error) => {
      assert.ok(err instanceof TargetError, `${target}: ${err}`);
      assert.match(err.message, message, target);
      return true;
    });
  }
});

Deno.test("consolidateBy decides how maxDataPoints merges points (average otherwise)", async () => {
  const mdp = { maxDataPoints: "2" };
  assert.deepEqual((await run("web1.cpu.user", mdp))[0].values, [2, 5]);
  assert.deepEqual((await run(`consolidateBy(web1.cpu.user, "max")`, mdp))[0].values, [3, 5]);
  assert.deepEqual((await run(`consolidateBy(web1.cpu.user, "sum")`, mdp))[0].values, [6, 5]);
  assert.deepEqual((await run(`cumulative(web1.cpu.user)`, mdp))[0].values, [6, 5]);
  assert.deepEqual((await run(`consolidateBy(web1.cpu.user, "first")`, mdp))[0].values, [1, 5]);
  assert.deepEqual((await run(`consolidateBy(web1.cpu.user, "avg_zero")`, mdp))[0].values, [2, 2.5]);
  // a function after consolidateBy keeps it (graphite-web keeps it on a copy of the series)
  assert.deepEqual((await run(`scale(consolidateBy(web1.cpu.user, "max"), 2)`, mdp))[0].values, [6, 10]);
});

Deno.test("stacked keeps one running total per stack across the targets of a request", async () => {
  const [a, b] = await run(["stacked(web1.cpu.user)", "stacked(web2.cpu.user)"]);
  assert.deepEqual(a.values, [1, 2, 3, N, 5]);
  assert.deepEqual(b.values, [5, 6, 7, 4, 9]);
  const [, other] = await run(["stacked(web1.cpu.user)", `stacked(web2.cpu.user, "other")`]);
  assert.deepEqual([other.name, other.values], ["web2.cpu.user", [4, 4, 4, 4, 4]]);
  // a new request starts from zero
  assert.deepEqual((await run("stacked(web2.cpu.user)"))[0].values, [4, 4, 4, 4, 4]);
});

Deno.test("timeShift and hitcount fetch their argument again over the other range; nesting is bounded", async () => {
  fetched.length = 0;
  const [s] = await run(`timeShift(web1.cpu.user, "1h")`);
  assert.deepEqual(fetched, [["web1.cpu.user", 100000, 100050], [
    "web1.cpu.user",
    100000 - 3600,
    100050 - 3600,
  ]]);
  assert.deepEqual([s.name, s.start], [`timeShift(web1.cpu.user, "-1h")`, 100]);
  fetched.length = 0;
  await run(`timeShift(web1.cpu.user, "+1d")`);
  assert.deepEqual(fetched[1], ["web1.cpu.user", 100000 + 86400, 100050 + 86400]);
  fetched.length = 0;
  await run(`hitcount(web1.cpu.user, "1min", true)`);
  assert.deepEqual(fetched[1], ["web1.cpu.user", 99960, 100050]); // from, to the minute
  await assert.rejects(
    () => run(`timeShift(web1.cpu.user, "1y")`),
    /timeShift: '1y' moves the range before 1970/,
  );
  // each level evaluates its argument twice: 20 levels would be a million evaluations
  let nested = "web1.cpu.user";
  for (let i = 0; i < 20; i++) nested = `timeShift(${nested}, "10s")`;
  await assert.rejects(() => run(nested), /more than 10000 function calls/);
});

Deno.test("hitcount and constantLine stay bounded", async () => {
  const year = HOURLY_YEAR;
  const req = (target: string, until = 8760 * 3600) =>
    renderRequest(new URLSearchParams({ target, from: "0", until: String(until) }), until);
  await assert.rejects(
    () => render(req(`hitcount(y.h, "1s")`), year),
    /hitcount: '1s' makes 3153600\d buckets over this range \(at most 1100000\)/,
  );
  assert.equal((await render(req(`hitcount(y.h, "1d")`), year))[0].values.length, 365);
  await assert.rejects(
    () => render(req("constantLine(1)", 1), year),
    /constantLine: the time range \(1 s\) is too short/,
  );
});

Deno.test("delay by 0 steps gives no points at all, as graphite-web's series[:-0] does", async () => {
  const [s] = await run("delay(web1.cpu.user, 0)");
  assert.deepEqual([s.name, s.values], ["delay(web1.cpu.user,0)", []]);
});

Deno.test("the interpolated 100th percentile is the largest point, where graphite-web fails", async () => {
  const [s] = await run("percentileOfSeries(web*.cpu.user, 100, true)");
  assert.deepEqual(s.values, [4, 4, 4, 4, 5]);
});

const NUMBERS = [
  0,
  1,
  -1,
  2.5,
  0.5,
  1e-5,
  0.0001,
  0.00012345678,
  123456,
  1234567,
  1234565,
  12345.25,
  12345.35,
  999999.5,
  9999995,
  0.1 + 0.2,
  1e16,
  1e15,
  123456789012345680,
  1e-7,
  3.14159265,
  -2.5e-10,
  1e100,
  5e-324,
  0.0078125,
  1 / 3,
  -0.0078125,
  1e21,
  7,
];

Deno.test({
  name: "Python's %g, repr(float) and round(x, 6) as CPython writes them",
  ignore: (() => {
    try {
      return !new Deno.Command("/usr/bin/python3", { args: ["-c", "1"] }).outputSync().success;
    } catch {
      return true;
    }
  })(),
  async fn() {
    const out = await new Deno.Command("/usr/bin/python3", {
      args: [
        "-c",
        `import json,sys; print(json.dumps([['%g' % x, repr(float(x)), round(x, 6)] for x in ${
          JSON.stringify(NUMBERS)
        }]))`,
      ],
    }).output();
    const want = JSON.parse(new TextDecoder().decode(out.stdout)) as Array<[string, string, number]>;
    assert.deepEqual(NUMBERS.map((x) => [pyG(x), pyFloat(x), pyRound(x, 6)]), want);
  },
});

Deno.test("jsonp is refused (a JSONP client would get plain JSON it cannot run), not ignored", () => {
  assert.throws(
    () => renderRequest(new URLSearchParams({ target: "a.b", jsonp: "cb" }), 200000),
    /jsonp: not supported/,
  );
});
