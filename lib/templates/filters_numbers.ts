/**
 * Jinja2's number filters as Python computes them: `round` (a tie to the even digit, the type kept),
 * `int` and `float` (Python's literals, a default otherwise), `abs` and `filesizeformat`.
 */
import type nunjucks from "nunjucks";
import { isNumber, pyStr, pyTruthy, pyType } from "./jinja.ts";
import { isFloat, PyFloat, toFloat, unbox } from "./pyfloat.ts";
import type { Fmt } from "./filters_common.ts";
import { pyRound as evalRound } from "../evaluator/mod.ts";

/**
 * Adds Jinja2's number filters to a nunjucks environment; `formatPercent` writes filesizeformat's
 * `%.1f`. Each is called with its arguments by position (filters_args.ts binds Jinja2's keywords).
 */
export function registerNumberFilters(env: nunjucks.Environment, formatPercent: Fmt): void {
  env.addFilter("round", (v: unknown, prec?: unknown, meth?: unknown) => {
    const method = String(meth ?? "common");
    if (method !== "common" && method !== "ceil" && method !== "floor") {
      throw new Error("FilterArgumentError: method must be common, ceil or floor");
    }
    if (!isNumber(v)) throw new Error(`TypeError: type ${pyType(v)} doesn't define __round__ method`);
    if (
      prec !== undefined && prec !== null && typeof prec !== "boolean" &&
      !(typeof prec === "number" && Number.isInteger(prec))
    ) {
      throw new Error(`TypeError: '${pyType(prec)}' object cannot be interpreted as an integer`);
    }
    const precision = Number(prec ?? 0);
    const x = Number(v);
    if (method === "ceil" || method === "floor") {
      const f = 10 ** precision;
      // Python's math.ceil/floor give an int, which has no negative zero: `-0.4|round(0, 'ceil')` is 0.0
      return toFloat(((method === "ceil" ? Math.ceil(x * f) : Math.floor(x * f)) + 0) / f);
    }
    if (method !== "common") throw new Error("round: method must be common, ceil or floor");
    // Python's round() keeps the type: an int stays one, a float (`2.5|round` is 2.0) too
    const r = pyRound(x, precision);
    return isFloat(v) ? toFloat(r) : r === 0 ? 0 : r; // an int has no negative zero
  });
  // int(value, default=0, base=10) as Jinja2: a string in `base` (0: by its 0x/0o/0b prefix), else
  // through float, else the default; a bool is 0 or 1 (nunjucks printed nothing for true|int)
  env.addFilter("int", (v: unknown, dfltArg?: unknown, baseArg?: unknown) => {
    const dflt = dfltArg === undefined ? 0 : dfltArg; // `int(none)` gives None
    const base = Number(baseArg ?? 10);
    v = unbox(v);
    if (v === undefined) throw new Error("UndefinedError: int: the value is undefined");
    if (typeof v === "boolean") return v ? 1 : 0;
    // `+ 0`: an int has no negative zero (`-0.3|int` is 0, and `(-0.3|int) * 1.0` 0.0, not -0.0)
    if (typeof v === "number") return Number.isFinite(v) ? Math.trunc(v) + 0 : dflt;
    if (typeof v === "string" || v instanceof String) {
      const n = pyInt(String(v), base);
      if (n !== null) return n + 0;
      // then int(float(value)), Python's float() ('0x1A' is no float: JavaScript's Number() read 26)
      const f = pyFloat(String(v));
      return f !== null && Number.isFinite(f) ? Math.trunc(f) + 0 : dflt;
    }
    return dflt;
  });
  // float(value, default=0.0) as Python's float(): a number, a bool, or a whole string that is a
  // float literal (nunjucks' parseFloat read '12abc' as 12); else the default
  env.addFilter("float", (v: unknown, dfltArg?: unknown) => {
    const dflt = dfltArg === undefined ? new PyFloat(0) : dfltArg;
    if (v === undefined) throw new Error("UndefinedError: float: the value is undefined");
    if (typeof v === "boolean" || typeof v === "number" || v instanceof PyFloat) return toFloat(Number(v));
    if (typeof v === "string" || v instanceof String) {
      const f = pyFloat(String(v));
      return f === null ? dflt : toFloat(f);
    }
    return dflt;
  });
  // Python's abs(): a number of the same type
  env.addFilter("abs", (v: unknown) => {
    if (typeof v === "boolean") return Number(v);
    if (typeof v !== "number" && !(v instanceof PyFloat)) {
      throw new Error(`TypeError: bad operand type for abs(): '${pyType(v)}'`);
    }
    return isFloat(v) ? toFloat(Math.abs(Number(v))) : Math.abs(Number(v));
  });
  // filesizeformat(binary=False): 1.0 kB, 1.4 TiB, 999 Bytes, as Jinja2 writes them
  env.addFilter("filesizeformat", (v: unknown, bin?: unknown) => {
    const binary = pyTruthy(bin ?? false);
    const bytes = typeof v === "string" ? pyFloat(v) : isNumber(v) ? Number(v) : null;
    if (bytes === null) throw new Error(`ValueError: filesizeformat: not a number: ${pyStr(v)}`);
    const base = binary ? 1024 : 1000;
    const prefixes = binary
      ? ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB"]
      : ["kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"];
    if (bytes === 1) return "1 Byte";
    if (bytes < base) return `${Math.trunc(bytes)} Bytes`;
    let i = 0;
    while (i < prefixes.length - 1 && bytes >= base ** (i + 2)) i++;
    return formatPercent("%.1f %s", [(base * bytes) / base ** (i + 2), prefixes[i]] as never);
  });
}

/** Python's `int(text, base)` for an integer literal (underscores, sign, base prefixes); null when it is not one. */
function pyInt(text: string, base: number): number | null {
  let t = text.trim().replaceAll("_", "").toLowerCase();
  let sign = 1;
  if (t.startsWith("-") || t.startsWith("+")) {
    if (t[0] === "-") sign = -1;
    t = t.slice(1);
  }
  const prefixed = /^0([xob])/.exec(t);
  if (base === 0) {
    base = prefixed ? { x: 16, o: 8, b: 2 }[prefixed[1] as "x" | "o" | "b"] : 10;
    if (prefixed) t = t.slice(2);
  } else if (prefixed && ({ x: 16, o: 8, b: 2 } as Record<string, number>)[prefixed[1]] === base) {
    t = t.slice(2);
  }
  if (!Number.isInteger(base) || base < 2 || base > 36 || !t) return null;
  const digits = "0123456789abcdefghijklmnopqrstuvwxyz".slice(0, base);
  if (![...t].every((c) => digits.includes(c))) return null;
  return sign * parseInt(t, base);
}

/** Python's `float(text)`: a decimal or exponent literal (underscores between digits), inf or nan; else null. */
function pyFloat(text: string): number | null {
  const t = text.trim();
  const m = /^([+-]?)(inf|infinity|nan)$/i.exec(t);
  if (m) return /^n/i.test(m[2]) ? NaN : m[1] === "-" ? -Infinity : Infinity;
  const digits = String.raw`\d(?:_?\d)*`;
  const literal = new RegExp(
    String.raw`^[+-]?(?:${digits}(?:\.(?:${digits})?)?|\.${digits})(?:[eE][+-]?${digits})?$`,
  );
  return literal.test(t) ? Number(t.replaceAll("_", "")) : null;
}

/**
 * Python's `round(x, n)`: to the nearest, an exact tie to the even digit (`round(2.5)` is 2,
 * `round(0.125, 2)` 0.12), judged on the double's exact decimal value as CPython does.
 */
function pyRound(x: number, n: number): number {
  // to tens, hundreds...: the evaluator's round(), its exact ties to even too (`5|round(-1)` is 0, `15|round(-1)`
  // 20; Math.round took every tie up)
  if (n < 0) return Number(evalRound(x, BigInt(n)));
  if (!Number.isFinite(x) || n > 20) return x;
  const exact = Math.abs(x).toFixed(Math.min(100, n + 60)); // the double's decimal expansion, far enough
  const cut = exact.indexOf(".") + 1 + n;
  const rest = exact.slice(cut).replace(/^\./, "");
  const up = Number(Math.abs(x).toFixed(n));
  if (!/^50*$/.test(rest)) return Math.sign(x) * up; // not a tie: toFixed rounds to the nearest
  const kept = exact.slice(0, cut).replace(/\.$/, "");
  const last = Number(kept[kept.length - 1]);
  const down = Number(kept);
  return Math.sign(x) * (last % 2 === 0 ? down : up);
}
