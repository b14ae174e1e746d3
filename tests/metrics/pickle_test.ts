/**
 * carbon's pickle protocol: kunai's restricted unpickler against CPython's own (pickles made by
 * `pickle.dumps` at protocols 0..5, read back by CPython's Unpickler with every global refused:
 * pickle_oracle.py), the points as carbon's MetricPickleReceiver takes them, malicious pickles and a
 * differential fuzz. The frame reader and the listener: pickle_listener_test.ts.
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { tempDir } from "../helpers.ts";
import { PickleError, type PyValue, unpickle } from "../../lib/metrics/pickle.ts";
import { pickledPoints } from "../../lib/metrics/graphite_pickle.ts";
import {
  bytes,
  describe,
  dumps,
  expectedPoints,
  hex,
  kunaiPoints,
  loads,
  N,
  oracle,
  u32le,
  u64le,
  unhex,
} from "./pickle_oracle.ts";

// the values every protocol writes: each opcode family of the brief appears in one of them
const GENERIC =
  `[None, True, False, 0, 1, -1, 255, 256, 65535, 65536, ${N(2n ** 31n - 1n)}, ${N(-(2n ** 31n))}, ${
    N(2n ** 31n)
  }, ${N(2n ** 63n)}, ${N(-(2n ** 63n) - 1n)}, ${N(2n ** 3000n)}, ${
    N(-(2n ** 3000n) + 7n)
  }, 0.0, -0.0, 1.5, 1e-310, ` +
  `1.7976931348623157e308, "INF", "NINF", "NAN", "", "a", "é", "\\U0001F600", "\\ud800", ` +
  `"back\\\\slash \\\\u0041 \\n\\r\\x1a\\x00 'q' \\"d\\"", ` +
  `(), (1,), (1, 2), (1, 2, 3), (1, 2, 3, 4), [], [[]], [(), ()]]`;
const WITH_BYTES = `[b"", b"\\x00\\xff", b"a.b", (b"x", [b"y"])]`;
const PROTOCOLS = [0, 1, 2, 3, 4, 5];

Deno.test("unpickler: every type at protocols 0..5 reads as CPython reads it", async () => {
  const items: Array<[string, number]> = [];
  for (const p of PROTOCOLS) {
    items.push([GENERIC, p], ["SELF_LIST", p], ["SHARED", p]);
    // more than 256 memo entries (LONG_BINPUT/LONG_BINGET), and FRAMEs over 64 KiB at 4 and 5
    items.push([
      `[${Array.from({ length: 3000 }, (_, i) => `("m${i}", (${1700000000 + i}, ${i}.5))`).join(", ")}]`,
      p,
    ]);
    if (p >= 3) items.push([WITH_BYTES, p]);
  }
  items.push(['BYTEARRAY b"ab"', 5]);
  const pickles = (await dumps(items)).map(unhex);
  const py = await loads(pickles);
  const opcodes = new Set<number>();
  pickles.forEach((pk, i) => {
    assert.ok(
      py[i].ok !== undefined,
      `CPython reads ${items[i][0].slice(0, 40)} at ${items[i][1]}: ${py[i].err}`,
    );
    assert.deepEqual(
      describe(unpickle(pk)),
      py[i].ok,
      `${items[i][0].slice(0, 60)} at protocol ${items[i][1]}`,
    );
    for (const b of pk) opcodes.add(b);
  });
  // the pickles did use the opcodes named in the brief (a byte seen is enough: each is a first byte somewhere)
  for (
    const op of [
      0x80,
      0x95,
      0x28,
      0x5d,
      0x61,
      0x65,
      0x6c,
      0x74,
      0x85,
      0x86,
      0x87,
      0x29,
      0x58,
      0x8c,
      0x56,
      0x42,
    ]
  ) {
    assert.ok(opcodes.has(op), `opcode 0x${op.toString(16)} exercised`);
  }
  // bytes at protocol 0..2 are a call of _codecs.encode in Python 3: refused, as carbon's safe unpickler does
  const p2bytes = (await dumps([['[b"x"]', 0], ['[b"x"]', 2], ['[b""]', 2]])).map(unhex);
  assert.throws(() => unpickle(p2bytes[0]), /GLOBAL _codecs\.encode refused/);
  assert.throws(() => unpickle(p2bytes[1]), /GLOBAL _codecs\.encode refused/);
  assert.throws(() => unpickle(p2bytes[2]), /GLOBAL __builtin__\.bytes refused/);
  assert.deepEqual((await loads(p2bytes)).map((r) => r.err), Array(3).fill("UnpicklingError"));
});

Deno.test("unpickler: hand-made opcodes (Python 2 strs, 8-byte lengths, LONG4, memo text forms, DUP/POP)", async () => {
  const cases = [
    // Python 2 protocol 0: STRING with escapes, INT 01 (True), LONG with L, GET/PUT
    bytes(
      "(lp0\n(S'py2.a'\np1\n(I1700000000\nF2.5\ntp2\ntp3\na(S'py2\\x2eb\\n\\'\\\\\\101'\np4\n(L1700000001L\nI01\n",
      "tp5\ntp6\nag1\na.",
    ),
    // Python 2 protocol 2: SHORT_BINSTRING and BINSTRING, BININT1/2, NEWFALSE
    bytes([0x80, 2], "]q\x00(U\x05py2.cK\x07\x86q\x01T", u32le(5), "py2.dM\x01\x02\x89\x87e."),
    bytes("\x8d", u64le(3n), "abc\x8e", u64le(2n), "xy\x96", u64le(1n), "z\x87."), // BINUNICODE8, BINBYTES8, BYTEARRAY8
    bytes("\x8b", u32le(3), [1, 0, 0x80], "\x8b", u32le(0), "\x8a\x00\x8a\x01\xff\x87."), // LONG4, LONG1
    bytes("K\x012\x86N0(K\x02K\x031\x85."), // DUP, POP, POP_MARK
    bytes("(I-0\nI00\nI10\nL-0\nF-0.0\nF1e+300\nFinf\nF-inf\nFnan\nF.5\nF5.\nt."),
    bytes("(V\\u00e9\\\\x\\U0001f600\\\nVa\\\\u0041\nt."), // raw-unicode-escape, escaped backslash
    bytes("N(e."), // APPENDS of nothing onto a None: CPython looks no further
    bytes("]Nr\x00\x00\x01\x00j\x00\x00\x01\x00\x86."), // LONG_BINPUT/LONG_BINGET
    bytes("X", u32le(3), [0xed, 0xa0, 0x80], "."), // surrogatepass
    bytes("N\x94\x94\x94h\x02\x85."), // MEMOIZE counts entries
  ];
  const py = await loads(cases);
  cases.forEach((c, i) => {
    assert.ok(py[i].ok !== undefined, `CPython reads case ${i}: ${py[i].err}`);
    assert.deepEqual(describe(unpickle(c)), py[i].ok, `case ${i}: ${JSON.stringify(py[i].ok)}`);
  });
  // the Python 2 pickles are points carbon takes
  assert.deepEqual(kunaiPoints(cases[0], 5), [
    ["py2.a", 2.5, 1700000000],
    "bad", // "py2.b\n'\\A": not a metric name
    "bad", // memo 1 is the string "py2.a", not an entry
  ]);
});

Deno.test("pickled points: ints, floats, big longs, str and bytes paths at protocols 0..5 as carbon reads them", async () => {
  const now = 1_700_000_100;
  const sets = [
    `[("a.int", (1700000000, 42)), ("a.neg", (1700000001, -7)), ("a.i32", (1700000002, ${
      N(2n ** 31n - 1n)
    })), ` +
    `("a.n32", (1700000003, ${
      N(-(2n ** 31n))
    })), ("a.b1", (1700000004, 255)), ("a.b2", (1700000005, 65535)), ` +
    `("a.bool", (1700000006, True))]`,
    `[("f.a", (1700000000.75, 1.5)), ("f.b", (1700000000.0, -0.0)), ("f.c", (1700000000, 1e300)), ` +
    `("f.d", (1700000000, 5e-324)), ("f.e", (1700000000, 0.1)), ("f.f", (1700000000, 0.3333333333333333)), ` +
    `("f.nan", (1700000000, "NAN")), ("f.inf", (1700000000, "INF")), ("f.ninf", (1700000000, "NINF"))]`,
    `[("l.a", (1700000000, ${N(2n ** 64n + 1n)})), ("l.b", (1700000000, ${N(-(2n ** 80n))})), ` +
    `("l.c", (1700000000, ${N(2n ** 53n + 1n)})), ("l.d", (1700000000, ${N(10n ** 30n + 12345n)})), ` +
    `("l.e", (1700000000, ${N(2n ** 1023n * 3n)})), ("l.ts", (${N(2n ** 63n)}, 1)), ` +
    `("l.round", (1700000000, ${N(2n ** 54n + 3n)}))]`,
    `[("s.ok", (1700000000, 1)), ("s.é", (1700000000, 1)), ("s..x", (1700000000, 1)), (".s", (1700000000, 1)), ` +
    `("s x", (1700000000, 1)), ("s.now", (-1, 3)), ("s.now2", (-1.5, 3)), ("s.neg", (-5, 3)), ` +
    `("s.strv", (1700000000, " 1_000.5 ")), ("s.strts", ("1700000000", "2e3")), ("s.none", (1700000000, None)), ` +
    `("s.short", (1700000000,)), ("s.list", [1700000000, 4]), ["s.outer", (1700000000, 5)], 42, "ab", ` +
    `("${
      "s.x".repeat(400)
    }", (1700000000, 1)), ("s.infs", (1700000000, "-Infinity")), ("s.bad", (1700000000, "1__0")), ` +
    `("s.long", (1700000000, "1${" ".repeat(400)}5")), ("s.exp", (1700000000, "1e1_0"))]`,
  ];
  const items: Array<[string, number]> = [];
  for (const p of PROTOCOLS) for (const s of sets) items.push([s, p]);
  for (const p of [3, 4, 5]) {
    items.push([
      `[(b"b.x", (1700000000, 1)), (b"b.\\xff", (1700000000, 2)), (b"b.v", (1700000000, b"3.5"))]`,
      p,
    ]);
  }
  const pickles = (await dumps(items)).map(unhex);
  const py = await loads(pickles, true);
  let points = 0, byCarbon = 0;
  pickles.forEach((pk, i) => {
    const carbon = py[i].points;
    assert.ok(carbon, `CPython reads ${items[i][0].slice(0, 40)} at ${items[i][1]}: ${py[i].err}`);
    // the oracle's view of carbon against carbon's own receiver, up to where carbon itself stops
    // (float() of a huge int, a bytes path: exceptions it does not catch end its frame)
    const real = py[i].carbon;
    if (real) {
      const stop = real.at(-1)?.[0] === "EXC" ? real.length - 1 : real.length;
      assert.deepEqual(
        carbon.filter((e) => e !== null).slice(0, stop),
        real.slice(0, stop),
        `carbon on ${i}`,
      );
      byCarbon += stop;
    }
    const got = kunaiPoints(pk, now);
    assert.deepEqual(
      got,
      expectedPoints(carbon, now),
      `${items[i][0].slice(0, 60)} at protocol ${items[i][1]}`,
    );
    points += (got as unknown[]).filter((x) => x !== "bad").length;
  });
  // what the expectations hold, spelled out once (protocol 2: carbon-relay's)
  const at = (set: number, p = 2) => kunaiPoints(pickles[p * sets.length + set], now) as unknown[];
  assert.deepEqual(at(0)[0], ["a.int", 42, 1700000000]);
  assert.deepEqual(at(0)[6], ["a.bool", 1, 1700000006]);
  assert.deepEqual(at(1)[0], ["f.a", 1.5, 1700000000]);
  assert.deepEqual(at(1).slice(6), ["bad", "bad", "bad"]);
  assert.deepEqual(at(2)[2], ["l.c", 9007199254740992, 1700000000]);
  assert.deepEqual(at(2)[4], "bad"); // 3·2^1023: float() overflows
  assert.deepEqual(at(3).slice(5, 11), [
    ["s.now", 3, now],
    ["s.now2", 3, now],
    "bad",
    ["s.strv", 1000.5, 1700000000],
    ["s.strts", 2000, 1700000000],
    "bad",
  ]);
  assert.deepEqual(at(3).slice(11, 15), [
    "bad",
    ["s.list", 4, 1700000000],
    ["s.outer", 5, 1700000000],
    "bad",
  ]);
  assert.deepEqual(kunaiPoints(pickles[6 * sets.length + 0], now), [
    ["b.x", 1, 1700000000],
    "bad", // not UTF-8
    ["b.v", 3.5, 1700000000],
  ]);
  assert.ok(points > 100, `${points} points compared`);
  if (py[0].carbon) assert.ok(byCarbon > 100, `${byCarbon} points compared with carbon's own receiver`);
  else console.log("carbon's own receiver not compared: graphite-carbon is not installed");
});

function refused(p: Uint8Array, re: RegExp): void {
  try {
    unpickle(p);
  } catch (e) {
    assert.ok(e instanceof PickleError && re.test(e.message), `${hex(p.subarray(0, 40))}: ${e} is not ${re}`);
    return;
  }
  assert.fail(`${hex(p.subarray(0, 40))} was read, not refused (${re})`);
}

Deno.test("malicious pickles are refused with a reason, run nothing and never hang", async () => {
  const t = tempDir("kunai-pickle-");
  try {
    const marker = join(t.dir, "pwned");
    // a real os.system payload, as pickle.dumps writes it at protocols 0, 2 and 4 (GLOBAL/STACK_GLOBAL + REDUCE)
    const payloads = await oracle<string[]>({
      dumps: [[`SYSTEM:touch ${marker}`, 0], [`SYSTEM:touch ${marker}`, 2], [
        `SYSTEM:touch ${marker}`,
        4,
      ]],
    });
    refused(
      unhex(payloads[0]),
      /^GLOBAL posix\.system refused: the pickle receiver builds no Python objects/,
    );
    refused(unhex(payloads[1]), /^GLOBAL posix\.system refused/);
    refused(unhex(payloads[2]), /^STACK_GLOBAL posix\.system refused/);
    assert.equal(kunaiPoints(unhex(payloads[2]), 0), String(kunaiPoints(unhex(payloads[2]), 0)));
    assert.ok(!existsSync(marker), "nothing ran");
  } finally {
    t.cleanup();
  }
  // every opcode that builds or calls objects, and dicts and sets
  const named: Array<[string, RegExp]> = [
    ["(i__builtin__\nobject\n.", /^INST refused/],
    ["(N\x85o.", /^OBJ refused/],
    ["]}b.", /^EMPTY_DICT not supported/],
    ["NNR.", /^REDUCE refused/],
    ["NN\x81.", /^NEWOBJ refused/],
    ["NNN\x92.", /^NEWOBJ_EX refused/],
    ["\x82\x01.", /^EXT1 refused/],
    ["\x83\x01\x00.", /^EXT2 refused/],
    ["\x84\x01\x00\x00\x00.", /^EXT4 refused/],
    ["P1\n.", /^PERSID refused/],
    ["NQ.", /^BINPERSID refused/],
    ["N]b.", /^BUILD refused/],
    ["\x97.", /^NEXT_BUFFER refused/],
    ["(d.", /^DICT not supported/],
    ["\x8f.", /^EMPTY_SET not supported/],
    ["\xff.", /^invalid load key 0xff/],
    ["\x80\x06N.", /^unsupported pickle protocol: 6/],
  ];
  for (const [p, re] of named) refused(bytes(p), re);
  // lengths far beyond the data: refused at once, nothing allocated for them
  for (
    const p of [
      bytes("X", u32le(0xffffffff), "ab."),
      bytes("\x8d", u64le(2n ** 63n), "ab."),
      bytes("\x8e", u64le(2n ** 64n - 1n), "."),
      bytes("B", u32le(0x7fffffff), "."),
      bytes("T", u32le(0x7ffffff0), "."),
      bytes("\x8b", u32le(0x7fffffff), "."),
      bytes("\x95", u64le(2n ** 40n), "N."),
      bytes("\x8a\xff\x01."),
    ]
  ) refused(p, /truncated/);
  refused(bytes("T", u32le(0xfffffff0), "."), /negative byte count/);
  refused(bytes("\x8b", u32le(0xffffffff), "."), /negative byte count/);
  // truncated: no STOP, a cut argument, every prefix of a real pickle
  const [real] = (await dumps([[GENERIC, 2]])).map(unhex);
  for (let n = 0; n < real.length; n++) {
    assert.throws(() => unpickle(real.subarray(0, n)), PickleError, `prefix of ${n} bytes`);
  }
  refused(bytes("I12"), /truncated \(no newline\)/);
  refused(bytes(""), /truncated \(no STOP\)/);
  // deep nesting costs no native stack: a million TUPLE1 is read, and is no point
  const deep = new Uint8Array(1_000_003);
  deep[0] = 0x5d,
    deep[1] = 0x4e,
    deep.fill(0x85, 2, 1_000_001),
    deep[1_000_001] = 0x61,
    deep[1_000_002] = 0x2e;
  assert.deepEqual(kunaiPoints(deep, 0), ["bad"]);
  refused(new Uint8Array(70_000).fill(0x28), /more than 65536 marks open/);
  // memo abuse: indexes past the limit, unset indexes, a million MEMOIZE (bounded by the frame)
  refused(bytes("Nr\xff\xff\xff\xff."), /memo index 4294967295 over the limit/);
  refused(bytes("Nh\x05."), /memo value not found at index 5/);
  refused(bytes("Ng99999999999999999999\n."), /memo value not found/);
  refused(bytes("Np-1\n."), /PUT argument "-1" is not a non-negative decimal integer/);
  const memoize = new Uint8Array(1_000_002).fill(0x94);
  memoize[0] = 0x4e, memoize[1_000_001] = 0x2e;
  assert.equal(unpickle(memoize), null);
  // the stack limit
  const wide = new Uint8Array(1_004).fill(0x4e); // MARK, 1 001 NONE, TUPLE, STOP
  wide[0] = 0x28, wide[1_002] = 0x74, wide[1_003] = 0x2e;
  assert.throws(
    () => unpickle(wide, { maxStack: 1000, maxMarks: 10, maxMemo: 10 }),
    /more than 1000 items on the stack/,
  );
  // stack misuse
  refused(bytes("N0."), /unpickling stack underflow/);
  refused(bytes("N(."), /unexpected MARK found/);
  refused(bytes("t."), /could not find MARK/);
  refused(bytes("N)a."), /APPEND\(S\) to a NoneType, not a list/);
  refused(bytes("I" + "9".repeat(5000) + "\n."), /INT argument/); // CPython: over 4300 digits
  refused(bytes("S'abc\n."), /must be quoted/);
  refused(bytes("U\x02\xc3\x28."), /can't decode/);
  // the frame-level refusals
  assert.match(
    String(kunaiPoints(bytes("N."), 0)),
    /a NoneType, not a list of \(path, \(timestamp, value\)\)/,
  );
});

Deno.test("a frame whose list repeats one entry by reference (DUP) is refused: no million points from a megabyte", () => {
  const name = new TextEncoder().encode("a.b");
  const head = [
    0x80,
    2,
    0x5d,
    0x28,
    0x58,
    ...u32le(name.length),
    ...name,
    0x4a,
    ...u32le(1_700_000_000),
    0x4b,
    1,
    0x86,
    0x86,
  ];
  const frame = (dups: number) => Uint8Array.from([...head, ...new Array(dups).fill(0x32), 0x65, 0x2e]);
  const seen: Array<[string, number, number]> = [];
  const read = (f: Uint8Array) => pickledPoints(f, 0, (n, v, ts) => seen.push([n, v, ts]), () => {});
  read(frame(1)); // a real sender's shared tuple or two is fine
  assert.deepEqual(seen, [["a.b", 1, 1_700_000_000], ["a.b", 1, 1_700_000_000]]);
  assert.throws(
    () => read(frame(100_000)),
    (e: unknown) =>
      e instanceof PickleError && /100001 entries in 100023 bytes: .*shared references/.test(e.message),
  );
  assert.equal(seen.length, 2, "nothing of the refused frame was taken");
});

Deno.test("fuzz: mutated pickles are read exactly as CPython reads them, or refused; nothing else escapes", async () => {
  let seed = 11;
  const rnd = (n: number) => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) % n;
  const bases = (await dumps(PROTOCOLS.flatMap((p) => [
    [`[("a.b", (1700000000, 1.5)), ("c", (-1, 7)), ("d", ("1", ${N(2n ** 70n)}))]`, p] as [string, number],
    [GENERIC, p] as [string, number],
  ]))).map(unhex);
  const interesting = [
    0x28,
    0x2e,
    0x5d,
    0x61,
    0x65,
    0x74,
    0x85,
    0x86,
    0x94,
    0x71,
    0x68,
    0x4e,
    0x0a,
    0x00,
    0xff,
  ];
  const cases: Uint8Array[] = [];
  for (let i = 0; i < 3000; i++) {
    const b = Array.from(bases[rnd(bases.length)]);
    for (let k = 1 + rnd(3); k > 0; k--) {
      const at = rnd(b.length);
      switch (rnd(4)) {
        case 0:
          b[at] = rnd(256);
          break;
        case 1:
          b[at] = interesting[rnd(interesting.length)];
          break;
        case 2:
          b.splice(at, 1);
          break;
        default:
          b.splice(at, 0, interesting[rnd(interesting.length)]);
      }
    }
    cases.push(new Uint8Array(rnd(10) === 0 ? b.slice(0, rnd(b.length)) : b));
  }
  const py = await loads(cases);
  let read = 0, both = 0;
  cases.forEach((c, i) => {
    let got: PyValue;
    try {
      got = unpickle(c);
    } catch (err) {
      assert.ok(err instanceof PickleError, `case ${i} ${hex(c)}: ${err}`);
      kunaiPoints(c, 0); // refused the same way, never another exception
      return;
    }
    read++;
    // kunai may refuse what CPython reads (a narrower reader), never read something else
    assert.ok(py[i].ok !== undefined, `case ${i} ${hex(c)}: kunai read it, CPython raised ${py[i].err}`);
    assert.deepEqual(describe(got), py[i].ok, `case ${i} ${hex(c)}`);
    if (py[i].points) assert.deepEqual(kunaiPoints(c, 5), expectedPoints(py[i].points!, 5), `case ${i}`);
    both++;
  });
  assert.ok(read > 300 && both === read, `${read} of ${cases.length} mutated pickles read`);
});
