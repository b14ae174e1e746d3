/**
 * `/render`: parses the request (targets, `from`/`until` in Graphite's forms, `format`,
 * `maxDataPoints`), fetches every path of every target once from a `SeriesSource` (again from
 * over another range for movingAverage's look-back, timeShift and hitcount's alignment, as
 * graphite-web does), evaluates the function calls,
 * consolidates to `maxDataPoints` and formats as json, csv or raw.
 */
import { type Expr, parseTarget, pathsOf, seriesByTagPath, TargetError } from "./target_parser.ts";
import { seriesTags, TagError, TagQuery } from "./tags.ts";
import {
  applyFunction,
  type Arg,
  consolidate,
  type FnContext,
  functionDef,
  FunctionError,
  MAX_RENDER_POINTS,
  movingAverage,
  movingAveragePreview,
  type Series,
} from "./render_functions.ts";
import { bindArgs, type Bound, chargeWork } from "./render_core.ts";
import {
  hitcount,
  hitcountAlignedFrom,
  positiveInterval,
  timeShift,
  timeShiftOffset,
} from "./render_fn_transform.ts";
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
  if (params.has("jsonp")) throw new RenderError("jsonp: not supported (the answer is plain JSON)");
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
    // decimal digits, as graphite-web's int() reads it (Number() took 0x10 and 1e2)
    maxDataPoints = /^\s*\d+\s*$/.test(mdp) ? Number(mdp) : NaN;
    if (!Number.isSafeInteger(maxDataPoints) || maxDataPoints < 1) {
      throw new RenderError(`maxDataPoints: '${mdp}' is not a positive integer`);
    }
  }
  return { targets, from, until, format, maxDataPoints };
}

/** Evaluates every target; TargetError/FunctionError/RenderError mean a 400. */
export async function render(req: RenderRequest, source: SeriesSource): Promise<Series[]> {
  const parsed = req.targets.map((t) => ({ target: t, expr: parseTarget(t) }));
  // every path once per range (movingAverage, timeShift and hitcount fetch theirs again over another)
  const cache = new Map<string, Series[]>();
  let read = 0;
  const fetchPath = async (p: string, from: number, until: number): Promise<Series[]> => {
    const key = `${from}|${until}|${p}`;
    let list = cache.get(key);
    if (!list) {
      list = (await source.fetch(p, from, until)).map((s) => ({
        ...s,
        pathExpression: p,
        tags: seriesTags(s.name),
      })).sort((a, b) => a.name < b.name ? -1 : 1);
      read += points(list);
      if (read > MAX_RENDER_POINTS) throw new RenderError(tooMany("reads", read));
      cache.set(key, list);
    }
    // a copy: functions never change what another target (or a second evaluation) reads
    return list.map((s) => ({ ...s }));
  };
  for (const { target, expr } of parsed) checkSeriesByTag(target, expr);
  const paths = new Set(parsed.flatMap(({ expr }) => pathsOf(expr)));
  if (paths.size > MAX_PATHS) {
    throw new RenderError(`the request names ${paths.size} different paths (at most ${MAX_PATHS})`);
  }
  for (const p of paths) await fetchPath(p, req.from, req.until);
  const out: Series[] = [];
  let answered = 0;
  const state = { calls: 0 };
  const stacks = new Map<string, number[]>();
  const regex = { steps: 0 };
  const work = { points: 0 };
  for (const { target, expr } of parsed) {
    const v = await evaluate(expr, {
      from: req.from,
      until: req.until,
      target,
      fetchPath,
      state,
      stacks,
      regex,
      work,
    });
    if (!Array.isArray(v)) throw new TargetError(target, 0, "a target must evaluate to series");
    answered += points(v);
    if (answered > MAX_RENDER_POINTS) throw new RenderError(tooMany("answers", answered));
    for (const s of v) out.push(s); // (a spread of 200 000 series would overflow the call's arguments)
  }
  if (req.maxDataPoints !== null) {
    const mdp = req.maxDataPoints;
    return out.map((s) =>
      s.values.length > mdp
        ? consolidate(s, Math.ceil(s.values.length / mdp), s.consolidationFunc ?? "average")
        : s
    );
  }
  return out;
}

/**
 * Every seriesByTag call of a target checked before anything is fetched: string arguments only,
 * each a valid tag expression, at least one requiring a value (a TargetError naming it).
 */
function checkSeriesByTag(target: string, e: Expr): void {
  if (e.kind !== "call") return;
  if (e.name !== "seriesByTag") {
    for (const a of [...e.args, ...Object.values(e.kwargs)]) checkSeriesByTag(target, a);
    return;
  }
  if (Object.keys(e.kwargs).length) {
    throw new TargetError(target, e.pos, "seriesByTag takes tag expressions only, no keyword arguments");
  }
  const exprs: string[] = [];
  e.args.forEach((a, i) => {
    if (a.kind !== "string") {
      throw new TargetError(target, a.pos, `seriesByTag: argument ${i + 1} must be a quoted tag expression`);
    }
    exprs.push(a.value);
  });
  try {
    new TagQuery(exprs, { steps: 0 });
  } catch (err) {
    if (err instanceof TagError) throw new TargetError(target, e.pos, `seriesByTag: ${err.message}`);
    throw err;
  }
}

/** Most different path patterns one render may name (each is matched against every stored name). */
export const MAX_PATHS = 100;

/**
 * Most function calls one render evaluates: timeShift, movingAverage and hitcount evaluate their
 * argument twice, so nesting them doubles the work at each level.
 */
export const MAX_CALLS = 10_000;

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
  until: number;
  target: string;
  fetchPath(p: string, from: number, until: number): Promise<Series[]>;
  state: { calls: number };
  stacks: Map<string, number[]>;
  regex: { steps: number };
  work: { points: number };
}

type Call = Extract<Expr, { kind: "call" }>;

/** Functions that evaluate their first argument again over another range, as graphite-web does. */
const REFETCHING: Record<string, (e: Call, ctx: EvalCtx) => Promise<Series[]>> = {
  movingAverage: movingAverageCall,
  timeShift: timeShiftCall,
  hitcount: hitcountCall,
};

async function evaluate(e: Expr, ctx: EvalCtx): Promise<Arg> {
  switch (e.kind) {
    case "path":
      return await ctx.fetchPath(e.path, ctx.from, ctx.until);
    case "number":
    case "string":
    case "bool":
      return e.value;
    case "call": {
      if (++ctx.state.calls > MAX_CALLS) {
        throw new TargetError(
          ctx.target,
          e.pos,
          `the request evaluates more than ${MAX_CALLS} function calls`,
        );
      }
      try {
        if (e.name === "seriesByTag") return await ctx.fetchPath(seriesByTagPath(e), ctx.from, ctx.until);
        if (Object.hasOwn(REFETCHING, e.name)) return await REFETCHING[e.name](e, ctx);
        const { args, kwargs } = await evaluateArgs(e, ctx);
        // what a call takes in and makes is its work (a cached path passed 50 000 times is read once)
        chargeWork(e.name, ctx, argPoints([...args, ...Object.values(kwargs)]));
        const out = applyFunction(e.name, args, kwargs, fnContext(ctx));
        if (Array.isArray(out)) chargeWork(e.name, ctx, points(out));
        return out;
      } catch (err) {
        if (err instanceof FunctionError) throw new TargetError(ctx.target, e.pos, err.message);
        throw err;
      }
    }
  }
}

function fnContext(ctx: EvalCtx): FnContext {
  return { from: ctx.from, until: ctx.until, stacks: ctx.stacks, regex: ctx.regex, work: ctx.work };
}

/** Points of the series lists among a call's arguments. */
function argPoints(args: Arg[]): number {
  let n = 0;
  for (const a of args) if (Array.isArray(a)) n += points(a);
  return n;
}

async function evaluateArgs(e: Call, ctx: EvalCtx): Promise<{ args: Arg[]; kwargs: Record<string, Arg> }> {
  const args: Arg[] = [];
  for (const a of e.args) args.push(await evaluate(a, ctx));
  const kwargs: Record<string, Arg> = {};
  for (const [k, v] of Object.entries(e.kwargs)) kwargs[k] = await evaluate(v, ctx);
  return { args, kwargs };
}

/** The call's arguments bound to its parameters (type errors first), and its first argument's expression. */
async function bound(e: Call, ctx: EvalCtx): Promise<{ p: Bound; first: Expr }> {
  const def = functionDef(e.name)!;
  const { args, kwargs } = await evaluateArgs(e, ctx);
  const p = bindArgs(e.name, def.params, args, kwargs);
  return { p, first: e.args[0] ?? e.kwargs.seriesList };
}

async function seriesAt(first: Expr, ctx: EvalCtx, from: number, until: number): Promise<Series[]> {
  const v = await evaluate(first, { ...ctx, from, until });
  return Array.isArray(v) ? v : [];
}

/**
 * graphite-web's movingAverage: the first argument evaluated again from `preview` seconds before
 * `from`, so the first points average real data instead of a window cut short.
 */
async function movingAverageCall(e: Call, ctx: EvalCtx): Promise<Series[]> {
  const { p, first } = await bound(e, ctx);
  const plain = p.list("seriesList");
  if (plain.length === 0) return [];
  const window = p.raw("windowSize");
  const preview = movingAveragePreview(e.name, plain, window);
  const list = await seriesAt(first, ctx, ctx.from - preview, ctx.until);
  // each output point averages a window of points: over weeks at a minute's step, 10^4 per point
  let work = 0;
  for (const s of list) {
    const w = typeof window === "string" ? Math.floor(preview / s.step) : window as number;
    work += Math.max(0, s.values.length - w) * Math.max(1, w);
  }
  chargeWork(e.name, ctx, work);
  return movingAverage(e.name, list, window, preview);
}

/** graphite-web's timeShift: the first argument evaluated over the range moved by the shift. */
async function timeShiftCall(e: Call, ctx: EvalCtx): Promise<Series[]> {
  const { p, first } = await bound(e, ctx);
  const plain = p.list("seriesList");
  if (plain.length === 0) return [];
  const { seconds, label } = timeShiftOffset(e.name, p.str("timeShift"));
  if (ctx.from + seconds < 0) {
    throw new FunctionError(e.name, `'${p.str("timeShift")}' moves the range before 1970`);
  }
  const shifted = await seriesAt(first, ctx, ctx.from + seconds, ctx.until + seconds);
  return timeShift(plain, shifted, label, p.bool("resetEnd"));
}

/** graphite-web's hitcount: with alignToInterval, the argument evaluated again from an aligned start. */
async function hitcountCall(e: Call, ctx: EvalCtx): Promise<Series[]> {
  const { p, first } = await bound(e, ctx);
  const text = p.str("intervalString");
  if (!p.bool("alignToInterval")) return hitcount(e.name, p.list("seriesList"), text, false);
  const from = hitcountAlignedFrom(ctx.from, positiveInterval(e.name, text));
  return hitcount(e.name, await seriesAt(first, ctx, from, ctx.until), text, true);
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
