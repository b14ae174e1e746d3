/**
 * kernelstats: every `key value` line of `/proc/stat` and `/proc/vmstat`, with the counters that
 * only grow turned into `<key>/s` rates.
 */

/** Keys replaced by `<key>/s` rates. */
export const RATE_KEYS = ["ctxt", "processes", "pgfault", "pgmajfault"];

/** Space, tab and the other ASCII blanks a `/proc` line may hold (`\s` of the old split). */
export function blank(c: number): boolean {
  return c === 32 || (c >= 9 && c <= 13);
}

/**
 * `key n [n...]` lines (first number kept), cpu lines skipped; into `out` when given (the two files of
 * one sample go into one object). Scanned by index, not split into lines and fields: /proc/vmstat's
 * ~190 lines every 10 s were ~190 arrays and ~600 strings of garbage a round in an idle agent.
 */
export function parseKeyValues(text: string, out: Record<string, number> = {}): Record<string, number> {
  const len = text.length;
  for (let start = 0; start < len;) {
    let end = text.indexOf("\n", start);
    if (end < 0) end = len;
    let k = start;
    while (k < end && blank(text.charCodeAt(k))) k++;
    let ke = k;
    while (ke < end && !blank(text.charCodeAt(ke))) ke++;
    let v = ke;
    while (v < end && blank(text.charCodeAt(v))) v++;
    let ve = v;
    while (ve < end && !blank(text.charCodeAt(ve))) ve++;
    if (ve > v && !text.startsWith("cpu", k)) {
      const n = Number(text.slice(v, ve));
      if (Number.isFinite(n)) out[text.slice(k, ke)] = n;
    }
    start = end + 1;
  }
  return out;
}

/** The result: raw values, and rates for RATE_KEYS between two samples `dtSec` apart. */
export function kernelstatsResult(
  prev: Record<string, number> | null,
  cur: Record<string, number>,
  dtSec: number,
): Record<string, number> {
  const out: Record<string, number> = {};
  for (const k in cur) {
    const v = cur[k];
    if (RATE_KEYS.includes(k)) {
      const p = prev?.[k];
      out[`${k}/s`] = p === undefined || dtSec <= 0
        ? 0
        : Math.round((Math.max(0, v - p) / dtSec) * 100) / 100;
    } else out[k] = v;
  }
  return out;
}
