/**
 * Exact decimal rounding of doubles (floor 0, pure), so `%.2f`, `%e`, `%g` and `round()` match
 * Python digit for digit (round-half-even on the exact binary value: round(2.675, 2) == 2.67).
 */
import { EvalError } from "./errors.ts";

/** Largest precision accepted by formatting and round(). */
export const MAX_PRECISION = 1000;

/** |x| = m * 2**e exactly (x finite). */
export function decompose(x: number): { m: bigint; e: number } {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, Math.abs(x));
  const hi = view.getUint32(0), lo = view.getUint32(4);
  const expField = (hi >>> 20) & 0x7ff;
  const frac = (BigInt(hi & 0xfffff) << 32n) | BigInt(lo);
  if (expField === 0) return { m: frac, e: -1074 };
  return { m: frac | (1n << 52n), e: expField - 1075 };
}

/** round_half_even(|x| * 10**k) as an integer, exactly. */
export function scaledRound(x: number, k: number): bigint {
  const { m, e } = decompose(x);
  let num = m, den = 1n;
  if (e >= 0) num <<= BigInt(e);
  else den <<= BigInt(-e);
  if (k >= 0) num *= 10n ** BigInt(k);
  else den *= 10n ** BigInt(-k);
  let q = num / den;
  const twice = 2n * (num % den);
  if (twice > den || (twice === den && q % 2n === 1n)) q += 1n;
  return q;
}

function checkPrecision(p: number): void {
  if (p > MAX_PRECISION) throw new EvalError("limit", `precision ${p} is larger than ${MAX_PRECISION}`);
}

/** Digits of |x| with `p` decimals (no sign), like C's `%.pf`. x finite. */
export function fixedDigits(x: number, p: number, alt = false): string {
  checkPrecision(p);
  const n = scaledRound(x, p).toString();
  if (p === 0) return alt ? `${n}.` : n;
  const padded = n.padStart(p + 1, "0");
  return `${padded.slice(0, -p)}.${padded.slice(-p)}`;
}

/** Mantissa digits (p+1 of them, as an integer) and decimal exponent of |x| rounded to p decimals in `%e`. */
export function expDigits(x: number, p: number): { digits: bigint; exp: number } {
  checkPrecision(p);
  if (x === 0) return { digits: 0n, exp: 0 };
  let exp = Math.floor(Math.log10(Math.abs(x)));
  for (let tries = 0; tries < 4; tries++) {
    const digits = scaledRound(x, p - exp);
    const len = digits.toString().length;
    if (len > p + 1) exp += 1;
    else if (len < p + 1) exp -= 1;
    else return { digits, exp };
  }
  const digits = scaledRound(x, p - exp);
  return { digits, exp };
}

/** `%.pe` of |x| (no sign): `2.500000e+00`. */
export function expText(x: number, p: number, alt = false, upper = false): string {
  const { digits, exp } = expDigits(x, p);
  const d = digits.toString().padStart(p + 1, "0");
  const mant = p === 0 ? (alt ? `${d}.` : d) : `${d[0]}.${d.slice(1)}`;
  const e = `${exp < 0 ? "-" : "+"}${Math.abs(exp).toString().padStart(2, "0")}`;
  return `${mant}${upper ? "E" : "e"}${e}`;
}

/** `%.pg` of |x| (no sign). */
export function generalText(x: number, p: number, alt = false, upper = false): string {
  const prec = p === 0 ? 1 : p;
  const { exp } = expDigits(x, prec - 1);
  let out: string;
  if (exp >= -4 && exp < prec) out = fixedDigits(x, prec - 1 - exp, alt);
  else out = expText(x, prec - 1, alt, upper);
  if (alt) return out;
  const [mant, e] = out.split(/(?=[eE])/);
  const trimmed = mant.includes(".") ? mant.replace(/0+$/, "").replace(/\.$/, "") : mant;
  return trimmed + (e ?? "");
}
