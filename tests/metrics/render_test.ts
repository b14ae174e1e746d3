import assert from "node:assert/strict";
import { HOURLY_YEAR } from "./render_fixtures.ts";
import {
  expandBraces,
  findNodes,
  matchNames,
  metricsRoutes,
  parseGraphiteTime,
  parseTarget,
  render,
  renderRequest,
  RENDERS_AT_ONCE,
  RENDERS_WAITING,
  type SeriesSource,
  TargetError,
  toCsv,
  toRaw,
} from "../../lib/metrics/mod.ts";
import type { FetchedSeries } from "../../lib/metrics/mod.ts";
import { FUNCTION_NAMES } from "../../lib/metrics/render_functions.ts";
import { buildApp } from "../../lib/http/mod.ts";
import { LogSink } from "../../lib/log/mod.ts";
import { Counters } from "../../lib/counters.ts";

const N = null;
/** Hand-made series, all at step 10 from t=100. */
const DATA: Record<string, Array<number | null>> = {
  "web1.cpu.user": [1, 2, 3, N, 5],
  "web1.cpu.system": [10, 20, N, N, 50],
  "web2.cpu.user": [4, 4, 4, 4, 4],
  "db1.cpu.user": [100, 90, 120, 130, 125],
  "ctr.requests": [10, 20, 35, 5, 15],
};
const source: SeriesSource = {
  fetch(pattern: string): Promise<FetchedSeries[]> {
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

async function run(target: string, extra = "") {
  const req = renderRequest(
    new URLSearchParams(`target=${encodeURIComponent(target)}&from=0&until=200${extra}`),
    1000,
  );
  return await render(req, source);
}
async function vals(target: string) {
  return (await run(target)).map((s) => ({ name: s.name, values: s.values }));
}

Deno.test("braces, character classes and wildcards match node by node", () => {
  const names = Object.keys(DATA);
  assert.deepEqual(expandBraces("a.{b,c{d,e}}.f"), ["a.b.f", "a.cd.f", "a.ce.f"]);
  assert.deepEqual(matchNames("web*.cpu.user", names), ["web1.cpu.user", "web2.cpu.user"]);
  assert.deepEqual(matchNames("web[2-3].cpu.*", names), ["web2.cpu.user"]);
  assert.deepEqual(matchNames("{web1,db1}.cpu.user", names), ["web1.cpu.user", "db1.cpu.user"]);
  assert.deepEqual(matchNames("*.cpu", names), [], "a pattern matches whole names only");
  assert.deepEqual(matchNames("web?.cpu.system", names), ["web1.cpu.system"]);
  assert.throws(() => expandBraces("a.{b"), /unbalanced/);
});

Deno.test("wildcards are matched without backtracking blow-up, and mean what a regex of them means", () => {
  // a backtracking regex took 8 s for 10 stars against 40 a's, and hours for more: from a read route
  const name = "a".repeat(200);
  assert.deepEqual(matchNames("a*".repeat(200) + "b", [name]), []);
  assert.deepEqual(matchNames("a*".repeat(100) + "a", [name]), [name]);
  assert.deepEqual(matchNames("*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*?", [name]), [name]);
  // random small patterns: the same answers as the anchored regex they stand for
  let x = 7;
  const rand = (n: number) => (x = (x * 1103515245 + 12345) & 0x7fffffff) % n;
  const atoms = ["a", "b", "*", "?", "[ab]", "[!a]", "[a-b]"];
  const re: Record<string, string> = {
    "*": ".*",
    "?": ".",
    "[ab]": "[ab]",
    "[!a]": "[^a]",
    "[a-b]": "[a-b]",
  };
  for (let i = 0; i < 3000; i++) {
    const parts = Array.from({ length: 1 + rand(6) }, () => atoms[rand(atoms.length)]);
    const pattern = parts.join("");
    const regex = new RegExp("^" + parts.map((p) => re[p] ?? p).join("") + "$");
    const names = Array.from(
      { length: 4 },
      () => Array.from({ length: rand(7) }, () => "ab"[rand(2)]).join(""),
    );
    assert.deepEqual(
      matchNames(pattern, names),
      names.filter((n) => regex.test(n)),
      `${pattern} on ${names}`,
    );
  }
});

Deno.test("a path pattern's matching work is bounded: 1 000 characters, 10 million steps, 100 paths a render", async () => {
  assert.throws(
    () => matchNames("a".repeat(1001), ["a"]),
    /a path pattern of 1001 characters \(at most 1000\)/,
  );
  // each name costs ~40 000 steps (the tail after the star fails at its last character, 100 times)
  const names = Array.from({ length: 300 }, (_, i) => "a".repeat(500) + "." + i);
  assert.throws(
    () => matchNames("*" + "a".repeat(400) + "b.*", names),
    /costs too much to match \(narrow it\)/,
  );
  assert.throws(() => findNodes("*" + "a".repeat(400) + "b", names), /costs too much to match/);
  // the same pattern over a few names is answered
  assert.deepEqual(matchNames("*" + "a".repeat(400) + "b.*", names.slice(0, 10)), []);
  assert.equal(matchNames("*" + "a".repeat(400) + ".*", names.slice(0, 100)).length, 100);
  // each path of a render is matched against every stored name: at most 100 different ones
  const q = new URLSearchParams({ from: "0", until: "200" });
  for (let i = 0; i < 101; i++) q.append("target", `web${i}.*`);
  await assert.rejects(
    () => render(renderRequest(q, 1000), source),
    /names 101 different paths \(at most 100\)/,
  );
  q.delete("target");
  for (let i = 0; i < 300; i++) q.append("target", `web${i % 100}.cpu.*`);
  // web1's two series and web2's one, each target three times
  assert.equal((await render(renderRequest(q, 1000), source)).length, 9);
});

Deno.test("the finder lists one level below the query, leaves and branches", () => {
  const names = Object.keys(DATA);
  assert.deepEqual(findNodes("*", names).map((n) => [n.path, n.leaf, n.branch]), [
    ["ctr", false, true],
    ["db1", false, true],
    ["web1", false, true],
    ["web2", false, true],
  ]);
  assert.deepEqual(findNodes("web1.cpu.*", names).map((n) => [n.path, n.text, n.leaf]), [
    ["web1.cpu.system", "system", true],
    ["web1.cpu.user", "user", true],
  ]);
});

Deno.test("the target parser handles nesting, strings, numbers, keywords and braces inside paths", () => {
  const e = parseTarget(`alias(sumSeries(web*.cpu.{user,system}, db1.cpu.user), "all cpu")`);
  assert.equal(e.kind, "call");
  if (e.kind !== "call") return;
  assert.equal(e.name, "alias");
  const inner = e.args[0];
  assert.ok(inner.kind === "call" && inner.args.length === 2);
  assert.deepEqual(inner.kind === "call" && inner.args[0], {
    kind: "path",
    path: "web*.cpu.{user,system}",
    pos: 16,
  });
  const k = parseTarget(`summarize(x, '1h', func="max", alignToFrom=true)`);
  assert.ok(k.kind === "call" && k.kwargs.func.kind === "string" && k.kwargs.alignToFrom.kind === "bool");
  assert.deepEqual(
    parseTarget("scale(a, -1.5e2)").kind === "call" &&
      (parseTarget("scale(a, -1.5e2)") as { args: unknown[] }).args[1],
    {
      kind: "number",
      value: -150,
      pos: 9,
    },
  );
  for (
    const [bad, pos] of [["sumSeries(a", 11], ["sumSeries(a,,b)", 12], ["a.{b", 0], ["scale(a, 'x)", 9], [
      "a b",
      2,
    ]] as const
  ) {
    assert.throws(
      () => parseTarget(bad),
      (err: unknown) => err instanceof TargetError && err.position === pos,
      bad,
    );
  }
});

Deno.test("a parse error in a long target shows the target around the position, not whole", () => {
  const target = "sumSeries(" + "a.b, ".repeat(2000) + "c.d,, e.f, " + "g.h, ".repeat(100) + "i.j)";
  const at = target.indexOf(",,") + 1;
  assert.throws(() => parseTarget(target), (err: unknown) => {
    assert.ok(err instanceof TargetError);
    assert.equal(err.position, at);
    assert.equal(err.target, target, "the error still carries the whole target");
    const shown = /of '(.*)'$/.exec(err.message)![1];
    assert.ok(shown.length <= 102, `${shown.length} characters shown`);
    assert.ok(shown.startsWith("…") && shown.endsWith("…"), shown);
    assert.ok(shown.includes("c.d,, e.f"), shown);
    return true;
  });
  // a short one is still shown whole
  assert.throws(() => parseTarget("sumSeries(a,,b)"), /at position 12 of 'sumSeries\(a,,b\)'$/);
});

Deno.test("combining functions ignore nulls and name the result after their arguments", async () => {
  assert.deepEqual(await vals("sumSeries(web*.cpu.*)"), [{
    name: "sumSeries(web*.cpu.*)",
    values: [15, 26, 7, 4, 59],
  }]);
  assert.deepEqual((await vals("averageSeries(web1.cpu.*)"))[0].values, [5.5, 11, 3, N, 27.5]);
  assert.deepEqual((await vals("maxSeries(web*.cpu.user)"))[0].values, [4, 4, 4, 4, 5]);
  assert.deepEqual((await vals("minSeries(web*.cpu.user, db1.cpu.user)"))[0].values, [1, 2, 3, 4, 4]);
});

Deno.test("scale, offset, alias, aliasByNode", async () => {
  assert.deepEqual(await vals("scale(web1.cpu.user, 2)"), [{
    name: "scale(web1.cpu.user,2)",
    values: [2, 4, 6, N, 10],
  }]);
  assert.deepEqual((await vals("offset(web1.cpu.user, -1)"))[0].values, [0, 1, 2, N, 4]);
  assert.deepEqual((await vals(`alias(web2.cpu.user, "flat")`))[0].name, "flat");
  assert.deepEqual((await vals("aliasByNode(scale(web*.cpu.user, 1), 0, 2)")).map((s) => s.name), [
    "web1.user",
    "web2.user",
  ]);
  assert.deepEqual((await vals("aliasByNode(web1.cpu.user, -1)"))[0].name, "user");
});

Deno.test("derivative, nonNegativeDerivative, perSecond", async () => {
  assert.deepEqual((await vals("derivative(ctr.requests)"))[0].values, [N, 10, 15, -30, 10]);
  assert.deepEqual((await vals("nonNegativeDerivative(ctr.requests)"))[0].values, [N, 10, 15, N, 10]);
  assert.deepEqual((await vals("nonNegativeDerivative(ctr.requests, 40)"))[0].values, [N, 10, 15, 11, 10]);
  assert.deepEqual((await vals("perSecond(ctr.requests)"))[0].values, [N, 1, 1.5, N, 1]);
  assert.deepEqual((await vals("derivative(web1.cpu.user)"))[0].values, [N, 1, 1, N, N]);
});

Deno.test("summarize, movingAverage, asPercent, highestCurrent, keepLastValue", async () => {
  // buckets of 20 s aligned on the interval: [100,120) [120,140) [140,160)
  const sum = await run(`summarize(ctr.requests, "20s")`);
  assert.deepEqual([sum[0].start, sum[0].step, sum[0].values], [100, 20, [30, 40, 15]]);
  assert.equal(sum[0].name, `summarize(ctr.requests, "20s", "sum")`);
  assert.deepEqual((await run(`summarize(ctr.requests, "20s", "max")`))[0].values, [20, 35, 15]);
  assert.deepEqual((await run(`summarize(ctr.requests, "20s", "avg")`))[0].values, [15, 20, 15]);
  // graphite-web's: the window before each point, the point excluded; the output starts the
  // look-back after what was fetched (this source ignores times; graphite_conformance_test.ts
  // checks the look-back against graphite-web itself)
  const ma = await run("movingAverage(web1.cpu.user, 2)");
  assert.deepEqual([ma[0].start, ma[0].values], [120, [1.5, 2.5, 3]]);
  assert.deepEqual((await vals(`movingAverage(web1.cpu.user, "30s")`))[0].values, [2, 2.5]);
  assert.deepEqual((await vals("asPercent(web1.cpu.user, 4)"))[0].values, [25, 50, 75, N, 125]);
  assert.deepEqual((await vals("asPercent(web1.cpu.user, web2.cpu.user)"))[0].values, [25, 50, 75, N, 125]);
  assert.deepEqual((await vals("asPercent(web*.cpu.user)")).map((s) => s.values), [
    [20, (2 / 6) * 100, (3 / 7) * 100, N, (5 / 9) * 100],
    [80, (4 / 6) * 100, (4 / 7) * 100, 100, (4 / 9) * 100],
  ]);
  assert.deepEqual((await vals("highestCurrent(*.cpu.user, 2)")).map((s) => s.name), [
    "db1.cpu.user",
    "web1.cpu.user",
  ]);
  assert.deepEqual((await vals("keepLastValue(web1.cpu.system)"))[0].values, [10, 20, 20, 20, 50]);
  assert.deepEqual((await vals("keepLastValue(web1.cpu.system, 1)"))[0].values, [10, 20, N, N, 50]);
});

Deno.test("summarize stays bounded: a 1 s interval over a year of hourly points is refused, 0 s too", async () => {
  const year = HOURLY_YEAR;
  const req = (target: string) =>
    renderRequest(new URLSearchParams({ target, from: "0", until: String(8760 * 3600) }), 8760 * 3600);
  // was: 31.5 million bucket arrays for one series, from a read route
  await assert.rejects(
    () => render(req(`summarize(y.h, "1s")`), year),
    /summarize: '1s' makes 3153600[01] buckets over this range \(at most 1100000\)/,
  );
  await assert.rejects(() => render(req(`summarize(y.h, "0s")`), year), /interval '0s' must be more than 0/);
  const daily = await render(req(`summarize(y.h, "1d", "max")`), year);
  assert.equal(daily[0].values.length, 366);
  assert.deepEqual(daily[0].values.slice(0, 2), [23, 47]);
});

Deno.test("a render reads and answers at most MAX_RENDER_POINTS: many targets or a fine summarize of many series are refused", async () => {
  const many: SeriesSource = {
    fetch: (pattern) =>
      Promise.resolve(
        matchNames(pattern, Array.from({ length: 300 }, (_, i) => `n${i}.load`)).map((name) => ({
          name,
          start: 0,
          end: 86400,
          step: 10,
          values: new Array(8640).fill(1),
        })),
      ),
  };
  const req = (targets: string[]) => {
    const q = new URLSearchParams({ from: "0", until: "86400" });
    for (const t of targets) q.append("target", t);
    return renderRequest(q, 86400);
  };
  // 3 000 times the same day of one series: 25.9 million points answered (the form body allows it)
  await assert.rejects(
    () => render(req(new Array(3000).fill("n1.load")), many),
    /the request answers more than 5000000 points \(\d+ so far\): narrow the paths or the time range/,
  );
  // one-second buckets of 300 series: 25.9 million points, refused before they exist
  await assert.rejects(
    () => render(req([`summarize(n*.load, "1s")`]), many),
    /makes 2592\d{4} points for 300 series \(at most 5000000\)/,
  );
  // what fits is answered
  assert.equal((await render(req([`summarize(n*.load, "1h", "max")`]), many)).length, 300);
  assert.equal((await render(req(new Array(500).fill("n1.load")), many)).length, 500);
});

Deno.test("a render's function work is bounded: many copies of a cached path, a window of weeks, stack names", async () => {
  const month: SeriesSource = {
    fetch: (pattern, from, until) =>
      Promise.resolve(
        matchNames(pattern, ["a.b", "c.d"]).map((name) => {
          const start = from - (from % 60);
          const n = Math.floor((until - start) / 60);
          return { name, start, end: start + n * 60, step: 60, values: new Array(n).fill(1) };
        }),
      ),
  };
  const until = 31 * 86400;
  const req = (target: string, from = 0) =>
    renderRequest(new URLSearchParams({ target, from: String(from), until: String(until) }), until);
  // 5 000 copies of one month (one read, one series answered): 223 million points to add up
  const copies = `sumSeries(${new Array(5000).fill("a.b").join(",")})`;
  await assert.rejects(() => render(req(copies), month), /more than 200000000 points of work/);
  // each point an average of two weeks of minutes: 22 320 points a window
  await assert.rejects(
    () => render(req(`movingAverage(a.b, "15d12h")`, 16 * 86400), month),
    /movingAverage: .*more than 200000000 points of work/,
  );
  const stacks = new URLSearchParams({ from: "0", until: String(until) });
  for (let i = 0; i < 65; i++) stacks.append("target", `stacked(a.b, "s${i}")`);
  await assert.rejects(() => render(renderRequest(stacks, until), month), /more than 64 stack names/);
  // ordinary work is answered
  assert.equal((await render(req(`sumSeries(a.b, c.d)`), month))[0].values.length, 44640);
  assert.equal((await render(req(`movingAverage(a.b, "1h")`, 86400), month))[0].values[0], 1);
});

Deno.test("a render of 200 000 series (within the point limits) answers: no spread overflows the call stack", async () => {
  const names = Array.from({ length: 200_000 }, (_, i) => `h${i}.up`);
  const wide: SeriesSource = {
    fetch: () => Promise.resolve(names.map((name) => ({ name, start: 0, end: 60, step: 60, values: [1] }))),
  };
  const req = (target: string) => renderRequest(new URLSearchParams({ target, from: "0", until: "60" }), 60);
  assert.deepEqual((await render(req("sumSeries(*.up)"), wide))[0].values, [200_000]);
  assert.deepEqual((await render(req(`aggregate(*.up, "max")`), wide))[0].values, [1]);
  assert.equal((await render(req("*.up"), wide)).length, 200_000);
});

Deno.test("errors name the function and position; times parse in Graphite's forms", async () => {
  await assert.rejects(() => run("nosuch(a)"), /nosuch: unknown function.* at position 0/);
  await assert.rejects(
    () => run("alias(sumSeries(a), 3)"),
    /alias: argument 2 \(newName\) must be a string, not 3 at position 0/,
  );
  await assert.rejects(() => run(`scale(a, "x")`), /scale: argument 2 \(factor\) must be a number/);
  await assert.rejects(() => run(`summarize(a, "1 fortnight")`), /summarize/);
  assert.equal(parseGraphiteTime("-24h", 100_000, "from"), 100_000 - 86400);
  assert.equal(parseGraphiteTime("-7d", 1_000_000, "from"), 1_000_000 - 7 * 86400);
  assert.equal(parseGraphiteTime("-30min", 10_000, "from"), 8200);
  assert.equal(parseGraphiteTime("now", 5, "until"), 5);
  assert.equal(parseGraphiteTime("1700000000", 5, "until"), 1700000000);
  assert.equal(parseGraphiteTime("04:00_20231114", 0, "from"), Date.UTC(2023, 10, 14, 4) / 1000);
  assert.throws(() => parseGraphiteTime("yesterday", 0, "from"), /from: 'yesterday'/);
  // a long run of digits that ends badly: the number pattern backtracked quadratically (a 1 MB
  // POST body held the main thread for hours); now a path word, found in linear time
  const digits = "1".repeat(200_000);
  const long = parseTarget(`scale(a.b,${digits}x)`) as { args: Array<{ kind: string; path?: string }> };
  assert.deepEqual([long.args[1].kind, long.args[1].path?.length], ["path", 200_001]);
  const num = parseTarget(`scale(a.b, 1.5e3)`) as { args: Array<{ kind: string; value?: number }> };
  assert.deepEqual([num.args[1].kind, num.args[1].value], ["number", 1500]);
});

Deno.test("maxDataPoints consolidates; csv and raw formats", async () => {
  const s = await run("web1.cpu.user", "&maxDataPoints=2");
  assert.deepEqual([s[0].step, s[0].values], [30, [2, 5]]);
  const list = await run("web1.cpu.user");
  assert.equal(toRaw(list), "web1.cpu.user,100,150,10|1,2,3,None,5\n");
  assert.equal(toCsv(list).split("\n")[0], "web1.cpu.user,1970-01-01 00:01:40,1");
  assert.equal(toCsv(list).split("\n")[3], "web1.cpu.user,1970-01-01 00:02:10,");
});

Deno.test("routes: render JSON in Graphite's shape, 400s, find, index, list and the UI tree", async () => {
  const table = metricsRoutes({
    source,
    names: () => Promise.resolve(Object.keys(DATA).sort()),
    nowSeconds: () => 1000,
  });
  assert.ok(table.routes.every((d) => d.access === "read"));
  const log = new LogSink({ level: "ERROR", stderr: false, node: "t" }).logger("http");
  const r = buildApp([table], { token: "", maxBody: 1 << 20, log, counters: new Counters() });
  const res = await r.request(
    "/render?target=web1.cpu.user&target=alias(web2.cpu.user,'w2')&from=0&until=200",
  );
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), [
    { target: "web1.cpu.user", datapoints: [[1, 100], [2, 110], [3, 120], [null, 130], [5, 140]] },
    { target: "w2", datapoints: [[4, 100], [4, 110], [4, 120], [4, 130], [4, 140]] },
  ]);
  const post = await r.request("/render/", {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: "target=sumSeries(web*.cpu.user)&from=0&until=200&format=raw",
  });
  assert.equal(await post.text(), "sumSeries(web*.cpu.user),100,150,10|5,6,7,4,9\n");
  for (
    const q of [
      "target=sumSeries(a",
      "target=a&from=soon",
      "target=a&format=png",
      "",
      "target=a&maxDataPoints=0",
    ]
  ) {
    const bad = await r.request(`/render?${q}`);
    assert.equal(bad.status, 400, q);
    assert.ok(((await bad.json()) as { error: string }).error.length > 0);
  }
  const find = await r.request("/metrics/find?query=web1.*");
  assert.deepEqual(await find.json(), [{
    leaf: 0,
    context: {},
    text: "cpu",
    id: "web1.cpu",
    expandable: 1,
    allowChildren: 1,
  }]);
  assert.equal((await r.request("/metrics/find")).status, 400);
  assert.deepEqual(await (await r.request("/metrics/index.json")).json(), Object.keys(DATA).sort());
  assert.deepEqual(await (await r.request("/list/web1")).json(), ["web1.cpu.system", "web1.cpu.user"]);
  assert.deepEqual(await (await r.request("/_ui_list/web1.cpu")).json(), [
    { title: "system", key: "web1.cpu.system", folder: false, lazy: false },
    { title: "user", key: "web1.cpu.user", folder: false, lazy: false },
  ]);
  assert.equal((await (await r.request("/_ui_list/")).json() as unknown[]).length, 4);
});

Deno.test("routes: /version and /functions tell Grafana exactly the functions /render has", async () => {
  const table = metricsRoutes({ source, names: () => Promise.resolve([]), nowSeconds: () => 1000 });
  const log = new LogSink({ level: "ERROR", stderr: false, node: "t" }).logger("http");
  const r = buildApp([table], { token: "", maxBody: 1 << 20, log, counters: new Counters() });
  assert.equal(await (await r.request("/version")).text(), "1.1.8");
  const res = await r.request("/functions");
  assert.equal(res.status, 200);
  const text = await res.text();
  // JSON has no Infinity: keepLastValue's default is written as graphite-web means it, 1e9999
  assert.match(text, /"default":1e9999/);
  const all = JSON.parse(text) as Record<string, { group: string; params: Array<{ name: string }> }>;
  assert.deepEqual(Object.keys(all), FUNCTION_NAMES);
  assert.equal(all.keepLastValue.params[1].name, "limit");
  assert.equal((all.keepLastValue.params[1] as { default?: number }).default, Infinity);
  // every function listed is one /render evaluates (no "unknown function")
  for (const name of Object.keys(all)) {
    const bad = await r.request(`/render?target=${name}()&from=0&until=200`);
    if (bad.status === 400) assert.doesNotMatch(await bad.text(), /unknown function/, name);
    else await bad.body?.cancel();
  }
  const grouped = await (await r.request("/functions?grouped=true")).json() as Record<
    string,
    Record<string, unknown>
  >;
  assert.ok(grouped.Combine.sumSeries && grouped.Alias.aliasSub && !grouped.Combine.aliasSub);
  const combine = await (await r.request("/functions?group=Combine")).json() as Record<string, unknown>;
  assert.ok(combine.groupByNode && !combine.alias);
  assert.deepEqual(await (await r.request("/functions?type=pie")).json(), {});
  const one = await (await r.request("/functions/groupByNode")).json() as {
    function: string;
    params: unknown[];
  };
  assert.equal(one.function, "groupByNode(seriesList, nodeNum, callback='average')");
  assert.deepEqual(one.params[1], { name: "nodeNum", type: "nodeOrTag", required: true });
  const missing = await r.request("/functions/holtWintersForecast");
  assert.equal(missing.status, 404);
  assert.deepEqual(await missing.json(), { error: "Function not found: holtWintersForecast" });
});

Deno.test("routes: renders run RENDERS_AT_ONCE at a time, RENDERS_WAITING wait, more get a 503", async () => {
  // a source that holds every fetch until released (a cluster render waiting for another node)
  let started = 0;
  const gate = Promise.withResolvers<void>();
  const slow: SeriesSource = {
    fetch: async (pattern, from, until) => {
      started++;
      await gate.promise;
      return await source.fetch(pattern, from, until);
    },
  };
  const table = metricsRoutes({ source: slow, names: () => Promise.resolve([]), nowSeconds: () => 1000 });
  const log = new LogSink({ level: "ERROR", stderr: false, node: "t" }).logger("http");
  const r = buildApp([table], { token: "", maxBody: 1 << 20, log, counters: new Counters() });
  const ask = () => r.request("/render?target=web1.cpu.user&from=0&until=200");
  const held = Array.from({ length: RENDERS_AT_ONCE + RENDERS_WAITING }, ask);
  for (let i = 0; i < 50 && started < RENDERS_AT_ONCE; i++) await new Promise((r) => setTimeout(r, 1));
  assert.equal(started, RENDERS_AT_ONCE, "only the slots' renders reach the source");
  const refused = await ask();
  assert.equal(refused.status, 503);
  assert.match(
    (await refused.json()).error,
    new RegExp(`too many renders at once \\(${RENDERS_AT_ONCE} running, ${RENDERS_WAITING} waiting\\)`),
  );
  gate.resolve();
  const answers = await Promise.all(held);
  assert.deepEqual(answers.map((a) => a.status), answers.map(() => 200));
  for (const a of answers) assert.equal((await a.json())[0].target, "web1.cpu.user");
  assert.equal(started, RENDERS_AT_ONCE + RENDERS_WAITING);
  // the slots are all free again, and a failing render gives its slot back too
  for (let i = 0; i < RENDERS_AT_ONCE + 1; i++) {
    assert.equal((await r.request("/render?target=nope(")).status, 400);
  }
  assert.equal((await ask()).status, 200);
});
