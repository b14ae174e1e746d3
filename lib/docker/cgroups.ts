/**
 * Per-container cgroup counters (reference §10.10): where a container's cgroup lives (v1 or v2),
 * and its memory.stat / cpu figures mapped to the v1 names.
 */

export interface CgroupMounts {
  /** v1 memory controller mount */
  memory?: string;
  /** v1 cpuacct controller mount */
  cpuacct?: string;
  /** cgroup2 (unified) mount */
  unified?: string;
}

/** Finds the controller mounts in `/proc/mounts` text. */
export function parseCgroupMounts(text: string): CgroupMounts {
  const out: CgroupMounts = {};
  for (const line of text.split("\n")) {
    const [, mnt, fstype, opts] = line.trim().split(/\s+/);
    if (!mnt) continue;
    const o = (opts ?? "").split(",");
    if (fstype === "cgroup") {
      if (o.includes("memory")) out.memory ??= mnt;
      if (o.includes("cpuacct")) out.cpuacct ??= mnt;
    } else if (fstype === "cgroup2") out.unified ??= mnt;
  }
  return out;
}

/** Candidate cgroup directories of a container under a controller mount. */
export function containerDirs(mnt: string, id: string): string[] {
  return [`${mnt}/docker/${id}`, `${mnt}/system.slice/docker-${id}.scope`, `${mnt}/lxc/${id}`];
}

/** `key value` lines into numbers. */
export function parseFlat(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split("\n")) {
    const [k, v] = line.trim().split(/\s+/);
    if (k && v !== undefined && Number.isFinite(Number(v))) out[k] = Number(v);
  }
  return out;
}

export const MEMORY_GAUGES = [
  "cache",
  "rss",
  "swap",
  "active_anon",
  "active_file",
  "inactive_anon",
  "inactive_file",
  "mapped_file",
  "unevictable",
];
export const MEMORY_RATES = ["pgfault", "pgmajfault", "pgpgin", "pgpgout"];

/** Raw counters of one container: memory (bytes / counts) and cpu seconds used. */
export interface RawCgroupStats {
  memory: Record<string, number>;
  /** cumulated cpu seconds in user and system mode */
  cpu: { user: number; system: number };
  version: 1 | 2;
}

/** v1: memory.stat as-is, cpuacct.stat ticks turned into seconds (USER_HZ = 100). */
export function fromV1(memoryStat: string, cpuacctStat: string | null, userHz = 100): RawCgroupStats {
  const m = parseFlat(memoryStat);
  const c = parseFlat(cpuacctStat ?? "");
  const memory: Record<string, number> = {};
  for (const k of [...MEMORY_GAUGES, ...MEMORY_RATES]) if (m[k] !== undefined) memory[k] = m[k];
  return { memory, cpu: { user: (c.user ?? 0) / userHz, system: (c.system ?? 0) / userHz }, version: 1 };
}

/** v2: memory.stat names mapped to v1 (anon -> rss, file -> cache, file_mapped -> mapped_file), cpu.stat usec. */
export function fromV2(
  memoryStat: string,
  cpuStat: string | null,
  swapCurrent: string | null,
): RawCgroupStats {
  const m = parseFlat(memoryStat);
  const c = parseFlat(cpuStat ?? "");
  const memory: Record<string, number> = {};
  const map: Record<string, string> = { anon: "rss", file: "cache", file_mapped: "mapped_file" };
  for (const [k, v] of Object.entries(m)) {
    const name = map[k] ?? k;
    if (MEMORY_GAUGES.includes(name) || MEMORY_RATES.includes(name)) memory[name] = v;
  }
  if (swapCurrent !== null && Number.isFinite(Number(swapCurrent.trim()))) {
    memory.swap = Number(swapCurrent.trim());
  }
  return { memory, cpu: { user: (c.user_usec ?? 0) / 1e6, system: (c.system_usec ?? 0) / 1e6 }, version: 2 };
}
