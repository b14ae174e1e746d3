/**
 * Python's printf-style `str % args` (floor 0, pure): `%s %r %d %i %u %f %F %e %E %g %G %x %X %o %c %%`
 * with flags `-+ 0#`, width and precision (digits or `*`). Errors use Python's messages.
 */
import { EvalError } from "./errors.ts";
import { expText, fixedDigits, generalText, MAX_PRECISION } from "./decimal.ts";
import { pyRepr, pyStr } from "./pystr.ts";
import { asInt, MAX_STR_LEN, type PyValue, typeName } from "./values.ts";

interface Spec {
  flags: string;
  width: number;
  precision: number | undefined;
  conv: string;
}

const SPEC = /^([-+ 0#]*)(\*|\d+)?(?:\.(\*|\d*))?[hlL]?(.)?/;

/**
 * `fmt % args`: a tuple gives the argument list, any other value is the single argument. `str` is what
 * `%s` prints: Python 2's str() (the original's), unless a caller gives another (templates: Python 3's).
 */
export function formatPercent(fmt: string, args: PyValue, str: (v: PyValue) => string = pyStr): string {
  const list: PyValue[] = Array.isArray(args) ? [...args] : [args];
  let next = 0;
  const take = (): PyValue => {
    if (next >= list.length) throw new EvalError("type", "not enough arguments for format string");
    return list[next++];
  };
  let out = "";
  let i = 0;
  while (i < fmt.length) {
    const pct = fmt.indexOf("%", i);
    if (pct < 0) {
      out += fmt.slice(i);
      break;
    }
    out += fmt.slice(i, pct);
    if (fmt[pct + 1] === "(") throw new EvalError("type", "format requires a mapping");
    const m = SPEC.exec(fmt.slice(pct + 1))!;
    const conv = m[4];
    if (conv === undefined) throw new EvalError("runtime", "incomplete format");
    const spec: Spec = {
      flags: m[1],
      width: m[2] === "*" ? starArg(take()) : Number(m[2] ?? 0),
      precision: m[3] === undefined ? undefined : m[3] === "*" ? starArg(take()) : Number(m[3] || 0),
      conv,
    };
    if (spec.width < 0) {
      spec.flags += "-";
      spec.width = -spec.width;
    }
    if (spec.width > MAX_PRECISION) {
      throw new EvalError("limit", `width ${spec.width} is larger than ${MAX_PRECISION}`);
    }
    if (spec.precision !== undefined && spec.precision < 0) spec.precision = undefined;
    if (conv === "%") out += "%";
    else out += convert(spec, take(), pct + m[0].length, str);
    if (out.length > MAX_STR_LEN) {
      throw new EvalError("limit", `formatted string is longer than ${MAX_STR_LEN}`);
    }
    i = pct + 1 + m[0].length;
  }
  if (next < list.length) throw new EvalError("type", "not all arguments converted during string formatting");
  return out;
}

function starArg(v: PyValue): number {
  const n = asInt(v);
  if (n === undefined) throw new EvalError("type", "* wants int");
  if (n > BigInt(MAX_PRECISION) || n < -BigInt(MAX_PRECISION)) {
    throw new EvalError("limit", `width or precision ${n} is larger than ${MAX_PRECISION}`);
  }
  return Number(n);
}

function convert(spec: Spec, v: PyValue, index: number, str: (v: PyValue) => string): string {
  const c = spec.conv;
  switch (c) {
    case "s":
    case "r":
    case "a": {
      let text = c === "s" ? str(v) : pyRepr(v);
      if (spec.precision !== undefined) text = Array.from(text).slice(0, spec.precision).join("");
      return pad(spec, "", text, false);
    }
    case "c":
      return pad(spec, "", charOf(v), false);
    case "d":
    case "i":
    case "u":
      return integer(spec, v, 10);
    case "x":
    case "X":
    case "o":
      return integer(spec, v, c === "o" ? 8 : 16);
    case "f":
    case "F":
    case "e":
    case "E":
    case "g":
    case "G":
      return floating(spec, v);
  }
  const code = c.codePointAt(0)!;
  throw new EvalError(
    "runtime",
    `unsupported format character '${c}' (0x${code.toString(16)}) at index ${index}`,
  );
}

function charOf(v: PyValue): string {
  if (typeof v === "string") {
    if (Array.from(v).length !== 1) throw new EvalError("type", "%c requires int or char");
    return v;
  }
  const n = asInt(v);
  if (n === undefined) throw new EvalError("type", "%c requires int or char");
  if (n < 0n || n > 0x10ffffn) throw new EvalError("runtime", "%c arg not in range(0x110000)");
  return String.fromCodePoint(Number(n));
}

function sign(spec: Spec, negative: boolean): string {
  if (negative) return "-";
  if (spec.flags.includes("+")) return "+";
  if (spec.flags.includes(" ")) return " ";
  return "";
}

function integer(spec: Spec, v: PyValue, base: 8 | 10 | 16): string {
  let n: bigint | undefined = asInt(v);
  if (n === undefined && typeof v === "number") {
    if (base !== 10) throw new EvalError("type", `%${spec.conv} format: an integer is required, not float`);
    if (Number.isNaN(v)) throw new EvalError("runtime", "cannot convert float NaN to integer");
    if (!Number.isFinite(v)) throw new EvalError("runtime", "cannot convert float infinity to integer");
    n = BigInt(Math.trunc(v));
  }
  if (n === undefined) {
    const what = base === 10 ? "a real number" : "an integer";
    throw new EvalError("type", `%${spec.conv} format: ${what} is required, not ${typeName(v)}`);
  }
  const neg = n < 0n;
  let digits = (neg ? -n : n).toString(base);
  if (spec.conv === "X") digits = digits.toUpperCase();
  if (spec.precision !== undefined) {
    if (spec.precision > MAX_PRECISION) {
      throw new EvalError("limit", `precision is larger than ${MAX_PRECISION}`);
    }
    digits = digits.padStart(spec.precision, "0");
  }
  let prefix = sign(spec, neg);
  if (spec.flags.includes("#") && base !== 10) prefix += base === 8 ? "0o" : spec.conv === "X" ? "0X" : "0x";
  return pad(spec, prefix, digits, true);
}

function floating(spec: Spec, v: PyValue): string {
  let x: number;
  if (typeof v === "number") x = v;
  else {
    const n = asInt(v);
    if (n === undefined) throw new EvalError("type", `must be real number, not ${typeName(v)}`);
    x = Number(n);
    if (!Number.isFinite(x)) throw new EvalError("runtime", "int too large to convert to float");
  }
  const p = spec.precision ?? 6;
  const alt = spec.flags.includes("#");
  const upper = spec.conv === "F" || spec.conv === "E" || spec.conv === "G";
  const neg = x < 0 || Object.is(x, -0);
  let body: string;
  if (Number.isNaN(x)) body = upper ? "NAN" : "nan";
  else if (!Number.isFinite(x)) body = upper ? "INF" : "inf";
  else if (spec.conv === "f" || spec.conv === "F") body = fixedDigits(x, p, alt);
  else if (spec.conv === "e" || spec.conv === "E") body = expText(x, p, alt, upper);
  else body = generalText(x, p, alt, upper);
  return pad(spec, sign(spec, neg && !Number.isNaN(x)), body, true);
}

/** Applies width: left (`-`), zero padding after the sign (`0`, numbers only) or spaces. */
function pad(spec: Spec, prefix: string, body: string, numeric: boolean): string {
  const len = prefix.length + Array.from(body).length;
  if (len >= spec.width) return prefix + body;
  const fill = spec.width - len;
  if (spec.flags.includes("-")) return prefix + body + " ".repeat(fill);
  if (numeric && spec.flags.includes("0")) return prefix + "0".repeat(fill) + body;
  return " ".repeat(fill) + prefix + body;
}
