/**
 * Python's values and operators as Jinja2 templates see them (pure): equality, ordering, `in`,
 * arithmetic, `%` formatting, repetition, truthiness, `str()`/`repr()`, tuples and unpacking, the
 * `namespace()` object and the `str` methods. lib/templates/jinja.ts patches them into nunjucks.
 */
import { formatPercent, strRepr } from "../evaluator/mod.ts";
import { pyFormat } from "./pyformat.ts";
import { isFloat, PyFloat, reprFloat, toFloat } from "./pyfloat.ts";
import { bindArgs, type Params, parseSignature, type Signature } from "./bind.ts";

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
  if (Array.isArray(v)) {
    return (v as { [VIEW]?: string })[VIEW] ?? ((v as { [TUPLE]?: boolean })[TUPLE] ? "tuple" : "list");
  }
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
export function pyCompare(first: unknown, what: string, ...ops: Array<[string, unknown, string]>): boolean {
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
export function pyArith(op: string, a: unknown, b: unknown): unknown {
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
export function pyUnary(op: string, a: unknown): unknown {
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

/** Marks the array `d.keys()`, `d.values()` or `d.items()` returns with its Python type. */
const VIEW = Symbol("dict view");

/** `items` as the dict view `kind` (`dict_keys`...): printed `dict_keys(['a'])`, not indexable. */
export function dictView<T extends unknown[]>(kind: "dict_keys" | "dict_values" | "dict_items", items: T): T {
  return Object.assign(items, { [VIEW]: kind });
}

/** Whether `v` is one of dictView()'s. */
export const isDictView = (v: unknown): boolean => Array.isArray(v) && VIEW in v;

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
export function pyMod(a: unknown, b: unknown): unknown {
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
export function pyMul(a: unknown, b: unknown): unknown {
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
export function pyRepr(v: unknown, depth = 0): string {
  if (depth > 50) return "...";
  if (v === undefined) return "Undefined"; // Jinja2's Undefined, as repr() prints it in a list
  if (v === null) return "None";
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
    const view = (v as { [VIEW]?: string })[VIEW];
    if (view) return `${view}([${items.join(", ")}])`;
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

export function isPlain(v: object): boolean {
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

/**
 * `s[start:end]`'s bounds as Python's `find`, `count`, `startswith`... take them (None or not given:
 * the whole string, a negative index from the end); null where Python finds nothing at all (a start
 * past the end, an end before the start), even an empty string.
 */
function span(s: string, start: unknown, end: unknown): [number, number] | null {
  const n = s.length;
  const index = (v: unknown, dflt: number) => {
    if (v === undefined || v === null) return dflt;
    const i = Math.trunc(Number(v));
    return i < 0 ? Math.max(0, i + n) : i;
  };
  const a = index(start, 0), b = Math.min(index(end, n), n);
  return a > n || b < a ? null : [a, b];
}

/** Whether `s[start:end]` starts (or ends) with `affix`, or one of a tuple of them. */
function affixed(s: string, affix: unknown, start: unknown, end: unknown, atEnd: boolean): boolean {
  const bounds = span(s, start, end);
  if (bounds === null) return false;
  const part = s.slice(...bounds);
  const test = (x: unknown) => atEnd ? part.endsWith(String(x)) : part.startsWith(String(x));
  return Array.isArray(affix) ? affix.some(test) : test(affix);
}

/** The line breaks Python's `str.splitlines()` splits on. */
// deno-lint-ignore no-control-regex -- the separators Python's splitlines() splits on
const LINE_BREAK = /(\r\n|[\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029])/;

/** Python's string methods, bound to the string (only names JavaScript lacks or does differently). */
const STRING_MEMBERS: Record<string, (s: string, ...a: unknown[]) => unknown> = {
  upper: (s) => s.toUpperCase(),
  lower: (s) => s.toLowerCase(),
  strip: (s, c) => stripChars(s, c, true, true),
  lstrip: (s, c) => stripChars(s, c, true, false),
  rstrip: (s, c) => stripChars(s, c, false, true),
  startswith: (s, p, start, end) => affixed(s, p, start, end, false),
  endswith: (s, p, start, end) => affixed(s, p, start, end, true),
  split: (s, sep, max) => pySplit(s, sep, max),
  // every line break Python's splitlines() knows, kept at the end of its line with keepends=True
  splitlines: (s, keepends) => {
    const parts = s.split(LINE_BREAK);
    const out: string[] = [];
    for (let i = 0; i < parts.length; i += 2) {
      const brk = parts[i + 1];
      if (brk === undefined && parts[i] === "") break;
      out.push(parts[i] + (brk !== undefined && pyTruthy(keepends) ? brk : ""));
    }
    return out;
  },
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
  find: (s, sub, start, end) => {
    const bounds = span(s, start, end);
    const i = bounds === null ? -1 : s.slice(...bounds).indexOf(String(sub));
    return i < 0 ? -1 : bounds![0] + i;
  },
  rfind: (s, sub, start, end) => {
    const bounds = span(s, start, end);
    const i = bounds === null ? -1 : s.slice(...bounds).lastIndexOf(String(sub));
    return i < 0 ? -1 : bounds![0] + i;
  },
  count: (s, sub, start, end) => {
    const bounds = span(s, start, end);
    if (bounds === null) return 0;
    const part = s.slice(...bounds);
    return String(sub) === "" ? part.length + 1 : part.split(String(sub)).length - 1;
  },
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

/**
 * The str methods' signatures in CPython 3 (positional-only, but for `split`, `rsplit`,
 * `splitlines`, whose keywords are Python's, and `format`): `'a-b'.split(sep='-')` splits on '-',
 * `'x'.center(5, fillchar='*')` is a TypeError (the keyword object was used as the fill before).
 */
const STRING_SIGNATURES: Record<string, Signature> = {
  upper: "/",
  lower: "/",
  strip: "chars?, /",
  lstrip: "chars?, /",
  rstrip: "chars?, /",
  startswith: "prefix, start?, end?, /",
  endswith: "suffix, start?, end?, /",
  split: "sep?, maxsplit?",
  splitlines: "keepends?",
  replace: "old, new, count?, /",
  join: "iterable, /",
  find: "sub, start?, end?, /",
  rfind: "sub, start?, end?, /",
  count: "sub, start?, end?, /",
  title: "/",
  capitalize: "/",
  isdigit: "/",
  isalpha: "/",
  isalnum: "/",
  isspace: "/",
  isupper: "/",
  islower: "/",
  zfill: "width, /",
  ljust: "width, fillchar?, /",
  rjust: "width, fillchar?, /",
  center: "width, fillchar?, /",
  swapcase: "/",
  rsplit: "sep?, maxsplit?",
  format: "*",
  partition: "sep, /",
};
const STRING_PARAMS = new Map<string, Params | null>(
  Object.keys(STRING_MEMBERS).map((name) => {
    if (!Object.hasOwn(STRING_SIGNATURES, name)) throw new Error(`no signature for the str method ${name}`);
    return [name, parseSignature(STRING_SIGNATURES[name])];
  }),
);

/** Whether `name` is one of the str methods templates may call. */
export const isStringMethod = (name: unknown): name is string =>
  typeof name === "string" && STRING_PARAMS.has(name);

/** The str method `name` bound to `s`, called with Python's argument binding (bind.ts). */
export function stringMethod(s: string, name: string): (...args: unknown[]) => unknown {
  const fn = STRING_MEMBERS[name];
  const params = STRING_PARAMS.get(name);
  if (!params) return (...args: unknown[]) => fn(s, ...args);
  return (...args: unknown[]) => fn(s, ...bindArgs(`str.${name}`, params, args));
}
