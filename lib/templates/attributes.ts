/**
 * What `x.y` and `x[k]` reach in a value (pure): a template sees data, never JavaScript's machinery.
 * nunjucks read any property, inherited ones too, so `{{ constructor.constructor('...')() }}` (or
 * `''.constructor...`, `range.constructor...`) got JavaScript's Function and ran any code; `l.length`,
 * `l.join` and `'abc'.length` worked where Jinja2 has nothing. Python's methods (str, list, dict) are
 * looked up before this (jinja_runtime.ts).
 */
import { collectionMethod } from "./collections.ts";
import { isDictView, isPlain, isStringMethod, stringMethod } from "./pyvalues.ts";

/** An integer index (`l[1]`, `l[-1]`, and `l.1`, which the lexer hands on as the name "1"). */
function index(key: unknown): number | null {
  if (typeof key === "number") return Number.isInteger(key) ? key : null;
  return typeof key === "string" && /^\d+$/.test(key) ? Number(key) : null;
}

/**
 * The item or attribute `key` of `obj` as data, or undefined: a list's or a string's item at an
 * index, a dict's own key, a list's or a function's own enumerable property (a `groupby` group's
 * `grouper`, a recursive `loop`'s `index`; not a list's `length`, a function's `name`), and for the
 * objects kunai gives templates (`loop`, `cycler()`, `namespace()`) their members except those
 * every object inherits (`constructor`, `__proto__`, `toString`...).
 */
export function dataMember(obj: unknown, key: unknown): unknown {
  if (obj === null || obj === undefined) return undefined;
  const i = index(key);
  if (typeof obj === "string" || obj instanceof String || (Array.isArray(obj) && i !== null)) {
    // from the end when negative, as Python indexes; a dict view has no index; a string's by code point
    // (an emoji is one character, as in Python; JavaScript's index is a UTF-16 unit)
    const seq = (typeof obj === "string" || obj instanceof String ? [...String(obj)] : obj) as ArrayLike<
      unknown
    >;
    const at = i !== null && i < 0 ? i + seq.length : i;
    return at !== null && at >= 0 && at < seq.length && !isDictView(obj) ? seq[at] : undefined;
  }
  if (typeof key !== "string" && typeof key !== "number") return undefined;
  const k = String(key);
  if (typeof obj === "function" || Array.isArray(obj)) {
    const own = Object.getOwnPropertyDescriptor(obj, k);
    return own?.enumerable ? (obj as unknown as Record<string, unknown>)[k] : undefined;
  }
  if (typeof obj !== "object") return undefined;
  const record = obj as Record<string, unknown>;
  if (Object.hasOwn(record, k)) return record[k];
  if (isPlain(obj) || k in Object.prototype) return undefined;
  const v = record[k];
  return typeof v === "function" ? (v as (...a: unknown[]) => unknown).bind(obj) : v;
}

/** Python's method `name` of a str, list, tuple or dict, bound to it; undefined for anything else. */
export function pyMethod(obj: unknown, name: unknown): unknown {
  const s = typeof obj === "string" ? obj : obj instanceof String ? String(obj) : null;
  if (s !== null) return isStringMethod(name) ? stringMethod(s, name) : undefined;
  return collectionMethod(obj, name) ?? undefined;
}

/**
 * `obj.key` and `obj[key]` in a template: a method (pyMethod), else the data (dataMember). Jinja2
 * looks a `.key` up as an attribute first and a `[key]` as an item first; nunjucks compiles both
 * alike, so a dict's key named like a method (`d['items']`) gives the method.
 */
export function member(obj: unknown, key: unknown): unknown {
  return pyMethod(obj, key) ?? dataMember(obj, key);
}
