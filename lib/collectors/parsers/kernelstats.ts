/**
 * kernelstats: every `key value` line of `/proc/stat` and `/proc/vmstat`, with the counters that
 * only grow turned into `<key>/s` rates.
 */

/** Keys replaced by `<key>/s` rates. */
export const RATE_KEYS = ["ctxt", "processes", "pgfault", "pgmajfault"];

/** `key n [n...]` lines (first number kept), cpu lines skipped. */
export function parseKeyValues(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split("\n")) {
    const parts = line.trim().split(/\s+/);
    if (parts.length < 2 || parts[0].startsWith("cpu")) continue;
    const n = Number(parts[1]);
    if (Number.isFinite(n)) out[parts[0]] = n;
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
  for (const [k, v] of Object.entries(cur)) {
    if (RATE_KEYS.includes(k)) {
      const p = prev?.[k];
      out[`${k}/s`] = p === undefined || dtSec <= 0
        ? 0
        : Math.round((Math.max(0, v - p) / dtSec) * 100) / 100;
    } else out[k] = v;
  }
  return out;
}
