/**
 * How deep a parsed JSON (or YAML) value nests, checked without recursion: a configuration file or
 * an API body nested thousands of levels deep parses fine, then overflows the stack of whatever walks
 * it later (a 200 000-level check definition made `GET /agent/checks` fail). Nothing kunai reads
 * needs more than a few levels.
 *
 * ```ts
 * tooDeep({ a: { b: [1] } }, 2); // "a.b"
 * ```
 */

/** Deepest nesting accepted in configuration files and API bodies. */
export const MAX_JSON_DEPTH = 64;

/** The path of the first object or array nested deeper than `max` levels, or null. */
export function tooDeep(value: unknown, max = MAX_JSON_DEPTH): string | null {
  // the walk stops at `max`, so no path it builds has more than `max` parts
  const stack: Array<[unknown, number, string]> = [[value, 0, ""]];
  while (stack.length) {
    const [v, depth, path] = stack.pop()!;
    if (v === null || typeof v !== "object") continue;
    if (depth >= max) return path;
    for (const [k, x] of Object.entries(v)) {
      if (x !== null && typeof x === "object") stack.push([x, depth + 1, path ? `${path}.${k}` : k]);
    }
  }
  return null;
}
