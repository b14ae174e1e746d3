/**
 * The part of a long input to show in an error that points into it: a 100 kB expression or
 * Graphite target pasted by mistake is not echoed whole, by the CLI or in an API's 400 answer.
 *
 * ```ts
 * const e = excerpt(expr, column - 1);   // { text: "…1 + ) + 2…", caret: 61 }
 * console.log(e.text + "\n" + " ".repeat(e.caret!) + "^");
 * ```
 */

/** Characters of the input shown at most (plus a `…` at each cut end). */
export const EXCERPT_WIDTH = 100;
/** Of those, how many come before the position when the input is cut. */
const EXCERPT_BEFORE = 60;

/**
 * `text` whole when short, else EXCERPT_WIDTH characters of it around 0-based `at` (null: from the
 * start), with where `at` lands in what is shown (null without `at`). Line breaks and tabs show as
 * spaces, so a caret printed under the excerpt stays under its character.
 */
export function excerpt(text: string, at: number | null): { text: string; caret: number | null } {
  const flat = text.replace(/[\t\n\r\v\f]/g, " ");
  const pos = at !== null && at >= 0 ? Math.min(at, flat.length) : null;
  if (flat.length <= EXCERPT_WIDTH) return { text: flat, caret: pos };
  const start = pos === null ? 0 : Math.max(0, Math.min(pos - EXCERPT_BEFORE, flat.length - EXCERPT_WIDTH));
  const end = Math.min(flat.length, start + EXCERPT_WIDTH);
  const head = start > 0 ? "…" : "";
  return {
    text: head + flat.slice(start, end) + (end < flat.length ? "…" : ""),
    caret: pos === null ? null : pos - start + head.length,
  };
}
