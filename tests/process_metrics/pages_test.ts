import assert from "node:assert/strict";
import { lastingFile, parseSmaps, releasable } from "../../lib/process_metrics/pages.ts";

const SMAPS = `55d0c4a00000-55d0c6000000 r--p 00000000 08:01 1234                       /usr/bin/deno
Size:              22528 kB
Rss:               13960 kB
Private_Dirty:         0 kB
Shared_Dirty:          0 kB
Anonymous:             0 kB
Swap:                  0 kB
55d0c6000000-55d0c9000000 r-xp 01600000 08:01 1234                       /usr/bin/deno
Rss:               27724 kB
Private_Dirty:         0 kB
Shared_Dirty:          0 kB
Anonymous:             0 kB
Swap:                  0 kB
55d0c9000000-55d0c9200000 r--p 04600000 08:01 1234                       /usr/bin/deno
Rss:                1800 kB
Private_Dirty:      1800 kB
Shared_Dirty:          0 kB
Anonymous:          1800 kB
Swap:                  0 kB
55d0c9200000-55d0c9400000 rw-p 04800000 08:01 1234                       /usr/bin/deno
Rss:                2504 kB
Private_Dirty:      2504 kB
Anonymous:          2504 kB
7f0000000000-7f0000100000 rw-p 00000000 00:00 0 
Rss:                1024 kB
Anonymous:          1024 kB
7f0000200000-7f0000300000 r--s 00000000 08:01 99                         /tmp/x.db-shm
Rss:                  12 kB
Private_Dirty:         0 kB
Shared_Dirty:          4 kB
Anonymous:             0 kB
7f0000400000-7f0000500000 r--p 00000000 08:01 77                         /tmp/gone.so (deleted)
Rss:                  40 kB
Anonymous:             0 kB
7f0000600000-7f0000700000 r--p 00000000 08:01 78                         /usr/lib/libc.so.6
Rss:                   0 kB
Anonymous:             0 kB
7ffd00000000-7ffd00010000 rw-p 00000000 00:00 0                          [stack]
Rss:                  64 kB
Anonymous:            64 kB
SwapPss:               4 kB
Swap:                  8 kB
`;

Deno.test("parseSmaps reads each mapping's range, permissions, file and page kinds", () => {
  const maps = parseSmaps(SMAPS);
  assert.equal(maps.length, 9);
  assert.deepEqual(maps[1], {
    start: 0x55d0c6000000n,
    end: 0x55d0c9000000n,
    perms: "r-xp",
    path: "/usr/bin/deno",
    rssKb: 27724,
    anonymousKb: 0,
    dirtyKb: 0,
  });
  assert.equal(maps[4].path, "", "anonymous memory has no file");
  assert.equal(maps[2].anonymousKb, 1800);
  assert.equal(maps[5].dirtyKb, 4);
  assert.equal(maps[8].path, "[stack]");
});

Deno.test("parseSmaps reads a field only from its own mapping's lines", () => {
  const maps = parseSmaps(SMAPS);
  // mapping 4 has no Private_Dirty or Shared_Dirty line, the next one has a Shared_Dirty of 4 kB
  assert.equal(maps[4].dirtyKb, 0);
  assert.equal(maps[4].anonymousKb, 1024);
  // the last mapping's block runs to the end of the text
  assert.equal(maps[8].rssKb, 64);
  assert.equal(maps[8].anonymousKb, 72, "swapped-out pages count as anonymous (SwapPss is not Swap)");
  assert.deepEqual(parseSmaps(""), []);
  assert.deepEqual(parseSmaps("Rss: 12 kB\n"), [], "fields before any header belong to no mapping");
});

/** The line-by-line reading parseSmaps replaced (2026-12-03): the reference it must agree with. */
function lineByLine(text: string) {
  const out: Array<Record<string, unknown>> = [];
  let cur: Record<string, number | string | bigint> | null = null;
  for (const line of text.split("\n")) {
    const h = line.match(/^([0-9a-f]+)-([0-9a-f]+) (\S{4}) \S+ \S+ \S+ *(.*)$/);
    if (h) {
      cur = {
        start: BigInt("0x" + h[1]),
        end: BigInt("0x" + h[2]),
        perms: h[3],
        path: h[4].trim(),
        rssKb: 0,
        anonymousKb: 0,
        dirtyKb: 0,
      };
      out.push(cur);
      continue;
    }
    const f = cur && line.match(/^(Rss|Anonymous|Private_Dirty|Shared_Dirty|Swap):\s+(\d+) kB/);
    if (!f || !cur) continue;
    const kb = Number(f[2]);
    if (f[1] === "Rss") cur.rssKb = kb;
    else if (f[1] === "Anonymous" || f[1] === "Swap") cur.anonymousKb = (cur.anonymousKb as number) + kb;
    else cur.dirtyKb = (cur.dirtyKb as number) + kb;
  }
  return out;
}

Deno.test("parseSmaps agrees with a line-by-line reading of this process's own smaps", () => {
  if (Deno.build.os !== "linux") return;
  const text = Deno.readTextFileSync("/proc/self/smaps");
  const want = lineByLine(text);
  assert.ok(want.length > 20, "a deno process has dozens of mappings");
  assert.ok(want.some((m) => (m.anonymousKb as number) > 0) && want.some((m) => (m.dirtyKb as number) > 0));
  assert.deepEqual(parseSmaps(text), want);
  assert.deepEqual(parseSmaps(SMAPS), lineByLine(SMAPS));
});

Deno.test("only clean read-only file pages may be dropped: relocated, writable, dirty or deleted ones may not", () => {
  const maps = parseSmaps(SMAPS);
  assert.deepEqual(maps.filter((m) => releasable(m)).map((m) => m.start), [0x55d0c4a00000n, 0x55d0c6000000n]);
  // the relocated (RELRO) part of the executable: its copied pages exist nowhere else
  assert.equal(releasable(maps[2]), false);
  assert.equal(releasable(maps[3]), false, "writable");
  assert.equal(releasable(maps[4]), false, "anonymous memory");
  assert.equal(releasable(maps[5]), false, "a dirty shared page");
  assert.equal(releasable(maps[6]), false, "a deleted file");
  assert.equal(releasable(maps[7]), false, "nothing resident");
  assert.equal(releasable(maps[8]), false);
});

Deno.test("only the executable's and shared libraries' mappings may be dropped by releaseFilePages", () => {
  const maps = parseSmaps(SMAPS);
  const lasting = lastingFile("/usr/bin/deno");
  assert.equal(releasable(maps[0], lasting), true);
  assert.equal(releasable(maps[1], lasting), true);
  const lib = { ...maps[7], rssKb: 40 }; // libc, resident
  assert.equal(releasable(lib, lasting), true);
  const cache = { ...maps[0], path: "/root/.cache/deno/v8_code_cache_v2", perms: "r--s" };
  assert.equal(releasable(cache), true, "clean and read-only");
  assert.equal(releasable(cache, lasting), false, "but SQLite may remap it at any time");
  assert.equal(lasting("/usr/lib/x86_64-linux-gnu/libm.so.6"), true);
  assert.equal(lasting("/tmp/x.db"), false);
  assert.equal(lasting("/usr/bin/deno2"), false);
});

/**
 * Run in a process of its own, as in the agent: the test runner's other modules (--parallel) share
 * this one's address space, and a library one of them loads or unloads between the read of
 * /proc/self/smaps and the madvise is not something the agent ever meets.
 */
const LIVE = `
import { lastingFile, parseSmaps, releasable, releaseFilePages } from ${
  JSON.stringify(new URL("../../lib/process_metrics/pages.ts", import.meta.url).href)
};
const releasableKb = () => {
  const lasting = lastingFile(Deno.realPathSync(Deno.execPath()));
  return parseSmaps(Deno.readTextFileSync("/proc/self/smaps")).filter((m) => releasable(m, lasting))
    .reduce((a, m) => a + m.rssKb, 0);
};
const before = releasableKb();
const r = releaseFilePages();
const after = releasableKb();
// code and read-only data come back from the same file pages
const runsOn = [JSON.stringify({ a: [1, "é"] }), new Intl.NumberFormat("de-DE").format(1234.5), /^(\\d+)-(\\w+)$/u.exec("12-ab")?.[2]];
console.log(JSON.stringify({ before, after, r, runsOn }));
`;

Deno.test("releaseFilePages drops a process's clean file pages and the process runs on", {
  ignore: Deno.build.os !== "linux",
}, async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", LIVE],
    stdout: "piped",
    stderr: "piped",
  })
    .output();
  const text = new TextDecoder().decode(out.stdout);
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  const { before, after, r, runsOn } = JSON.parse(text);
  assert.ok(before > 1024, "the deno executable has pages resident");
  assert.ok(r, "madvise is reachable through FFI");
  assert.ok(r.mappings > 0);
  assert.equal(r.failed, 0, r.errors.join("; "));
  assert.deepEqual(r.errors, []);
  assert.ok(r.bytes >= before * 1024 / 2, "it reports what the mappings held");
  assert.ok(after < before / 2, `resident file pages ${before} kB -> ${after} kB`);
  assert.deepEqual(runsOn, ['{"a":[1,"é"]}', "1.234,5", "ab"]);
});
