/**
 * The kinds of Python values templates hold, as kunai represents them in JavaScript: their type
 * names (`pyType`), numbers, tuples and dict views (arrays marked with a symbol), plain dicts,
 * Jinja2's `namespace()` and Undefined, truthiness and unpacking. Pure; the operators on them are in
 * pyoperators.ts, `str()`/`repr()` in pyrepr.ts.
 */
import { PyFloat } from "./pyfloat.ts";

/** Jinja2's `namespace(...)`: the one object a template may set attributes on (`{% set ns.x = 1 %}`). */
/**
 * What a function or an object other than data prints as, as Python's repr() names it but without an address
 * (`<built-in method upper of str object>`, `<Macro 'm'>`); a function without one prints `<function NAME>`.
 * JavaScript's text of a function never reaches the output.
 */
export const PY_REPR: unique symbol = Symbol("python repr");

/** `fn` (or an object) printed as `repr`. */
export function pyNamed<T extends object>(fn: T, repr: string): T {
  Object.defineProperty(fn, PY_REPR, { value: repr, configurable: true });
  return fn;
}

export class JinjaNamespace {
  constructor(init: Record<string, unknown>) {
    Object.assign(this, init);
  }
}

/** Python's name of a value's type, as its TypeErrors name it. */
export function pyType(v: unknown): string {
  if (v === undefined) return "Undefined";
  if (v === null) return "NoneType";
  if (typeof v === "boolean") return "bool";
  if (typeof v === "number") return Number.isInteger(v) ? "int" : "float";
  if (v instanceof PyFloat) return "float";
  if (typeof v === "bigint") return "int";
  if (typeof v === "string" || v instanceof String) return "str";
  if (Array.isArray(v)) {
    return (v as { [VIEW]?: string })[VIEW] ?? ((v as { [TUPLE]?: boolean })[TUPLE] ? "tuple" : "list");
  }
  if (typeof v === "function") return "function";
  return "dict";
}

/**
 * Jinja2's Undefined refuses to be used as a value: an attribute or item of it, arithmetic and
 * ordering with it raise UndefinedError (printing it, testing it, `==`, `default` and iterating are
 * fine). `what` is the expression's text, as the error names it.
 */
export function jinjaDefined(v: unknown, what: string): unknown {
  if (v === undefined) throw new Error(`UndefinedError: '${what}' is undefined`);
  return v;
}

/** A Python number: an int, a float (a boxed integral one too), a bool. */
export const isNumber = (v: unknown): boolean =>
  typeof v === "number" || typeof v === "boolean" || typeof v === "bigint" || v instanceof PyFloat;

/** Marks an array made by a tuple literal `(a, b)`: `'%s-%s' % (a, b)` spreads it, a list is one argument. */
const TUPLE = Symbol("tuple");

/** `items` as a Python tuple: printed `(a, b)`, spread by `%`. */
export function tuple<T extends unknown[]>(items: T): T {
  return Object.assign(items, { [TUPLE]: true });
}

/** Marks the array `d.keys()`, `d.values()` or `d.items()` returns with its Python type. */
const VIEW = Symbol("dict view");

/** `items` as the dict view `kind` (`dict_keys`...): printed `dict_keys(['a'])`, not indexable. */
export function dictView<T extends unknown[]>(kind: "dict_keys" | "dict_values" | "dict_items", items: T): T {
  return Object.assign(items, { [VIEW]: kind });
}

/** Whether `v` is one of dictView()'s. */
export const isDictView = (v: unknown): boolean => Array.isArray(v) && VIEW in v;

/** Whether `v` is a tuple() (an array made by a `(a, b)` literal). */
export const isTuple = (v: unknown): boolean => Array.isArray(v) && !!(v as { [TUPLE]?: boolean })[TUPLE];

/** The Python type of a dictView() (`dict_keys`...); undefined for any other value. */
export const viewKind = (v: unknown): string | undefined =>
  Array.isArray(v) ? (v as { [VIEW]?: string })[VIEW] : undefined;

/** Whether `v` is a plain object (a Python dict), not an instance of a class. */
export function isPlain(v: object): boolean {
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/** Python's truth value of a template value. */
export function pyTruthy(v: unknown): boolean {
  if (v === undefined || v === null || v === false) return false;
  if (v === true) return true;
  if (typeof v === "number") return v !== 0;
  if (typeof v === "bigint") return v !== 0n;
  if (v instanceof PyFloat) return v.valueOf() !== 0;
  if (typeof v === "string") return v.length > 0;
  if (Array.isArray(v)) return v.length > 0;
  if (v instanceof Map || v instanceof Set) return v.size > 0;
  if (typeof v === "object") {
    const proto = Object.getPrototypeOf(v);
    if (proto === Object.prototype || proto === null) {
      for (const _ in v) return true;
      return false;
    }
    // nunjucks' SafeString (a marked-safe string) and other String-like objects
    if ("length" in v && typeof (v as { length: unknown }).length === "number" && v instanceof String) {
      return (v as string).length > 0;
    }
  }
  return true;
}

/** `{% set a, b = pair %}`: the value's items, exactly `n` of them (Python's unpacking). */
export function unpack(value: unknown, n: number): unknown[] {
  const items = Array.isArray(value)
    ? value
    : typeof value === "string"
    ? [...value]
    : value !== null && typeof value === "object"
    ? Object.keys(value)
    : null;
  if (items === null || value instanceof PyFloat) {
    throw new Error(`TypeError: cannot unpack non-iterable ${pyType(value)} object`);
  }
  if (items.length !== n) {
    throw new Error(
      `ValueError: ${
        items.length < n ? "not enough" : "too many"
      } values to unpack (expected ${n}, got ${items.length})`,
    );
  }
  return items;
}
