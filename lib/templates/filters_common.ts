/**
 * What the filter, test and global modules (filters_*.ts) share: nunjucks' keyword arguments split
 * from the positional ones, attribute paths, a value's items as Python iterates it, Python's ordering
 * and the errors a filter raises for a value of the wrong type.
 */
import type nunjucks from "nunjucks";
import { pyOrder, pyType, tuple } from "./jinja.ts";
import { PyFloat } from "./pyfloat.ts";
import { dataMember } from "./attributes.ts";

/** The printf-style formatter (`'%s' % x`) the environment was given. */
export type Fmt = (fmt: string, args: never) => string;

/** nunjucks' trailing object of keyword arguments (`f(a, key=1)`). */
export interface Keywords {
  __keywords?: boolean;
  [k: string]: unknown;
}

/** Splits nunjucks' trailing keyword-argument object from the positional arguments. */
export function splitKwargs(args: unknown[]): { pos: unknown[]; kw: Keywords } {
  const last = args[args.length - 1] as Keywords | undefined;
  if (last && typeof last === "object" && last.__keywords) return { pos: args.slice(0, -1), kw: last };
  return { pos: args, kw: {} };
}

/** The keyword arguments of nunjucks' keyword object, by name (without its marker). */
export function named(kw: Keywords): Record<string, unknown> {
  const { __keywords: _marker, ...rest } = kw;
  return rest;
}

/**
 * The value at a dotted path (`a.b.0`) in a value (data only: attributes.ts), as Jinja2's
 * make_attrgetter walks it: a missing last step is undefined, a step past an undefined one an
 * UndefinedError (`selectattr('services.http.port')` on a node without `http`), unless `dflt`
 * (not None) stands for each missing step.
 */
export function attr(v: unknown, path: string, dflt?: unknown): unknown {
  let cur = v;
  const parts = path.split(".");
  parts.forEach((part, i) => {
    if (cur === undefined) {
      const what = i ? parts.slice(0, i).join(".") : "the item";
      throw new Error(`UndefinedError: '${what}' is undefined (attribute '${path}')`);
    }
    cur = dataMember(cur, part);
    if (cur === undefined && dflt !== undefined && dflt !== null) cur = dflt;
  });
  return cur;
}

/** markupsafe.escape(): `&`, `<`, `>`, `"` and `'` as HTML entities. */
export function escapeHtml(s: string): string {
  return s.replace(
    /[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&#34;", "'": "&#39;" })[c]!,
  );
}

/** A mapping's items as Python's `(key, value)` tuples. */
export function entries(v: unknown): Array<[unknown, unknown]> {
  if (v instanceof Map) return [...v.entries()].map((e) => tuple(e));
  if (v !== null && typeof v === "object") return Object.entries(v).map((e) => tuple(e));
  return [];
}

/** Python's ordering (pyOrder): numbers, strings, lists item by item; mixed types are a TypeError. */
export const compare = (a: unknown, b: unknown) => pyOrder(a, b);

/** A sequence's items as Python iterates it (a dict's keys, a string's characters). */
export function items(v: unknown): unknown[] {
  if (Array.isArray(v)) return v;
  if (typeof v === "string" || v instanceof String) return [...String(v)];
  if (v === undefined) return [];
  if (v !== null && typeof v === "object" && !(v instanceof PyFloat)) return Object.keys(v);
  throw new Error(`TypeError: '${pyType(v)}' object is not iterable`);
}

/**
 * The string a filter that only takes strings was given: an undefined value is an UndefinedError,
 * anything else a Python error (`%s` in `error` is its type), as Jinja2 raises.
 */
export function text(filter: string, v: unknown, error: string): string {
  if (typeof v === "string" || v instanceof String) return String(v);
  if (v === undefined) throw new Error(`UndefinedError: ${filter}: the value is undefined`);
  throw new Error(error.replace("%s", pyType(v)));
}

/** The dict a filter that only takes mappings was given (errors as text() raises them). */
export function mapping(filter: string, v: unknown, error: string): object {
  if (v === undefined) throw new Error(`UndefinedError: ${filter}: the value is undefined`);
  if (v === null || typeof v !== "object" || Array.isArray(v) || v instanceof PyFloat) {
    throw new Error(error.replace("%s", pyType(v)));
  }
  return v;
}

/** The filters and tests of a nunjucks environment, by name. */
export type Registry = {
  filters: Record<string, (...a: unknown[]) => unknown>;
  tests: Record<string, (...a: unknown[]) => unknown>;
};
/** The environment's filters and tests, which nunjucks keeps as plain objects. */
export const registryOf = (env: nunjucks.Environment) => env as unknown as Registry;
