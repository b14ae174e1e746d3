/**
 * The pure whitelisted functions (floor 0): abs, min, max, round, int, float, str, len.
 */
import { EvalError } from "./errors.ts";
import { fixedDigits, scaledRound } from "./decimal.ts";
import { floorDivInt, modInt, pyOrder, toFloat } from "./operators.ts";
import { pyRepr, pyStr } from "./pystr.ts";
import { asInt, isNumeric, type PyValue, typeName } from "./values.ts";

/** `abs(x)`. */
export function pyAbs(x: PyValue): PyValue {
  if (typeof x === "number") return Math.abs(x);
  const i = asInt(x);
  if (i === undefined) throw new EvalError("type", `bad operand type for abs(): '${typeName(x)}'`);
  return i < 0n ? -i : i;
}

/** `min(...)` / `max(...)`: several arguments, or one tuple/string. */
export function pyMinMax(which: "min" | "max", args: PyValue[]): PyValue {
  let items: readonly PyValue[] = args;
  if (args.length === 1) {
    const only = args[0];
    if (typeof only === "string") return extremeChar(which, only);
    if (Array.isArray(only)) items = only;
    else throw new EvalError("type", `'${typeName(only)}' object is not iterable`);
    if (items.length === 0) throw new EvalError("runtime", `${which}() arg is an empty sequence`);
  }
  let best = items[0];
  for (const v of items.slice(1)) {
    if (pyOrder(which === "min" ? "<" : ">", v, best)) best = v;
  }
  return best;
}

/** min/max of the characters of a string, by code point (one pass, no per-character strings). */
function extremeChar(which: "min" | "max", s: string): string {
  if (s.length === 0) throw new EvalError("runtime", `${which}() arg is an empty sequence`);
  let best = -1;
  for (let i = 0; i < s.length; i++) {
    const cp = s.codePointAt(i)!;
    if (cp > 0xffff) i++;
    if (best < 0 || (which === "min" ? cp < best : cp > best)) best = cp;
  }
  return String.fromCodePoint(best);
}

/** `round(x, ndigits=None)`: half-even on the exact value, like Python 3. */
export function pyRound(x: PyValue, nd: PyValue = null): PyValue {
  if (!isNumeric(x)) throw new EvalError("type", `type ${typeName(x)} doesn't define __round__ method`);
  const ndigits = nd === null ? null : asInt(nd);
  if (nd !== null && ndigits === undefined) {
    throw new EvalError("type", `'${typeName(nd)}' object cannot be interpreted as an integer`);
  }
  if (typeof x !== "number") {
    const i = asInt(x)!;
    if (ndigits === null || ndigits === undefined || ndigits >= 0n) return i;
    if (-ndigits > 5000n) return 0n;
    const unit = 10n ** -ndigits;
    const q = floorDivInt(i, unit), r = modInt(i, unit);
    const twice = 2n * r;
    const up = twice > unit || (twice === unit && q % 2n !== 0n);
    return (up ? q + 1n : q) * unit;
  }
  if (ndigits === null || ndigits === undefined) {
    if (Number.isNaN(x)) throw new EvalError("runtime", "cannot convert float NaN to integer");
    if (!Number.isFinite(x)) throw new EvalError("runtime", "cannot convert float infinity to integer");
    const q = scaledRound(x, 0);
    return x < 0 ? -q : q;
  }
  if (!Number.isFinite(x) || x === 0) return x;
  if (ndigits > 330n) return x;
  if (ndigits < -330n) return x < 0 ? -0 : 0;
  const k = Number(ndigits);
  const r = k >= 0 ? Number(fixedDigits(x, k)) : Number(scaledRound(x, k) * 10n ** BigInt(-k));
  return x < 0 ? -r : r;
}

const INT_TEXT: Record<number, RegExp> = {};

/** `int(x)` / `int(text, base)`. */
export function pyInt(x: PyValue = 0n, base: PyValue | undefined = undefined): PyValue {
  if (base !== undefined) {
    const b = asInt(base);
    if (b === undefined) {
      throw new EvalError("type", `'${typeName(base)}' object cannot be interpreted as an integer`);
    }
    if (b !== 0n && (b < 2n || b > 36n)) {
      throw new EvalError("runtime", "int() base must be >= 2 and <= 36, or 0");
    }
    if (typeof x !== "string") {
      throw new EvalError("type", "int() can't convert non-string with explicit base");
    }
    return parseIntText(x, Number(b));
  }
  if (typeof x === "number") {
    if (Number.isNaN(x)) throw new EvalError("runtime", "cannot convert float NaN to integer");
    if (!Number.isFinite(x)) throw new EvalError("runtime", "cannot convert float infinity to integer");
    return BigInt(Math.trunc(x));
  }
  const i = asInt(x);
  if (i !== undefined) return i;
  if (typeof x === "string") return parseIntText(x, 10);
  throw new EvalError(
    "type",
    `int() argument must be a string, a bytes-like object or a real number, not '${typeName(x)}'`,
  );
}

function parseIntText(text: string, base: number): bigint {
  const bad = () => new EvalError("runtime", `invalid literal for int() with base ${base}: ${pyRepr(text)}`);
  let t = text.trim().toLowerCase();
  let neg = false;
  if (t.startsWith("-") || t.startsWith("+")) {
    neg = t[0] === "-";
    t = t.slice(1);
  }
  let b = base;
  const prefix = /^0([xob])_?/.exec(t);
  const prefixBase = prefix ? { x: 16, o: 8, b: 2 }[prefix[1] as "x" | "o" | "b"] : 0;
  if (prefix && (b === 0 || b === prefixBase)) {
    b = prefixBase;
    t = t.slice(prefix[0].length);
  } else if (b === 0) {
    if (/^0+(_?0)*$/.test(t)) return 0n;
    if (t.startsWith("0")) throw bad();
    b = 10;
  }
  const digits = "0123456789abcdefghijklmnopqrstuvwxyz".slice(0, b);
  const re = INT_TEXT[b] ??= new RegExp(`^[${digits}](_?[${digits}])*$`);
  if (!re.test(t)) throw bad();
  const clean = t.replace(/_/g, "");
  if (clean.length > 4300) throw new EvalError("limit", "int() text exceeds the limit of 4300 digits");
  let v = 0n;
  const B = BigInt(b);
  if (b === 10) v = BigInt(clean);
  else for (const ch of clean) v = v * B + BigInt(digits.indexOf(ch));
  return neg ? -v : v;
}

const FLOAT_TEXT =
  /^[+-]?(((\d(_?\d)*)(\.(\d(_?\d)*)?)?|\.\d(_?\d)*)([eE][+-]?\d(_?\d)*)?|inf|infinity|nan)$/i;

/** `float(x)`. */
export function pyFloat(x: PyValue = 0): PyValue {
  if (typeof x === "number") return x;
  if (isNumeric(x)) return toFloat(x);
  if (typeof x === "string") {
    const t = x.trim();
    if (!FLOAT_TEXT.test(t)) {
      throw new EvalError("runtime", `could not convert string to float: ${pyRepr(x)}`);
    }
    const lower = t.toLowerCase().replace(/_/g, "");
    const neg = lower.startsWith("-");
    const body = lower.replace(/^[+-]/, "");
    if (body === "inf" || body === "infinity") return neg ? -Infinity : Infinity;
    if (body === "nan") return NaN;
    return Number(lower);
  }
  throw new EvalError("type", `float() argument must be a string or a real number, not '${typeName(x)}'`);
}

/** `str(x)`. */
export function pyStrFn(x: PyValue = ""): PyValue {
  return pyStr(x);
}

/** `len(x)`. */
export function pyLen(x: PyValue): PyValue {
  if (typeof x === "string") return BigInt(Array.from(x).length);
  if (Array.isArray(x)) return BigInt(x.length);
  throw new EvalError("type", `object of type '${typeName(x)}' has no len()`);
}
