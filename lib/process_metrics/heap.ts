/**
 * A full V8 collection of the main isolate when the agent is quiet and its heap has grown by
 * `minGrowth` since the last one. An idle agent allocates ~0.5-3 MB/s of short-lived objects, too
 * much for V8's memory reducer to call it idle, so old-generation garbage piled up towards V8's
 * next mark-compact: the heap grew from ~13 to ~19 MB in 10 minutes while its live objects grew
 * by 0.6 MB, which was most of an idle agent's RSS creep. One collection costs ~10-20 ms of the
 * main thread and comes every few minutes at most. Needs V8's `--expose-gc` (lib/v8flags.ts);
 * without it nothing happens.
 *
 * ```ts
 * const gc = new HeapCollect();
 * gc.sample(performance.now(), cpuMs, Deno.memoryUsage().heapUsed); // every 10 s
 * ```
 */

/** When to collect: `minGrowth` bytes of heap above what the last collection left. */
export class HeapPolicy {
  #floor: number | null = null;
  constructor(readonly minGrowth = 4 * 1024 * 1024) {}

  /** True when a collection is due with `used` heap bytes. */
  due(used: number): boolean {
    if (this.#floor === null || used < this.#floor) this.#floor = used; // V8 collected on its own
    return used - this.#floor >= this.minGrowth;
  }

  /** Records the heap in use right after a collection. */
  collected(used: number): void {
    this.#floor = used;
  }
}

/** Share of one core below which the process counts as quiet. */
const QUIET_CPU = 0.05;

export class HeapCollect {
  readonly policy: HeapPolicy;
  readonly #gc: (() => void) | undefined;
  #last: { at: number; cpu: number } | null = null;
  /** Collections done and the heap bytes they gave back (info). */
  collections = 0;
  released = 0;

  constructor(
    policy = new HeapPolicy(),
    gc = (globalThis as { gc?: () => void }).gc,
    readonly heapUsed = () => Deno.memoryUsage().heapUsed,
  ) {
    this.policy = policy;
    this.#gc = typeof gc === "function" ? gc : undefined;
  }

  /** False when V8 was started without `--expose-gc`: sample() then does nothing. */
  get available(): boolean {
    return this.#gc !== undefined;
  }

  /**
   * Collects when the agent was quiet since the previous sample (at most 5 % of a core: a busy
   * agent's own GCs keep up) and the policy says so; returns true when it did.
   */
  sample(now: number, cpuMs: number, used: number): boolean {
    const last = this.#last;
    this.#last = { at: now, cpu: cpuMs };
    if (!this.#gc) return false;
    const due = this.policy.due(used); // every sample lowers the floor when V8 collected itself
    if (!due || !last || cpuMs - last.cpu > QUIET_CPU * (now - last.at)) return false;
    this.#gc();
    const after = this.heapUsed();
    this.collections++;
    this.released += Math.max(0, used - after);
    this.policy.collected(after);
    return true;
  }
}
