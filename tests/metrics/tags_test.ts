/**
 * Graphite 1.1 tags in kunai: tagged names in through plaintext and statsd (canonical, bad ones
 * counted as bad lines), the /tags read API as Grafana asks it, and bad tag expressions refused
 * with a 400 naming them. (Matching itself is checked against graphite-web in
 * tags_conformance_test.ts and graphite_conformance_test.ts.)
 */
import assert from "node:assert/strict";
import {
  type FetchedSeries,
  metricsRoutes,
  parseGraphiteLine,
  parseStatsdLine,
  render,
  renderRequest,
  seriesByTagNames,
  type SeriesSource,
  StatsdAggregator,
  TargetError,
} from "../../lib/metrics/mod.ts";
import { matchNames } from "../../lib/metrics/glob.ts";
import { checkGraphitePoint } from "../../lib/metrics/graphite_parse.ts";
import { buildApp } from "../../lib/http/mod.ts";
import { LogSink } from "../../lib/log/mod.ts";
import { Counters } from "../../lib/counters.ts";

Deno.test("plaintext: a tagged name is stored under its canonical path; bad tags are bad lines", () => {
  const ok = (line: string) => {
    const p = parseGraphiteLine(line, 0);
    assert.ok(!("bad" in p), `${line}: ${JSON.stringify(p)}`);
    return p.name;
  };
  assert.equal(ok("cpu;host=web1;dc=dc1 1 100"), "cpu;dc=dc1;host=web1");
  assert.equal(ok("cpu;dc=dc1;host=web1 1 100"), "cpu;dc=dc1;host=web1");
  assert.equal(ok("~cpu;a=b 1 100"), "cpu;a=b");
  assert.equal(ok("disk.used;mount=/var/lib;path=a..b. 1 100"), "disk.used;mount=/var/lib;path=a..b.");
  assert.equal(ok('cpu{host="web1",dc="dc1"} 1 100'), "cpu;dc=dc1;host=web1");
  assert.equal(ok("web1.cpu.user 1 100"), "web1.cpu.user");
  const bad = (line: string, why: RegExp) => {
    const p = parseGraphiteLine(line, 0);
    assert.ok("bad" in p, `${line} accepted`);
    assert.match(p.bad, why, line);
  };
  bad("cpu;host 1 100", /invalid tags: Cannot parse path cpu;host, invalid segment host/);
  bad("cpu;host= 1 100", /Value for tag "host" may not be empty/);
  bad("cpu;host=~web 1 100", /not allowed to start with "~"/);
  bad("cpu;ho!st=a 1 100", /Character "!" is not allowed in tag "ho!st"/);
  bad("cpu.;a=b 1 100", /invalid metric name/);
  bad(";a=b 1 100", /invalid metric name/);
  bad("cpu{a 1 100", /invalid metric name/);
  bad("cpu;a=\u00e9 1 100", /invalid character in tags/);
});

Deno.test("pickle: a point's name is taken as a plaintext line's, tagged names made canonical", () => {
  for (
    const name of [
      "cpu;host=web1;dc=dc1",
      "~cpu;a=b",
      "disk.used;mount=/var/lib;path=a..b.",
      'cpu{host="web1",dc="dc1"}',
      "web1.cpu.user",
      "cpu;host",
      "cpu;host=~web",
      "cpu.;a=b",
      ";a=b",
      "cpu{a",
      "cpu;a=\u00e9",
      "a..b",
      "a.",
      "x".repeat(5000) + ";a=b",
    ]
  ) {
    const line = parseGraphiteLine(`${name} 1 100`, 0);
    const point = checkGraphitePoint(name, 1, 100);
    if ("bad" in line) assert.equal(point, line.bad, name);
    else assert.deepEqual(point, line, name);
  }
});

Deno.test("statsd: tagged keys aggregate under one canonical key, tags after the suffix as etsy writes them", () => {
  const a = new StatsdAggregator({ intervalSeconds: 10, percentiles: [90], maxTimerValues: 100 });
  a.ingestLine("api.hits;env=prod;dc=eu:2|c");
  a.ingestLine("api.hits;dc=eu;env=prod:3|c");
  a.ingestLine("api.hits;dc=eu;env=prod:1|c"); // the fast path, for a known key
  a.ingestLine("api.time;env=prod:10|ms");
  a.ingestLine("temp;room=a:21|g");
  a.ingestLine("users;env=prod:u1|s");
  a.ingestLine("bad;=x:1|c");
  a.ingestLine("bad;env:1|c");
  assert.equal(a.stats.bad_lines, 2);
  assert.match(a.lastBad, /invalid tags/);
  const m = new Map(a.flush(1000).map(([n, v]) => [n, v]));
  assert.equal(m.get("stats.gauges.api.hits.count;dc=eu;env=prod"), 6);
  assert.equal(m.get("stats.gauges.api.hits.rate;dc=eu;env=prod"), 0.6);
  assert.equal(m.get("stats.timers.api.time.mean;env=prod"), 10);
  assert.equal(m.get("stats.gauges.temp;room=a"), 21);
  assert.equal(m.get("stats.sets.users.count;env=prod"), 1);
  const samples = parseStatsdLine("x;b=2;a=1:1|c");
  assert.ok(!("bad" in samples[0]) && samples[0].name === "x;a=1;b=2");
});

const NAMES = [
  "cpu;dc=dc1;host=web1",
  "cpu;dc=dc1;host=web2",
  "cpu;dc=dc2;host=db1",
  "mem;dc=dc1;host=web1",
  "web1.cpu.user",
];
const source: SeriesSource = {
  fetch(pattern: string): Promise<FetchedSeries[]> {
    const names = seriesByTagNames(pattern, NAMES) ?? matchNames(pattern, NAMES);
    return Promise.resolve(
      names.map((name, i) => ({ name, start: 100, end: 130, step: 10, values: [i, i, i] })),
    );
  },
};

function app() {
  const table = metricsRoutes({
    source,
    names: () => Promise.resolve([...NAMES].sort()),
    nowSeconds: () => 1000,
  });
  const log = new LogSink({ level: "ERROR", stderr: false, node: "t" }).logger("http");
  return buildApp([table], { token: "", maxBody: 1 << 20, log, counters: new Counters() });
}

Deno.test("/tags routes answer as graphite-web's tag API does", async () => {
  const r = app();
  const json = async (path: string, init?: RequestInit) => {
    const res = await r.request(path, init);
    assert.equal(res.status, 200, `${path}: ${res.status} ${await res.clone().text()}`);
    return await res.json();
  };
  assert.deepEqual(await json("/tags"), [{ tag: "dc" }, { tag: "host" }, { tag: "name" }]);
  assert.deepEqual(await json("/tags/?filter=h"), [{ tag: "host" }]);
  assert.deepEqual(await json("/tags?limit=1"), [{ tag: "dc" }]);
  assert.deepEqual(await json("/tags/dc"), {
    tag: "dc",
    values: [{ value: "dc1", count: 3 }, { value: "dc2", count: 1 }],
  });
  assert.equal(await json("/tags/nosuch"), null);
  assert.deepEqual(await json(`/tags/findSeries?expr=name=cpu&expr=${encodeURIComponent("host!=web2")}`), [
    "cpu;dc=dc1;host=web1",
    "cpu;dc=dc2;host=db1",
  ]);
  assert.deepEqual(await json(`/tags/findSeries?${new URLSearchParams([["expr[]", "dc=~dc2"]])}`), [
    "cpu;dc=dc2;host=db1",
  ]);
  assert.deepEqual(
    await json("/tags/findSeries", {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams([["expr", "name=mem"]]).toString(),
    }),
    ["mem;dc=dc1;host=web1"],
  );
  assert.deepEqual(await json("/tags/autoComplete/tags"), ["dc", "host", "name"]);
  assert.deepEqual(await json("/tags/autoComplete/tags?tagPrefix=h"), ["host"]);
  assert.deepEqual(await json("/tags/autoComplete/tags?expr=name%3Dmem"), ["dc", "host"]);
  assert.deepEqual(await json("/tags/autoComplete/values?tag=host"), ["db1", "web1", "web2"]);
  assert.deepEqual(await json("/tags/autoComplete/values?tag=host&valuePrefix=web&limit=1"), ["web1"]);
  assert.deepEqual(await json("/tags/autoComplete/values?tag=host&expr=dc%3Ddc2"), ["db1"]);
  assert.deepEqual(await json("/tags/autoComplete/values?tag=name&expr=host%3Dweb1"), ["cpu", "mem"]);
});

Deno.test("bad tag expressions and parameters are 400s naming them", async () => {
  const r = app();
  const refused: Array<[string, RegExp]> = [
    ["/tags/findSeries", /no tag expressions specified/],
    ["/tags/findSeries?expr=bogus", /Invalid tagspec bogus/],
    ["/tags/findSeries?expr=env%3D", /At least one tagspec must not match the empty string \('env='\)/],
    [`/tags/findSeries?expr=${encodeURIComponent("host=~(")}`, /tag expression 'host=~\(': .*missing \)/],
    [`/tags/findSeries?expr=${encodeURIComponent("host=~(a)\\1")}`, /host=~\(a\)\\1.*backreferences/],
    ["/tags/autoComplete/values", /no tag specified/],
    ["/tags/autoComplete/values?tag=host&limit=x", /limit: 'x' is not a whole number/],
    ["/tags?filter=(", /filter: regular expression/],
  ];
  for (const [path, why] of refused) {
    const res = await r.request(path);
    assert.equal(res.status, 400, path);
    assert.match((await res.json()).error, why, path);
  }
  for (
    const [target, why] of [
      ["seriesByTag('env=')", /seriesByTag: At least one tagspec must not match the empty string \('env='\)/],
      ["sumSeries(seriesByTag('name=cpu', 'x'))", /seriesByTag: Invalid tagspec x/],
      ["seriesByTag('name=cpu', 3)", /seriesByTag: argument 2 must be a quoted tag expression/],
      ["seriesByTag('name=~a{1,2')", /seriesByTag: /],
      ["groupByTags(seriesByTag('name=cpu'), 'sum')", /groupByTags: missing required argument 'tags'/],
      [
        "groupByTags(seriesByTag('name=cpu'), 'sum', 'env')",
        /groupByTags: group 'cpu;env=': Value for tag "env"/,
      ],
      [
        "groupByTags(seriesByTag('name=cpu'), 'nosuch', 'dc')",
        /groupByTags: argument 2 \(callback\): 'nosuch'/,
      ],
    ] as Array<[string, RegExp]>
  ) {
    const res = await r.request(`/render?${new URLSearchParams({ target, from: "100", until: "130" })}`);
    const body = await res.json();
    if (target.includes("a{1,2")) {
      // Python reads `a{1,2` as literal text: a valid (empty) query
      assert.equal(res.status, 200, target);
      continue;
    }
    assert.equal(res.status, 400, `${target}: ${JSON.stringify(body)}`);
    assert.match(body.error, why, target);
  }
});

Deno.test("render: seriesByTag, aliasByTags, groupByTags over tagged series; globs skip them", async () => {
  const run = async (target: string) =>
    (await render(renderRequest(new URLSearchParams({ target, from: "100", until: "130" }), 1000), source))
      .map((s) => [s.name, s.values[0]]);
  assert.deepEqual(await run("seriesByTag('name=cpu', 'dc=dc1')"), [
    ["cpu;dc=dc1;host=web1", 0],
    ["cpu;dc=dc1;host=web2", 1],
  ]);
  assert.deepEqual(await run("aliasByTags(seriesByTag('dc=dc1'), 'name', 'host')"), [
    ["cpu.web1", 0],
    ["cpu.web2", 1],
    ["mem.web1", 2],
  ]);
  assert.deepEqual(await run("groupByTags(seriesByTag('name=cpu'), 'sum', 'dc')"), [
    ["cpu;dc=dc1", 1],
    ["cpu;dc=dc2", 2],
  ]);
  assert.deepEqual(await run("aliasByNode(seriesByTag('host=web1'), 'name', 'dc')"), [
    ["cpu.dc1", 0],
    ["mem.dc1", 1],
  ]);
  assert.deepEqual(await run("*.*.*"), [["web1.cpu.user", 0]]);
  assert.deepEqual(await run("cpu;dc=dc2;host=db1"), [["cpu;dc=dc2;host=db1", 0]]);
  await assert.rejects(() => run("seriesByTag()"), TargetError);
});
