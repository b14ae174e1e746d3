/**
 * `$macro$` expansion of reference §6.4 and the configuration lookup shared with `{configuration.x}`
 * (floor 0, pure): a dotted path is tried in the check object, then the linked service object, then
 * the global configuration data; `a|b` tries `a` then `b`; no hit → empty text.
 *
 * ```ts
 * expandMacros("-w $load.warning$", (p) => lookupPath([{ load: { warning: 1 } }], p)); // "-w 1"
 * ```
 */
import { walkPath } from "../evaluator/mod.ts";

/** Looks a dotted path up in each scope in order (check, service, configuration data). */
export function lookupPath(scopes: Array<Record<string, unknown> | undefined>, path: string): unknown {
  for (let i = 0; i < scopes.length; i++) { // indexed: expressions look paths up every round
    const scope = scopes[i];
    if (!scope) continue;
    const v = walkPath(scope, path);
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

/** The `$path$` macros of `text` that nothing answers (each became ""), as written: for error messages. */
export function unknownMacros(text: string, lookup: (path: string) => unknown): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(MACRO)) {
    const known = m[1].split("|").some((alt) => {
      const v = alt.trim() ? lookup(alt.trim()) : undefined;
      return v !== undefined && v !== null;
    });
    if (!known) out.push(`$${m[1]}$`);
  }
  return out;
}
