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
