/**
 * `/render`: parses the request (targets, `from`/`until` in Graphite's forms, `format`,
 * `maxDataPoints`), fetches every path of every target once from a `SeriesSource` (again from
 * earlier for movingAverage's look-back, as graphite-web does), evaluates the function calls,
 * consolidates to `maxDataPoints` and formats as json, csv or raw.
 */
import { type Expr, parseTarget, pathsOf, TargetError } from "./target_parser.ts";
import {
  applyFunction,
  type Arg,
  consolidate,
  FunctionError,
  MAX_RENDER_POINTS,
  movingAverage,
  movingAveragePreview,
  type Series,
} from "./render_functions.ts";
import type { FetchedSeries } from "./ts_store.ts";

/** Where series come from: the local store, or every `ts` node of the cluster. */
export interface SeriesSource {
  /** Series whose names match the path pattern, between `from` and `until` (Unix seconds). */
  fetch(pattern: string, from: number, until: number): Promise<FetchedSeries[]>;
}

export class RenderError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "RenderError";
  }
}

const UNITS: Array<[RegExp, number]> = [
  [/^(s|sec|secs|seconds?)$/, 1],
  [/^(min|mins|minutes?)$/, 60],
  [/^(h|hours?)$/, 3600],
  [/^(d|days?)$/, 86400],
  [/^(w|weeks?)$/, 7 * 86400],
  [/^(mon|months?)$/, 30 * 86400],
  [/^(y|years?)$/, 365 * 86400],
];

/**
 * A Graphite time: `now`, epoch seconds, `-24h`/`-7d`/`-30min`/`-1w`/`-1mon`/`-1y` relative to now,
 * `HH:MM_YYYYMMDD`, `YYYYMMDD` (UTC). Throws RenderError naming the parameter.
 */
export function parseGraphiteTime(text: string, nowSeconds: number, param: string): number {
  const t = text.trim();
  if (t === "now" || t === "") return nowSeconds;
  // digits are epoch seconds, except eight that read as a date (graphite-web's rule): YYYYMMDD
  if (/^\d+$/.test(t) && !looksLikeDate(t)) return Number(t);
  const rel = /^([-+])(\d+)\s*([a-z]+)$/.exec(t);
  if (rel) {
    const unit = UNITS.find(([re]) => re.test(rel[3]));
    if (!unit) throw new RenderError(`${param}: unknown time unit '${rel[3]}'`);
    const d = Number(rel[2]) * unit[1];
    return rel[1] === "-" ? nowSeconds - d : nowSeconds + d;
  }
  const abs = /^(?:(\d{1,2}):(\d{2})_)?(\d{4})(\d{2})(\d{2})$/.exec(t);
  if (abs) {
    const [, hh, mm, y, mo, d] = abs;
    const ms = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(hh ?? 0), Number(mm ?? 0));
    if (Number.isNaN(ms)) throw new RenderError(`${param}: '${text}' is not a valid date`);
    return Math.floor(ms / 1000);
  }
  throw new RenderError(`${param}: '${text}' is not a time (now, -24h, -7d, epoch seconds, HH:MM_YYYYMMDD)`);
}

function looksLikeDate(digits: string): boolean {
  return digits.length === 8 && Number(digits.slice(0, 4)) > 1900 && Number(digits.slice(4, 6)) < 13 &&
    Number(digits.slice(6)) < 32;
}

export interface RenderRequest {
  targets: string[];
  from: number;
  until: number;
  format: "json" | "csv" | "raw";
  maxDataPoints: number | null;
}

/** Reads render parameters (repeated `target`, `from`, `until`, `format`, `maxDataPoints`). */
export function renderRequest(params: URLSearchParams, nowSeconds: number): RenderRequest {
  const targets = params.getAll("target").concat(params.getAll("target[]")).filter((t) => t.trim() !== "");
  const from = parseGraphiteTime(params.get("from") ?? "-24h", nowSeconds, "from");
  const until = parseGraphiteTime(params.get("until") ?? "now", nowSeconds, "until");
  if (until <= from) throw new RenderError(`until (${until}) must be after from (${from})`);
  const format = params.get("format") ?? "json";
  if (format !== "json" && format !== "csv" && format !== "raw") {
    throw new RenderError(`format: '${format}' is not one of json, csv, raw`);
  }
  const mdp = params.get("maxDataPoints");
  let maxDataPoints: number | null = null;
  if (mdp !== null && mdp !== "") {
    maxDataPoints = Number(mdp);
    if (!Number.isInteger(maxDataPoints) || maxDataPoints < 1) {
      throw new RenderError(`maxDataPoints: '${mdp}' is not a positive integer`);
    }
  }
  return { targets, from, until, format, maxDataPoints };
}

/** Evaluates every target; TargetError/FunctionError/RenderError mean a 400. */
export async function render(req: RenderRequest, source: SeriesSource): Promise<Series[]> {
  const parsed = req.targets.map((t) => ({ target: t, expr: parseTarget(t) }));
  // every path once per `from` (movingAverage fetches its argument again from earlier)
  const cache = new Map<string, Series[]>();
  let read = 0;
  const fetchPath = async (p: string, from: number): Promise<Series[]> => {
    const key = `${from}|${p}`;
    let list = cache.get(key);
    if (!list) {
      list = (await source.fetch(p, from, req.until)).map((s) => ({ ...s, pathExpression: p }))
        .sort((a, b) => a.name < b.name ? -1 : 1);
      read += points(list);
      if (read > MAX_RENDER_POINTS) throw new RenderError(tooMany("reads", read));
      cache.set(key, list);
    }
    return list;
  };
  const paths = new Set(parsed.flatMap(({ expr }) => pathsOf(expr)));
  if (paths.size > MAX_PATHS) {
    throw new RenderError(`the request names ${paths.size} different paths (at most ${MAX_PATHS})`);
  }
  for (const p of paths) await fetchPath(p, req.from);
  const out: Series[] = [];
  let answered = 0;
  for (const { target, expr } of parsed) {
    const v = await evaluate(expr, { from: req.from, target, fetchPath });
    if (!Array.isArray(v)) throw new TargetError(target, 0, "a target must evaluate to series");
    answered += points(v);
    if (answered > MAX_RENDER_POINTS) throw new RenderError(tooMany("answers", answered));
    out.push(...v);
  }
  if (req.maxDataPoints !== null) {
    const mdp = req.maxDataPoints;
    return out.map((s) =>
      s.values.length > mdp ? consolidate(s, Math.ceil(s.values.length / mdp), "average") : s
    );
  }
  return out;
}

/** Most different path patterns one render may name (each is matched against every stored name). */
export const MAX_PATHS = 100;

function points(list: Series[]): number {
  let n = 0;
  for (const s of list) n += s.values.length;
  return n;
}

function tooMany(what: string, n: number): string {
  return `the request ${what} more than ${MAX_RENDER_POINTS} points (${n} so far): narrow the paths or the time range`;
}

interface EvalCtx {
  from: number;
  target: string;
  fetchPath(p: string, from: number): Promise<Series[]>;
}

async function evaluate(e: Expr, ctx: EvalCtx): Promise<Arg> {
  switch (e.kind) {
    case "path":
      return await ctx.fetchPath(e.path, ctx.from);
    case "number":
    case "string":
    case "bool":
      return e.value;
    case "call": {
      try {
        if (e.name === "movingAverage") return await movingAverageCall(e, ctx);
        const args: Arg[] = [];
        for (const a of e.args) args.push(await evaluate(a, ctx));
        const kwargs: Record<string, Arg> = {};
        for (const [k, v] of Object.entries(e.kwargs)) kwargs[k] = await evaluate(v, ctx);
        return applyFunction(e.name, args, kwargs, e.source);
      } catch (err) {
        if (err instanceof FunctionError) throw new TargetError(ctx.target, e.pos, err.message);
        throw err;
      }
    }
  }
}

/**
 * graphite-web's movingAverage: the first argument evaluated again from `preview` seconds before
 * `from`, so the first points average real data instead of a window cut short.
 */
async function movingAverageCall(e: Extract<Expr, { kind: "call" }>, ctx: EvalCtx): Promise<Series[]> {
  const fn = e.name;
  const [first, second] = e.args;
  if (!first) throw new FunctionError(fn, "argument 1 must be a series list");
  const window = second
    ? await evaluate(second, ctx)
    : e.kwargs.windowSize
    ? await evaluate(e.kwargs.windowSize, ctx)
    : undefined;
  const plain = await evaluate(first, ctx);
  if (!Array.isArray(plain)) throw new FunctionError(fn, "argument 1 must be a series list");
  if (plain.length === 0) return [];
  const preview = movingAveragePreview(fn, plain, window);
  const boot = await evaluate(first, { ...ctx, from: ctx.from - preview });
  if (!Array.isArray(boot)) throw new FunctionError(fn, "argument 1 must be a series list");
  return movingAverage(fn, boot, window, preview);
}

/** Graphite's JSON: `[{"target", "datapoints": [[value|null, ts], ...]}]`. */
export function toJson(
  list: Series[],
): Array<{ target: string; datapoints: Array<[number | null, number]> }> {
  return list.map((s) => ({
    target: s.name,
    datapoints: s.values.map((v, i) => [v, s.start + i * s.step] as [number | null, number]),
  }));
}

/** Graphite's CSV: `name,YYYY-MM-DD HH:MM:SS,value` (empty value for null), UTC. */
export function toCsv(list: Series[]): string {
  const lines: string[] = [];
  for (const s of list) {
    s.values.forEach((v, i) => {
      const ts = new Date((s.start + i * s.step) * 1000).toISOString().slice(0, 19).replace("T", " ");
      lines.push(`${s.name},${ts},${v === null ? "" : v}`);
    });
  }
  return lines.join("\n") + (lines.length ? "\n" : "");
}

/** Graphite's raw: `name,start,end,step|v1,v2,None,...` one line per series. */
export function toRaw(list: Series[]): string {
  return list.map((s) =>
    `${s.name},${s.start},${s.end},${s.step}|${s.values.map((v) => v === null ? "None" : v).join(",")}\n`
  )
    .join("");
}
