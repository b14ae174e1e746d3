/**
 * Random inputs for the evaluator's fuzz test: a seeded PRNG, random token soup, and random syntax
 * trees printed back to text (fully parenthesised) so the parser can be checked to round-trip them.
 */
import type { Ast, BinaryOp, CompareOp } from "../../lib/evaluator/mod.ts";
import { floatRepr, strRepr } from "../../lib/evaluator/pystr.ts";

/** mulberry32: small, fast, deterministic. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Rand = () => number;
const pick = <T>(r: Rand, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];
const int = (r: Rand, n: number) => Math.floor(r() * n);

/** Pieces the random strings are made of: real tokens, near-tokens and garbage. */
const FRAGMENTS = [
  "1",
  "0",
  "42",
  "2.5",
  "1e3",
  "1e309",
  ".5",
  "0x1f",
  "0o7",
  "0b1",
  "1_0",
  "007",
  "9**9",
  "**",
  "*",
  "//",
  "/",
  "%",
  "+",
  "-",
  "^",
  "==",
  "!=",
  "<",
  "<=",
  ">",
  ">=",
  "<>",
  "=",
  "(",
  ")",
  ",",
  "(",
  ")",
  "'",
  '"',
  "'''",
  "'a'",
  '"b%s"',
  "'%d'",
  "'%.2f'",
  "'%%'",
  "'%'",
  "'\\x4'",
  "'\\u00e9'",
  "r'\\n'",
  "and",
  "or",
  "not",
  "in",
  "not in",
  "is",
  "if",
  "else",
  "lambda",
  "True",
  "False",
  "None",
  "abs",
  "min",
  "max",
  "round",
  "int",
  "float",
  "str",
  "len",
  "grep",
  "fileexists",
  "ip_in_range",
  "x",
  "__import__",
  "eval",
  "{",
  "}",
  "{collector.c.v}",
  "{collector.c.%idle}",
  "{configuration.a.b}",
  "{collector.nope.x}",
  "{other}",
  "[",
  "]",
  ".",
  ":",
  ";",
  "@",
  "#",
  "\\",
  "\n",
  " ",
  " ",
  " ",
  "\t",
  "é",
  "💥",
  "\0",
];

/** A random string of fragments and raw characters. */
export function randomText(r: Rand, maxPieces = 24): string {
  let s = "";
  const n = 1 + int(r, maxPieces);
  for (let i = 0; i < n; i++) {
    s += r() < 0.85 ? pick(r, FRAGMENTS) : String.fromCharCode(32 + int(r, 95));
    if (r() < 0.4) s += " ";
  }
  return s;
}

const BIN: BinaryOp[] = ["+", "-", "*", "/", "//", "%", "**", "^"];
const CMP: CompareOp[] = ["==", "!=", "<", ">", "<=", ">=", "in", "not in"];
const CALLS = [
  "abs",
  "min",
  "max",
  "round",
  "int",
  "float",
  "str",
  "len",
  "ip_in_range",
  "fileexists",
  "grep",
  "nosuch",
];
const STRINGS = [
  "",
  "a",
  "abc",
  "%s",
  "%d%%",
  "%.2f",
  "%s-%s",
  "%5.1f|",
  "it's",
  'say "hi"',
  "é\n\t",
  "10.0.2.1",
  "10.0.0.0/8",
  "fe80::1",
  "12",
  " 3.5 ",
  "/etc/hostname",
  "/nope",
];
const FLOATS = [0, 0.5, 1.5, 2.5, 3.14159, 100, 1e20, 1e-7, 97.5, 1e16, 2.675, 0.1];
const INTS = [0n, 1n, 2n, 3n, 7n, 10n, 255n, 1000n, 2n ** 64n, 65n];

/** A random syntax tree of at most `depth` levels. */
export function randomAst(r: Rand, depth: number): Ast {
  const pos = 0;
  if (depth <= 0 || r() < 0.25) {
    switch (int(r, 5)) {
      case 0:
        return { type: "num", value: pick(r, INTS), pos };
      case 1:
        return { type: "num", value: pick(r, FLOATS), pos };
      case 2:
        return { type: "str", value: pick(r, STRINGS), pos };
      case 3:
        return { type: "const", value: pick(r, [true, false, null]), pos };
      default:
        return { type: "num", value: BigInt(int(r, 20)), pos };
    }
  }
  const sub = () => randomAst(r, depth - 1);
  switch (int(r, 8)) {
    case 0:
    case 1:
      return { type: "binary", op: pick(r, BIN), left: sub(), right: sub(), pos };
    case 2: {
      const n = 1 + int(r, 3);
      return {
        type: "compare",
        first: sub(),
        ops: Array.from({ length: n }, () => pick(r, CMP)),
        rest: Array.from({ length: n }, sub),
        pos,
      };
    }
    case 3:
      return { type: "bool", op: pick(r, ["and", "or"] as const), left: sub(), right: sub(), pos };
    case 4:
      return { type: "unary", op: pick(r, ["-", "+", "not"] as const), operand: sub(), pos };
    case 5:
      return { type: "tuple", items: Array.from({ length: int(r, 4) }, sub), pos };
    case 6:
      return {
        type: "call",
        name: pick(r, CALLS),
        args: Array.from({ length: int(r, 3) }, sub),
        kwargs: [],
        pos,
      };
    default:
      return {
        type: "binary",
        op: "%",
        left: { type: "str", value: pick(r, STRINGS), pos },
        right: sub(),
        pos,
      };
  }
}

/** Prints a tree back to source, parenthesising every compound node. */
export function printAst(a: Ast): string {
  switch (a.type) {
    case "num":
      return typeof a.value === "bigint" ? a.value.toString() : floatRepr(a.value);
    case "str":
      return strRepr(a.value);
    case "const":
      return a.value === null ? "None" : a.value ? "True" : "False";
    case "name":
      return a.name;
    case "tuple":
      if (a.items.length === 1) return `(${printAst(a.items[0])},)`;
      return `(${a.items.map(printAst).join(", ")})`;
    case "unary":
      return a.op === "not" ? `(not ${printAst(a.operand)})` : `(${a.op}${printAst(a.operand)})`;
    case "binary":
      return `(${printAst(a.left)} ${a.op} ${printAst(a.right)})`;
    case "bool":
      return `(${printAst(a.left)} ${a.op} ${printAst(a.right)})`;
    case "compare":
      return `(${printAst(a.first)}${a.ops.map((op, i) => ` ${op} ${printAst(a.rest[i])}`).join("")})`;
    case "call": {
      const args = [...a.args.map(printAst), ...a.kwargs.map((k) => `${k.name}=${printAst(k.value)}`)];
      return `${a.name}(${args.join(", ")})`;
    }
  }
}

/** The tree without positions, for structural comparison. */
export function stripPositions(a: Ast): unknown {
  return JSON.parse(
    JSON.stringify(a, (k, v) => (k === "pos" ? undefined : typeof v === "bigint" ? `${v}n` : v)),
  );
}
