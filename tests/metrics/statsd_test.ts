import assert from "node:assert/strict";
import { parseStatsdLine, StatsdAggregator, timerStatistics, TimerValues } from "../../lib/metrics/mod.ts";

function agg(interval = 10) {
  return new StatsdAggregator({ intervalSeconds: interval, percentiles: [90, 99], maxTimerValues: 1000 });
}
function asMap(points: Array<[string, number, number]>): Map<string, number> {
  return new Map(points.map(([n, v]) => [n, v]));
}

Deno.test("statsd lines parse every type, rates, deltas and several values per line", () => {
  assert.deepEqual(parseStatsdLine("a.b:3|c|@0.5")[0], {
    name: "a.b",
    kind: "c",
    value: 3,
    rate: 0.5,
    delta: false,
    member: "",
  });
  const [g] = parseStatsdLine("g:-4|g");
  assert.ok(!("bad" in g) && g.delta && g.value === -4);
  const multi = parseStatsdLine("t:1|ms:2|h");
  assert.equal(multi.length, 2);
  assert.ok(multi.every((s) => !("bad" in s) && s.kind === "ms"));
  const [s] = parseStatsdLine("users:alice|s");
  assert.ok(!("bad" in s) && s.member === "alice");
  assert.equal("bad" in parseStatsdLine("my key/x:1|c")[0], false);
  assert.equal((parseStatsdLine("my key/x:1|c")[0] as { name: string }).name, "my_key-x");
});

Deno.test("malformed statsd lines are counted and skipped, the rest of the packet counts", () => {
  const a = agg();
  a.ingestText("ok:1|c\ngarbage\nx:abc|c\ny:1|zz\nz:1|c|@2\nn:NaN|g\ninf:Infinity|ms\nok:2|c\n\n");
  assert.equal(a.stats.bad_lines, 6);
  assert.equal(a.stats.metrics, 2);
  assert.equal(asMap(a.flush(100)).get("stats.gauges.ok.count"), 3);
});

Deno.test("a flush yields the reference names with exact aggregates, then counters reset", () => {
  const a = agg(10);
  a.ingestText("hits:1|c\nhits:2|c|@0.5\nhits:3|c");
  for (const v of [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]) a.ingestLine(`rt:${v}|ms`);
  a.ingestText("temp:10|g\ntemp:+5|g\ntemp:-3|g\nu:a|s\nu:b|s\nu:a|s");
  const m = asMap(a.flush(1000));
  assert.equal(m.get("stats.gauges.hits.count"), 8);
  assert.equal(m.get("stats.gauges.hits.rate"), 0.8);
  assert.equal(m.get("stats.timers.rt.count"), 10);
  assert.equal(m.get("stats.timers.rt.count_ps"), 1);
  assert.equal(m.get("stats.timers.rt.sum"), 55);
  assert.equal(m.get("stats.timers.rt.mean"), 5.5);
  assert.equal(m.get("stats.timers.rt.median"), 5.5);
  assert.equal(m.get("stats.timers.rt.lower"), 1);
  assert.equal(m.get("stats.timers.rt.upper"), 10);
  assert.equal(m.get("stats.timers.rt.upper_90"), 9);
  assert.equal(m.get("stats.timers.rt.sum_90"), 45);
  assert.equal(m.get("stats.timers.rt.mean_90"), 5);
  assert.equal(m.get("stats.timers.rt.upper_99"), 10);
  assert.ok(Math.abs(m.get("stats.timers.rt.std")! - Math.sqrt(8.25)) < 1e-12);
  assert.equal(m.get("stats.gauges.temp"), 12);
  assert.equal(m.get("stats.sets.u.count"), 2);
  const next = asMap(a.flush(1010));
  assert.equal(next.get("stats.gauges.hits.count"), undefined, "counters reset");
  assert.equal(next.get("stats.gauges.temp"), 12, "gauges persist like etsy");
  a.ingestLine("temp:+1|g");
  assert.equal(asMap(a.flush(1020)).get("stats.gauges.temp"), 13);
});

Deno.test("timer memory is bounded; exact stats stay exact beyond the cap and percentiles stay close", () => {
  const t = new TimerValues(1000, 7);
  for (let i = 1; i <= 100_000; i++) t.add(i, 1);
  assert.equal(t.values.length, 1000);
  const m = new Map(timerStatistics(t, [90], 10));
  assert.equal(m.get("count"), 100_000);
  assert.equal(m.get("sum"), 100_000 * 100_001 / 2);
  assert.equal(m.get("upper"), 100_000);
  assert.equal(m.get("lower"), 1);
  // rank error of a 1000-value reservoir: within 5 % here (1/sqrt(1000) ≈ 3 %)
  assert.ok(Math.abs(m.get("upper_90")! - 90_000) < 5_000, String(m.get("upper_90")));
});

Deno.test("fuzz: the statsd parser never throws and every sample it accepts is well formed", () => {
  let seed = 42;
  const rnd = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
  const alphabet = "ab.:|@#cgmshx-+0123456789e.\n \t\u0000é/";
  const a = agg();
  for (let i = 0; i < 20_000; i++) {
    let s = "";
    const len = Math.floor(rnd() * 40);
    for (let j = 0; j < len; j++) s += alphabet[Math.floor(rnd() * alphabet.length)];
    for (const r of parseStatsdLine(s)) {
      if ("bad" in r) continue;
      assert.ok(r.name.length > 0 && /^[A-Za-z0-9_.\-;=]+$/.test(r.name), JSON.stringify(s));
      assert.ok(r.kind === "s" || Number.isFinite(r.value), JSON.stringify(s));
      assert.ok(r.rate > 0 && r.rate <= 1);
    }
    a.ingestText(s);
  }
  for (const [, v] of a.flush(1)) assert.ok(Number.isFinite(v));
});

Deno.test("a negative timing is a bad group, as etsy has it; histograms and distributions may be negative", () => {
  const kinds = (line: string) =>
    parseStatsdLine(line).map((s) => "bad" in s ? `bad ${s.bad}` : `${s.kind} ${s.value}`);
  assert.deepEqual(kinds("rt:-5|ms"), ["bad negative timing"]);
  assert.deepEqual(kinds("rt:0|ms:-1|ms:3|ms"), ["ms 0", "bad negative timing", "ms 3"]);
  assert.deepEqual(kinds("h:-5|h"), ["ms -5"]);
  assert.deepEqual(kinds("d:-5|d|#env:prod"), ["ms -5"]);
});

Deno.test("DogStatsD lines: tags with ':' are one section, several values share the type, graphite tags on demand", () => {
  const ok = (line: string, tags?: "ignore" | "graphite") =>
    parseStatsdLine(line, tags).map((s) =>
      "bad" in s ? `bad ${s.bad}` : `${s.name} ${s.kind} ${s.value} ${s.rate}`
    );
  assert.deepEqual(ok("a:1|c|#env:prod,x:y:z"), ["a c 1 1"]);
  assert.deepEqual(ok("a:2|c|#env:prod|@0.5"), ["a c 2 0.5"]);
  assert.deepEqual(ok("a:1:2:3|d|@0.5|#env:prod|c:83c0a99c|T1656581400"), [
    "a ms 1 0.5",
    "a ms 2 0.5",
    "a ms 3 0.5",
  ]);
  assert.deepEqual(ok("a:2|c|@0.5|#region:eu,env:prod,bare", "graphite"), ["a;env=prod;region=eu c 2 0.5"]);
  assert.deepEqual(ok("a;dc=x:2|c|#env:prod", "graphite"), ["a;dc=x;env=prod c 2 1"]);
  assert.deepEqual(ok("a:1|c|#env:~prod", "graphite"), [
    'bad invalid tags: Tag values are not allowed to start with "~" in tag "env"',
  ]);
  assert.deepEqual(ok("a:1|c|#env:~prod"), ["a c 1 1"]); // ignored tags are not checked
  assert.deepEqual(ok("a:1|c|#env:prod|zz"), ["bad unknown field zz"]);
  assert.deepEqual(ok("a:1|c|T1656581400"), ["a c 1 1"]); // a client's timestamp, and no tag with ':'
  assert.deepEqual(ok("a:1|c|#bare|T1656581400|@0.5"), ["a c 1 0.5"]);
  assert.deepEqual(ok("a:1|#env:prod"), ["bad unknown type #env:prod"]);
});

Deno.test("a statsd key or set member over 900 characters is a bad line; long keys kept are intact", () => {
  const a = agg();
  const long = "k".repeat(900);
  a.ingestText(`${long}x:1|c\nset:${"m".repeat(901)}|s\n${long}:2|g\nusers.${"a".repeat(40)}:bob|s\n`);
  assert.equal(a.stats.bad_lines, 2);
  assert.match(a.lastBad, /^set member longer than 900 characters/);
  const out = asMap(a.flush(100));
  assert.equal(out.get(`stats.gauges.${long}`), 2, "a key of 900 characters is taken whole");
  assert.equal(out.get(`stats.sets.users.${"a".repeat(40)}.count`), 1);
  assert.equal([...out.keys()].some((k) => k.includes(`${long}x`)), false);
});

Deno.test("a type with spaces around it is read as etsy reads it (trimmed): `x:1|c ` counts, `-5|ms ` is still a bad group", () => {
  // etsy statsd 0.9.0 (stats.js: `fields[1].trim()`) aggregates the c, ms and g lines; it checks the value
  // against the untrimmed type, so it takes `-5|ms ` and refuses `x|s ` (a non-numeric member): not copied
  const a = agg(10);
  a.ingestText("c:1|c \nc:2| c\nc:4|c\t|@0.5\nt:5|ms \ng:7|g \nu:x|s \nh:3|h \nneg:-5|ms ");
  assert.equal(a.stats.bad_lines, 1, a.lastBad);
  assert.match(a.lastBad, /^negative timing/);
  const m = asMap(a.flush(100));
  assert.equal(m.get("stats.gauges.c.count"), 11);
  assert.equal(m.get("stats.timers.t.sum"), 5);
  assert.equal(m.get("stats.timers.h.sum"), 3);
  assert.equal(m.get("stats.gauges.g"), 7);
  assert.equal(m.get("stats.sets.u.count"), 1);
});

Deno.test("a number with spaces around it is read as etsy reads it (Number()): `x: 1|c` counts; a blank value is still bad", () => {
  // what etsy statsd 0.9.0 flushes for these lines; a gauge is a change only when `+`/`-` is its first
  // character (etsy: `/^[-+]/` on the value as sent), so ` +3` sets 3 and `+3 ` adds 3. A blank value
  // (`x: |c`) etsy takes as 0 (Number(" ")); it stays a bad line here
  const a = agg(10);
  a.ingestText(
    "c: 1|c\nc:2 |c\nc:\t4|c|@0.5\nt: 5|ms\ng:1|g\ng: +3|g\nh:1|g\nh:+3 |g\nblank: |c\nneg: -5|ms",
  );
  assert.equal(a.stats.bad_lines, 2, a.lastBad);
  const m = asMap(a.flush(100));
  assert.equal(m.get("stats.gauges.c.count"), 11);
  assert.equal(m.get("stats.timers.t.sum"), 5);
  assert.equal(m.get("stats.gauges.g"), 3);
  assert.equal(m.get("stats.gauges.h"), 4);
  assert.equal(m.has("stats.gauges.blank.count"), false);
  assert.equal(m.has("stats.timers.neg.count"), false);
  const [s] = parseStatsdLine("u: bob|s");
  assert.ok(!("bad" in s) && s.member === " bob", "a set member is kept as sent, as etsy keeps it");
});

Deno.test("invalid UTF-8 reads as in etsy statsd: each bad byte is U+FFFD, which key sanitation drops", () => {
  // byte-level probes sent to etsy statsd 0.9.0 and to this aggregator gave the same flushes
  const a = new StatsdAggregator({ intervalSeconds: 10, percentiles: [90], maxTimerValues: 100 });
  const bytes = (...parts: Array<string | number[]>) =>
    Uint8Array.from(parts.flatMap((p) => typeof p === "string" ? [...new TextEncoder().encode(p)] : p));
  a.ingestBytes(bytes("a", [0xff], "b:1|c"));
  a.ingestBytes(bytes("k", [0xc0, 0xaf], ":2|c")); // an overlong '/' is not a '/'
  a.ingestBytes(bytes("s:", [0xff], "|s"));
  a.ingestBytes(bytes("s:", [0xfe], "|s")); // both members are U+FFFD: one member
  a.ingestBytes(bytes("v:1", [0xff], "|c")); // not a number
  a.ingestBytes(bytes("w:1|c\nz", [0xe2, 0x82])); // a cut character ends the datagram's last line
  const got = Object.fromEntries(a.flush(100).map(([n, v]) => [n, v]));
  assert.equal(got["stats.gauges.ab.count"], 1);
  assert.equal(got["stats.gauges.k.count"], 2);
  assert.equal(got["stats.sets.s.count"], 1);
  assert.equal(got["stats.gauges.w.count"], 1);
  assert.equal(got["stats.gauges.v.count"], undefined);
  assert.equal(a.stats.bad_lines, 2, "v's value and the cut line");
});
