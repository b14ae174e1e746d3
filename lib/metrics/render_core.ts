/**
 * What every Graphite render function shares (pure): the series type, the parameter declarations
 * (graphite-web's own `Param` lists, also what `/functions` lists) and their binding with type
 * checks. Normalisation to a common step, consolidation and the aggregation functions are in
 * render_series.ts.
 */
/** How points are merged when a series is brought to a coarser step (Graphite's consolidateBy). */
export type ConsolidationFunc = "average" | "avg_zero" | "sum" | "min" | "max" | "first" | "last";

/** A series as `/render` returns it: `values[i]` is the point at `start + i * step`. */
export interface Series {
  name: string;
  start: number;
  end: number;
  step: number;
  values: Array<number | null>;
  /** The path expression the series came from (aliasByNode, sumSeries naming). */
  pathExpression: string;
  /** Set by consolidateBy: used by normalisation and maxDataPoints (average when absent). */
  consolidationFunc?: ConsolidationFunc;
  /** graphite's series tags (a tag name as a node): parsed from the stored name, kept through functions. */
  tags?: Record<string, string>;
}

export type Arg = Series[] | number | string | boolean;

/** A wrong argument: `/render` answers 400 naming the function. */
export class FunctionError extends Error {
  constructor(readonly fn: string, message: string) {
    super(`${fn}: ${message}`);
    this.name = "FunctionError";
  }
}

/** The request a function runs in. */
export interface FnContext {
  /** The requested range (constantLine draws over it). */
  from: number;
  until: number;
  /** stacked()'s running totals by stack name, shared by every target of the request as in graphite-web. */
  stacks: Map<string, number[]>;
  /** The steps grep, exclude and aliasSub's regular expressions have taken in this request. */
  regex: { steps: number };
  /** The points the functions of this request have taken in and made (see MAX_RENDER_WORK). */
  work: { points: number };
}

/** graphite-web's parameter types (the names `/functions` gives Grafana). */
export type ParamType =
  | "seriesList"
  | "float"
  | "integer"
  | "node"
  | "nodeOrTag"
  | "boolean"
  | "string"
  | "interval"
  | "intOrInterval"
  | "intOrInf"
  | "aggFunc"
  | "aggOrSeriesFunc"
  | "tag"
  | "any";

export interface ParamDef {
  name: string;
  type: ParamType;
  required?: boolean;
  default?: string | number | boolean;
  multiple?: boolean;
  options?: string[];
  suggestions?: Array<string | number>;
}

/** One render function: graphite-web's group and parameters, and what it does. */
export interface FunctionDef {
  group: string;
  description: string;
  params: ParamDef[];
  apply(fn: string, p: Bound, ctx: FnContext): Series[];
}

/**
 * Most points one render reads or answers; past it a 400. A point answered as JSON costs ~100 bytes
 * on the way (its `[value, ts]` array, then the text): 5 million is ~0.5 GB at the peak of one
 * request, from a read route (20 million was ~2 GB, enough to get a small host's agent killed).
 * Grafana asks for ~1 000 points a series (`maxDataPoints`).
 */
export const MAX_RENDER_POINTS = 5_000_000;

/**
 * Most points the functions of one render may take in and make, all calls together (a point read
 * by a window function counts once per window it falls in): `sumSeries(x, x, x, ...)` with 50 000
 * copies of one cached path, or movingAverage over a window of weeks, read little and answer little
 * but cost minutes of CPU. ~1-2 s of one core on a slow box.
 */
export const MAX_RENDER_WORK = 200_000_000;

/** Most stack names one render's stacked() calls may keep running totals for. */
export const MAX_STACKS = 64;

/** Adds `points` to the request's function work; a FunctionError past MAX_RENDER_WORK. */
export function chargeWork(fn: string, ctx: Pick<FnContext, "work">, points: number): void {
  ctx.work.points += points;
  if (ctx.work.points > MAX_RENDER_WORK) {
    throw new FunctionError(
      fn,
      `the request's functions take more than ${MAX_RENDER_WORK} points of work: narrow the paths, the time range or the windows`,
    );
  }
}

/** Most buckets one series may be cut into (summarize, hitcount): a year in 30 s buckets. */
export const MAX_BUCKETS = 1_100_000;

/** The arguments of one call, bound to its parameters by name and checked against their types. */
export class Bound {
  constructor(readonly fn: string, private readonly values: Map<string, Arg | Arg[]>) {}
  has(name: string): boolean {
    return this.values.get(name) !== undefined;
  }
  list(name: string): Series[] {
    return (this.values.get(name) ?? []) as Series[];
  }
  /** A `multiple` series-list parameter, all its lists joined. */
  lists(name: string): Series[] {
    return ((this.values.get(name) ?? []) as Series[][]).flat();
  }
  num(name: string): number {
    return this.values.get(name) as number;
  }
  nums(name: string): number[] {
    return (this.values.get(name) ?? []) as number[];
  }
  str(name: string): string {
    return this.values.get(name) as string;
  }
  bool(name: string): boolean {
    return this.values.get(name) as boolean;
  }
  raw(name: string): Arg | undefined {
    return this.values.get(name) as Arg | undefined;
  }
  rawAll(name: string): Arg[] {
    return (this.values.get(name) ?? []) as Arg[];
  }
}

/**
 * Binds positional and keyword arguments to `params` as graphite-web's validateParams does:
 * extra positionals go to a final `multiple` parameter, a keyword names a parameter after the
 * positional ones, and every value is checked against its type (a FunctionError naming it).
 */
export function bindArgs(fn: string, params: ParamDef[], args: Arg[], kwargs: Record<string, Arg>): Bound {
  const last = params[params.length - 1];
  const nkw = Object.keys(kwargs).length;
  if (args.length + nkw > params.length && !last?.multiple) {
    throw new FunctionError(fn, `too many arguments (at most ${params.length})`);
  }
  const out = new Map<string, Arg | Arg[]>();
  args.forEach((a, i) => {
    const p = params[Math.min(i, params.length - 1)];
    const v = checkValue(fn, p, a, i + 1);
    if (p.multiple) out.set(p.name, [...(out.get(p.name) as Arg[] ?? []), v]);
    else out.set(p.name, v);
  });
  const rest = args.length >= params.length ? [] : params.slice(args.length);
  for (const name of Object.keys(kwargs)) {
    if (!rest.some((p) => p.name === name)) {
      const known = params.some((p) => p.name === name);
      throw new FunctionError(
        fn,
        known
          ? `argument '${name}' is given twice`
          : `unexpected keyword argument '${name}' (parameters: ${params.map((p) => p.name).join(", ")})`,
      );
    }
  }
  for (const p of rest) {
    const a = Object.hasOwn(kwargs, p.name) ? kwargs[p.name] : undefined;
    if (a === undefined) {
      if (p.required && !(p.multiple && out.has(p.name))) {
        throw new FunctionError(fn, `missing required argument '${p.name}'`);
      }
      if (p.default !== undefined) out.set(p.name, p.multiple ? [p.default] : p.default);
      continue;
    }
    const v = checkValue(fn, p, a, p.name);
    out.set(p.name, p.multiple ? [v] : v);
  }
  return new Bound(fn, out);
}

function checkValue(fn: string, p: ParamDef, a: Arg, where: number | string): Arg {
  const what = typeof where === "number" ? `argument ${where} (${p.name})` : `argument '${where}'`;
  const bad = (expected: string): never => {
    throw new FunctionError(fn, `${what} must be ${expected}, not ${describe(a)}`);
  };
  let v: Arg = a;
  switch (p.type) {
    case "seriesList":
      if (!Array.isArray(a)) bad("a series list");
      break;
    case "float":
      if (typeof a !== "number") bad("a number");
      break;
    case "integer":
    case "node":
      if (typeof a !== "number" || !Number.isInteger(a)) bad("a whole number");
      break;
    case "nodeOrTag":
      if (typeof a !== "string" && (typeof a !== "number" || !Number.isInteger(a))) {
        bad("a node index (a whole number) or a tag name");
      }
      break;
    case "tag":
      if (typeof a !== "string") bad("a tag name (a string)");
      break;
    case "intOrInf":
      if (typeof a !== "number" || !(Number.isInteger(a) || a === Infinity)) bad("a whole number");
      break;
    case "boolean":
      v = toBoolean(a) ?? bad("true or false");
      break;
    case "string":
    case "aggFunc":
    case "aggOrSeriesFunc":
      if (typeof a !== "string") bad("a string");
      break;
    case "interval":
      if (typeof a !== "string") bad('an interval string like "1h"');
      parseTimeOffset(fn, a as string);
      break;
    case "intOrInterval":
      if (typeof a === "string") parseTimeOffset(fn, a);
      else if (typeof a !== "number" || !Number.isInteger(a)) bad("a whole number or an interval string");
      break;
    case "any":
      break;
  }
  if (p.options && !p.options.includes(v as string)) {
    throw new FunctionError(fn, `${what}: '${String(v)}' is not one of ${p.options.join(", ")}`);
  }
  return v;
}

function describe(a: Arg): string {
  return Array.isArray(a) ? "a series list" : typeof a === "string" ? `'${a}'` : String(a);
}

/** graphite-web's validateBoolean: true/false, 1/0, or those words in any case. */
function toBoolean(a: Arg): boolean | undefined {
  if (typeof a === "boolean") return a;
  if (typeof a === "number") return a === 1 ? true : a === 0 ? false : undefined;
  if (typeof a === "string") {
    const l = a.toLowerCase();
    return l === "true" ? true : l === "false" ? false : undefined;
  }
  return undefined;
}

/**
 * graphite-web's parseTimeOffset in seconds: an optional sign, then number-unit pairs (`1h30min`);
 * a unit is known by its first letters (s, min, h, d, w, mon = 30 d, y = 365 d).
 */
export function parseTimeOffset(fn: string, text: string): number {
  const m = /^([-+]?)((?:\d+[A-Za-z]+)+)$/.exec(text);
  if (!m) throw new FunctionError(fn, `'${text}' is not an interval like 30s, 5min, 1h, 1d, 1h30min`);
  let total = 0;
  for (const [, num, unit] of m[2].matchAll(/(\d+)([A-Za-z]+)/g)) {
    const mult = unit.startsWith("s")
      ? 1
      : unit.startsWith("min")
      ? 60
      : unit.startsWith("h")
      ? 3600
      : unit.startsWith("d")
      ? 86400
      : unit.startsWith("w")
      ? 7 * 86400
      : unit.startsWith("mon")
      ? 30 * 86400
      : unit.startsWith("y")
      ? 365 * 86400
      : NaN;
    if (Number.isNaN(mult)) throw new FunctionError(fn, `'${text}': unknown time unit '${unit}'`);
    total += Number(num) * mult;
  }
  if (!Number.isSafeInteger(total)) throw new FunctionError(fn, `'${text}' is too long an interval`);
  return m[1] === "-" ? -total : total;
}
