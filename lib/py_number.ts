/**
 * Python's number formatting (pure), shared by the templates' str.format() and the Graphite
 * function names: CPython's rounding of exact ties (to even; JavaScript rounds them up), its
 * `g` form, `repr(float)` and `round(x, n)`.
 */

/** Two-digit exponent, as Python writes it (`1.5e+03`). */
export const pyExp = (s: string) => s.replace(/e([+-])(\d)$/, "e$10$2");

/**
 * `a.toFixed(p)` rounded as CPython rounds: an exact tie (the double's decimal expansion is 5 followed
 * by zeros past the cut) goes to the even digit (`2.5` → 2, `0.125` → 0.12); JavaScript goes up.
 */
export function fixed(a: number, p: number): string {
  const up = a.toFixed(p);
  if (a >= 1e21) return up;
  const exact = a.toFixed(100);
  const dot = exact.indexOf(".");
  if (!/^50*$/.test(exact.slice(dot + 1 + p))) return up;
  const down = p ? exact.slice(0, dot + 1 + p) : exact.slice(0, dot);
  return Number(down[down.length - 1]) % 2 === 0 ? down : up;
}

/** `a.toExponential(p)` with CPython's rounding of an exact tie (see `fixed`). */
export function exponential(a: number, p: number): string {
  const up = a.toExponential(p);
  if (a === 0) return up;
  const exact = a.toExponential(100); // d.ddd...e±x, the double's digits far enough
  const [mant, exp] = exact.split("e");
  const digits = mant.replace(".", "");
  if (!/^50*$/.test(digits.slice(p + 1))) return up;
  if (Number(digits[p]) % 2 !== 0) return up;
  const kept = digits.slice(0, p + 1);
  return (p ? `${kept[0]}.${kept.slice(1)}` : kept) + "e" + (Number(exp) < 0 ? exp : `+${Number(exp)}`);
}

/**
 * Python's `g`: `p` significant digits, exponent form below 1e-4 or from 10**p; `alt` keeps zeros and the
 * point. `none`: a float's format with a precision and no type, which goes to the exponent form from
 * 10**(p-1) and keeps a digit after the point.
 */
export function general(x: number, p: number, alt: boolean, none = false): string {
  if (x === 0) return alt ? (p > 1 ? "0." + "0".repeat(p - 1) : "0.") : "0";
  // the exponent after rounding to p digits decides the form
  const exp = Number(exponential(x, p - 1).split("e")[1]);
  let s: string;
  const sci = exp < -4 || exp >= (none ? p - 1 : p);
  if (sci) s = pyExp(exponential(x, p - 1));
  else s = fixed(x, Math.max(p - 1 - exp, 0));
  if (!alt) s = s.replace(/(\.\d*?)0+(e|$)/, "$1$2").replace(/\.(e|$)/, "$1");
  else if (!s.includes(".")) s = s.replace(/(e|$)/, ".$1");
  if (none && !sci && !s.includes(".")) s += ".0";
  return s;
}

/** `'%g' % x` (and `format(x, 'g')`): six significant digits, as graphite-web names `scale(a,0.5)`. */
export function pyG(x: number): string {
  if (Number.isNaN(x)) return "nan";
  if (!Number.isFinite(x)) return x > 0 ? "inf" : "-inf";
  if (Object.is(x, -0)) return "-0";
  return (x < 0 ? "-" : "") + general(Math.abs(x), 6, false);
}

/** Python's `repr(x)` / `str(x)` of a float: the shortest round-trip digits, `.0` on whole numbers. */
export function pyFloat(x: number): string {
  if (Number.isNaN(x)) return "nan";
  if (!Number.isFinite(x)) return x > 0 ? "inf" : "-inf";
  if (x === 0) return Object.is(x, -0) ? "-0.0" : "0.0";
  const [m, e] = Math.abs(x).toExponential().split("e");
  const digits = m.replace(".", "");
  const exp = Number(e);
  const sign = x < 0 ? "-" : "";
  if (exp >= -4 && exp < 16) {
    const point = exp + 1;
    if (point <= 0) return sign + "0." + "0".repeat(-point) + digits;
    if (digits.length > point) return sign + digits.slice(0, point) + "." + digits.slice(point);
    return sign + digits + "0".repeat(point - digits.length) + ".0";
  }
  const mantissa = digits.length > 1 ? digits[0] + "." + digits.slice(1) : digits;
  return `${sign}${mantissa}e${exp < 0 ? "-" : "+"}${String(Math.abs(exp)).padStart(2, "0")}`;
}

/** Python's `round(x, n)` of a float: the exact binary value rounded to `n` decimals, ties to even. */
export function pyRound(x: number, n: number): number {
  if (!Number.isFinite(x)) return x;
  const r = Number(fixed(Math.abs(x), n));
  return x < 0 ? -r : r;
}
