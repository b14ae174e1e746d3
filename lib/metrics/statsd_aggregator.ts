/**
 * statsd state between two flushes: counters, timers, gauges and sets, fed packet by packet and
 * turned into time-series points every `interval` with the reference's names:
 *
 * - counter `n` → `stats.gauges.<n>.count` (sum of value/rate) and `stats.gauges.<n>.rate` (per second);
 * - timer `n` → `stats.timers.<n>.{count,count_ps,lower,upper,sum,mean,median,std,upper_p,sum_p,mean_p}`;
 * - gauge `n` → `stats.gauges.<n>` (last value, kept across flushes like etsy; `+n`/`-n` change it);
 * - set `n` → `stats.sets.<n>.count` (distinct members seen in the interval).
 *
 * Counters, timers and sets reset at every flush. Distinct names are capped (`maxKeys`); samples of
 * names beyond the cap are counted as dropped.
 */
import { parseStatsdLine, type StatsdTags, statsName } from "./statsd_parse.ts";
import { ownString } from "../own_string.ts";
import { type TimerState, timerStatistics, TimerValues } from "./timer_stats.ts";
import { deleteBuckets } from "./etsy_inspect.ts";

/** What etsy's management console lists and deletes. */
export type MgmtKind = "counters" | "timers" | "gauges";

/** One kind's current values (timers: the first values held, and how many were seen). */
export type MgmtDump =
  | { kind: "counters" | "gauges"; entries: Array<[string, number]> }
  | { kind: "timers"; entries: Array<[string, number[], number]> };

/** The aggregator's answer to the console: a listing, or the names each del* bucket deleted. */
export interface MgmtAnswer {
  dump?: MgmtDump;
  deleted?: string[][];
  sizes: { counters: number; timers: number; gauges: number; sets: number };
}

export interface StatsdOptions {
  /** Flush period in seconds (counters' rate and timers' count_ps divide by it). */
  intervalSeconds: number;
  percentiles: number[];
  /** Exact timer values kept per name per interval (beyond: a reservoir). */
  maxTimerValues: number;
  /** Distinct names per kind. */
  maxKeys?: number;
  /** DogStatsD tags: ignored (default), or graphite tags of the series. */
  tags?: StatsdTags;
}

/**
 * What an aggregator holds between two flushes, as plain data (structured-clone and JSON safe):
 * what a stop hands to the next process (statsd_carryover.ts) and the Worker takes in a message.
 */
export interface StatsdState {
  counters: Array<[name: string, value: number]>;
  timers: Array<[name: string, timer: TimerState]>;
  gauges: Array<[name: string, value: number]>;
  sets: Array<[name: string, members: string[]]>;
}

/** What the aggregator has counted since it was created. */
export interface StatsdStats {
  packets: number;
  /** Samples accepted (a multi-value line counts each value). */
  metrics: number;
  bad_lines: number;
  /** Samples of a name over the distinct-name cap. */
  dropped: number;
  flushes: number;
}

const decoder = new TextDecoder();

export class StatsdAggregator {
  readonly stats: StatsdStats = { packets: 0, metrics: 0, bad_lines: 0, dropped: 0, flushes: 0 };
  /** Last reason a line was refused (info / debugging). */
  lastBad = "";
  #counters = new Map<string, number>();
  #timers = new Map<string, TimerValues>();
  #gauges = new Map<string, number>();
  #sets = new Map<string, Set<string>>();
  #maxKeys: number;

  constructor(readonly opts: StatsdOptions) {
    this.#maxKeys = opts.maxKeys ?? 200_000;
  }

  /** One datagram (or one TCP line) as bytes. */
  ingestBytes(bytes: Uint8Array): void {
    this.ingestText(decoder.decode(bytes));
  }

  /** One packet: lines separated by `\n` (a trailing `\r` is ignored). */
  ingestText(text: string): void {
    this.stats.packets++;
    const len = text.length;
    let start = 0;
    while (start < len) {
      // one scan per line: the first ':' and '|', and whether the line has anything more
      let colon = -1, bar = -1, extra = false, end = start;
      for (; end < len; end++) {
        const ch = text.charCodeAt(end);
        if (ch === 10) break;
        if (ch === 58 /* : */) {
          if (colon < 0) colon = end;
          else extra = true;
        } else if (ch === 124 /* | */) {
          if (bar < 0 && colon >= 0) bar = end;
          else extra = true;
        } else if (ch === 13 || ch === 64 /* @ */) extra = true;
      }
      if (!extra && colon > start && bar === end - 2 && bar > colon + 1 && text.charCodeAt(bar + 1) === 99) {
        if (this.#fastCounter(text, start, colon, bar)) {
          start = end + 1;
          continue;
        }
      }
      if (end > start) {
        let stop = end;
        if (text.charCodeAt(stop - 1) === 13) stop--;
        if (stop > start) this.ingestLine(text.slice(start, stop));
      }
      start = end + 1;
    }
  }

  /**
   * The common case `name:<integer>|c` for a counter already seen (so its name is known to be
   * clean): no parsing objects. Returns false to take the general path.
   */
  #fastCounter(text: string, start: number, colon: number, bar: number): boolean {
    let v = 0;
    let i = colon + 1;
    let neg = false;
    if (text.charCodeAt(i) === 45) {
      neg = true;
      i++;
    }
    if (i === bar || bar - i > 15) return false;
    for (; i < bar; i++) {
      const d = text.charCodeAt(i) - 48;
      if (d < 0 || d > 9) return false;
      v = v * 10 + d;
    }
    const name = text.slice(start, colon);
    const cur = this.#counters.get(name);
    if (cur === undefined) return false;
    this.#counters.set(name, cur + (neg ? -v : v));
    this.stats.metrics++;
    return true;
  }

  /** One line; malformed groups are counted in `bad_lines` and skipped. */
  ingestLine(line: string): void {
    for (const s of parseStatsdLine(line, this.opts.tags)) {
      if ("bad" in s) {
        this.stats.bad_lines++;
        this.lastBad = `${s.bad}: ${line.slice(0, 80)}`;
        continue;
      }
      switch (s.kind) {
        case "c": {
          const cur = this.#counters.get(s.name);
          if (cur === undefined && !this.#room(this.#counters)) continue;
          this.#counters.set(cur === undefined ? ownString(s.name) : s.name, (cur ?? 0) + s.value / s.rate);
          break;
        }
        case "ms": {
          let t = this.#timers.get(s.name);
          if (!t) {
            if (!this.#room(this.#timers)) continue;
            this.#timers.set(
              ownString(s.name),
              t = new TimerValues(this.opts.maxTimerValues, this.#timers.size + 1),
            );
          }
          t.add(s.value, s.rate);
          break;
        }
        case "g": {
          const cur = this.#gauges.get(s.name);
          if (cur === undefined && !this.#room(this.#gauges)) continue;
          // (a new key is kept as a copy: a view into its packet would keep the whole packet)
          this.#gauges.set(
            cur === undefined ? ownString(s.name) : s.name,
            s.delta ? (cur ?? 0) + s.value : s.value,
          );
          break;
        }
        case "s": {
          let set = this.#sets.get(s.name);
          if (!set) {
            if (!this.#room(this.#sets)) continue;
            this.#sets.set(ownString(s.name), set = new Set());
          }
          if (set.size < this.opts.maxTimerValues && !set.has(s.member)) set.add(ownString(s.member));
          break;
        }
      }
      this.stats.metrics++;
    }
  }

  #room(map: Map<string, unknown>): boolean {
    if (map.size < this.#maxKeys) return true;
    this.stats.dropped++;
    return false;
  }

  /**
   * The points of this interval at `tsSeconds`, then resets counters, timers and sets (gauges
   * keep their value).
   */
  flush(tsSeconds: number): Array<[name: string, value: number, ts: number]> {
    const out: Array<[string, number, number]> = [];
    const iv = this.opts.intervalSeconds;
    for (const [n, v] of this.#counters) {
      out.push(
        [statsName("stats.gauges", n, "count"), v, tsSeconds],
        [statsName("stats.gauges", n, "rate"), v / iv, tsSeconds],
      );
    }
    for (const [n, t] of this.#timers) {
      for (const [sfx, v] of timerStatistics(t, this.opts.percentiles, iv)) {
        out.push([statsName("stats.timers", n, sfx), v, tsSeconds]);
      }
    }
    for (const [n, v] of this.#gauges) out.push([statsName("stats.gauges", n, ""), v, tsSeconds]);
    for (const [n, set] of this.#sets) out.push([statsName("stats.sets", n, "count"), set.size, tsSeconds]);
    this.#counters.clear();
    this.#timers.clear();
    this.#sets.clear();
    this.stats.flushes++;
    return out;
  }

  /**
   * Everything held (this interval's counters, timers and sets, and the gauges) as statsd lines that
   * build it again where they are ingested, and forgets all of it, gauges included: the Worker's
   * hand-over when ts routing starts (statsd_worker.ts), so that each name has one aggregator, the
   * owner's. A timer holding a sample of its values sends them at the rate that keeps its count; a
   * negative gauge is set through 0 (a signed value alone is a delta).
   */
  drainLines(): string[] {
    return this.drainLinesOf(() => true);
  }

  /**
   * What `drainLines` gives, for the names `take(name)` is true of only; the others stay. Under ts
   * routing, the names this node no longer owns (statsd lines that reached it after its ring changed).
   */
  drainLinesOf(take: (name: string) => boolean): string[] {
    const out: string[] = [];
    for (const [n, v] of this.#counters) {
      if (!take(n)) continue;
      out.push(`${n}:${v}|c`);
      this.#counters.delete(n);
    }
    for (const [n, t] of this.#timers) {
      if (!take(n)) continue;
      this.#timers.delete(n);
      const { values, weightedCount } = t.state();
      if (!values.length) continue;
      const rate = Math.min(1, values.length / weightedCount);
      const tail = rate < 1 ? `|ms|@${rate}` : "|ms";
      for (const v of values) out.push(`${n}:${v}${tail}`);
    }
    for (const [n, v] of this.#gauges) {
      if (!take(n)) continue;
      if (v < 0) out.push(`${n}:0|g`);
      out.push(`${n}:${v}|g`);
      this.#gauges.delete(n);
    }
    for (const [n, set] of this.#sets) {
      if (!take(n)) continue;
      for (const m of set) out.push(`${n}:${m}|s`);
      this.#sets.delete(n);
    }
    return out;
  }

  /** What this interval holds so far (and the gauges), as plain data; nothing is reset. */
  exportState(): StatsdState {
    const timers: Array<[string, TimerState]> = [];
    for (const [n, t] of this.#timers) if (t.seen > 0) timers.push([n, t.state()]);
    const sets: Array<[string, string[]]> = [];
    for (const [n, set] of this.#sets) sets.push([n, [...set]]);
    return { counters: [...this.#counters], timers, gauges: [...this.#gauges], sets };
  }

  /**
   * Adds another aggregator's state of the same interval (`exportState()` of it), as if this one
   * had received its samples too: counters add up, timers' values join (within `maxTimerValues`),
   * sets unite; a gauge takes the state's value only if this one has none (what arrived here is
   * newer). The caps apply: names beyond `maxKeys` are counted as dropped.
   */
  mergeState(s: StatsdState): void {
    for (const [n, v] of s.counters) {
      const cur = this.#counters.get(n);
      if (cur === undefined && !this.#room(this.#counters)) continue;
      this.#counters.set(n, (cur ?? 0) + v);
    }
    for (const [n, ts] of s.timers) {
      let t = this.#timers.get(n);
      if (!t) {
        if (!this.#room(this.#timers)) continue;
        this.#timers.set(n, t = new TimerValues(this.opts.maxTimerValues, this.#timers.size + 1));
      }
      t.merge(ts);
    }
    for (const [n, v] of s.gauges) {
      if (!this.#gauges.has(n) && this.#room(this.#gauges)) this.#gauges.set(n, v);
    }
    for (const [n, members] of s.sets) {
      let set = this.#sets.get(n);
      if (!set) {
        if (!this.#room(this.#sets)) continue;
        this.#sets.set(n, set = new Set());
      }
      for (const m of members) {
        if (set.size >= this.opts.maxTimerValues) break;
        set.add(m);
      }
    }
  }

  /**
   * The current interval's values of one kind, for etsy's management console (`counters`,
   * `timers`, `gauges`): a timer as its first `maxValues` values held and how many it has seen.
   */
  dump(kind: MgmtKind, maxValues = 100): MgmtDump {
    if (kind === "timers") {
      const out: Array<[string, number[], number]> = [];
      for (const [n, t] of this.#timers) out.push([n, t.values.slice(0, maxValues), t.seen]);
      return { kind, entries: out };
    }
    return { kind, entries: [...(kind === "counters" ? this.#counters : this.#gauges)] };
  }

  /**
   * etsy's `delcounters`/`deltimers`/`delgauges`: for each bucket (a full name, or `folder.*`
   * for every name under `folder.`), the names deleted, in the order the console lists them.
   */
  deleteMatching(kind: MgmtKind, buckets: string[]): string[][] {
    const map: Map<string, unknown> = kind === "counters"
      ? this.#counters
      : kind === "timers"
      ? this.#timers
      : this.#gauges;
    return deleteBuckets(map, buckets);
  }

  /** A console request: `kind`'s listing, or etsy's del* of `buckets`; with the sizes after it. */
  mgmt(kind: MgmtKind | null, buckets?: string[]): MgmtAnswer {
    const deleted = kind && buckets ? this.deleteMatching(kind, buckets) : undefined;
    const dump = kind && !buckets ? this.dump(kind) : undefined;
    return { dump, deleted, sizes: this.sizes() };
  }

  /** Distinct names held now, per kind. */
  sizes(): { counters: number; timers: number; gauges: number; sets: number } {
    return {
      counters: this.#counters.size,
      timers: this.#timers.size,
      gauges: this.#gauges.size,
      sets: this.#sets.size,
    };
  }
}
