/**
 * Python's `str()` and `repr()` of template values, as `{{ value }}` prints them and as lists and
 * dicts show their items (`[1, 'a']`, `{'a': None}`, `(1,)`, `dict_keys(['a'])`), and `toPy`, the
 * value `%` formatting takes. Pure.
 */
import { strRepr } from "../evaluator/mod.ts";
import { PyFloat, reprFloat } from "./pyfloat.ts";
import { isPlain, isTuple, JinjaNamespace, PY_REPR, viewKind } from "./pytypes.ts";

/** A function's or another object's text (PY_REPR), or null for data. */
function objectRepr(v: unknown, depth: number): string | null {
  if (typeof v === "function") {
    return (v as { [PY_REPR]?: string })[PY_REPR] ?? `<function ${v.name || "<lambda>"}>`;
  }
  if (v === null || typeof v !== "object") return null;
  if (v instanceof JinjaNamespace) return `<Namespace ${pyRepr({ ...v }, depth + 1)}>`;
  return (v as { [PY_REPR]?: string })[PY_REPR] ?? null;
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
    if (isTuple(v)) {
      return items.length === 1 ? `(${items[0]},)` : `(${items.join(", ")})`;
    }
    const view = viewKind(v);
    if (view) return `${view}([${items.join(", ")}])`;
    return "[" + items.join(", ") + "]";
  }
  const named = objectRepr(v, depth);
  if (named !== null) return named;
  if (v instanceof Map) {
    return "{" + [...v].map(([k, x]) => `${pyRepr(k, depth + 1)}: ${pyRepr(x, depth + 1)}`).join(", ") + "}";
  }
  if (typeof v === "object" && isPlain(v)) {
    return "{" +
      Object.entries(v).map(([k, x]) => `${strRepr(k)}: ${pyRepr(x, depth + 1)}`).join(", ") + "}";
  }
  return String(v);
}

/** Python's `str()` of a value, as `{{ value }}` prints it (undefined prints nothing, as Jinja2's Undefined). */
export function pyStr(v: unknown): unknown {
  if (v === undefined || typeof v === "string" || v instanceof String) return v;
  if (v === null || typeof v === "boolean" || Array.isArray(v) || v instanceof Map) return pyRepr(v);
  if (typeof v === "number") return reprNumber(v);
  if (v instanceof PyFloat) return reprFloat(v.valueOf());
  const named = objectRepr(v, 0);
  if (named !== null) return named;
  if (typeof v === "object" && isPlain(v)) return pyRepr(v);
  return v;
}

/** A JS value as the Python value `%` formats (integers are ints; nested lists and dicts print as Python's). */
export function toPy(v: unknown, nested = false): unknown {
  if (typeof v === "number" && Number.isInteger(v)) return BigInt(v);
  if (v instanceof PyFloat) return v.valueOf(); // a JavaScript number is a float to formatPercent
  if (v === undefined) return ""; // str() of Jinja2's Undefined: `'%s' % u` prints nothing
  if (v instanceof String) return String(v);
  if (Array.isArray(v)) return nested ? pyStr(v) : v.map((x) => toPy(x, true));
  if ((v !== null && typeof v === "object") || typeof v === "function") return pyStr(v);
  return v;
}
