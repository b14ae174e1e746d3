/**
 * `/proc/meminfo` into the reference's memory result: every key lower-cased (kB) plus
 * `phys_total`, `phys_free`, `phys_used` (%), `swap_free`, `swap_used` (%).
 */
import { blank } from "./kernelstats.ts";

/**
 * Parses `/proc/meminfo` (values in kB, as integers): every `Key:<blanks>digits` line, the key
 * trimmed and lower-cased. Scanned by index, not split into lines and matched by a regular
 * expression each: the memory collector parses it every 10 s, and that was one of the larger items
 * of an idle agent's profile. Blanks are the ASCII ones (/proc writes no others).
 */
export function parseMeminfo(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  const len = text.length;
  for (let start = 0; start < len;) {
    let end = text.indexOf("\n", start);
    if (end < 0) end = len;
    const colon = text.indexOf(":", start);
    if (colon > start && colon < end) {
      let v = colon + 1;
      while (v < end && blank(text.charCodeAt(v))) v++;
      let d = v;
      while (d < end && digit(text.charCodeAt(d))) d++;
      if (v > colon + 1 && d > v) {
        out[text.slice(start, colon).trim().toLowerCase()] = Number(text.slice(v, d));
      }
    }
    start = end + 1;
  }
  if (out.memtotal === undefined) throw new Error("/proc/meminfo: no MemTotal line");
  return out;
}

function digit(c: number): boolean {
  return c >= 48 && c <= 57;
}

/** The memory collector's result from a meminfo text. */
export function memoryResult(text: string): Record<string, number> {
  const m = parseMeminfo(text);
  const physTotal = m.memtotal;
  const physFree = (m.memfree ?? 0) + (m.buffers ?? 0) + (m.cached ?? 0);
  const swapTotal = m.swaptotal ?? 0;
  const swapFree = m.swapfree ?? 0;
  return {
    ...m,
    phys_total: physTotal,
    phys_free: physFree,
    phys_used: physTotal > 0 ? Math.round(((physTotal - physFree) * 100) / physTotal) : 0,
    swap_free: swapFree,
    swap_used: swapTotal > 0 ? Math.round(((swapTotal - swapFree) * 100) / swapTotal) : 0,
  };
}
