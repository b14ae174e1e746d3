/**
 * Python's `str()`/`repr()` of the evaluator's values (floor 0, pure). Ints are `bigint`, floats are
 * `number`, tuples are arrays; plain JSON values (collector results) are accepted too.
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

/** Python `str()` of a value. A plain JS number that is integral prints like an int. */
export function pyStr(v: unknown): string {
  if (typeof v === "string") return v;
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
  if (typeof v === "number") return Number.isInteger(v) && Math.abs(v) < 1e16 ? v.toFixed(0) : floatRepr(v);
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
  return typeof v === "string" ? strRepr(v) : jsonPyStr(v);
}
