/**
 * What a stop hands to the next process: the statsd state received since the last flush, with the
 * tick the stop dated its own points at. The stop still writes those points (they stand if no
 * process flushes at that tick); a process started again before the tick adds the state to its
 * flush there, which replaces the stop's points in their bucket: without it, the counts between the
 * last flush and the stop were lost on every quick restart.
 *
 * Kept as one JSON row of metrics.db's `meta` table, read and deleted in one transaction at start:
 * it is applied once at most. Whatever is wrong with it is named and the row is dropped.
 *
 * The state joins the aggregator at the flush dated at the tick, not at start: a start slower than
 * the tick, or a Worker that died and came back meanwhile, cannot make it count twice or never.
 * The cost: a gauge changed by a delta (`+n`) between the start and the tick starts from 0, not
 * from the value handed over.
 */
import type { Database } from "../store/mod.ts";
import type { Logger } from "../log/mod.ts";
import { StatsdAggregator, type StatsdOptions, type StatsdState } from "./statsd_aggregator.ts";
import type { TimerState } from "./timer_stats.ts";

const KEY = "statsd_carryover";

/**
 * Largest carry-over saved or read (JSON characters). Measured on the shared 2-core machine: 200 000
 * counters, 50 000 gauges, 10 000 timers of 100 values and 10 000 sets of 10 make 18 MB, saved in
 * 0.5 s at the stop, read and checked in 0.5 s at the start, merged in 0.3 s at the flush (whose
 * own work on that state is 0.6 s); 43 MB took 1.5, 1.4 and 1.4 s. A larger one is not saved: the
 * stop's points stand, as without it, rather than a stop or a start stalling for seconds.
 */
export const MAX_CARRYOVER_CHARS = 32 << 20;

export interface Carryover {
  /** Unix seconds the stop dated its points at: the tick whose flush takes the state. */
  tick: number;
  /** `statsd.interval` (seconds) of the process that stopped. */
  interval: number;
  state: StatsdState;
}

/**
 * One service's carry-over: taken at its start, given to its flush at the tick, saved at its stop.
 *
 * ```ts
 * carry.take(nowS, interval);                  // start
 * agg.mergeState(carry.forFlush(ts) ?? empty);  // each flush
 * carry.save({ tick, interval, state });        // stop
 * ```
 */
export class StatsdCarry {
  /** What the last stop handed over, waiting for the flush at its tick. */
  #pending: Carryover | null = null;

  constructor(
    private readonly db: Database,
    private readonly log: Logger,
    /** Told of a carry-over that could not be used for what was wrong with it (counted). */
    private readonly onBad: () => void,
  ) {}

  /**
   * Reads (and deletes) what the last stop handed over; kept for the next flush only if that flush
   * is the one the stop dated its points at, with the same interval. A bad row is named and dropped.
   */
  take(nowS: number, interval: number): void {
    this.#pending = null;
    let got: ReturnType<typeof takeCarryover>;
    try {
      got = takeCarryover(this.db);
    } catch (err) {
      this.onBad();
      this.log.warn(`statsd: the state the last stop handed over cannot be read: ${(err as Error).message}`);
      return;
    }
    if (!got) return;
    if ("bad" in got) {
      this.onBad();
      this.log.warn(`statsd: the state the last stop handed over is dropped: ${got.bad}`);
      return;
    }
    const c = got.carry, next = (Math.floor(nowS / interval) + 1) * interval;
    if (c.interval !== interval || c.tick !== next) {
      const why = c.interval !== interval
        ? `statsd.interval was ${c.interval} s`
        : `its tick ${c.tick} is not the next one`;
      this.log.info(
        `statsd: the state the last stop handed over is not used (${why}): the stop's points stand`,
      );
      return;
    }
    const s = c.state;
    this.log.info(
      `statsd: ${s.counters.length} counter(s), ${s.timers.length} timer(s), ${s.sets.length} set(s) and ` +
        `${s.gauges.length} gauge(s) from before the restart join the flush at ${c.tick}`,
    );
    this.#pending = c;
  }

  /**
   * The handed-over state if a flush at `ts` is the one at its tick; a flush before the tick (by
   * hand) leaves it waiting, a later one drops it (the stop's points stand alone then).
   */
  forFlush(ts: number): StatsdState | null {
    const c = this.#pending;
    if (!c || ts < c.tick) return null;
    this.#pending = null;
    if (ts < c.tick + c.interval) return c.state;
    this.log.warn(
      `statsd: the state the last stop handed over is dropped: the first flush came at ${ts}, ` +
        `an interval past its tick ${c.tick} (the stop's points stand there)`,
    );
    return null;
  }

  /** Hands `c` to the next start (a state too large is not: said why). */
  save(c: Carryover): void {
    const r = saveCarryover(this.db, c);
    if ("chars" in r) {
      this.log.debug(`statsd: the state of this interval handed to the next start (${r.chars} characters)`);
      return;
    }
    this.log.warn(
      `statsd: the state of this interval is not handed to the next start (${r.refused}): ` +
        `a start before ${c.tick} replaces the stop's points there`,
    );
  }
}

/** One state of several (the main thread's and the Worker's aggregators), null if all are empty. */
export function combinedState(states: StatsdState[], opts: StatsdOptions): StatsdState | null {
  const full = states.filter((s) => s.counters.length || s.timers.length || s.gauges.length || s.sets.length);
  if (full.length <= 1) return full[0] ?? null;
  const agg = new StatsdAggregator(opts);
  for (const s of full) agg.mergeState(s);
  return agg.exportState();
}

/** Saves `c` for the next start (replacing any earlier one); its size in characters, or why not. */
export function saveCarryover(
  db: Database,
  c: Carryover,
  max = MAX_CARRYOVER_CHARS,
): { chars: number } | { refused: string } {
  const text = JSON.stringify({ v: 1, ...c });
  if (text.length > max) return { refused: `${text.length} characters, over the ${max} kept` };
  db.run("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", KEY, text);
  return { chars: text.length };
}

/**
 * The carry-over a stop saved, deleted as it is read (null: none). `bad` says what was wrong with
 * a row that cannot be used.
 */
export function takeCarryover(
  db: Database,
  max = MAX_CARRYOVER_CHARS,
): { carry: Carryover } | { bad: string } | null {
  const row = db.transaction(() => {
    // the length first: a row too large to use is not loaded
    const r = db.get<{ n: number; value: unknown }>(
      "SELECT length(value) AS n, CASE WHEN length(value) <= ? THEN value END AS value FROM meta WHERE key = ?",
      max,
      KEY,
    );
    if (r) db.run("DELETE FROM meta WHERE key = ?", KEY);
    return r;
  });
  if (!row) return null;
  if (row.value === null) return { bad: `${row.n} characters, over the ${max} read` };
  if (typeof row.value !== "string") return { bad: "not text" };
  let data: unknown;
  try {
    data = JSON.parse(row.value);
  } catch (err) {
    return { bad: `not JSON (${(err as Error).message})` };
  }
  const why = carryoverError(data);
  return why ? { bad: why } : { carry: data as Carryover };
}

const isObject = (x: unknown): x is Record<string, unknown> =>
  typeof x === "object" && x !== null && !Array.isArray(x);
const finite = (x: unknown): x is number => typeof x === "number" && Number.isFinite(x);
const nameOk = (x: unknown): x is string => typeof x === "string" && x.length > 0;

/** What is wrong with a parsed carry-over (the first thing, with where), or null. */
export function carryoverError(x: unknown): string | null {
  if (!isObject(x)) return "not an object";
  if (x.v !== 1) return `version ${JSON.stringify(x.v)} (1 is read)`;
  if (!finite(x.tick) || !Number.isInteger(x.tick) || x.tick <= 0) return "tick: not a positive integer";
  if (!finite(x.interval) || x.interval <= 0) return "interval: not a positive number";
  const s = x.state;
  if (!isObject(s)) return "state: not an object";
  const pairs = (kind: string, check: (v: unknown) => string | null): string | null => {
    const list = s[kind];
    if (!Array.isArray(list)) return `state.${kind}: not a list`;
    for (let i = 0; i < list.length; i++) {
      const e = list[i];
      if (!Array.isArray(e) || e.length !== 2 || !nameOk(e[0])) {
        return `state.${kind}[${i}]: not a [name, value] pair`;
      }
      const why = check(e[1]);
      if (why) return `state.${kind}[${i}] (${JSON.stringify(e[0].slice(0, 80))}): ${why}`;
    }
    return null;
  };
  return pairs("counters", (v) => finite(v) ? null : "not a finite number") ??
    pairs("gauges", (v) => finite(v) ? null : "not a finite number") ??
    pairs("timers", timerError) ??
    pairs(
      "sets",
      (v) =>
        Array.isArray(v) && v.every((m) => typeof m === "string") ? null : "members: not a list of strings",
    );
}

function timerError(v: unknown): string | null {
  if (!isObject(v)) return "not an object";
  const t = v as Partial<Record<keyof TimerState, unknown>>;
  for (const k of ["seen", "sum", "sumSquares", "lower", "upper", "weightedCount"] as const) {
    if (!finite(t[k])) return `${k}: not a finite number`;
  }
  const values = t.values;
  if (!Array.isArray(values) || values.length === 0) return "values: not a non-empty list";
  for (let i = 0; i < values.length; i++) if (!finite(values[i])) return `values[${i}]: not a finite number`;
  const seen = t.seen as number;
  if (!Number.isInteger(seen) || seen < values.length) {
    return `seen: ${seen} for ${values.length} values held`;
  }
  if ((t.lower as number) > (t.upper as number)) return "lower is above upper";
  return null;
}
