/**
 * `$macro$` expansion of reference §6.4 and the configuration lookup shared with `{configuration.x}`
 * (floor 0, pure): a dotted path is tried in the check object, then the linked service object, then
 * the global configuration data; `a|b` tries `a` then `b`; no hit → empty text.
 *
 * ```ts
 * expandMacros("-w $load.warning$", (p) => lookupPath([{ load: { warning: 1 } }], p)); // "-w 1"
 * ```
 */

/** Walks a dotted path; a key may itself hold dots (the longest existing key wins first). */
export function walkPath(root: unknown, segments: string[]): unknown {
  if (segments.length === 0) return root;
  if (root === null || typeof root !== "object" || Array.isArray(root)) return undefined;
  const obj = root as Record<string, unknown>;
  for (let n = segments.length; n >= 1; n--) {
    const key = segments.slice(0, n).join(".");
    if (Object.hasOwn(obj, key)) {
      const got = walkPath(obj[key], segments.slice(n));
      if (got !== undefined) return got;
    }
  }
  return undefined;
}

/** Looks a dotted path up in each scope in order (check, service, configuration data). */
export function lookupPath(scopes: Array<Record<string, unknown> | undefined>, path: string): unknown {
  const segments = path.split(".").map((s) => s.trim());
  if (segments.some((s) => s === "")) return undefined;
  for (const scope of scopes) {
    if (!scope) continue;
    const v = walkPath(scope, segments);
    if (v !== undefined && v !== null) return v;
  }
  return undefined;
}

/** Text of a looked-up value as a plugin argument (Python-like for booleans). */
export function macroText(v: unknown): string {
  if (v === undefined || v === null) return "";
  if (typeof v === "string") return v;
  if (typeof v === "boolean") return v ? "True" : "False";
  if (typeof v === "number") return String(v);
  return JSON.stringify(v);
}

const MACRO = /\$\s*([^$\s][^$]*?)\s*\$/g;

/** Replaces every `$path$` / `$a|b$` with `lookup(path)` rendered as text; unknown → "". */
export function expandMacros(text: string, lookup: (path: string) => unknown): string {
  return text.replace(MACRO, (_m, inner: string) => {
    for (const alt of inner.split("|")) {
      const key = alt.trim();
      if (!key) continue;
      const v = lookup(key);
      if (v !== undefined && v !== null) return macroText(v);
    }
    return "";
  });
}

/** Names used by `$…$` in a text (for diagnostics). */
export function macroNames(text: string): string[] {
  return [...text.matchAll(MACRO)].map((m) => m[1]);
}
