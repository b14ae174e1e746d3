/**
 * The process's CPU time (user + system), as `process.cpuUsage()` reports it, from `getrusage(2)`
 * through libc (FFI). `node:process` is not imported for it: it loads Deno's Node layer for
 * process, streams and fs into every agent (~0.6 MB of V8 heap alone, ~2.5 MB of RSS with
 * `node:fs` and `node:crypto`, which the agent no longer imports either; docs/benchmarks.md,
 * "Footprint (perf-rss5)"). Without glibc or FFI permission: `/proc/self/stat` (10 ms ticks).
 *
 * ```ts
 * const { user, system } = cpuUsage(); // microseconds
 * ```
 */

const SYMBOLS = { getrusage: { parameters: ["i32", "buffer"], result: "i32" } } as const;
let libc: Deno.DynamicLibrary<typeof SYMBOLS> | null | undefined;
// struct rusage: ru_utime and ru_stime (timeval: two longs each), then 14 longs
const buf = new BigInt64Array(18);

/** User and system CPU time of the whole process, in microseconds. */
export function cpuUsage(): { user: number; system: number } {
  if (libc === undefined) {
    libc = null;
    if (Deno.build.os === "linux" && ["x86_64", "aarch64"].includes(Deno.build.arch)) {
      try {
        libc = Deno.dlopen("libc.so.6", SYMBOLS);
      } catch {
        libc = null;
      }
    }
  }
  if (libc && libc.symbols.getrusage(0, /* RUSAGE_SELF */ buf) === 0) {
    return {
      user: Number(buf[0]) * 1e6 + Number(buf[1]),
      system: Number(buf[2]) * 1e6 + Number(buf[3]),
    };
  }
  return procStatUsage(Deno.readTextFileSync("/proc/self/stat"));
}

/** utime and stime (fields 14 and 15, in 10 ms ticks) of a `/proc/PID/stat` line, in µs. */
export function procStatUsage(stat: string): { user: number; system: number } {
  // the command name (field 2) may hold spaces and parentheses: count from its closing one
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return { user: Number(f[11]) * 10_000, system: Number(f[12]) * 10_000 };
}
