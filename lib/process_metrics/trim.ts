/**
 * Gives memory freed by native code (HTTP bodies, SQLite, V8's compiler zones) back to the system.
 * glibc keeps freed chunks inside its heaps: after a KV write burst the agent's RSS stayed ~15 MB
 * above its idle level for good, although V8's own heap had shrunk back. Each process-metrics
 * sample (every 10 s) that follows 10 quiet seconds asks glibc how much it holds free (`mallinfo2`,
 * ~6 µs); from `minFree` bytes more than after the last trim, `malloc_trim(0)` returns every free
 * page of every arena (~5 ms). An idle agent holds little free memory and never trims; a busy one
 * is left alone until the burst is over (trimming under load cost ~15 % more CPU per KV write).
 *
 * ```ts
 * const trim = new MallocTrim();
 * trim.sample(); // every 10 s
 * ```
 */
import { cpuUsage } from "./rusage.ts";

/** When to trim: `minFree` free bytes held by malloc above what the last trim could not return. */
export class TrimPolicy {
  #floor = 0;
  constructor(readonly minFree = 8 * 1024 * 1024) {}

  /** True when a trim is due with `free` bytes held free by malloc. */
  due(free: number): boolean {
    if (free < this.#floor) this.#floor = free; // reused since: a new burst counts from here
    return free - this.#floor >= this.minFree;
  }

  /**
   * Records the free bytes right after a trim: its pages went back to the system but glibc still
   * counts the chunks as free, so only growth beyond this level is new.
   */
  trimmed(free: number): void {
    this.#floor = free;
  }
}

const MALLINFO2 = { parameters: [], result: { struct: Array(10).fill("usize") } } as const;
type Libc = Deno.DynamicLibrary<{
  mallinfo2: { parameters: []; result: { struct: "usize"[] } };
  malloc_trim: { parameters: ["usize"]; result: "i32" };
}>;

/** glibc's mallinfo2/malloc_trim through FFI; null without glibc ≥ 2.33 or FFI permission. */
function openLibc(): Libc | null {
  if (Deno.build.os !== "linux") return null;
  try {
    return Deno.dlopen("libc.so.6", {
      mallinfo2: MALLINFO2 as unknown as { parameters: []; result: { struct: "usize"[] } },
      malloc_trim: { parameters: ["usize"], result: "i32" },
    }) as Libc;
  } catch {
    return null;
  }
}

/** Share of one core below which the process counts as quiet. */
const QUIET_CPU = 0.05;

function processCpuMs(): number {
  const u = cpuUsage();
  return (u.user + u.system) / 1000;
}

export class MallocTrim {
  readonly policy: TrimPolicy;
  #libc: Libc | null | undefined;
  #last: { at: number; cpu: number } | null = null;
  /** Trims done, and the RSS they gave back in bytes (info). */
  trims = 0;
  released = 0;

  constructor(policy = new TrimPolicy()) {
    this.policy = policy;
  }

  /** False where glibc cannot be reached: sample() then does nothing. */
  get available(): boolean {
    if (this.#libc === undefined) this.#libc = openLibc();
    return this.#libc !== null;
  }

  /** Bytes malloc holds free (mallinfo2 `fordblks`, all arenas), or null when unavailable. */
  freeBytes(): number | null {
    if (!this.available) return null;
    const b = this.#libc!.symbols.mallinfo2() as Uint8Array;
    return Number(new BigUint64Array(b.buffer, b.byteOffset, 10)[8]);
  }

  /**
   * Trims when the agent was quiet since the previous sample (at most 5 % of a core: a trim under
   * load only makes the next allocations fault their pages in again) and the policy says so;
   * returns true when it did. `cpuMs`: the process's CPU time so far.
   */
  sample(now = performance.now(), cpuMs = processCpuMs()): boolean {
    const last = this.#last;
    this.#last = { at: now, cpu: cpuMs };
    if (!last || cpuMs - last.cpu > QUIET_CPU * (now - last.at)) return false;
    const free = this.freeBytes();
    if (free === null || !this.policy.due(free)) return false;
    return this.trimNow();
  }

  /**
   * Trims now, whatever the policy says (after start-up: settle.ts); false where glibc cannot be
   * reached.
   */
  trimNow(): boolean {
    if (!this.available) return false;
    const rss = Deno.memoryUsage().rss;
    this.#libc!.symbols.malloc_trim(0n);
    this.trims++;
    this.released += Math.max(0, rss - Deno.memoryUsage().rss);
    this.policy.trimmed(this.freeBytes() ?? 0);
    return true;
  }

  close(): void {
    this.#libc?.close();
    this.#libc = undefined;
  }
}
