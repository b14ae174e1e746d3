/**
 * `/docker/stats` figures (reference §10.10): gauges and per-second rates per container from two
 * cgroup samples, and sums per image keyed by its first RepoTag.
 */
import { MEMORY_GAUGES, MEMORY_RATES, type RawCgroupStats } from "./cgroups.ts";

export interface StatValue {
  type: "gauge" | "rate";
  key: string;
  /** null for the first sample of a rate */
  value: number | null;
  raw_value?: number;
  scope: "container" | "image";
}

export type StatSet = Record<string, StatValue>;

const r4 = (n: number) => Math.round(n * 10000) / 10000;

/** One container's stats; rates need `prev` and the seconds between samples. */
export function containerStats(
  prev: RawCgroupStats | undefined,
  cur: RawCgroupStats,
  dtSec: number,
): StatSet {
  const out: StatSet = {};
  for (const k of MEMORY_GAUGES) {
    if (cur.memory[k] !== undefined) {
      out[`memory.${k}`] = { type: "gauge", key: `memory.${k}`, value: cur.memory[k], scope: "container" };
    }
  }
  const rate = (key: string, c: number, p: number | undefined): StatValue => ({
    type: "rate",
    key,
    value: p === undefined || dtSec <= 0 ? null : r4(Math.max(0, c - p) / dtSec),
    raw_value: c,
    scope: "container",
  });
  for (const k of MEMORY_RATES) {
    if (cur.memory[k] !== undefined) out[`memory.${k}`] = rate(`memory.${k}`, cur.memory[k], prev?.memory[k]);
  }
  out["cpu.user"] = rate("cpu.user", cur.cpu.user, prev?.cpu.user);
  out["cpu.system"] = rate("cpu.system", cur.cpu.system, prev?.cpu.system);
  return out;
}

/** Sums each stat over the containers of each image (key = first RepoTag, else the image id). */
export function imageSums(
  stats: Record<string, StatSet>,
  imageOf: Record<string, string>,
): Record<string, StatSet> {
  const out: Record<string, StatSet> = {};
  for (const [cid, set] of Object.entries(stats)) {
    const img = imageOf[cid];
    if (!img) continue;
    const sum = out[img] ??= {};
    for (const [k, v] of Object.entries(set)) {
      const s = sum[k] ??= { type: v.type, key: k, value: null, scope: "image" };
      if (v.value !== null) s.value = r4((s.value ?? 0) + v.value);
    }
  }
  return out;
}

/** Docker JSON with every key lower-cased, recursively (reference: "keys lower-cased"). */
export function lowerKeys(v: unknown, depth = 0): unknown {
  if (depth > 64) return v;
  if (Array.isArray(v)) return v.map((x) => lowerKeys(x, depth + 1));
  if (v && typeof v === "object") {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k.toLowerCase(), lowerKeys(x, depth + 1)]));
  }
  return v;
}
