/**
 * `/proc/stat` cpu lines and mpstat-style percentages between two samples.
 *
 * ```ts
 * const a = parseCpuTimes(text1), b = parseCpuTimes(text2);
 * cpuPercents(a, b).cpuall["%idle"]; // 97.5
 * ```
 */

/** Jiffies per cpu line: `cpu` becomes `cpuall`, `cpu0` stays `cpu0`. */
export type CpuTimes = Record<string, number[]>;

/** The mpstat column names, in order. */
export const CPU_KEYS = [
  "%usr",
  "%nice",
  "%sys",
  "%iowait",
  "%irq",
  "%soft",
  "%steal",
  "%guest",
  "%gnice",
  "%idle",
] as const;

/** Parses the `cpu*` lines of `/proc/stat` (10 counters, missing ones as 0). */
export function parseCpuTimes(text: string): CpuTimes {
  const out: CpuTimes = {};
  for (const line of text.split("\n")) {
    if (!line.startsWith("cpu")) continue;
    const parts = line.trim().split(/\s+/);
    const name = parts[0] === "cpu" ? "cpuall" : parts[0];
    const nums = parts.slice(1, 11).map(Number);
    if (nums.some((n) => !Number.isFinite(n))) throw new Error(`/proc/stat: bad counters on line "${line}"`);
    while (nums.length < 10) nums.push(0);
    out[name] = nums;
  }
  if (!out.cpuall) throw new Error("/proc/stat: no cpu line");
  return out;
}

const round2 = (n: number) => Math.round(n * 100) / 100;

/**
 * Percent of time per state between two samples, as mpstat computes it: guest time is part of
 * user time in the kernel counters, so `%usr` = user - guest and `%nice` = nice - guest_nice.
 */
export function cpuPercents(prev: CpuTimes, cur: CpuTimes): Record<string, Record<string, number>> {
  const out: Record<string, Record<string, number>> = {};
  for (const [name, c] of Object.entries(cur)) {
    const p = prev[name];
    if (!p) continue;
    const d = c.map((v, i) => Math.max(0, v - p[i]));
    const [user, nice, system, idle, iowait, irq, soft, steal, guest, gnice] = d;
    const usr = Math.max(0, user - guest);
    const nic = Math.max(0, nice - gnice);
    const total = usr + nic + system + idle + iowait + irq + soft + steal + guest + gnice;
    const pct = (v: number) => total > 0 ? round2((v * 100) / total) : 0;
    out[name] = {
      "%usr": pct(usr),
      "%nice": pct(nic),
      "%sys": pct(system),
      "%iowait": pct(iowait),
      "%irq": pct(irq),
      "%soft": pct(soft),
      "%steal": pct(steal),
      "%guest": pct(guest),
      "%gnice": pct(gnice),
      "%idle": total > 0 ? pct(idle) : 100,
    };
  }
  return out;
}
