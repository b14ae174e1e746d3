/**
 * The `{…}` substitution of reference §6.6, done textually before parsing: `{collector.<name>.<path>}`
 * walks the latest results of a collector, `{configuration.<path>[|<path>…]}` asks the configuration
 * lookup (first alternative found wins). Values are inserted with Python's `str()`, unquoted.
 */
import type { CollectorResultsView } from "../types.ts";
import { EvalError } from "./errors.ts";
import { jsonPyStr } from "./pystr.ts";

/** What the substitution reads. */
export interface SubstitutionSource {
  collectors?: CollectorResultsView;
  lookup?: (path: string) => unknown;
}

const BRACES = /\{([^{}]*)\}/g;

/**
 * `{collector.<name>…}` of a collector that has no results yet (not run yet, or unknown): a
 * `missing` EvalError that names the collector, so checks and detectors can wait for a collector
 * that is scheduled instead of reporting an error right after start.
 */
export class CollectorPending extends EvalError {
  constructor(readonly collector: string, position?: number) {
    super("missing", `collector '${collector}' has no results`, position);
  }
}

/** Replaces every `{…}` of `expr`; throws EvalError `missing` / `name` naming the offending part. */
export function substituteText(expr: string, src: SubstitutionSource): string {
  return substituteWithMap(expr, src).text;
}

/** One replaced `{…}`: where it was and where its value landed. */
interface Replacement {
  from: number;
  length: number;
  to: number;
  newLength: number;
}

/**
 * Like substituteText, also returning `toOriginal(pos)`: an offset in the substituted text mapped back
 * to the expression as written (an offset inside an inserted value maps to its `{`).
 */
export function substituteWithMap(
  expr: string,
  src: SubstitutionSource,
): { text: string; toOriginal: (pos: number) => number } {
  const reps: Replacement[] = [];
  let shift = 0;
  const text = expr.replace(BRACES, (whole: string, inner: string, offset: number) => {
    const value = replacement(inner, src, offset);
    reps.push({ from: offset, length: whole.length, to: offset + shift, newLength: value.length });
    shift += value.length - whole.length;
    return value;
  });
  const toOriginal = (pos: number): number => {
    let delta = 0;
    for (const r of reps) {
      if (pos < r.to) break;
      if (pos < r.to + r.newLength) return r.from;
      delta = r.from + r.length - (r.to + r.newLength);
    }
    return pos + delta;
  };
  return { text, toOriginal };
}

function replacement(inner: string, src: SubstitutionSource, offset: number): string {
  const ref = inner.trim();
  if (ref.startsWith("collector.")) {
    return jsonPyStr(guarded(() => collectorValue(ref.slice(10), src, offset), offset));
  }
  if (ref.startsWith("configuration.")) {
    return jsonPyStr(guarded(() => configurationValue(ref.slice(14), src, offset), offset));
  }
  throw new EvalError(
    "name",
    `cannot substitute {${inner}}: only {collector.<name>.<key>…} and {configuration.<key>…} are known`,
    offset,
  );
}

/** A throwing view or lookup (caller's code) still ends as an EvalError. */
function guarded(fn: () => unknown, offset: number): unknown {
  try {
    return fn();
  } catch (err) {
    if (err instanceof EvalError) throw err;
    throw new EvalError("runtime", `substitution failed: ${(err as Error)?.message ?? String(err)}`, offset);
  }
}

function collectorValue(path: string, src: SubstitutionSource, offset: number): unknown {
  const dot = path.indexOf(".");
  const name = dot < 0 ? path : path.slice(0, dot);
  if (!name) throw new EvalError("syntax", "{collector.} needs a collector name", offset);
  const results = src.collectors?.get(name);
  if (results === undefined || results === null) throw new CollectorPending(name, offset);
  if (dot < 0) return results;
  const found = walkPath(results, path.slice(dot + 1));
  if (found === undefined) {
    throw new EvalError("missing", `collector '${name}' has no value at '${path.slice(dot + 1)}'`, offset);
  }
  return found;
}

/**
 * The one dotted-path walker (configuration lookups, `$macro$`, `{collector.x}`, detectors).
 * A key may itself contain dots (a mount point, a version): at each level the longest run of
 * segments naming an existing key is taken first. A numeric segment indexes an array (`x.0`).
 * Segments are trimmed; an empty segment (`a..b`, `a.`) finds nothing.
 *
 * ```ts
 * walkPath({ disks: { "/var/lib": { used: 3 } } }, "disks./var/lib.used"); // 3
 * walkPath({ x: [10, 20] }, "x.1"); // 20
 * ```
 */
export function walkPath(root: unknown, path: string | string[]): unknown {
  const segments = typeof path === "string" ? path.split(".").map((s) => s.trim()) : path;
  if (segments.some((s) => s === "")) return undefined;
  return walkSegments(root, segments);
}

function walkSegments(root: unknown, segments: string[]): unknown {
  if (segments.length === 0) return root;
  if (root === null || typeof root !== "object") return undefined;
  if (Array.isArray(root)) {
    if (!/^\d{1,9}$/.test(segments[0])) return undefined;
    return walkSegments(root[Number(segments[0])], segments.slice(1));
  }
  const obj = root as Record<string, unknown>;
  for (let n = segments.length; n >= 1; n--) {
    const key = segments.slice(0, n).join(".");
    if (Object.hasOwn(obj, key)) {
      const got = walkSegments(obj[key], segments.slice(n));
      if (got !== undefined) return got;
    }
  }
  return undefined;
}

function configurationValue(path: string, src: SubstitutionSource, offset: number): unknown {
  if (!src.lookup) throw new EvalError("missing", `no configuration to look up '${path}' in`, offset);
  for (const alt of path.split("|")) {
    const key = alt.trim();
    if (!key) continue;
    const v = src.lookup(key);
    if (v !== undefined) return v;
  }
  throw new EvalError("missing", `configuration has no value for '${path}'`, offset);
}
