/**
 * Result -> metrics: every numeric leaf (booleans as 1/0) as `[dotted.lower.path, value]`.
 *
 * ```ts
 * flattenMetrics({ cpuall: { "%idle": 97.5 }, up: true }); // [["cpuall.%idle", 97.5], ["up", 1]]
 * ```
 */
export function flattenMetrics(results: unknown, prefix = ""): Array<[string, number]> {
  const out: Array<[string, number]> = [];
  walk(results, prefix, out, 0);
  return out;
}

function walk(v: unknown, path: string, out: Array<[string, number]>, depth: number): void {
  if (depth > 32) return;
  if (typeof v === "number") {
    if (Number.isFinite(v) && path) out.push([path.toLowerCase(), v]);
  } else if (typeof v === "boolean") {
    if (path) out.push([path.toLowerCase(), v ? 1 : 0]);
  } else if (Array.isArray(v)) {
    v.forEach((x, i) => walk(x, path ? `${path}.${i}` : String(i), out, depth + 1));
  } else if (v && typeof v === "object") {
    for (const [k, x] of Object.entries(v)) walk(x, path ? `${path}.${k}` : k, out, depth + 1);
  }
}

interface PathNode {
  /** The leaf's metric name (lower case). */
  lower: string;
  /** The path as written (the children's prefix). */
  path: string;
  children: Map<string, PathNode> | null;
}

/** Distinct paths one collector may keep; beyond it the cache starts over (keys that never repeat). */
export const MAX_CACHED_PATHS = 20_000;

/**
 * `flattenMetrics` for a collector that reports the same shape every run: the metric names are
 * built (and lower-cased) once and the same strings handed out again, instead of two new strings
 * per leaf per run (~300 leaves every 10 s for the linux collectors, most of an idle agent's
 * allocations with the `{prefix}{name}` strings of `NamedPoints`).
 */
export class MetricPaths {
  #root = new Map<string, PathNode>();
  #size = 0;

  flatten(results: unknown): Array<[string, number]> {
    if (this.#size > MAX_CACHED_PATHS) {
      this.#root = new Map();
      this.#size = 0;
    }
    const out: Array<[string, number]> = [];
    this.#walk(results, "", this.#root, out, 0);
    return out;
  }

  #walk(v: unknown, path: string, node: Map<string, PathNode>, out: Array<[string, number]>, depth: number) {
    if (depth > 32 || !v || typeof v !== "object") return;
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) this.#visit(v[i], String(i), path, node, out, depth);
    } else {
      for (const k in v) {
        if (Object.hasOwn(v, k)) this.#visit((v as Record<string, unknown>)[k], k, path, node, out, depth);
      }
    }
  }

  #visit(
    x: unknown,
    k: string,
    path: string,
    node: Map<string, PathNode>,
    out: Array<[string, number]>,
    depth: number,
  ) {
    if (depth + 1 > 32) return; // as deep as flattenMetrics goes
    let child = node.get(k);
    if (!child) {
      const p = path ? `${path}.${k}` : k;
      node.set(k, child = { path: p, lower: p.toLowerCase(), children: null });
      this.#size++;
    }
    if (typeof x === "number") {
      if (Number.isFinite(x)) out.push([child.lower, x]);
    } else if (typeof x === "boolean") {
      out.push([child.lower, x ? 1 : 0]);
    } else if (x && typeof x === "object") {
      this.#walk(x, child.path, child.children ??= new Map(), out, depth + 1);
    }
  }
}

/**
 * `<prefix><metric>` names of one collector's points, built once per metric name (the names of
 * `MetricPaths` come back as the same strings, so a lookup is cheap).
 */
export class NamedPoints {
  #names = new Map<string, string>();
  #prefix = "";

  /** `[<prefix><name>, value, ts]` for each metric. */
  points(prefix: string, metrics: Array<[string, number]>, ts: number): Array<[string, number, number]> {
    if (prefix !== this.#prefix || this.#names.size > MAX_CACHED_PATHS) {
      this.#names = new Map();
      this.#prefix = prefix;
    }
    const out: Array<[string, number, number]> = new Array(metrics.length);
    for (let i = 0; i < metrics.length; i++) {
      const m = metrics[i];
      let full = this.#names.get(m[0]);
      if (full === undefined) this.#names.set(m[0], full = prefix + m[0]);
      out[i] = [full, m[1], ts];
    }
    return out;
  }
}
