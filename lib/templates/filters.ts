/**
 * The Jinja2 filters nunjucks does not have, so templates written for the Python kunai render the
 * same: `format`, `tojson`, `items`, `map`, `unique`, `min`, `max` and the `d` alias of `default`.
 */
import type nunjucks from "nunjucks";

type Fmt = (fmt: string, args: never) => string;

interface Keywords {
  __keywords?: boolean;
  [k: string]: unknown;
}

/** Splits nunjucks' trailing keyword-argument object from the positional arguments. */
function splitKwargs(args: unknown[]): { pos: unknown[]; kw: Keywords } {
  const last = args[args.length - 1] as Keywords | undefined;
  if (last && typeof last === "object" && last.__keywords) return { pos: args.slice(0, -1), kw: last };
  return { pos: args, kw: {} };
}

/** A JS value as the Python value Jinja2 would have formatted (integers are ints). */
function toPy(v: unknown): unknown {
  if (typeof v === "number" && Number.isInteger(v)) return BigInt(v);
  if (v === undefined) return null;
  if (Array.isArray(v)) return v.map(toPy);
  if (v !== null && typeof v === "object") return JSON.stringify(v);
  return v;
}

function attr(v: unknown, path: string): unknown {
  let cur = v;
  for (const part of path.split(".")) {
    if (cur === null || typeof cur !== "object") return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

function entries(v: unknown): Array<[unknown, unknown]> {
  if (v instanceof Map) return [...v.entries()];
  if (v !== null && typeof v === "object") return Object.entries(v);
  return [];
}

function compare(a: unknown, b: unknown): number {
  return (a as number) < (b as number) ? -1 : (a as number) > (b as number) ? 1 : 0;
}

function pick(list: unknown, kw: Keywords, sign: 1 | -1): unknown {
  const arr = Array.isArray(list) ? list : [...entries(list).map(([k]) => k)];
  const key = typeof kw.attribute === "string"
    ? (x: unknown) => attr(x, kw.attribute as string)
    : (x: unknown) => x;
  let best: unknown = undefined;
  for (const x of arr) if (best === undefined || sign * compare(key(x), key(best)) < 0) best = x;
  return best;
}

/** Adds the filters to a nunjucks environment. */
export function installFilters(env: nunjucks.Environment, formatPercent: Fmt): void {
  env.addFilter("format", (fmt: unknown, ...args: unknown[]) => {
    const { pos } = splitKwargs(args);
    return formatPercent(String(fmt), (pos.length === 1 ? toPy(pos[0]) : pos.map(toPy)) as never);
  });
  env.addFilter("tojson", (v: unknown, indent?: unknown) => {
    const n = typeof indent === "number" ? indent : undefined;
    return JSON.stringify(v === undefined ? null : v, null, n) ?? "null";
  });
  env.addFilter("items", (v: unknown) => entries(v));
  env.addFilter("map", (list: unknown, ...args: unknown[]) => {
    const { pos, kw } = splitKwargs(args);
    const arr = Array.isArray(list) ? list : [];
    if (typeof kw.attribute === "string") {
      const a = kw.attribute;
      return arr.map((x) => attr(x, a) ?? kw.default);
    }
    const name = pos[0];
    if (typeof name !== "string") throw new Error("map: expected a filter name or attribute=");
    const f = env.getFilter(name) as (...a: unknown[]) => unknown;
    return arr.map((x) => f(x, ...pos.slice(1)));
  });
  env.addFilter("unique", (list: unknown, ...args: unknown[]) => {
    const { kw } = splitKwargs(args);
    const seen = new Set<unknown>();
    const out: unknown[] = [];
    for (const x of Array.isArray(list) ? list : []) {
      const k = typeof kw.attribute === "string" ? attr(x, kw.attribute) : x;
      if (seen.has(k)) continue;
      seen.add(k);
      out.push(x);
    }
    return out;
  });
  env.addFilter("min", (list: unknown, ...args: unknown[]) => pick(list, splitKwargs(args).kw, 1));
  env.addFilter("max", (list: unknown, ...args: unknown[]) => pick(list, splitKwargs(args).kw, -1));
  env.addFilter("d", env.getFilter("default"));
}
