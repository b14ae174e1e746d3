/**
 * diskusage: mounts from `/proc/self/mountinfo` and df-style usage from statfs numbers.
 */
import type { BrokerStatfs } from "../../sandbox/mod.ts";

export interface Mount {
  mountpoint: string;
  fstype: string;
  source: string;
}

/** File systems df is told to skip (`-x`), plus kernel pseudo file systems. */
export const SKIPPED_FS = new Set([
  "smbfs",
  "tmpfs",
  "cifs",
  "iso9660",
  "udf",
  "nfsv4",
  "proc",
  "sysfs",
  "cgroup",
  "cgroup2",
  "devpts",
  "mqueue",
  "debugfs",
  "tracefs",
  "securityfs",
  "pstore",
  "bpf",
  "configfs",
  "fusectl",
  "hugetlbfs",
  "autofs",
  "binfmt_misc",
  "rpc_pipefs",
  "nsfs",
  "overlay",
  "squashfs",
  "efivarfs",
  "selinuxfs",
  "ramfs",
]);

/** Decodes mountinfo's octal escapes (`\040` = space). */
function unescape(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o) => String.fromCharCode(parseInt(o, 8)));
}

/** Parses `/proc/self/mountinfo`; later mounts on the same point hide earlier ones. */
export function parseMountinfo(text: string): Mount[] {
  const byPoint = new Map<string, Mount>();
  for (const line of text.split("\n")) {
    if (!line.trim()) continue;
    const sep = line.indexOf(" - ");
    if (sep < 0) throw new Error(`mountinfo: no " - " separator in "${line}"`);
    const left = line.slice(0, sep).split(" ");
    const right = line.slice(sep + 3).split(" ");
    if (left.length < 5 || right.length < 2) throw new Error(`mountinfo: short line "${line}"`);
    const mountpoint = unescape(left[4]);
    byPoint.delete(mountpoint);
    byPoint.set(mountpoint, { mountpoint, fstype: right[0], source: unescape(right[1]) });
  }
  return [...byPoint.values()];
}

/** Mounts the diskusage collector reports (real file systems only). */
export function reportedMounts(mounts: Mount[]): Mount[] {
  return mounts.filter((m) => !SKIPPED_FS.has(m.fstype) && !m.fstype.startsWith("fuse."));
}

export interface DiskUsage {
  /** MB */
  total: number;
  /** MB */
  used: number;
  /** % of the space available to users, rounded up like df */
  pct_used: number;
  inodes_total: number;
  inodes_used: number;
  inodes_pct_used: number;
}

/** df -k arithmetic on statfs numbers (null for dummy file systems with no blocks). */
export function diskUsage(s: BrokerStatfs): DiskUsage | null {
  if (!s.blocks) return null;
  const mb = s.bsize / (1024 * 1024);
  const usedBlocks = s.blocks - s.bfree;
  const avail = usedBlocks + s.bavail;
  const inodesUsed = s.files - s.ffree;
  return {
    total: Math.round(s.blocks * mb),
    used: Math.round(usedBlocks * mb),
    pct_used: avail > 0 ? Math.ceil((usedBlocks * 100) / avail) : 0,
    inodes_total: s.files,
    inodes_used: inodesUsed,
    inodes_pct_used: s.files > 0 ? Math.ceil((inodesUsed * 100) / s.files) : 0,
  };
}
