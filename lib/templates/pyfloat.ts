/**
 * Python floats whose value is integral, when the template itself makes them: `2.0`, `4 / 2`
 * (true division is always a float), `x|float`, `2.5|round`, arithmetic with a float operand.
 * JavaScript has one number type, so such a value is boxed (a PyFloat) to print as Python does
 * (`2.0`, not `2`) and to answer `is float`. A float with a fraction needs no box (it prints right);
 * an integral float from the data (JSON: `2.0` reads as 2) cannot be told from an int and stays one.
 */
export class PyFloat extends Number {}

/** A float result as the template keeps it: an integral one boxed, any other a plain number. */
export function toFloat(n: number): number | PyFloat {
  return Number.isInteger(n) ? new PyFloat(n) : n;
}

/** Whether `v` is a Python float: a boxed integral one, or a number with a fraction (nan and inf too). */
export function isFloat(v: unknown): boolean {
  return v instanceof PyFloat || (typeof v === "number" && !Number.isInteger(v));
}

/** `v` out of its float box; any other value as it is. */
export function unbox(v: unknown): unknown {
  return v instanceof PyFloat ? v.valueOf() : v;
}

/** Python's repr() of a float (`2.0`, `-0.0`, `1e+16`, `nan`, `1e-05`). */
export function reprFloat(n: number): string {
  if (Number.isNaN(n)) return "nan";
  if (n === Infinity) return "inf";
  if (n === -Infinity) return "-inf";
  if (Number.isInteger(n)) {
    if (Math.abs(n) >= 1e16) return n.toExponential();
    return Object.is(n, -0) ? "-0.0" : `${n}.0`;
  }
  // Python writes a float below 1e-4 with an exponent of at least two digits (1e-05); JavaScript
  // only from 1e-7, with one (1e-7)
  if (Math.abs(n) < 1e-4) return n.toExponential().replace(/e([+-])(\d)$/, "e$10$2");
  return String(n);
}
