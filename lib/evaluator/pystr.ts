/**
 * Python's `str()`/`repr()` of the evaluator's values (floor 0, pure). Ints are `bigint`, floats are
 * `number`, tuples are arrays; plain JSON values (collector results) are accepted too. The original
 * ran on Python 2, whose `str(float)` (what `%s`, `str()` and `{collector.x}` print) keeps 12
 * significant digits, while `repr(float)` (items of a list or tuple) is the shortest round-trip text
 * as in Python 3.
 */

/** Python `repr(float)`: shortest round-trip digits, scientific below 1e-4 and from 1e16. */
export function floatRepr(v: number): string {
  if (Number.isNaN(v)) return "nan";
  if (!Number.isFinite(v)) return v > 0 ? "inf" : "-inf";
  if (v === 0) return Object.is(v, -0) ? "-0.0" : "0.0";
  const sign = v < 0 ? "-" : "";
  const [mant, expText] = Math.abs(v).toExponential().split("e");
  const exp = Number(expText);
  const digits = mant.replace(".", "");
  if (exp < -4 || exp >= 16) {
    const m = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
    const e = Math.abs(exp).toString().padStart(2, "0");
    return `${sign}${m}e${exp < 0 ? "-" : "+"}${e}`;
  }
  if (exp < 0) return `${sign}0.${"0".repeat(-exp - 1)}${digits}`;
  const intPart = digits.slice(0, exp + 1).padEnd(exp + 1, "0");
  const frac = digits.slice(exp + 1);
  return `${sign}${intPart}.${frac || "0"}`;
}

/**
 * Python 2 `str(float)`: 12 significant digits (exact ties to even, as C's printf), exponent form
 * from 1e11 or below 1e-4, `.0` kept on integral values: `str(100 - 97.3)` is `2.7`, `str(1e11)`
 * `1e+11`, `str(2.0)` `2.0`.
 */
export function floatStr(v: number): string {
  if (Number.isNaN(v)) return "nan";
  if (!Number.isFinite(v)) return v > 0 ? "inf" : "-inf";
  if (v === 0) return Object.is(v, -0) ? "-0.0" : "0.0";
  const sign = v < 0 ? "-" : "";
  const [rounded, exp, keepZeros] = significantDigits(Math.abs(v), 12);
  const digits = keepZeros ? rounded : rounded.replace(/0+$/, "") || "0";
  // Python 2's format_float_short: exponent when decpt > precision - 1 (with the `.0` flag) or decpt <= -4
  if (exp < -4 || exp >= 11) {
    const m = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
    return `${sign}${m}e${exp < 0 ? "-" : "+"}${Math.abs(exp).toString().padStart(2, "0")}`;
  }
  if (exp < 0) return `${sign}0.${"0".repeat(-exp - 1)}${digits}`;
  const intPart = digits.slice(0, exp + 1).padEnd(exp + 1, "0");
  return `${sign}${intPart}.${digits.slice(exp + 1) || "0"}`;
}

/**
 * `a` (> 0, finite) rounded to `n` significant digits: the digits, the decimal exponent of the first,
 * and whether Python 2 keeps their trailing zeros (its dtoa's "small integer" path, taken on a tie of
 * an integral value below 1e15 rounded down to even, does not strip them: `str(1000000000005.0)` is
 * `1.00000000000e+12`).
 */
function significantDigits(a: number, n: number): [string, number, boolean] {
  const [m, e] = a.toExponential(n - 1).split("e");
  // toExponential breaks an exact tie upwards, C (and so Python) to even: look one digit further
  const [m1, e1] = a.toExponential(n).split("e");
  const longer = m1.replace(".", "");
  if (longer.endsWith("5") && equalsDecimal(a, BigInt(longer), Number(e1) - n)) {
    let d = BigInt(longer.slice(0, n));
    const down = d % 2n === 0n;
    if (!down) d += 1n;
    const text = d.toString();
    if (text.length > n) return [text.slice(0, n), Number(e1) + 1, false];
    return [text, Number(e1), down && Number.isInteger(a) && Number(e1) <= 14];
  }
  return [m.replace(".", ""), Number(e), false];
}

/** True when `a` (> 0, finite) is exactly `digits` × 10^`pow10`. */
function equalsDecimal(a: number, digits: bigint, pow10: number): boolean {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, a);
  const hi = view.getUint32(0);
  const biased = (hi >>> 20) & 0x7ff;
  let mant = (BigInt(hi & 0xfffff) << 32n) | BigInt(view.getUint32(4));
  if (biased !== 0) mant |= 1n << 52n;
  const pow2 = (biased === 0 ? 1 : biased) - 1075; // a = mant × 2^pow2
  const left = mant * 2n ** BigInt(Math.max(pow2, 0)) * 10n ** BigInt(Math.max(-pow10, 0));
  const right = digits * 10n ** BigInt(Math.max(pow10, 0)) * 2n ** BigInt(Math.max(-pow2, 0));
  return left === right;
}

// deno-lint-ignore no-control-regex
const SPECIAL = /['"\\\x00-\x1f\x7f]/;

/** Python `repr()` of a string: single quotes unless the text holds a single quote and no double. */
export function strRepr(s: string): string {
  if (!SPECIAL.test(s)) return `'${s}'`;
  const quote = s.includes("'") && !s.includes('"') ? '"' : "'";
  let out = quote;
  for (const ch of s) {
    const code = ch.codePointAt(0)!;
    if (ch === quote || ch === "\\") out += "\\" + ch;
    else if (ch === "\n") out += "\\n";
    else if (ch === "\r") out += "\\r";
    else if (ch === "\t") out += "\\t";
    else if (code < 0x20 || code === 0x7f) out += "\\x" + code.toString(16).padStart(2, "0");
    else out += ch;
  }
  return out + quote;
}

/** Python 2 `str()` of a value: floats with 12 significant digits, the items of containers as repr(). */
export function pyStr(v: unknown): string {
  if (typeof v === "string") return v;
  if (typeof v === "number") return floatStr(v);
  return pyRepr(v);
}

/** Python `repr()` of a value (strings quoted). */
export function pyRepr(v: unknown): string {
  switch (typeof v) {
    case "string":
      return strRepr(v);
    case "bigint":
      return v.toString();
    case "number":
      return floatRepr(v);
    case "boolean":
      return v ? "True" : "False";
    case "undefined":
      return "None";
  }
  if (v === null) return "None";
  if (Array.isArray(v)) {
    if (v.length === 1) return `(${pyRepr(v[0])},)`;
    return `(${v.map(pyRepr).join(", ")})`;
  }
  if (typeof v === "object") {
    const parts = Object.entries(v as Record<string, unknown>).map(([k, x]) => `${strRepr(k)}: ${pyRepr(x)}`);
    return `{${parts.join(", ")}}`;
  }
  return String(v);
}

/**
 * Python `str()` of a JSON value as found in collector results or configuration: integral numbers
 * print as ints, lists as `[...]`, objects as dicts.
 */
export function jsonPyStr(v: unknown): string {
  if (typeof v === "number") return jsonInt(v) ?? (Number.isInteger(v) ? floatRepr(v) : floatStr(v));
  if (typeof v === "string") return v;
  if (Array.isArray(v)) return `[${v.map(jsonPyRepr).join(", ")}]`;
  if (v !== null && typeof v === "object") {
    const parts = Object.entries(v as Record<string, unknown>).map(([k, x]) =>
      `${strRepr(k)}: ${jsonPyRepr(x)}`
    );
    return `{${parts.join(", ")}}`;
  }
  return pyRepr(v);
}

function jsonPyRepr(v: unknown): string {
  if (typeof v === "number") return jsonInt(v) ?? floatRepr(v);
  return typeof v === "string" ? strRepr(v) : jsonPyStr(v);
}

/** An integral JSON number as an int's text (JSON `5` is an int in Python), else null. */
function jsonInt(v: number): string | null {
  return Number.isInteger(v) && Math.abs(v) < 1e16 ? v.toFixed(0) : null;
}
