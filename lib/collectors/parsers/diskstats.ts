/**
 * iostats: `/proc/diskstats` samples and `iostat -x` style figures between two of them.
 */

export interface DiskCounters {
  reads: number;
  readsMerged: number;
  sectorsRead: number;
  msReading: number;
  writes: number;
  writesMerged: number;
  sectorsWritten: number;
  msWriting: number;
  inFlight: number;
  msIo: number;
  msWeighted: number;
}

/** Parses `/proc/diskstats` into counters by device name. */
export function parseDiskstats(text: string): Record<string, DiskCounters> {
  const out: Record<string, DiskCounters> = {};
  for (const line of text.split("\n")) {
    const p = line.trim().split(/\s+/);
    if (p.length < 14) continue;
    const n = p.slice(3, 14).map(Number);
    if (n.some((x) => !Number.isFinite(x))) {
      throw new Error(`/proc/diskstats: bad counters on line "${line.trim()}"`);
    }
    out[p[2]] = {
      reads: n[0],
      readsMerged: n[1],
      sectorsRead: n[2],
      msReading: n[3],
      writes: n[4],
      writesMerged: n[5],
      sectorsWritten: n[6],
      msWriting: n[7],
      inFlight: n[8],
      msIo: n[9],
      msWeighted: n[10],
    };
  }
  return out;
}

const r2 = (n: number) => Math.round(n * 100) / 100;

/** iostat -x figures per device between two samples `dtSec` apart (devices filtered by `keep`). */
export function iostatsResult(
  prev: Record<string, DiskCounters>,
  cur: Record<string, DiskCounters>,
  dtSec: number,
  keep: (dev: string) => boolean = () => true,
): Record<string, Record<string, number>> {
  const out: Record<string, Record<string, number>> = {};
  if (dtSec <= 0) return out;
  for (const [dev, c] of Object.entries(cur)) {
    const p = prev[dev];
    if (!p || !keep(dev)) continue;
    const d = (k: keyof DiskCounters) => Math.max(0, c[k] - p[k]);
    const ios = d("reads") + d("writes");
    const sectors = d("sectorsRead") + d("sectorsWritten");
    out[dev] = {
      "rrqm/s": r2(d("readsMerged") / dtSec),
      "wrqm/s": r2(d("writesMerged") / dtSec),
      "r/s": r2(d("reads") / dtSec),
      "w/s": r2(d("writes") / dtSec),
      "rkB/s": r2(d("sectorsRead") / 2 / dtSec),
      "wkB/s": r2(d("sectorsWritten") / 2 / dtSec),
      "avgrq-sz": ios > 0 ? r2(sectors / ios) : 0,
      "avgqu-sz": r2(d("msWeighted") / 1000 / dtSec),
      await: ios > 0 ? r2((d("msReading") + d("msWriting")) / ios) : 0,
      r_await: d("reads") > 0 ? r2(d("msReading") / d("reads")) : 0,
      w_await: d("writes") > 0 ? r2(d("msWriting") / d("writes")) : 0,
      svctm: ios > 0 ? r2(d("msIo") / ios) : 0,
      "%util": r2(Math.min(100, d("msIo") / 10 / dtSec)),
    };
  }
  return out;
}

/** Whole disks iostat -d shows by default (no loop/ram devices). */
export function isReportedDisk(dev: string, wholeDisks: Set<string>): boolean {
  return wholeDisks.has(dev) && !/^(loop|ram|zram)/.test(dev);
}
