/**
 * Small one-file parsers: load average, uptime, selinux, timezone, cpu count.
 */

/** `/proc/loadavg` -> `{load1, load5, load15}`. */
export function parseLoadavg(text: string): { load1: number; load5: number; load15: number } {
  const [a, b, c] = text.trim().split(/\s+/).map(Number);
  if (![a, b, c].every(Number.isFinite)) {
    throw new Error(`/proc/loadavg: unexpected content "${text.trim()}"`);
  }
  return { load1: a, load5: b, load15: c };
}

/** `/proc/uptime` -> `{uptime, idle}` in seconds. */
export function parseUptime(text: string): { uptime: number; idle: number } {
  const [up, idle] = text.trim().split(/\s+/).map(Number);
  if (!Number.isFinite(up)) throw new Error(`/proc/uptime: unexpected content "${text.trim()}"`);
  return { uptime: up, idle: Number.isFinite(idle) ? idle : 0 };
}

/** SELinux state from the `enforce` file's text (null = no selinuxfs). */
export function selinuxResult(enforce: string | null): { enabled: boolean; mode: string } {
  if (enforce === null) return { enabled: false, mode: "disabled" };
  return { enabled: true, mode: enforce.trim() === "1" ? "enforcing" : "permissive" };
}

/** Counts cpus in a `/sys/devices/system/cpu/online` list such as `0-3,6`. */
export function countCpuList(text: string): number {
  let n = 0;
  for (const part of text.trim().split(",")) {
    if (!part) continue;
    const [a, b] = part.split("-").map(Number);
    if (!Number.isFinite(a)) throw new Error(`cpu list: bad range "${part}"`);
    n += b === undefined ? 1 : b - a + 1;
  }
  return n;
}

/** IANA zone from `/etc/timezone` text or the `/etc/localtime` link target. */
export function timezoneName(etcTimezone: string | null, localtimeLink: string | null): string | null {
  const t = etcTimezone?.trim();
  if (t) return t;
  const m = localtimeLink ? /zoneinfo\/(.+)$/.exec(localtimeLink) : null;
  return m ? m[1] : null;
}
