/**
 * Where the agent's files are: the checkout (or the compiled binary's embedded tree) its modules
 * come from, also when they run from the JavaScript copy of lib/jscopy.ts (`.cache/js/<key>/`,
 * which holds modules only). Assets (`ui/`, `templates/`, `etc/packs/`, `deno.json`) are found
 * from projectRoot(), never relative to a module.
 *
 * ```ts
 * new URL("ui/", projectRoot()); // file:///opt/kunai/ui/
 * ```
 */

/** The checkout: this file's parent directory, or the checkout a copy was made from. */
export function projectRoot(here: string | URL = import.meta.url): URL {
  // this file is lib/root.ts (lib/root.js in a copy)
  const root = new URL("../", here);
  if (root.protocol !== "file:") return root;
  const m = root.pathname.match(/^(.*\/)\.cache\/js\/[0-9a-f]{16,}\/$/);
  return m ? new URL(`file://${m[1]}`) : root;
}

/** True when the module at `url` runs from a JavaScript copy. */
export function runsFromCopy(url: string = import.meta.url): boolean {
  return /\/\.cache\/js\/[0-9a-f]{16,}\//.test(url);
}
