/**
 * Python semantics of the operators (floor 0, pure): int/float/bool arithmetic, floor division and
 * modulo with Python signs, `**` with size caps, `^`, comparisons (incl. mixed int/float and tuples)
 * and `in`. Type errors carry Python's messages.
 */
import type { BinaryOp } from "./ast.ts";
import { EvalError } from "./errors.ts";
import { formatPercent } from "./format.ts";
import {
  asFloat,
  asInt,
  bitLength,
  isNumeric,
  MAX_INT_BITS,
  MAX_STR_LEN,
  MAX_TUPLE_LEN,
  type PyValue,
  typeName,
} from "./values.ts";

type Num = bigint | number;

function typeError(msg: string): EvalError {
  return new EvalError("type", msg);
}

function unsupported(op: string, a: unknown, b: unknown): EvalError {
  return typeError(`unsupported operand type(s) for ${op}: '${typeName(a)}' and '${typeName(b)}'`);
}

/** int → float like Python (OverflowError when too large). */
export function toFloat(v: bigint | number | boolean): number {
  const f = asFloat(v);
  if (typeof v === "bigint" && !Number.isFinite(f)) {
    throw new EvalError("runtime", "int too large to convert to float");
  }
  return f;
}

/** Both ints (bigint) or both floats, or null when not both numeric. */
function numPair(a: unknown, b: unknown): [bigint, bigint] | [number, number] | null {
  if (!isNumeric(a) || !isNumeric(b)) return null;
  const ia = asInt(a), ib = asInt(b);
  if (ia !== undefined && ib !== undefined) return [ia, ib];
  return [toFloat(a), toFloat(b)];
}

function checkBits(x: bigint): bigint {
  if (bitLength(x) > MAX_INT_BITS) {
    throw new EvalError("limit", `integer result is larger than ${MAX_INT_BITS} bits`);
  }
  return x;
}

/** Applies a binary operator. */
export function binaryOp(op: BinaryOp, a: PyValue, b: PyValue): PyValue {
  switch (op) {
    case "+":
      return add(a, b);
    case "*":
      return multiply(a, b);
    case "%":
      if (typeof a === "string") return formatPercent(a, b);
      return arithmetic(op, a, b);
    case "^": {
      if (typeof a === "boolean" && typeof b === "boolean") return a !== b;
      const ia = asInt(a), ib = asInt(b);
      if (ia === undefined || ib === undefined) throw unsupported("^", a, b);
      return ia ^ ib;
    }
    default:
      return arithmetic(op, a, b);
  }
}

function add(a: PyValue, b: PyValue): PyValue {
  if (typeof a === "string") {
    if (typeof b !== "string") throw typeError(`can only concatenate str (not "${typeName(b)}") to str`);
    if (a.length + b.length > MAX_STR_LEN) {
      throw new EvalError("limit", `string result is longer than ${MAX_STR_LEN}`);
    }
    return a + b;
  }
  if (Array.isArray(a)) {
    if (!Array.isArray(b)) throw typeError(`can only concatenate tuple (not "${typeName(b)}") to tuple`);
    if (a.length + b.length > MAX_TUPLE_LEN) {
      throw new EvalError("limit", `tuple result is longer than ${MAX_TUPLE_LEN}`);
    }
    return [...a, ...b];
  }
  return arithmetic("+", a, b);
}

function multiply(a: PyValue, b: PyValue): PyValue {
  if (typeof a === "string" || Array.isArray(a)) return repeat(a, b);
  if (typeof b === "string" || Array.isArray(b)) return repeat(b, a);
  return arithmetic("*", a, b);
}

function repeat(seq: string | readonly PyValue[], times: PyValue): PyValue {
  const n = asInt(times);
  if (n === undefined) {
    throw typeError(`can't multiply sequence by non-int of type '${typeName(times)}'`);
  }
  if (n <= 0n || seq.length === 0) return typeof seq === "string" ? "" : [];
  const max = typeof seq === "string" ? MAX_STR_LEN : MAX_TUPLE_LEN;
  if (BigInt(seq.length) * n > BigInt(max)) {
    throw new EvalError("limit", `${typeName(seq)} repetition would be longer than ${max}`);
  }
  if (typeof seq === "string") return seq.repeat(Number(n));
  const out: PyValue[] = [];
  for (let i = 0; i < Number(n); i++) out.push(...seq);
  return out;
}

function arithmetic(op: BinaryOp, a: PyValue, b: PyValue): PyValue {
  const pair = numPair(a, b);
  if (!pair) throw unsupported(op, a, b);
  if (typeof pair[0] === "bigint") return intOp(op, pair[0], pair[1] as bigint);
  return floatOp(op, pair[0], pair[1] as number);
}

function intOp(op: BinaryOp, a: bigint, b: bigint): Num {
  switch (op) {
    case "+":
      return checkBits(a + b);
    case "-":
      return checkBits(a - b);
    case "*":
      if (bitLength(a) + bitLength(b) > MAX_INT_BITS + 1) {
        throw new EvalError("limit", `integer result is larger than ${MAX_INT_BITS} bits`);
      }
      return checkBits(a * b);
    case "/":
      if (b === 0n) throw new EvalError("runtime", "division by zero");
      return intTrueDiv(a, b);
    case "//":
      if (b === 0n) throw new EvalError("runtime", "division by zero");
      return floorDivInt(a, b);
    case "%":
      if (b === 0n) throw new EvalError("runtime", "division by zero");
      return modInt(a, b);
    case "**":
      return intPow(a, b);
  }
  throw new EvalError("runtime", `unknown operator ${op}`);
}

/** Python `//` on ints: floor, not truncation (-7 // 2 == -4). */
export function floorDivInt(a: bigint, b: bigint): bigint {
  const q = a / b;
  return (a % b !== 0n) && ((a < 0n) !== (b < 0n)) ? q - 1n : q;
}

/** Python `%` on ints: the sign follows the divisor (-7 % 3 == 2). */
export function modInt(a: bigint, b: bigint): bigint {
  const r = a % b;
  return r !== 0n && ((r < 0n) !== (b < 0n)) ? r + b : r;
}

/** int / int as a float, also for ints beyond 2**53. */
export function intTrueDiv(a: bigint, b: bigint): number {
  const lim = 1n << 53n;
  if (a < lim && a > -lim && b < lim && b > -lim) return Number(a) / Number(b);
  const neg = (a < 0n) !== (b < 0n);
  const x = a < 0n ? -a : a, y = b < 0n ? -b : b;
  const k = Math.max(0, 64 - (bitLength(x) - bitLength(y)));
  const q = (x << BigInt(k)) / y;
  let r = Number(q);
  for (let left = k; left > 0;) {
    const step = Math.min(left, 1000);
    r /= 2 ** step;
    left -= step;
  }
  if (!Number.isFinite(r)) throw new EvalError("runtime", "integer division result too large for a float");
  return neg ? -r : r;
}

function intPow(a: bigint, b: bigint): Num {
  if (b < 0n) {
    if (a === 0n) throw new EvalError("runtime", "0.0 cannot be raised to a negative power");
    return floatOp("**", toFloat(a), toFloat(b));
  }
  if (a === 0n || a === 1n) return b === 0n ? 1n : a;
  if (a === -1n) return b % 2n === 0n ? 1n : -1n;
  const estimate = (bitLength(a) - 1) * Number(b);
  if (!Number.isFinite(estimate) || estimate > MAX_INT_BITS) {
    throw new EvalError("limit", `result of ** would have more than ${MAX_INT_BITS} bits`);
  }
  return checkBits(a ** b);
}

/** Python float `divmod` (floor division and modulo), as CPython computes them. */
export function floatDivmod(x: number, y: number): [number, number] {
  if (y === 0) throw new EvalError("runtime", "division by zero");
  let mod = x % y;
  let div = (x - mod) / y;
  if (mod) {
    if ((y < 0) !== (mod < 0)) {
      mod += y;
      div -= 1;
    }
  } else {
    mod = y < 0 ? -0 : 0;
  }
  let floordiv: number;
  if (div) {
    floordiv = Math.floor(div);
    if (div - floordiv > 0.5) floordiv += 1;
  } else {
    floordiv = (x / y) < 0 || Object.is(x / y, -0) ? -0 : 0;
  }
  return [floordiv, mod];
}

function floatOp(op: BinaryOp, x: number, y: number): number {
  switch (op) {
    case "+":
      return x + y;
    case "-":
      return x - y;
    case "*":
      return x * y;
    case "/":
      if (y === 0) throw new EvalError("runtime", "division by zero");
      return x / y;
    case "//":
      return floatDivmod(x, y)[0];
    case "%":
      return floatDivmod(x, y)[1];
    case "**":
      return floatPow(x, y);
  }
  throw new EvalError("runtime", `unknown operator ${op}`);
}

function floatPow(x: number, y: number): number {
  if (y === 0 || x === 1) return 1;
  if (x === 0 && y < 0) throw new EvalError("runtime", "0.0 cannot be raised to a negative power");
  if (x < 0 && Number.isFinite(x) && Number.isFinite(y) && !Number.isInteger(y)) {
    throw new EvalError("runtime", "negative number cannot be raised to a fractional power");
  }
  const r = Math.pow(x, y);
  if (!Number.isFinite(r) && Number.isFinite(x) && Number.isFinite(y)) {
    throw new EvalError("runtime", "float overflow in ** (numerical result out of range)");
  }
  return r;
}

/** Unary `-` / `+`. */
export function unaryOp(op: "-" | "+", v: PyValue): PyValue {
  if (typeof v === "number") return op === "-" ? -v : v;
  const i = asInt(v);
  if (i === undefined) throw typeError(`bad operand type for unary ${op}: '${typeName(v)}'`);
  return op === "-" ? -i : i;
}

/** Three-way numeric comparison, exact between ints and floats; NaN when unordered. */
export function compareNumbers(a: bigint | number | boolean, b: bigint | number | boolean): number {
  const ia = asInt(a), ib = asInt(b);
  if (ia !== undefined && ib !== undefined) return ia < ib ? -1 : ia > ib ? 1 : 0;
  if (ia === undefined && ib === undefined) {
    const x = a as number, y = b as number;
    return x < y ? -1 : x > y ? 1 : x === y ? 0 : NaN;
  }
  if (ia !== undefined) return -compareIntFloat(b as number, ia);
  return compareIntFloat(a as number, ib!);
}

/** compare(float f, int i). */
function compareIntFloat(f: number, i: bigint): number {
  if (Number.isNaN(f)) return NaN;
  if (f === Infinity) return 1;
  if (f === -Infinity) return -1;
  const fl = Math.floor(f);
  const bf = BigInt(fl);
  if (bf < i) return -1;
  if (bf > i) return 1;
  return f === fl ? 0 : 1;
}

/** Python `==`. */
export function pyEquals(a: PyValue, b: PyValue): boolean {
  if (isNumeric(a) && isNumeric(b)) return compareNumbers(a, b) === 0;
  if (Array.isArray(a) && Array.isArray(b)) {
    return a.length === b.length && a.every((x, i) => pyEquals(x, b[i]));
  }
  return a === b;
}

/** Python `<`, `<=`, `>`, `>=`. */
export function pyOrder(op: "<" | "<=" | ">" | ">=", a: PyValue, b: PyValue): boolean {
  let c: number;
  if (isNumeric(a) && isNumeric(b)) c = compareNumbers(a, b);
  else if (typeof a === "string" && typeof b === "string") c = compareCodePoints(a, b);
  else if (Array.isArray(a) && Array.isArray(b)) {
    const n = Math.min(a.length, b.length);
    for (let i = 0; i < n; i++) {
      if (!pyEquals(a[i], b[i])) return pyOrder(op, a[i], b[i]);
    }
    c = a.length - b.length;
  } else {
    throw typeError(`'${op}' not supported between instances of '${typeName(a)}' and '${typeName(b)}'`);
  }
  switch (op) {
    case "<":
      return c < 0;
    case "<=":
      return c <= 0;
    case ">":
      return c > 0;
    case ">=":
      return c >= 0;
  }
}

function compareCodePoints(a: string, b: string): number {
  if (a === b) return 0;
  const x = Array.from(a), y = Array.from(b);
  const n = Math.min(x.length, y.length);
  for (let i = 0; i < n; i++) {
    if (x[i] !== y[i]) return x[i].codePointAt(0)! - y[i].codePointAt(0)!;
  }
  return x.length - y.length;
}

/** Python `item in container`. */
export function pyContains(container: PyValue, item: PyValue): boolean {
  if (typeof container === "string") {
    if (typeof item !== "string") {
      throw typeError(`'in <string>' requires string as left operand, not ${typeName(item)}`);
    }
    return container.includes(item);
  }
  if (Array.isArray(container)) return container.some((x) => pyEquals(x, item));
  throw typeError(`argument of type '${typeName(container)}' is not iterable`);
}
