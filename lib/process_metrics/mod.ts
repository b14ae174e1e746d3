/**
 * Process metrics of the agent itself on `/metrics`: resident memory, CPU seconds, open file
 * descriptors and event-loop lag (how late a 1 s timer fires: a stalled loop delays gossip acks).
 *
 * ```ts
 * const p = createProcessMetrics(ctx); await p.start(); // samples every second until stop()
 * ```
 */
import process from "node:process";
import type { Ctx, Subsystem } from "../subsystem.ts";
import type { Counters } from "../counters.ts";
import { MallocTrim } from "./trim.ts";
import { HeapCollect } from "./heap.ts";

export { MallocTrim, TrimPolicy } from "./trim.ts";
export { releaseFilePages } from "./pages.ts";
export { HeapCollect, HeapPolicy } from "./heap.ts";

const INTERVAL_MS = 1000;
/** Process statistics are sampled every this many lag ticks. */
const SAMPLE_EVERY = 10;

/** How late a timer fired, in seconds (never negative). */
export function lagSeconds(expectedAt: number, firedAt: number): number {
  return Math.max(0, firedAt - expectedAt) / 1000;
}

/**
 * Writes the current RSS, CPU and fd count into `counters` (after `heap` then `trim` had their
 * say: garbage collected first, so malloc can give back what it held).
 */
export function sampleProcess(counters: Counters, trim?: MallocTrim, heap?: HeapCollect): void {
  if (heap?.available) {
    const u = process.cpuUsage();
    heap.sample(performance.now(), (u.user + u.system) / 1000, heap.heapUsed());
  }
  trim?.sample();
  const mem = Deno.memoryUsage();
  counters.set("process_resident_memory_bytes", mem.rss);
  counters.set("process_heap_used_bytes", mem.heapUsed);
  const cpu = process.cpuUsage();
  counters.set("process_cpu_seconds_total", (cpu.user + cpu.system) / 1e6);
  counters.set("process_open_fds", openFds());
}

function openFds(): number {
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
  c.describe("event_loop_lag_seconds", "gauge", "How late the last 1 s timer fired");
  c.describe("event_loop_lag_max_seconds", "gauge", "Largest event-loop lag seen since start");
  let timer: ReturnType<typeof setInterval> | null = null;
  let max = 0;
  const trim = new MallocTrim();
  const heap = new HeapCollect();
  return {
    name: "process",
    start() {
      sampleProcess(c);
      c.set("event_loop_lag_seconds", 0);
      c.set("event_loop_lag_max_seconds", 0);
      let expected = performance.now() + INTERVAL_MS;
      let ticks = 0;
      const t = setInterval(() => {
        const now = performance.now();
        const lag = lagSeconds(expected, now);
        expected = now + INTERVAL_MS;
        if (lag > max) max = lag;
        c.set("event_loop_lag_seconds", lag);
        c.set("event_loop_lag_max_seconds", max);
        // RSS, heap, CPU and the fd count cost a /proc walk and V8 heap statistics: every 10 s is
        // enough for a scrape interval (the lag is cheap and kept at 1 s)
        if (++ticks % SAMPLE_EVERY === 0) sampleProcess(c, trim, heap);
      }, INTERVAL_MS);
      Deno.unrefTimer(t);
      timer = t;
      return Promise.resolve();
    },
    stop() {
      if (timer !== null) clearInterval(timer);
      timer = null;
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
