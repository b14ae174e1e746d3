/**
 * Differential test of graphite 1.1 tags against graphite-web itself (Debian's graphite-web):
 * the same names through `TaggedSeries.parse` (canonical path or refusal), and the same tag
 * expressions over the same series through graphite-web's default tag database
 * (LocalDatabaseTagDB on SQLite: find_series, auto_complete_tags/values, list_tags, get_tag).
 * Skipped, and reported as ignored, only where graphite-web is not installed.
 */
import assert from "node:assert/strict";
import { graphiteWeb, hasGraphiteWeb } from "./graphite_web.ts";
import { parseTaggedName, TagError, TagIndex } from "../../lib/metrics/tags.ts";
import { FunctionError } from "../../lib/metrics/render_core.ts";

const hasGraphite = hasGraphiteWeb("graphite.tags.localdatabase");

/** A small deterministic generator (mulberry32). */
function rng(seed: number) {
  return () => {
    seed |= 0;
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const PARSE_CASES = [
  "cpu",
  "cpu;host=a;dc=b",
  "cpu;dc=b;host=a",
  "~cpu;a=b",
  "~~~",
  "~",
  "a;name=other",
  "a;b=1;b=2",
  "a;b",
  "a;=b",
  "a;b=",
  "a;b=~c",
  "a;b=c~",
  "a;b!=c",
  "a;b^=c",
  "a;b=c=d",
  "a;",
  ";a=b",
  "a.b.c;x.y=1;x=2;x-y=3",
  "a;B=1;a=2;_=3",
  'm{a="x",b="y"}',
  'm{a="x\\"y",b="z\\\\w"}',
  'm{}"}',
  '{a="x"}',
  'm{a=""}',
  'm{a="~x"}',
  'm{a="x";b="y"}',
  'm{a="x"},b="y"}',
  'm{name="z"}',
  "a;b=c;d=e;name=f",
  "a;x=1;x.y=2",
];

function randomNames(n: number, seed: number): string[] {
  const r = rng(seed);
  const alphabet = ["a", "b", ".", ";", "=", "~", "!", "^", "x", "1", "-", "_", "{", "}", '"', ","];
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const len = 1 + Math.floor(r() * 14);
    let s = "";
    for (let j = 0; j < len; j++) s += alphabet[Math.floor(r() * alphabet.length)];
    out.push(s);
  }
  return out;
}

function kunaiParse(name: string): string {
  try {
    return parseTaggedName(name).path;
  } catch (err) {
    if (err instanceof TagError) return `ERROR ${err.message}`;
    throw err;
  }
}

Deno.test({
  name: "tagged names: kunai's canonical path is graphite-web's TaggedSeries.parse(...).path, refusals too",
  ignore: !hasGraphite,
  async fn() {
    const names = [...PARSE_CASES, ...randomNames(400, 7)];
    const want = (await graphiteWeb<Record<string, unknown[]>>({ tags: { parse: names } })).parse as string[];
    const diffs: string[] = [];
    names.forEach((name, i) => {
      const got = kunaiParse(name);
      const theirs = want[i];
      if (theirs.startsWith("ERROR ")) {
        if (!got.startsWith("ERROR ")) {
          diffs.push(`${JSON.stringify(name)}: graphite ${theirs}, kunai ${got}`);
        } // graphite's own messages (an Exception); a ValueError is Python failing to unpack
        else if (theirs.startsWith("ERROR Exception: ") && got.slice(6) !== theirs.slice(17)) {
          diffs.push(`${JSON.stringify(name)}: graphite ${theirs}, kunai ${got}`);
        }
      } else if (got !== theirs) diffs.push(`${JSON.stringify(name)}: graphite ${theirs}, kunai ${got}`);
    });
    assert.deepEqual(diffs, []);
    // the sample is not all refusals
    assert.ok(want.filter((w) => !w.startsWith("ERROR")).length > 60);
  },
});

const TAGS = ["dc", "host", "env", "role"];
const VALUES: Record<string, string[]> = {
  dc: ["dc1", "dc2", "eu-west"],
  host: ["web1", "web2", "web10", "db1", "Web3"],
  env: ["prod", "staging"],
  role: ["api", "db", "cache.redis"],
};
const METRICS = ["cpu", "mem", "disk.used", "net.rx"];

function seriesNames(r: () => number, n: number): string[] {
  const out = new Set<string>(["web1.cpu.user", "db1.cpu.user", "plain"]);
  while (out.size < n) {
    const metric = METRICS[Math.floor(r() * METRICS.length)];
    const parts = [metric];
    for (const t of TAGS) {
      if (r() < 0.6) parts.push(`${t}=${VALUES[t][Math.floor(r() * VALUES[t].length)]}`);
    }
    out.add(parseTaggedName(parts.join(";")).path);
  }
  return [...out];
}

const REGEXES = [
  "web.*",
  "w",
  "web[12]",
  "dc1|dc2",
  "^d",
  "^d|e",
  "",
  ".*",
  "x?",
  "(web|db)[0-9]+",
  "^$",
  "1$",
  "[a-z]+1",
  "eu-",
  "c(a|p)",
  "cache\\.r",
  "(?i)WEB",
  "a*",
  "pr?o",
  ".+2",
];

function randomQuery(r: () => number): string[] {
  const n = 1 + Math.floor(r() * 3);
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const tag = r() < 0.25 ? "name" : TAGS[Math.floor(r() * TAGS.length)];
    const ops = ["=", "!=", "=~", "!=~"];
    const op = ops[Math.floor(r() * ops.length)];
    let spec: string;
    if (op.endsWith("~")) spec = REGEXES[Math.floor(r() * REGEXES.length)];
    else {
      const vals = tag === "name" ? METRICS : VALUES[tag];
      spec = r() < 0.15 ? "" : vals[Math.floor(r() * vals.length)];
    }
    out.push(`${tag}${op}${spec}`);
  }
  return out;
}

const HAND_QUERIES = [
  ["name=cpu"],
  ["dc=dc1", "host!=web1"],
  ["env="],
  ["env=", "name=cpu"],
  ["env!=", "name=~c"],
  ["host=~web", "env!=prod"],
  ["host!=~web"],
  ["host!=~^$", "name=mem"],
  ["name=web1.cpu.user"],
  ["name=~.*cpu"],
  ["role=~cache\\.redis"],
  ["name=~^d|e"],
  ["dc!=dc1"],
  ["bogus"],
  ["dc==dc1"],
  ["host=~(", "name=cpu"],
  [],
  ["dc=dc1;x"],
  ["name=cpu", "role=~^(?i)db"],
];

function kunaiFind(ix: TagIndex, q: string[]): string[] | string {
  try {
    return ix.findSeries(q, { steps: 0 });
  } catch (err) {
    if (err instanceof TagError || err instanceof FunctionError) return `ERROR ${err.message}`;
    throw err;
  }
}

Deno.test({
  name: "seriesByTag expressions select what graphite-web's tag database selects (300 queries)",
  ignore: !hasGraphite,
  async fn() {
    const r = rng(11);
    const names = seriesNames(r, 120);
    const queries = [...HAND_QUERIES, ...Array.from({ length: 280 }, () => randomQuery(r))];
    const autoTags: Array<[string[], string | null, number | null]> = [
      [[], null, null],
      [[], "h", null],
      [[], "", 2],
      [["name=cpu"], null, null],
      [["name=cpu", "dc=dc1"], "e", null],
      [["host=~web"], null, 2],
      [["dc=dc2"], "zz", null],
    ];
    const autoValues: Array<[string[], string, string | null, number | null]> = [
      [[], "host", null, null],
      [[], "host", "web", null],
      [[], "host", "web", 2],
      [[], "name", "d", null],
      [["name=cpu"], "host", null, null],
      [["name=cpu", "dc=dc1"], "host", "w", null],
      [["env=prod"], "role", null, 1],
      [["dc=dc2"], "nosuch", null, null],
      [["host=~web"], "name", null, null],
    ];
    const listTags: Array<[string | null, number | null]> = [[null, null], ["d", null], ["^h|e", null], [
      "o",
      null,
    ], [null, 2]];
    const getTag: Array<[string, string | null, number | null]> = [
      ["host", null, null],
      ["host", "web", null],
      ["dc", "^d", 1],
      ["name", null, null],
      ["nosuch", null, null],
    ];
    const want = await graphiteWeb<Record<string, unknown[]>>({
      tags: { names, queries, autoTags, autoValues, listTags, getTag },
    });
    const ix = new TagIndex(names);
    const diffs: string[] = [];
    const same = (what: string, theirs: unknown, ours: unknown) => {
      const t = typeof theirs === "string" && theirs.startsWith("ERROR") ? "ERROR" : JSON.stringify(theirs);
      const o = typeof ours === "string" && ours.startsWith("ERROR") ? "ERROR" : JSON.stringify(ours);
      if (t !== o) {
        diffs.push(
          `${what}:\n  graphite-web ${JSON.stringify(theirs)}\n  kunai        ${JSON.stringify(ours)}`,
        );
      }
    };
    const attempt = (f: () => unknown) => {
      try {
        return f();
      } catch (err) {
        if (err instanceof TagError || err instanceof FunctionError) return `ERROR ${err.message}`;
        throw err;
      }
    };
    queries.forEach((q, i) => same(`find_series ${JSON.stringify(q)}`, want.queries[i], kunaiFind(ix, q)));
    autoTags.forEach(([e, p, l], i) =>
      same(
        `auto_complete_tags ${JSON.stringify([e, p, l])}`,
        want.autoTags[i],
        attempt(() => ix.autoCompleteTags(e, p, l ?? 100, { steps: 0 })),
      )
    );
    autoValues.forEach(([e, t, p, l], i) =>
      same(
        `auto_complete_values ${JSON.stringify([e, t, p, l])}`,
        want.autoValues[i],
        attempt(() => ix.autoCompleteValues(e, t, p, l ?? 100, { steps: 0 })),
      )
    );
    listTags.forEach(([f, l], i) =>
      same(
        `list_tags ${JSON.stringify([f, l])}`,
        want.listTags[i],
        attempt(() => ix.listTags(f, l, { steps: 0 })),
      )
    );
    getTag.forEach(([t, f, l], i) =>
      same(
        `get_tag ${JSON.stringify([t, f, l])}`,
        want.getTag[i],
        attempt(() => ix.hasTag(t) ? { tag: t, values: ix.listValues(t, f, l, { steps: 0 }) } : null),
      )
    );
    assert.deepEqual(diffs, []);
    // the queries are not all empty or refused
    const found = (want.queries as unknown[]).filter((q) => Array.isArray(q) && q.length > 0).length;
    assert.ok(found > 100, `only ${found} queries found series`);
  },
});
