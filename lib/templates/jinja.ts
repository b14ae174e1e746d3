/**
 * Jinja2's semantics where nunjucks silently differs, patched into nunjucks once per process
 * (after its own `installJinjaCompat`), so a template written for the Python kunai renders the
 * same text here:
 *
 * - **Truthiness**: `{% if nodes %}`, `not`, `and`/`or` and `x if c else y` follow Python: an
 *   empty list or dict is false (JavaScript's `[]` and `{}` are true, which took the wrong branch
 *   without a word). `a or b` gives `a` or `b` as Python does, not a boolean.
 * - **Output**: `{{ True }}` prints `True`, `{{ None }}` `None`, a list `[1, 'a']` and a dict
 *   `{'a': 1}` as Python's `str()` does (nunjucks printed `true`, nothing, `1,a` and
 *   `[object Object]`). A float prints as Python's repr (`1e-05`, `2.0` when the template made it
 *   a float); an integral float from the data prints `1`, since JSON cannot tell 1.0 from 1.
 * - **`~`** joins Python's `str()` of each side (`'n=' ~ None` is `n=None`, not `n=null`).
 * - **String methods**: `s.startswith('x')`, `upper()`, `lower()`, `strip()`, `split()` (on
 *   whitespace without an argument), `replace()` (every occurrence, as Python; JavaScript's replaces
 *   the first only), `join()`, `find()`, `count()`, `title()`...
 *
 * - **Operators**: `'%s-%s' % (a, b)` formats as Python (it gave NaN), `'-' * 3` repeats, `(a, b)`
 *   is a tuple (JavaScript's comma operator kept the last item), `%` takes the divisor's sign,
 *   `s[1:3]` is a string and `d.get('k')` is None when missing.
 *
 * - **Syntax**: number literals with an exponent (`1e3`, `2E-2`), `for (a, b) in ...` (see
 *   patchLexer) and a test's argument without parentheses (`x is divisibleby 3`).
 *
 * - **`set`**: `{% set ns.x = v %}` on a `namespace()` and `{% set a, b = pair %}` unpacking.
 * - **Undefined values and types**: an attribute or item of an undefined value, arithmetic and
 *   ordering with one raise UndefinedError, as Jinja2's default Undefined does (nunjucks printed
 *   nothing, `nan` or took a branch); `-`, `/`, `//`, `**` and `%` take numbers only and `<` what
 *   Python orders (TypeError otherwise, where JavaScript coerced: `none - 1` was -1); a division by
 *   zero raises (it printed `inf`). A runtime error names the line it happened on.
 * - **Whitespace**: the `+` markers (`{%+`, `+%}`, see plusMarkers).
 *
 * Statements (`for`, `with`, `raw`, scoping of `set`) are in statements.ts, floats the template
 * makes (`4 / 2` prints 2.0) in pyfloat.ts. What stays different: an integral float from the data
 * prints without a trailing `.0` (JSON cannot tell 2.0 from 2).
 */
import type nunjucks from "nunjucks";
import { formatPercent, strRepr } from "../evaluator/mod.ts";
import { pyFormat } from "./pyformat.ts";
import { installStatements } from "./statements.ts";
import { isFloat, PyFloat, reprFloat, toFloat } from "./pyfloat.ts";

type Runtime = {
  handleError(e: unknown, lineno: number, colno: number): unknown;
  suppressValue(val: unknown, autoescape: boolean): unknown;
  memberLookup(obj: unknown, val: unknown, ...rest: unknown[]): unknown;
  SafeString: new (s: string) => unknown;
  jinjaTruthy?: (v: unknown) => boolean;
  jinjaConcat?: (a: unknown, b: unknown) => string;
  jinjaMod?: (a: unknown, b: unknown) => unknown;
  jinjaMul?: (a: unknown, b: unknown) => unknown;
  jinjaTuple?: (items: unknown[]) => unknown[];
  jinjaNsSet?: (obj: unknown, key: unknown, value: unknown) => void;
  jinjaCompare?: (first: unknown, what: string, ...ops: Array<[string, unknown, string]>) => boolean;
  jinjaAdd?: (a: unknown, b: unknown) => unknown;
  jinjaIn?: (a: unknown, b: unknown) => boolean;
  jinjaArith?: (op: string, a: unknown, b: unknown) => unknown;
  jinjaUnary?: (op: string, a: unknown) => unknown;
  jinjaFloat?: (n: number) => unknown;
  jinjaDefined?: (v: unknown, what: string) => unknown;
  jinjaUnpack?: (value: unknown, n: number) => unknown[];
};

/** Jinja2's `namespace(...)`: the one object a template may set attributes on (`{% set ns.x = 1 %}`). */
export class JinjaNamespace {
  constructor(init: Record<string, unknown>) {
    Object.assign(this, init);
  }
}

/**
 * Python's `==`: no coercion (`'' == false`, `'80' == 80` are False; JavaScript's `==` said true),
 * lists and dicts equal by content, `True == 1`, None equal to None only (an undefined name is not).
 */
export function pyEq(a: unknown, b: unknown): boolean {
  if (a instanceof String) a = String(a);
  if (b instanceof String) b = String(b);
  if (isNumber(a) && isNumber(b)) return Number(a) === Number(b);
  if (a === null || a === undefined || b === null || b === undefined) return a === b;
  if (Array.isArray(a) || Array.isArray(b)) {
    return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((x, i) => pyEq(x, b[i]));
  }
  if (typeof a === "object" && typeof b === "object") {
    const ka = Object.keys(a as object), kb = Object.keys(b as object);
    return ka.length === kb.length && ka.every((k) =>
      Object.hasOwn(b as object, k) &&
      pyEq((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k])
    );
  }
  return a === b;
}

/** Python's name of a value's type, as its TypeErrors name it. */
export function pyType(v: unknown): string {
  if (v === undefined) return "Undefined";
  if (v === null) return "NoneType";
  if (typeof v === "boolean") return "bool";
  if (typeof v === "number") return Number.isInteger(v) ? "int" : "float";
  if (v instanceof PyFloat) return "float";
  if (typeof v === "bigint") return "int";
  if (typeof v === "string" || v instanceof String) return "str";
  if (Array.isArray(v)) return (v as { [TUPLE]?: boolean })[TUPLE] ? "tuple" : "list";
  if (typeof v === "function") return "function";
  return "dict";
}

/**
 * Jinja2's Undefined refuses to be used as a value: an attribute or item of it, arithmetic and
 * ordering with it raise UndefinedError (printing it, testing it, `==`, `default` and iterating are
 * fine). `what` is the expression's text, as the error names it.
 */
export function jinjaDefined(v: unknown, what: string): unknown {
  if (v === undefined) throw new Error(`UndefinedError: '${what}' is undefined`);
  return v;
}

/** A Python number: an int, a float (a boxed integral one too), a bool. */
export const isNumber = (v: unknown): boolean =>
  typeof v === "number" || typeof v === "boolean" || typeof v === "bigint" || v instanceof PyFloat;

/** Python's `<` between two strings: by code point (JavaScript compares UTF-16 code units). */
function compareStrings(a: string, b: string): number {
  if (a === b) return 0;
  const x = [...a], y = [...b];
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    if (x[i] !== y[i]) return x[i].codePointAt(0)! - y[i].codePointAt(0)!;
  }
  return x.length - y.length;
}

/** Python's ordering of two values: numbers, strings, or lists item by item; anything else is a TypeError. */
export function pyOrder(a: unknown, b: unknown, op = "<"): number {
  if (a instanceof String) a = String(a);
  if (b instanceof String) b = String(b);
  if (isNumber(a) && isNumber(b)) {
    const x = Number(a), y = Number(b);
    return x < y ? -1 : x > y ? 1 : 0;
  }
  if (typeof a === "string" && typeof b === "string") return compareStrings(a, b);
  if (Array.isArray(a) && Array.isArray(b)) {
    for (let i = 0; i < Math.min(a.length, b.length); i++) {
      if (!pyEq(a[i], b[i])) return pyOrder(a[i], b[i], op);
    }
    return a.length - b.length;
  }
  throw new Error(
    `TypeError: '${op}' not supported between instances of '${pyType(a)}' and '${pyType(b)}'`,
  );
}

/** A comparison chain as Python reads it: `a < b < c` is `a < b and b < c`; ordering an undefined value raises. */
function pyCompare(first: unknown, what: string, ...ops: Array<[string, unknown, string]>): boolean {
  let left = first;
  let leftWhat = what;
  for (const [op, right, rightWhat] of ops) {
    let ok: boolean;
    if (op === "==" || op === "===") ok = pyEq(left, right);
    else if (op === "!=" || op === "!==") ok = !pyEq(left, right);
    else {
      jinjaDefined(left, leftWhat);
      jinjaDefined(right, rightWhat);
      const c = pyOrder(left, right, op);
      ok = op === "<" ? c < 0 : op === ">" ? c > 0 : op === "<=" ? c <= 0 : c >= 0;
    }
    if (!ok) return false;
    left = right;
    leftWhat = rightWhat;
  }
  return true;
}

/**
 * Python's `x in seq`: a substring of a string (a str only), an item of a list (by ==), a key of a
 * dict; nothing is in an undefined value. nunjucks used indexOf (`2.0 in [2]` was false, `1 in 'a1'`
 * true) and JavaScript's `in`.
 */
export function pyIn(v: unknown, seq: unknown): boolean {
  if (seq === undefined) return false;
  if (typeof seq === "string" || seq instanceof String) {
    if (typeof v !== "string" && !(v instanceof String)) {
      throw new Error(`TypeError: 'in <string>' requires string as left operand, not ${pyType(v)}`);
    }
    return String(seq).includes(String(v));
  }
  if (Array.isArray(seq)) return seq.some((x) => pyEq(x, v));
  if (seq instanceof Map || seq instanceof Set) return seq.has(v);
  if (seq !== null && typeof seq === "object" && !(seq instanceof PyFloat)) {
    return (typeof v === "string" || v instanceof String) && Object.hasOwn(seq, String(v));
  }
  throw new Error(`TypeError: argument of type '${pyType(seq)}' is not iterable`);
}

/** Python's `-`, `/`, `//` and `**` on two numbers (a bool counts as one); anything else is a TypeError. */
function pyArith(op: string, a: unknown, b: unknown): unknown {
  if (!isNumber(a) || !isNumber(b)) {
    throw new Error(`TypeError: unsupported operand type(s) for ${op}: '${pyType(a)}' and '${pyType(b)}'`);
  }
  const x = Number(a), y = Number(b);
  if (y === 0 && (op === "/" || op === "//")) {
    throw new Error(`ZeroDivisionError: ${op === "/" ? "division" : "integer division or modulo"} by zero`);
  }
  if (op === "**" && x === 0 && y < 0) {
    throw new Error("ZeroDivisionError: 0.0 cannot be raised to a negative power");
  }
  const r = op === "-" ? x - y : op === "/" ? x / y : op === "//" ? Math.floor(x / y) : x ** y;
  // `/` is always a float, so is anything with a float operand and an int to a negative power
  return op === "/" || isFloat(a) || isFloat(b) || (op === "**" && y < 0) ? toFloat(r) : r;
}

/** Python's unary `-` and `+`: a number only. */
function pyUnary(op: string, a: unknown): unknown {
  if (!isNumber(a)) throw new Error(`TypeError: bad operand type for unary ${op}: '${pyType(a)}'`);
  const r = op === "-" ? -Number(a) : Number(a);
  return isFloat(a) ? toFloat(r) : r;
}

/** Python's `+`: lists concatenate, strings too; a string and a number do not mix (TypeError). */
export function pyAdd(a: unknown, b: unknown): unknown {
  if (Array.isArray(a) && Array.isArray(b)) return [...a, ...b];
  const str = (v: unknown) => typeof v === "string" || v instanceof String;
  if (str(a) && str(b)) return String(a) + String(b);
  if (!isNumber(a) || !isNumber(b)) {
    throw new Error(`TypeError: unsupported operand type(s) for +: '${pyType(a)}' and '${pyType(b)}'`);
  }
  const r = Number(a) + Number(b);
  return isFloat(a) || isFloat(b) ? toFloat(r) : r;
}

/** `{% set a, b = pair %}`: the value's items, exactly `n` of them (Python's unpacking). */
export function unpack(value: unknown, n: number): unknown[] {
  const items = Array.isArray(value)
    ? value
    : typeof value === "string"
    ? [...value]
    : value !== null && typeof value === "object"
    ? Object.keys(value)
    : null;
  if (items === null || value instanceof PyFloat) {
    throw new Error(`TypeError: cannot unpack non-iterable ${pyType(value)} object`);
  }
  if (items.length !== n) {
    throw new Error(
      `ValueError: ${
        items.length < n ? "not enough" : "too many"
      } values to unpack (expected ${n}, got ${items.length})`,
    );
  }
  return items;
}

/** Marks an array made by a tuple literal `(a, b)`: `'%s-%s' % (a, b)` spreads it, a list is one argument. */
const TUPLE = Symbol("tuple");

/** `items` as a Python tuple: printed `(a, b)`, spread by `%`. */
export function tuple<T extends unknown[]>(items: T): T {
  return Object.assign(items, { [TUPLE]: true });
}

/** A JS value as the Python value `%` formats (integers are ints; nested lists and dicts print as Python's). */
export function toPy(v: unknown, nested = false): unknown {
  if (typeof v === "number" && Number.isInteger(v)) return BigInt(v);
  if (v instanceof PyFloat) return v.valueOf(); // a JavaScript number is a float to formatPercent
  if (v === undefined) return null;
  if (v instanceof String) return String(v);
  if (Array.isArray(v)) return nested ? pyStr(v) : v.map((x) => toPy(x, true));
  if (v !== null && typeof v === "object") return pyStr(v);
  return v;
}

/** Python's `a % b`: string formatting for a string, else the modulo with the divisor's sign. */
function pyMod(a: unknown, b: unknown): unknown {
  if (typeof a === "string" || a instanceof String) {
    const fmt = String(a);
    if (fmt.includes("%(") && b !== null && typeof b === "object" && !Array.isArray(b) && isPlain(b)) {
      return formatMapping(fmt, b as Record<string, unknown>);
    }
    const args = Array.isArray(b) && (b as { [TUPLE]?: boolean })[TUPLE] ? toPy(b) : [toPy(b, true)];
    return formatPercent(fmt, args as never);
  }
  if (!isNumber(a) || !isNumber(b)) {
    throw new Error(`TypeError: unsupported operand type(s) for %: '${pyType(a)}' and '${pyType(b)}'`);
  }
  const x = Number(a);
  const y = Number(b);
  if (y === 0) throw new Error("ZeroDivisionError: modulo by zero");
  const m = x % y;
  const r = m !== 0 && (m < 0) !== (y < 0) ? m + y : m;
  return isFloat(a) || isFloat(b) ? toFloat(r) : r;
}

/** `'%(host)s:%(port)d' % d`: each named conversion takes its value from the mapping. */
function formatMapping(fmt: string, map: Record<string, unknown>): string {
  return fmt.replace(/%(?:\(([^)]*)\))?([-+ 0#]*\d*(?:\.\d*)?[a-zA-Z%])/g, (whole, name, spec) => {
    if (spec === "%") {
      return name === undefined ? "%" : formatPercent(whole.replace(`(${name})`, ""), [] as never);
    }
    if (name === undefined) throw new Error("TypeError: format requires a mapping");
    if (!Object.hasOwn(map, name)) throw new Error(`KeyError: '${name}'`);
    return formatPercent("%" + spec, [toPy(map[name], true)] as never);
  });
}

/** Longest string or list `*` may build (a template's `'-' * n`). */
const MAX_REPEAT = 1_000_000;

/** Python's `a * b`: a string or list repeated by an int, else the product. */
function pyMul(a: unknown, b: unknown): unknown {
  if (a instanceof String) a = String(a);
  if (b instanceof String) b = String(b);
  const [seq, n] = isNumber(b) && (typeof a === "string" || Array.isArray(a))
    ? [a, b]
    : isNumber(a) && (typeof b === "string" || Array.isArray(b))
    ? [b, a]
    : [null, 0];
  if (seq === null) {
    if (!isNumber(a) || !isNumber(b)) {
      throw new Error(`TypeError: unsupported operand type(s) for *: '${pyType(a)}' and '${pyType(b)}'`);
    }
    const r = Number(a) * Number(b);
    return isFloat(a) || isFloat(b) ? toFloat(r) : r;
  }
  if (isFloat(n)) {
    throw new Error(`TypeError: can't multiply sequence by non-int of type '${pyType(n)}'`);
  }
  const times = Math.max(0, Number(n));
  if ((seq as string | unknown[]).length * times > MAX_REPEAT) {
    throw new Error(`a repetition over ${MAX_REPEAT} items`);
  }
  return typeof seq === "string"
    ? seq.repeat(times)
    : Array.from({ length: times }, () => seq as unknown[]).flat();
}

interface CompilerProto {
  compile(node: unknown, frame: unknown): void;
  _emit(code: string): void;
  _emitLine(code: string): void;
  _compileExpression(node: unknown, frame: unknown): void;
  _withScopedSyntax(fn: () => void): void;
  compileIf(node: IfNode, frame: unknown, async?: boolean): void;
  compileInlineIf(node: IfNode, frame: unknown): void;
  compileNot(node: { target: unknown }, frame: unknown): void;
  compileOr(node: BinNode, frame: unknown): void;
  compileAnd(node: BinNode, frame: unknown): void;
  compileConcat(node: BinNode, frame: unknown): void;
  compileMod(node: BinNode, frame: unknown): void;
  compileMul(node: BinNode, frame: unknown): void;
  compileGroup(node: { children: unknown[] }, frame: unknown): void;
  _compileAggregate(node: unknown, frame: unknown, start: string, end: string): void;
  _emitLoopBindings(node: unknown, arr: string, i: string, len: string): void;
  _tmpid(): string;
  compileSet(node: SetNode, frame: unknown): void;
  compileCompare(node: { expr: unknown; ops: Array<{ type: string; expr: unknown }> }, frame: unknown): void;
  compileAdd(node: BinNode, frame: unknown): void;
  compileIn(node: BinNode, frame: unknown): void;
  compileSub(node: BinNode, frame: unknown): void;
  compileDiv(node: BinNode, frame: unknown): void;
  compileFloorDiv(node: BinNode, frame: unknown): void;
  compilePow(node: BinNode, frame: unknown): void;
  compileNeg(node: { target: unknown }, frame: unknown): void;
  compilePos(node: { target: unknown }, frame: unknown): void;
  compileLookupVal(node: { target: unknown; val: unknown }, frame: unknown): void;
  compileFor(node: { name: { typename: string }; arr: unknown }, frame: unknown): void;
}
/** nunjucks' compile error: a TemplateError at the node's line. */
interface Fail {
  fail(msg: string, lineno?: number, colno?: number): never;
}
interface SetNode {
  targets: Array<{ typename: string; value?: string; target?: unknown; val?: unknown }>;
  value: unknown;
  body: unknown;
}
interface IfNode {
  cond: unknown;
  body: unknown;
  else_: unknown;
}
interface BinNode {
  left: unknown;
  right: unknown;
}

/** Python's truth value of a template value. */
export function pyTruthy(v: unknown): boolean {
  if (v === undefined || v === null || v === false) return false;
  if (v === true) return true;
  if (typeof v === "number") return v !== 0;
  if (typeof v === "bigint") return v !== 0n;
  if (v instanceof PyFloat) return v.valueOf() !== 0;
  if (typeof v === "string") return v.length > 0;
  if (Array.isArray(v)) return v.length > 0;
  if (v instanceof Map || v instanceof Set) return v.size > 0;
  if (typeof v === "object") {
    const proto = Object.getPrototypeOf(v);
    if (proto === Object.prototype || proto === null) {
      for (const _ in v) return true;
      return false;
    }
    // nunjucks' SafeString (a marked-safe string) and other String-like objects
    if ("length" in v && typeof (v as { length: unknown }).length === "number" && v instanceof String) {
      return (v as string).length > 0;
    }
  }
  return true;
}

/** Python's repr() of a number: an int as it is, a float as reprFloat writes it. */
function reprNumber(n: number): string {
  return Number.isInteger(n) ? String(n) : reprFloat(n);
}

/** Python's `repr()` of a value inside a container (strings quoted). */
function pyRepr(v: unknown, depth = 0): string {
  if (depth > 50) return "...";
  if (v === undefined || v === null) return "None";
  if (v === true) return "True";
  if (v === false) return "False";
  if (typeof v === "number") return reprNumber(v);
  if (v instanceof PyFloat) return reprFloat(v.valueOf());
  if (typeof v === "bigint") return String(v);
  if (typeof v === "string") return strRepr(v);
  if (v instanceof String) return strRepr(String(v));
  if (Array.isArray(v)) {
    const items = v.map((x) => pyRepr(x, depth + 1));
    if ((v as { [TUPLE]?: boolean })[TUPLE]) {
      return items.length === 1 ? `(${items[0]},)` : `(${items.join(", ")})`;
    }
    return "[" + items.join(", ") + "]";
  }
  if (v instanceof Map) {
    return "{" + [...v].map(([k, x]) => `${pyRepr(k, depth + 1)}: ${pyRepr(x, depth + 1)}`).join(", ") + "}";
  }
  if (typeof v === "object" && isPlain(v)) {
    return "{" +
      Object.entries(v).map(([k, x]) => `${strRepr(k)}: ${pyRepr(x, depth + 1)}`).join(", ") + "}";
  }
  return String(v);
}

function isPlain(v: object): boolean {
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/** Python's `str()` of a value, as `{{ value }}` prints it (undefined prints nothing, as Jinja2's Undefined). */
export function pyStr(v: unknown): unknown {
  if (v === undefined || typeof v === "string" || v instanceof String) return v;
  if (v === null || typeof v === "boolean" || Array.isArray(v) || v instanceof Map) return pyRepr(v);
  if (typeof v === "number") return reprNumber(v);
  if (v instanceof PyFloat) return reprFloat(v.valueOf());
  if (typeof v === "object" && isPlain(v)) return pyRepr(v);
  return v;
}

/** Python `str.split(sep=None, maxsplit=-1)`. */
function pySplit(s: string, sep?: unknown, maxsplit?: unknown): string[] {
  const max = typeof maxsplit === "number" && maxsplit >= 0 ? maxsplit : Infinity;
  if (sep === undefined || sep === null) {
    const out: string[] = [];
    let rest = s.replace(/^\s+/, "");
    while (rest.length) {
      if (out.length >= max) {
        out.push(rest);
        break;
      }
      const m = /\s+/.exec(rest);
      if (!m) {
        out.push(rest);
        break;
      }
      out.push(rest.slice(0, m.index));
      rest = rest.slice(m.index + m[0].length);
    }
    return out;
  }
  const d = String(sep);
  if (!d) throw new Error("ValueError: empty separator");
  const parts = s.split(d);
  if (parts.length - 1 <= max) return parts;
  return [...parts.slice(0, max), parts.slice(max).join(d)];
}

function stripChars(s: string, chars: unknown, left: boolean, right: boolean): string {
  if (chars === undefined || chars === null) {
    let out = s;
    if (left) out = out.replace(/^\s+/, "");
    if (right) out = out.replace(/\s+$/, "");
    return out;
  }
  const set = new Set(String(chars));
  let a = 0;
  let b = s.length;
  if (left) { while (a < b && set.has(s[a])) a++; }
  if (right) { while (b > a && set.has(s[b - 1])) b--; }
  return s.slice(a, b);
}

/** Whether a character has case (Python's "cased": a letter with an upper and a lower form). */
const cased = (c: string) => c.toLowerCase() !== c.toUpperCase();

/** Python's str.title(): a cased character after an uncased one upper case, the others lower (any script). */
function pyTitle(s: string): string {
  let out = "";
  let inWord = false;
  for (const c of s) {
    out += cased(c) ? (inWord ? c.toLowerCase() : c.toUpperCase()) : c;
    inWord = cased(c);
  }
  return out;
}

/** Python's string methods, bound to the string (only names JavaScript lacks or does differently). */
export const STRING_MEMBERS: Record<string, (s: string, ...a: unknown[]) => unknown> = {
  upper: (s) => s.toUpperCase(),
  lower: (s) => s.toLowerCase(),
  strip: (s, c) => stripChars(s, c, true, true),
  lstrip: (s, c) => stripChars(s, c, true, false),
  rstrip: (s, c) => stripChars(s, c, false, true),
  startswith: (s, p) => Array.isArray(p) ? p.some((x) => s.startsWith(String(x))) : s.startsWith(String(p)),
  endswith: (s, p) => Array.isArray(p) ? p.some((x) => s.endsWith(String(x))) : s.endsWith(String(p)),
  split: (s, sep, max) => pySplit(s, sep, max),
  splitlines: (s) => s.split(/\r\n|\r|\n/).filter((x, i, a) => i < a.length - 1 || x !== ""),
  replace: (s, a, b, count) => {
    const from = String(a);
    const to = String(b);
    const n = typeof count === "number" && count >= 0 ? count : Infinity;
    if (n === Infinity) return s.split(from).join(to);
    const parts = s.split(from);
    return parts.slice(0, n + 1).join(to) +
      (parts.length > n + 1 ? from + parts.slice(n + 1).join(from) : "");
  },
  join: (s, list) => (Array.isArray(list) ? list : []).map((x) => String(pyStr(x) ?? "")).join(s),
  find: (s, sub) => s.indexOf(String(sub)),
  rfind: (s, sub) => s.lastIndexOf(String(sub)),
  count: (s, sub) => String(sub) === "" ? s.length + 1 : s.split(String(sub)).length - 1,
  title: (s) => pyTitle(s),
  capitalize: (s) => s.charAt(0).toUpperCase() + s.slice(1).toLowerCase(),
  isdigit: (s) => /^\p{Nd}+$/u.test(s),
  isalpha: (s) => /^\p{L}+$/u.test(s),
  isalnum: (s) => /^[\p{L}\p{N}]+$/u.test(s),
  isspace: (s) => /^\s+$/.test(s),
  isupper: (s) => [...s].some(cased) && s === s.toUpperCase(),
  islower: (s) => [...s].some(cased) && s === s.toLowerCase(),
  zfill: (s, w) => {
    const width = Number(w) || 0;
    const sign = /^[+-]/.test(s) ? s[0] : "";
    const body = sign ? s.slice(1) : s;
    return sign + body.padStart(Math.max(0, width - sign.length), "0");
  },
  ljust: (s, w, f) => s.padEnd(Number(w) || 0, f === undefined ? " " : String(f)),
  rjust: (s, w, f) => s.padStart(Number(w) || 0, f === undefined ? " " : String(f)),
  center: (s, w, f) => {
    // CPython's str.center: the odd fill character goes left when the padding and the width are both odd
    const width = Number(w) || 0, fill = f === undefined ? " " : String(f);
    const pad = width - s.length;
    if (pad <= 0) return s;
    const left = Math.floor(pad / 2) + (pad & width & 1);
    return fill.repeat(left) + s + fill.repeat(pad - left);
  },
  swapcase: (s) => [...s].map((c) => c === c.toUpperCase() ? c.toLowerCase() : c.toUpperCase()).join(""),
  rsplit: (s, sep, max) => {
    if (sep === undefined || sep === null) return s.trim().split(/\s+/).filter((x) => x);
    const parts = s.split(String(sep));
    const n = max === undefined ? -1 : Number(max);
    if (n < 0 || parts.length <= n + 1) return parts;
    return [parts.slice(0, parts.length - n).join(String(sep)), ...parts.slice(parts.length - n)];
  },
  // '{}:{}'.format(addr, port), '{name:>10}'.format(name=n) (pyformat.ts)
  format: (s, ...args) => {
    const last = args[args.length - 1] as { __keywords?: boolean } | undefined;
    const kw = last && typeof last === "object" && last.__keywords
      ? args.pop() as Record<string, unknown>
      : {};
    const { __keywords: _k, ...named } = kw as Record<string, unknown>;
    return pyFormat(s, args, named, { str: (v) => String(pyStr(v) ?? ""), repr: (v) => pyRepr(v) });
  },
  partition: (s, sep) => {
    const i = s.indexOf(String(sep));
    return tuple(i < 0 ? [s, "", ""] : [s.slice(0, i), String(sep), s.slice(i + String(sep).length)]);
  },
};

/** An expression's text as an error names it (`nodes[0].name`, `check.output`), from its parsed node. */
export function nodeText(node: unknown, depth = 0): string {
  const n = node as {
    typename: string;
    value?: unknown;
    target?: unknown;
    val?: unknown;
    name?: unknown;
    args?: { children: unknown[] };
  };
  if (depth > 20 || !n) return "...";
  switch (n.typename) {
    case "Symbol":
      return String(n.value);
    case "Literal":
      return typeof n.value === "string" ? strRepr(n.value) : String(pyStr(n.value));
    case "LookupVal": {
      const v = n.val as { typename: string; value?: unknown };
      const key = v.typename === "Literal" && typeof v.value === "string" && /^[A-Za-z_]\w*$/.test(v.value)
        ? `.${v.value}`
        : `[${nodeText(v, depth + 1)}]`;
      return nodeText(n.target, depth + 1) + key;
    }
    case "FunCall":
      return `${nodeText(n.name, depth + 1)}(...)`;
    case "Filter":
      return `${nodeText(n.args?.children[0], depth + 1)}|${nodeText(n.name, depth + 1)}`;
    default:
      return "expression";
  }
}

/** The nodes compiled as JavaScript statements, where the line a runtime error names is recorded. */
const STATEMENTS = new Set([
  "Output",
  "If",
  "JinjaFor",
  "Set",
  "With",
  "Include",
  "Import",
  "FromImport",
  "Switch",
]);

let installed = false;

interface Token {
  type: string;
  value: string;
  lineno: number;
  colno: number;
}
interface TokenizerState {
  str: string;
  index: number;
  lineno: number;
  colno: number;
  in_code: boolean;
  forward(): void;
  nextToken(): Token | null;
  /** The last token other than whitespace (`for (a, b) in` below). */
  jinjaLast?: string;
  /** Inside the parentheses of a `for (a, b) in` target. */
  jinjaForParen?: boolean;
  trimBlocks: boolean;
  lstripBlocks: boolean;
  tags: {
    COMMENT_START: string;
    COMMENT_END: string;
    BLOCK_START: string;
    BLOCK_END: string;
    VARIABLE_START: string;
  };
  isFinished(): boolean;
  current(): string;
  _parseString(delimiter: string): string;
}

type NodeCtor = new (lineno: number, colno: number, ...fields: unknown[]) => { typename: string };
interface ParserState {
  parseCompare(): { typename: string; lineno: number; colno: number };
  parsePrimary(noPostfix?: boolean): unknown;
  parsePostfix(node: unknown): unknown;
  peekToken(): Token | null;
  skipSymbol(name: string): boolean;
  parseIs(): unknown;
}

/** Words that end an expression rather than start a test's argument (`x is odd and y`). */
const NOT_AN_ARGUMENT = new Set(["and", "or", "else", "if", "in", "is", "not"]);

/**
 * Jinja2 lets one argument follow a test without parentheses (`x is divisibleby 3`, `v is sameas false`);
 * nunjucks read the argument as the end of the expression and failed. The argument becomes the call's.
 */
function patchTestArguments(nj: typeof nunjucks): void {
  const { Parser } = (nj as unknown as { parser: { Parser: { prototype: ParserState } } }).parser;
  const nodes = (nj as unknown as { nodes: Record<string, NodeCtor> }).nodes;
  Parser.prototype.parseIs = function (this: ParserState) {
    let node: unknown = this.parseCompare();
    if (!this.skipSymbol("is")) return node;
    const not = this.skipSymbol("not");
    let test = this.parseCompare();
    const next = this.peekToken();
    const startsArgument = next !== null && (
      ["int", "float", "string", "boolean", "none", "left-bracket", "left-curly"].includes(next.type) ||
      (next.type === "symbol" && !NOT_AN_ARGUMENT.has(next.value))
    );
    if (test.typename === "Symbol" && startsArgument) {
      const arg = this.parsePrimary();
      const args = new nodes.NodeList(test.lineno, test.colno, [arg]);
      test = new nodes.FunCall(test.lineno, test.colno, test, args) as typeof test;
    }
    const head = node as { lineno: number; colno: number };
    node = new nodes.Is(head.lineno, head.colno, node, test);
    return not ? new nodes.Not(head.lineno, head.colno, node) : node;
  };
}

/**
 * Jinja2's trim_blocks and lstrip_blocks apply to comments too (generators use both): the newline
 * after a `{# ... #}` is dropped, and the spaces before one that starts a line. nunjucks kept both,
 * so a commented template wrote blank lines where Jinja2 wrote none.
 */
function commentTrim(t: TokenizerState, tok: Token): Token | null {
  if (tok.type === "comment" && t.trimBlocks && !tok.value.endsWith("+" + t.tags.COMMENT_END)) {
    if (t.str.startsWith("\r\n", t.index)) {
      t.forward();
      t.forward();
    } else if (t.str[t.index] === "\n") t.forward();
  } else if (
    tok.type === "data" && t.lstripBlocks && t.str.startsWith(t.tags.COMMENT_START, t.index) &&
    !t.str.startsWith(t.tags.COMMENT_START + "+", t.index)
  ) {
    const nl = tok.value.lastIndexOf("\n");
    const last = tok.value.slice(nl + 1);
    if ((nl >= 0 || tok.colno === 0) && /^[ \t]+$/.test(last)) {
      const value = tok.value.slice(0, tok.value.length - last.length);
      return value ? { ...tok, value } : t.nextToken();
    }
  }
  return tok;
}

/**
 * A float literal with an integral value (`2.0`, `1e3`) is a float, printed `2.0` (pyfloat.ts);
 * nunjucks made it the number 2.
 */
function patchFloatLiterals(nj: typeof nunjucks): void {
  const { Parser } = (nj as unknown as { parser: { Parser: { prototype: ParserState } } }).parser;
  const Compiler = (nj as unknown as { compiler: { Compiler: { prototype: Record<string, unknown> } } })
    .compiler.Compiler;
  const parsePrimary = Parser.prototype.parsePrimary;
  Parser.prototype.parsePrimary = function (this: ParserState, noPostfix?: boolean) {
    const tok = this.peekToken();
    if (tok?.type !== "float" || !Number.isInteger(parseFloat(tok.value))) {
      return parsePrimary.call(this, noPostfix);
    }
    const node = parsePrimary.call(this, true) as { value: unknown };
    node.value = new PyFloat(node.value as number);
    return noPostfix ? node : this.parsePostfix(node);
  };
  const compileLiteral = Compiler.prototype.compileLiteral as (this: CompilerProto, ...a: unknown[]) => void;
  Compiler.prototype.compileLiteral = function (
    this: CompilerProto,
    node: { value: unknown },
    frame: unknown,
  ) {
    if (node.value instanceof PyFloat) this._emit(`runtime.jinjaFloat(${node.value.valueOf()})`);
    else compileLiteral.call(this, node, frame);
  };
}

/** Whether the text from `t.index` ends at a `{%+` or `{#+` tag (lstrip_blocks does not apply to it). */
function plusTagFollows(t: TokenizerState): boolean {
  const { BLOCK_START, VARIABLE_START, COMMENT_START } = t.tags;
  const starts = [BLOCK_START, VARIABLE_START, COMMENT_START];
  if (starts.some((s) => t.str.startsWith(s, t.index))) return false;
  let next = -1;
  for (const s of starts) {
    const i = t.str.indexOf(s, t.index);
    if (i >= 0 && (next < 0 || i < next)) next = i;
  }
  return next >= 0 &&
    (t.str.startsWith(BLOCK_START + "+", next) || t.str.startsWith(COMMENT_START + "+", next));
}

/**
 * Jinja2's `+` whitespace markers: `{%+` keeps the indentation lstrip_blocks would remove before the
 * tag, `+%}` the newline trim_blocks would remove after it (`{#+`, `+#}` for comments; `{{+` is
 * allowed and does nothing). nunjucks read the `+` as an operator: a syntax error.
 */
function plusMarkers(t: TokenizerState, next: () => Token | null): Token | null | undefined {
  const { BLOCK_START, BLOCK_END, VARIABLE_START } = t.tags;
  if (!t.in_code) {
    for (const start of [BLOCK_START, VARIABLE_START]) {
      if (!t.str.startsWith(start + "+", t.index)) continue;
      const tok = next();
      t.forward();
      return tok && { ...tok, value: start + "+" };
    }
    if (!t.lstripBlocks || !plusTagFollows(t)) return undefined;
    t.lstripBlocks = false;
    try {
      return next();
    } finally {
      t.lstripBlocks = true;
    }
  }
  if (!t.str.startsWith("+" + BLOCK_END, t.index)) return undefined;
  t.forward();
  const trim = t.trimBlocks;
  t.trimBlocks = false;
  try {
    const tok = next();
    return tok && { ...tok, value: "+" + tok.value };
  } finally {
    t.trimBlocks = trim;
  }
}

/** `1e3`, `2E-2`, `1.5e+3`: the text of a number literal with an exponent at the start of `s`. */
const EXPONENT_NUMBER = /^\d+(?:\.\d+)?[eE][+-]?\d+/;

/**
 * Two pieces of Jinja2's syntax nunjucks' lexer lacks: number literals with an exponent (it read
 * `1e3` as an undefined name, printing nothing, and `2E-2` as `2E` minus 2: `nan`), and a `for`
 * target in parentheses (`for (a, b) in pairs`, a parse error): the parentheses are dropped, which
 * is what they mean.
 */
function patchLexer(nj: typeof nunjucks): void {
  const lexer = (nj as unknown as { lexer: { lex(src: string, opts: object): TokenizerState } }).lexer;
  const proto = Object.getPrototypeOf(lexer.lex("", {})) as TokenizerState;
  const next = proto.nextToken;
  proto.nextToken = function (this: TokenizerState): Token | null {
    const start = this.index, lineno = this.lineno, colno = this.colno;
    const code = this.in_code;
    let tok = plusMarkers(this, () => next.call(this));
    if (tok === undefined) tok = next.call(this);
    if (!tok) return tok;
    if (!code) return commentTrim(this, tok);
    if (tok.type === "int" || tok.type === "float" || tok.type === "symbol") {
      const m = EXPONENT_NUMBER.exec(this.str.slice(start, start + 400));
      if (m && m[0].startsWith(String(tok.value))) {
        while (this.index < start + m[0].length) this.forward();
        tok = { type: "float", value: m[0], lineno, colno };
      }
    }
    if (tok.type === "left-paren" && this.jinjaLast === "for") {
      this.jinjaForParen = true;
      return this.nextToken();
    }
    if (tok.type === "right-paren" && this.jinjaForParen) {
      this.jinjaForParen = false;
      return this.nextToken();
    }
    // `item.0`, `pair.1`: an index after a dot, as Jinja2 reads it (nunjucks wanted a name)
    if (tok.type === "int" && this.jinjaLast === ".") tok = { ...tok, type: "symbol" };
    if (tok.type !== "whitespace") {
      this.jinjaLast = tok.type === "symbol" || tok.type === "operator" ? tok.value : tok.type;
    }
    return tok;
  };
  // string literals with Python's escapes (`'\x41'`, `'\u00e9'`, `'\d'` keeps its backslash);
  // nunjucks knew \n, \t and \r and dropped the backslash of any other
  proto._parseString = function (this: TokenizerState, delimiter: string): string {
    this.forward();
    let raw = "";
    while (!this.isFinished() && this.current() !== delimiter) {
      if (this.current() === "\\") {
        raw += "\\";
        this.forward();
        if (this.isFinished()) break;
      }
      raw += this.current();
      this.forward();
    }
    this.forward();
    return pyUnescape(raw);
  };
}

const SIMPLE_ESCAPES: Record<string, string> = {
  "\\": "\\",
  "'": "'",
  '"': '"',
  a: "\x07",
  b: "\b",
  f: "\f",
  n: "\n",
  r: "\r",
  t: "\t",
  v: "\v",
  "\n": "",
};

/** Python's escapes in a string literal (its `unicode-escape` codec, as Jinja2 decodes them). */
function pyUnescape(raw: string): string {
  return raw.replace(
    /\\(x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|[0-7]{1,3}|[\s\S])/g,
    (whole, e: string) => {
      if (e.length > 1 || /[0-7]/.test(e)) {
        const code = /^[xuU]/.test(e) ? parseInt(e.slice(1), 16) : parseInt(e, 8);
        return code <= 0x10ffff ? String.fromCodePoint(code) : whole;
      }
      return Object.hasOwn(SIMPLE_ESCAPES, e) ? SIMPLE_ESCAPES[e] : whole;
    },
  );
}

/** Patches nunjucks (its compiler and runtime) with Jinja2's semantics; once per process. */
export function installJinjaSemantics(nj: typeof nunjucks): void {
  if (installed) return;
  installed = true;
  const runtime = (nj as unknown as { runtime: Runtime }).runtime;
  const Compiler = (nj as unknown as { compiler: { Compiler: { prototype: CompilerProto } } }).compiler
    .Compiler;
  runtime.jinjaTruthy = pyTruthy;
  runtime.jinjaConcat = (a, b) => String(pyStr(a) ?? "") + String(pyStr(b) ?? "");
  runtime.jinjaMod = pyMod;
  runtime.jinjaMul = pyMul;
  runtime.jinjaTuple = tuple;
  runtime.jinjaNsSet = (obj, key, value) => {
    if (!(obj instanceof JinjaNamespace)) throw new Error("cannot assign attribute on non-namespace object");
    (obj as unknown as Record<string, unknown>)[String(key)] = value;
  };
  runtime.jinjaUnpack = unpack;
  runtime.jinjaCompare = pyCompare;
  runtime.jinjaAdd = pyAdd;
  runtime.jinjaIn = pyIn;
  runtime.jinjaArith = pyArith;
  runtime.jinjaUnary = pyUnary;
  runtime.jinjaDefined = jinjaDefined;
  runtime.jinjaFloat = (n) => new PyFloat(n);

  const suppress = runtime.suppressValue;
  runtime.suppressValue = (val, autoescape) => suppress(pyStr(val), autoescape);

  const lookup = runtime.memberLookup;
  runtime.memberLookup = function (this: unknown, obj: unknown, val: unknown, ...rest: unknown[]) {
    // a float is no index (`l[4 / 2]`: Jinja2's getitem fails, an undefined value)
    if (val instanceof PyFloat && rest.length === 0) return undefined;
    if (rest.length >= 2 && (typeof obj === "string" || obj instanceof String)) {
      // `s[1:3]` is a string in Python (jinja-compat's slice gives a list of characters)
      return (lookup.call(this, obj, val, ...rest) as string[]).join("");
    }
    if (rest.length === 0 && typeof val === "number" && val < 0 && Number.isInteger(val)) {
      // `l[-1]`, `s[-1]`: from the end, as Python indexes
      if (Array.isArray(obj)) return obj[obj.length + val];
      if (typeof obj === "string" || obj instanceof String) return String(obj).at(val);
    }
    if (val === "get" && obj !== null && typeof obj === "object" && !Array.isArray(obj) && isPlain(obj)) {
      const d = obj as Record<string, unknown>;
      return (key: string, dflt: unknown = null) => Object.hasOwn(d, key) ? d[key] : dflt;
    }
    if (val === "items" && obj !== null && typeof obj === "object" && !Array.isArray(obj) && isPlain(obj)) {
      // (key, value) tuples, printed as Python's (jinja-compat gave lists)
      return () => Object.entries(obj).map((e) => tuple(e));
    }
    if (rest.length === 0 || rest.length === 1) {
      const s = typeof obj === "string" ? obj : obj instanceof String ? String(obj) : null;
      if (s !== null && typeof val === "string" && Object.hasOwn(STRING_MEMBERS, val)) {
        const fn = STRING_MEMBERS[val];
        return (...args: unknown[]) => fn(s, ...args);
      }
    }
    return lookup.call(this, obj, val, ...rest);
  };

  patchLexer(nj);
  patchTestArguments(nj);
  patchFloatLiterals(nj);
  installStatements(nj);

  const proto = Compiler.prototype;
  // a runtime error names the line of the statement (or `{{ }}`) it happened in: nunjucks only
  // tracked calls, so most errors had no line at all
  const compileNode = proto.compile;
  proto.compile = function (node, frame) {
    const n = node as {
      typename: string;
      lineno: number;
      colno: number;
      children?: Array<{ typename: string }>;
    };
    if (
      STATEMENTS.has(n.typename) &&
      (n.typename !== "Output" || n.children?.some((c) => c.typename !== "TemplateData"))
    ) this._emitLine(`lineno = ${n.lineno}; colno = ${n.colno};`);
    compileNode.call(this, node, frame);
  };
  // node lines are counted from 0 (nunjucks' own calls reported the line before the right one)
  const handleError = runtime.handleError;
  runtime.handleError = (e, lineno, colno) =>
    (e as { lineno?: number }).lineno ? e : handleError(e, lineno + 1, colno + 1);
  proto.compileIf = function (node, frame, async) {
    this._emit("if(runtime.jinjaTruthy(");
    this._compileExpression(node.cond, frame);
    this._emitLine(")) {");
    this._withScopedSyntax(() => {
      this.compile(node.body, frame);
      if (async) this._emit("cb()");
    });
    if (node.else_) {
      this._emitLine("}\nelse {");
      this._withScopedSyntax(() => {
        this.compile(node.else_, frame);
        if (async) this._emit("cb()");
      });
    } else if (async) {
      this._emitLine("}\nelse {");
      this._emit("cb()");
    }
    this._emitLine("}");
  };
  proto.compileInlineIf = function (node, frame) {
    this._emit("(runtime.jinjaTruthy(");
    this.compile(node.cond, frame);
    this._emit(")?");
    this.compile(node.body, frame);
    this._emit(":");
    if (node.else_ !== null) this.compile(node.else_, frame);
    else this._emit('""');
    this._emit(")");
  };
  proto.compileNot = function (node, frame) {
    this._emit("!runtime.jinjaTruthy(");
    this.compile(node.target, frame);
    this._emit(")");
  };
  // `a or b` / `a and b`: the operand Python returns, the right one evaluated only when needed
  const shortCircuit = (test: string) =>
    function (this: CompilerProto, node: BinNode, frame: unknown) {
      this._emit(`((__jl) => ${test}runtime.jinjaTruthy(__jl) ? __jl : (`);
      this.compile(node.right, frame);
      this._emit("))(");
      this.compile(node.left, frame);
      this._emit(")");
    };
  proto.compileOr = shortCircuit("");
  proto.compileAnd = shortCircuit("!");
  // an operand that may be undefined (a name, an attribute, a call's or a filter's result) is checked:
  // Jinja2's Undefined raises in arithmetic (JavaScript gave NaN, printed `nan`)
  const operand = (self: CompilerProto, node: unknown, frame: unknown) => {
    const typename = (node as { typename: string }).typename;
    if (typename === "Literal" || typename === "Array" || typename === "Dict" || typename === "Group") {
      self.compile(node, frame);
      return;
    }
    self._emit("runtime.jinjaDefined(");
    self.compile(node, frame);
    self._emit(`, ${JSON.stringify(nodeText(node))})`);
  };
  const binary = (fnName: string, checked = true, op?: string) =>
    function (this: CompilerProto, node: BinNode, frame: unknown) {
      this._emit(`runtime.${fnName}(${op ? JSON.stringify(op) + ", " : ""}`);
      if (checked) operand(this, node.left, frame);
      else this.compile(node.left, frame);
      this._emit(", ");
      if (checked) operand(this, node.right, frame);
      else this.compile(node.right, frame);
      this._emit(")");
    };
  // `a % b`, `a * b`: Python's (string formatting and repetition, the modulo's sign)
  proto.compileMod = binary("jinjaMod");
  proto.compileMul = binary("jinjaMul");
  // `-`, `/`, `//`, `**`: numbers only (`none - 1` was -1), a division by zero raises (it printed `inf`)
  proto.compileSub = binary("jinjaArith", true, "-");
  proto.compileDiv = binary("jinjaArith", true, "/");
  proto.compileFloorDiv = binary("jinjaArith", true, "//");
  proto.compilePow = binary("jinjaArith", true, "**");
  const unary = (op: string) =>
    function (this: CompilerProto, node: { target: unknown }, frame: unknown) {
      this._emit(`runtime.jinjaUnary(${JSON.stringify(op)}, `);
      operand(this, node.target, frame);
      this._emit(")");
    };
  proto.compileNeg = unary("-");
  proto.compilePos = unary("+");
  // `x.y`, `x[0]` of an undefined x raises, as Jinja2's Undefined does (it printed nothing)
  proto.compileLookupVal = function (node, frame) {
    // nunjucks parses `f(*[3])` as an index of nothing
    const at = node as unknown as { lineno: number; colno: number };
    if (!node.target) {
      (this as unknown as Fail).fail("unexpected token in an expression", at.lineno, at.colno);
    }
    this._emit("runtime.memberLookup((");
    operand(this, node.target, frame);
    this._emit("),");
    this._compileExpression(node.val, frame);
    this._emit(")");
  };
  // `(a, b)` is a tuple (JavaScript read it as the comma operator: the last item)
  proto.compileGroup = function (node, frame) {
    if (node.children.length > 1) {
      this._emit("runtime.jinjaTuple(");
      this._compileAggregate(node, frame, "[", "]");
      this._emit(")");
    } else this._compileAggregate(node, frame, "(", ")");
  };
  // `a ~ b`: Python's str() of each side (`'n=' ~ None` is "n=None", an undefined side is "")
  proto.compileConcat = binary("jinjaConcat", false);
  // `==` without JavaScript's coercion, `a < b < c` as a chain
  proto.compileCompare = function (node, frame) {
    this._emit("runtime.jinjaCompare(");
    this.compile(node.expr, frame);
    this._emit(`, ${JSON.stringify(nodeText(node.expr))}`);
    for (const op of node.ops) {
      this._emit(`, [${JSON.stringify(op.type)}, `);
      this.compile(op.expr, frame);
      this._emit(`, ${JSON.stringify(nodeText(op.expr))}]`);
    }
    this._emit(")");
  };
  proto.compileAdd = binary("jinjaAdd");
  proto.compileIn = binary("jinjaIn", false);
  // `{% set ns.x = v %}` sets a namespace's attribute; `{% set a, b = pair %}` unpacks (nunjucks gave
  // both names the whole value)
  proto.compileSet = function (node, frame) {
    const t = node.targets;
    if (t.length === 1 && t[0].typename === "LookupVal") {
      this._emit("runtime.jinjaNsSet(");
      this._compileExpression(t[0].target, frame);
      this._emit(", ");
      this._compileExpression(t[0].val, frame);
      this._emit(", ");
      if (node.value) this._compileExpression(node.value, frame);
      else this.compile(node.body, frame);
      this._emitLine(");");
      return;
    }
    if (t.some((x) => x.typename !== "Symbol")) {
      throw new Error("set: can only assign to names or a namespace attribute");
    }
    // names are bound in the innermost scope (statements.ts)
    (this as unknown as { compileJinjaSetNames(n: SetNode, f: unknown): void }).compileJinjaSetNames(
      node,
      frame,
    );
  };
}
