/**
 * Differential test of the management console's listings against Node's own `util.inspect` (the
 * node binary on the box, as etsy statsd runs it): random objects name → number and name → array
 * of numbers (short and long arrays, integers and fractions, keys that need quotes, array-index
 * keys, -0), built in insertion order as etsy builds them, must print byte for byte the same.
 */
import assert from "node:assert/strict";
import { xorshift } from "../helpers.ts";
import { deleteBuckets, inspectArrays, inspectNumbers } from "../../lib/metrics/etsy_inspect.ts";
import { StatsdAggregator } from "../../lib/metrics/mod.ts";

const NODE_INSPECT = `
const util = require("util");
const cases = JSON.parse(require("fs").readFileSync(0, "utf8"));
const out = cases.map((c) => {
  const o = {};
  for (const [k, v] of c) o[k] = Array.isArray(v) ? v.map((x) => x === "-0" ? -0 : x) : v === "-0" ? -0 : v;
  return util.inspect(o);
});
process.stdout.write(JSON.stringify(out));
`;

async function nodeInspect(cases: Array<Array<[string, number | number[]]>>): Promise<string[]> {
  const enc = (v: number) => Object.is(v, -0) ? "-0" : v;
  const json = JSON.stringify(
    cases.map((c) => c.map(([k, v]) => [k, Array.isArray(v) ? v.map(enc) : enc(v)])),
  );
  const p = new Deno.Command("node", { args: ["-e", NODE_INSPECT], stdin: "piped", stdout: "piped" }).spawn();
  const w = p.stdin.getWriter();
  await w.write(new TextEncoder().encode(json));
  await w.close();
  const { code, stdout } = await p.output();
  assert.equal(code, 0);
  return JSON.parse(new TextDecoder().decode(stdout));
}

const KEY_PARTS = [
  "api",
  "hits",
  "a-b",
  "x_y",
  "db;env=prod",
  "0",
  "12",
  "007",
  "4294967295",
  "k'q",
  'd"q',
  "`b",
];

function randomKey(rand: () => number): string {
  const n = 1 + Math.floor(rand() * 3);
  const parts = Array.from({ length: n }, () => KEY_PARTS[Math.floor(rand() * KEY_PARTS.length)]);
  return rand() < 0.15 ? String(Math.floor(rand() * 50)) : parts.join(".");
}

function randomNumber(rand: () => number): number {
  const r = rand();
  if (r < 0.4) return Math.floor(rand() * 1000);
  if (r < 0.5) return -Math.floor(rand() * 100000);
  if (r < 0.55) return -0;
  if (r < 0.65) return Math.floor(rand() * 1e9);
  return Math.round(rand() * 1e6) / (1 + Math.floor(rand() * 999));
}

Deno.test("counters and gauges print as Node's util.inspect prints etsy's objects (400 random objects)", async () => {
  const rand = xorshift(20261205);
  const cases: Array<Array<[string, number]>> = [];
  for (let c = 0; c < 400; c++) {
    const n = c % 10 === 0 ? 0 : Math.floor(rand() * (c % 3 === 0 ? 40 : 6)) + 1;
    const m = new Map<string, number>();
    for (let i = 0; i < n; i++) m.set(randomKey(rand), randomNumber(rand));
    cases.push([...m]);
  }
  const expected = await nodeInspect(cases);
  cases.forEach((c, i) => assert.equal(inspectNumbers(c), expected[i], JSON.stringify(c)));
});

Deno.test("timers print as Node's util.inspect prints etsy's arrays, past 100 values too (300 random objects)", async () => {
  const rand = xorshift(7);
  const cases: Array<Array<[string, number[]]>> = [];
  for (let c = 0; c < 300; c++) {
    const n = Math.floor(rand() * (c % 4 === 0 ? 12 : 3)) + (c % 25 === 0 ? 0 : 1);
    const m = new Map<string, number[]>();
    for (let i = 0; i < n; i++) {
      const len = [1, 2, 5, 6, 7, 8, 20, 99, 100, 101, 102, 250][Math.floor(rand() * 12)];
      const wide = rand() < 0.3;
      m.set(
        randomKey(rand),
        Array.from(
          { length: len },
          () => wide ? randomNumber(rand) : Math.floor(rand() * (rand() < 0.5 ? 10 : 2000)),
        ),
      );
    }
    cases.push([...m]);
  }
  const expected = await nodeInspect(cases);
  cases.forEach((c, i) => {
    const ours = inspectArrays(c.map(([k, v]) => [k, v.slice(0, 100), v.length]));
    assert.equal(ours, expected[i], JSON.stringify(c));
  });
});

Deno.test("a del* bucket names itself, or a folder with .*, in object order; each bucket after the one before", () => {
  const held = () => new Map(["a.b", "a.c", "ab", "5", "a.1", "2", "a.*", "a..x"].map((n) => [n, 1]));
  const one = (bucket: string) => deleteBuckets(held(), [bucket])[0];
  assert.deepEqual(one("a.b"), ["a.b"]);
  assert.deepEqual(one("a.*"), ["a.*", "a.b", "a.c", "a.1", "a.*", "a..x"], "etsy lists a held `a.*` twice");
  assert.deepEqual(one("a"), []);
  assert.deepEqual(one("*"), [], "a lone * is not a folder");
  assert.deepEqual(deleteBuckets(new Map([["9.x", 1], ["10", 1]]), ["1*"]), [[]]);
  assert.deepEqual(one("nope.*"), []);
  assert.deepEqual(one("a..*"), ["a..x"]);
  // in order: what a bucket deleted is not found again
  const m = held();
  assert.deepEqual(deleteBuckets(m, ["a.b", "a.*", "a.*", "a.c", "5", "ab"]), [
    ["a.b"],
    ["a.*", "a.c", "a.1", "a.*", "a..x"],
    [],
    [],
    ["5"],
    ["ab"],
  ]);
  assert.deepEqual([...m.keys()], ["2"]);
});

Deno.test("statsd del*: 2 000 buckets over 2 000 names take one pass over the names, not one each", () => {
  const agg = new StatsdAggregator({ intervalSeconds: 10, percentiles: [90], maxTimerValues: 100 });
  for (let i = 0; i < 2000; i++) agg.ingestText(`f${i % 10}.n${i}:1|c`);
  const buckets = Array.from({ length: 2000 }, (_, i) => i % 2 ? `f${i % 10}.*` : `nope${i}`);
  const keys = Map.prototype.keys;
  let passes = 0;
  Map.prototype.keys = function (this: Map<unknown, unknown>) {
    passes++;
    return keys.call(this);
  };
  let deleted: string[][];
  try {
    deleted = agg.deleteMatching("counters", buckets);
  } finally {
    Map.prototype.keys = keys;
  }
  assert.ok(passes <= 1, `${passes} passes over the names`);
  assert.equal(deleted.flat().length, 1000, "f1, f3, f5, f7 and f9 names");
  assert.equal(deleted[1].length, 200);
  assert.deepEqual(deleted[11], [], "f1.* again: already gone");
});
