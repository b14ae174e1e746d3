/**
 * networktraffic: `/proc/net/dev` counters, deltas and `/s` rates (lo excluded).
 */

const FIELDS = ["bytes", "packets", "errs", "drop", "fifo", "frame", "compressed", "multicast"];
const TRANS = ["bytes", "packets", "errs", "drop", "fifo", "colls", "carrier", "compressed"];

/** Parses `/proc/net/dev` into `recv_*` / `trans_*` counters per interface. */
export function parseNetDev(text: string): Record<string, Record<string, number>> {
  const out: Record<string, Record<string, number>> = {};
  for (const line of text.split("\n")) {
    const i = line.indexOf(":");
    if (i < 0 || line.includes("|")) continue;
    const name = line.slice(0, i).trim();
    const nums = line.slice(i + 1).trim().split(/\s+/).map(Number);
    if (nums.length < 16 || nums.some((n) => !Number.isFinite(n))) {
      throw new Error(`/proc/net/dev: bad counters for ${name}`);
    }
    const rec: Record<string, number> = {};
    FIELDS.forEach((f, k) => rec[`recv_${f}`] = nums[k]);
    TRANS.forEach((f, k) => rec[`trans_${f}`] = nums[8 + k]);
    out[name] = rec;
  }
  return out;
}

/** Deltas since `prev` plus `recv/trans_bytes/s` and `_packets/s` rates; lo skipped. */
export function netTrafficResult(
  prev: Record<string, Record<string, number>>,
  cur: Record<string, Record<string, number>>,
  dtSec: number,
): Record<string, Record<string, number>> {
  const out: Record<string, Record<string, number>> = {};
  for (const [iface, c] of Object.entries(cur)) {
    const p = prev[iface];
    if (iface === "lo" || !p) continue;
    const rec: Record<string, number> = {};
    for (const k of Object.keys(c)) rec[k] = Math.max(0, c[k] - (p[k] ?? 0));
    for (const k of ["recv_bytes", "trans_bytes", "recv_packets", "trans_packets"]) {
      rec[`${k}/s`] = dtSec > 0 ? Math.round((rec[k] / dtSec) * 100) / 100 : 0;
    }
    out[iface] = rec;
  }
  return out;
}
