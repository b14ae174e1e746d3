/**
 * `/proc/meminfo` into the reference's memory result: every key lower-cased (kB) plus
 * `phys_total`, `phys_free`, `phys_used` (%), `swap_free`, `swap_used` (%).
 */

/** Parses `/proc/meminfo` (values in kB, as integers). */
export function parseMeminfo(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split("\n")) {
    const m = /^([^:]+):\s+(\d+)/.exec(line);
    if (m) out[m[1].trim().toLowerCase()] = Number(m[2]);
  }
  if (out.memtotal === undefined) throw new Error("/proc/meminfo: no MemTotal line");
  return out;
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
