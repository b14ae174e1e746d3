/**
 * When the KV store wakes up on its own: hinted writes to deliver, TTLs to expire, old tombstones
 * to purge. One timer planned at the earliest of them (at most one tick a second), instead of a
 * tick every second that mostly found nothing: an idle agent with an empty store wakes once a
 * minute for the purge, in the wake-up of its other minute jobs.
 *
 * ```ts
 * const upkeep = new KvUpkeep(clock, storage, (purge) => { deliverHints(); sweep(purge); });
 * upkeep.start(); // storage.onWork now pulls the next tick earlier when a hint or a TTL arrives
 * ```
 */
import { type Clock, DueTimer, nextOnGrid } from "../clock/mod.ts";

/** At most one tick per this many ms (hints are retried at this pace while a peer is down). */
export const TICK_MS = 1000;
/**
 * Tombstones older than their ttl are purged this often, on the epoch grid of this period
 * (`nextOnGrid`): an idle agent's minute jobs (the metrics rollup, the 10 s collectors) wake it at
 * the same instants, so the purge costs no wake-up of its own.
 */
export const PURGE_MS = 60_000;

/** What the storage tells the upkeep (implemented by KvStorage). */
export interface UpkeepSource {
  /** Earliest time (ms) something is due: now when hints wait, the next TTL expiry, else Infinity. */
  nextWorkAt(now: number): number;
  /** Set by the upkeep: called with the time new work is due (a hint was added, a TTL shortened). */
  onWork: ((at: number) => void) | null;
}

export class KvUpkeep {
  #timer: DueTimer<"tick">;
  #lastTick = -Infinity;
  #purgeAt = 0;
  /** Ticks run (tests and info). */
  ticks = 0;

  constructor(
    private readonly clock: Clock,
    private readonly source: UpkeepSource,
    private readonly tick: (purge: boolean) => void,
  ) {
    this.#timer = new DueTimer(clock, (_ids, now) => this.#run(now));
  }

  start(): void {
    const now = this.clock.now();
    this.#purgeAt = nextOnGrid(now, PURGE_MS);
    this.source.onWork = (at) => this.#sooner(at);
    this.#timer.set("tick", now + TICK_MS); // the first tick asks SQLite what is pending
    this.#timer.start();
  }

  stop(): void {
    this.source.onWork = null;
    this.#timer.stop();
  }

  /** When the next tick is planned (Infinity: none). */
  get nextAt(): number {
    return this.#timer.plan().get("tick") ?? Infinity;
  }

  #run(now: number): void {
    this.ticks++;
    this.#lastTick = now;
    // a wall clock stepped back: the purge stays on its grid from now, not a step away
    if (this.#purgeAt > now + PURGE_MS) this.#purgeAt = nextOnGrid(now, PURGE_MS);
    const purge = now >= this.#purgeAt;
    if (purge) this.#purgeAt = nextOnGrid(now + PURGE_MS / 2, PURGE_MS);
    try {
      this.tick(purge);
    } finally {
      const at = Math.min(this.source.nextWorkAt(now), this.#purgeAt);
      this.#timer.set("tick", Math.max(now + TICK_MS, at));
    }
  }

  #sooner(at: number): void {
    const t = Math.max(at, Math.min(this.#lastTick, this.clock.now()) + TICK_MS);
    if (t < this.nextAt) this.#timer.set("tick", t);
  }
}
