/**
 * The agent's one order for names (config files, generators, nodes handed to templates, handlers,
 * checks, detectors, exported checks): UTF-16 code units, as Python's `sorted()` of the original
 * compares strings. Not `localeCompare`: its order follows the host's ICU locale (two hosts of
 * one cluster could render a generator's `ok_nodes` in different orders and each rewrite the file
 * the other would not), and its first call loads ICU's collation tables: ~10 ms of CPU and
 * ~4 MB of the executable's pages made resident, at every agent start (the config files are
 * sorted before anything else runs).
 *
 * ```ts
 * names.sort(byCodeUnit);                       // ["B", "a", "b"]
 * defs.sort(byKey((d) => d.name));
 * ```
 */

/** -1, 0 or 1 by UTF-16 code units (`<` on strings). */
export function byCodeUnit(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** A comparator by the string `key` of each element, in code-unit order. */
export function byKey<T>(key: (t: T) => string): (a: T, b: T) => number {
  return (a, b) => byCodeUnit(key(a), key(b));
}
