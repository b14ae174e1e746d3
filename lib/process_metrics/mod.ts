/**
 * Process metrics of the agent itself on `/metrics`: resident memory, CPU seconds, open file
 * descriptors and event-loop lag (how late the agent's timers fire: a stalled loop delays gossip acks).
 *
 * ```ts
 * const p = createProcessMetrics(ctx); await p.start(); // at every /metrics render, and every 10 s
 * ```
 */
import { cpuUsage } from "./rusage.ts";
import type { Ctx, Subsystem } from "../subsystem.ts";
import type { Counters } from "../counters.ts";
import { MallocTrim } from "./trim.ts";
import { LazyInterval, RealClock } from "../clock/mod.ts";
import { HeapCollect } from "./heap.ts";

export { MallocTrim, TrimPolicy } from "./trim.ts";
export { releaseFilePages } from "./pages.ts";
export { settleAfterStart, type SettleStep } from "./settle.ts";
export { HeapCollect, HeapPolicy } from "./heap.ts";
export { lagNote, lagProbeOn, startLagProbe } from "./lag.ts";
export { cpuUsage, procStatUsage } from "./rusage.ts";

/**
 * Period of the sampling timer: the lag gauges and the quiet-time collection and malloc trim
 * (heap.ts, trim.ts) decide on it; a scrape reads RSS, heap, CPU and fds itself (a /proc stat and
 * V8's heap statistics: microseconds), so a timer that fires more often would cost an idle agent
 * more than it tells.
 */
const INTERVAL_MS = 10_000;

/** How late a timer fired, in seconds (never negative). */
export function lagSeconds(expectedAt: number, firedAt: number): number {
  return Math.max(0, firedAt - expectedAt) / 1000;
}

/**
 * Writes the current RSS, CPU and fd count into `counters` (after `heap` then `trim` had their
 * say: garbage collected first, so malloc can give back what it held). The memory and CPU figures
 * are read once and shared (each read is a /proc or getrusage call), again only after a collection
 * or a trim changed them.
 */
export function sampleProcess(counters: Counters, trim?: MallocTrim, heap?: HeapCollect): void {
  const now = performance.now();
  const cpu = cpuUsage();
  const cpuMs = (cpu.user + cpu.system) / 1000;
  let mem = Deno.memoryUsage();
  const collected = heap?.available ? heap.sample(now, cpuMs, mem.heapUsed) : false;
  const trimmed = trim?.sample(now, cpuMs) ?? false;
  if (collected || trimmed) mem = Deno.memoryUsage();
  counters.set("process_resident_memory_bytes", mem.rss);
  counters.set("process_heap_used_bytes", mem.heapUsed);
  counters.set("process_cpu_seconds_total", cpuMs / 1000);
  counters.set("process_open_fds", openFds());
}

/**
 * Open descriptors: Linux 6.2+ reports them as the size of `/proc/self/fd` (one stat), older
 * kernels as 0, where the directory is counted.
 */
export function openFds(): number {
  try {
    const size = Deno.statSync("/proc/self/fd").size;
    if (size > 0) return size;
  } catch {
    return -1; // not Linux: reported as -1 rather than a made-up count
  }
  let n = 0;
  try {
    for (const _ of Deno.readDirSync("/proc/self/fd")) n++;
  } catch {
    return -1; // not Linux: reported as -1 rather than a made-up count
  }
  return n;
}

export function createProcessMetrics(ctx: Ctx): Subsystem {
  const c = ctx.counters;
  c.describe("process_resident_memory_bytes", "gauge", "Resident set size of the agent process");
  c.describe("process_heap_used_bytes", "gauge", "V8 heap in use");
  c.describe("process_cpu_seconds_total", "counter", "User and system CPU time of the agent process");
  c.describe("process_open_fds", "gauge", "Open file descriptors (-1 where /proc is missing)");
  c.describe("event_loop_lag_seconds", "gauge", "How late the agent's last timer fired");
  c.describe("event_loop_lag_max_seconds", "gauge", "Largest event-loop lag seen since start");
  let timer: LazyInterval | null = null;
  let offRender: (() => void) | null = null;
  let max = 0;
  const trim = new MallocTrim();
  const heap = new HeapCollect();
  return {
    name: "process",
    start() {
      sampleProcess(c);
      c.set("event_loop_lag_seconds", 0);
      c.set("event_loop_lag_max_seconds", 0);
      // the agent's clock measures the lateness of every timeout it fires (gossip probes, collectors,
      // flushes...); another clock (tests) gets the lateness of this sampling timer itself
      const measured = ctx.clock instanceof RealClock ? ctx.clock.lag : null;
      let last = performance.now();
      // on the epoch grid of 10 s: the agent's other 10 s jobs wake it at the same instants
      timer = new LazyInterval(ctx.clock, INTERVAL_MS, () => {
        const now = performance.now();
        const own = lagSeconds(last + INTERVAL_MS, now);
        last = now;
        const lag = measured ? measured.lastMs / 1000 : own;
        max = Math.max(max, measured ? measured.maxMs / 1000 : own);
        c.set("event_loop_lag_seconds", lag);
        c.set("event_loop_lag_max_seconds", max);
        sampleProcess(c, trim, heap);
        return true;
      });
      timer.start(true, 0);
      // memory, CPU and fds as of the scrape (reads only: collections and trims stay on the 10 s timer)
      offRender = c.onRender(() => sampleProcess(c));
      return Promise.resolve();
    },
    stop() {
      timer?.stop();
      timer = null;
      offRender?.();
      offRender = null;
      trim.close();
      return Promise.resolve();
    },
    info() {
      return {
        event_loop_lag_max_seconds: max,
        malloc_trims: trim.trims,
        malloc_trim_released: trim.released,
        heap_collections: heap.collections,
        heap_collect_released: heap.released,
      };
    },
  };
}
