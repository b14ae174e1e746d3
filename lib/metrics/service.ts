/**
 * The metrics subsystem's stateful core: opens `metrics.db`, runs the statsd and Graphite
 * listeners when configured, stores `metrics.points` from the bus (collectors, perfdata), and runs
 * the timers: statsd flush every `statsd.interval`, batched store writes every
 * `metrics.flush_interval`, rollup/expiry every `metrics.rollup_interval` (on the epoch grid of that
 * interval), all on the injected clock.
 * Received points go through `route()`: to the local store, or to their `ts` owner (forwarder).
 */
import type { Ctx, Subsystem } from "../subsystem.ts";
import { LazyInterval } from "../clock/mod.ts";
import type { MetricsStoreConfig } from "../config/mod.ts";
import { compileRules, parseRetentions } from "./retention.ts";
import { METRICS_MIGRATIONS, TimeSeriesStore } from "./ts_store.ts";
import { StoreFullError } from "../store/mod.ts";
import { StatsdAggregator, type StatsdState } from "./statsd_aggregator.ts";
import { combinedState, StatsdCarry } from "./statsd_carryover.ts";
import { parseGraphiteLine } from "./graphite_parse.ts";
import { pickledPoints } from "./graphite_pickle.ts";
import { PickleError } from "./pickle.ts";
import {
  closeSockets,
  type GraphiteSettings,
  type GraphiteStats,
  listenerInfo,
  listenerPorts,
  type MetricsListeners,
  noListeners,
  openListeners,
  statsdMgmtBackend,
  type StatsdSettings,
  statsdStats,
} from "./metric_listeners.ts";
import type { SeriesSource } from "./render.ts";
import { fetchLocal } from "./local_fetch.ts";
import type { FetchedSeries } from "./ts_store.ts";

export type { GraphiteSettings, GraphiteStats, StatsdSettings } from "./metric_listeners.ts";

/** The stop's last statsd flush is dated at most this far ahead (the store refuses 10 min ahead). */
const MAX_AHEAD_S = 300;

/**
 * A statsd tick this soon after the start is not flushed when other `ts` nodes may own some of its
 * names (`skipFirstStatsdFlush`): its lines wait for the next tick. While a restarted `ts` node joins
 * (~0.2 s) and until the others see it back, two nodes may flush one of its names for that tick: the
 * node that took its interval at the stop (and had not seen it return), and the node itself, which
 * knew only itself or had only part of the ring. A bucket keeps one point, so one of those counts was
 * lost (and a point routed to the owner replaced the owner's). Skipped, the tick's bucket is written
 * by the others alone; the lines of the first seconds after the start land in the next one.
 */
export const FIRST_FLUSH_SKIP_MS = 3_000;

/** Points per write transaction of the timer (the rest follow after a turn of the event loop). */
const WRITE_SLICE = 20_000;

/** Where a point goes: `true` when this node stores it, else it was handed to a forwarder. */
export type PointRouter = (name: string, value: number, ts: number) => void;

/**
 * WAL frames (pages) after which a commit of metrics.db copies the WAL back into the database
 * (SQLite's default is 1 000). The points table is clustered by series, so a settle of the fresh
 * rows (ts_settle.ts) dirties a page per series: at 1 000 frames a checkpoint came after a few of
 * them and wrote most pages back each time; at 10 000 it comes ten times less often and writes each
 * page once for the versions the WAL holds of it. Two simulated hours of a 400-series agent
 * (`deno task bench metrics_wal`): rollup passes (settles included) 1.7-1.8 -> 1.3 s. Before the
 * fresh rows, when each round dirtied those pages, writes 7.1-7.4 -> 6.0-6.3 s too. The cost: the
 * -wal file grows to ~40 MB (4 KiB pages) and stays that size; a checkpoint writes more at once.
 */
export const METRICS_WAL_AUTOCHECKPOINT = 10_000;

/**
 * `journal_size_limit` of metrics.db: the -wal file a checkpoint leaves is cut back to this size
 * when the next commit restarts it. Without it the file keeps the largest size it ever reached:
 * a commit of many pages crossing the threshold (a Graphite burst written straight into `points`,
 * an hourly compaction) or a reader holding a checkpoint back grows it past the threshold's ~41 MB
 * (58 MB in a 100-minute soak). A little above ~41 MB, so a normal restart does not cut the file
 * and grow it again.
 */
export const METRICS_WAL_SIZE_LIMIT = 44 * 1024 * 1024;

export class MetricsService {
  readonly store: TimeSeriesStore;
  /** Always present: forwarded statsd lines may arrive even where no statsd listener runs. */
  readonly statsd: StatsdAggregator;
  readonly graphiteStats: GraphiteStats = {
    lines: 0,
    points: 0,
    bad_lines: 0,
    overlong_lines: 0,
    frames: 0,
    bad_frames: 0,
    bad_points: 0,
    last_bad: "",
  };
  /** Where statsd flushes and Graphite/bus points go (local store unless routing replaces it). */
  route: PointRouter;
  /** Where statsd datagrams go (the local aggregator unless routing splits them by owner). */
  statsdPacket: (bytes: Uint8Array) => void;
  /** Where statsd TCP lines go. */
  statsdLine: (line: string) => void;
  /** Called after every write timer tick (the forwarder sends its batches). */
  afterFlush: (() => void) | null = null;
  /** True while something besides the store waits for the write timer (forwarder, relay). */
  backlog: (() => boolean) | null = null;
  /**
   * Before each statsd flush (ts routing): sends on what the aggregator holds of names this node does
   * not own, so that each name of an interval is flushed by one node, its owner.
   */
  beforeStatsdFlush: (() => void) | null = null;
  /**
   * At a stop (ts routing): hands what the aggregator holds to the nodes that own its names once
   * this one is gone; the number of lines, or null when no other ts node is there to take them.
   */
  handOffStatsd: (() => number | null) | null = null;
  /**
   * True when the first statsd tick, within `FIRST_FLUSH_SKIP_MS` of the start, is to be skipped
   * (ts routing: other `ts` nodes may flush its names for that tick, or the start's join is on its way).
   */
  skipFirstStatsdFlush: (() => boolean) | null = null;
  /** Statsd ticks skipped so far (info: `statsd_flushes_skipped`). */
  flushesSkipped = 0;
  #startedAt = 0;
  #firstTick = true;
  /** Optional copy of every received point to an external Graphite (`graphite.forward_to`). */
  mirror: PointRouter | null = null;
  #ctx: Ctx;
  #cfg: MetricsStoreConfig;
  #statsdCfg: StatsdSettings | null;
  #graphiteCfg: GraphiteSettings | null;
  /** The open sockets (statsd Worker, statsd TCP, Graphite UDP/TCP/pickle). */
  #l: MetricsListeners = noListeners();
  #rollupTimer: LazyInterval | null = null;
  #writer: LazyInterval;
  #statsdTimer: LazyInterval | null = null;
  #offBus: (() => void) | null = null;
  socketErrors = 0;
  /** The statsd state a stop hands to a start before the tick it dated its points at. */
  #carry: StatsdCarry;

  constructor(ctx: Ctx) {
    this.#ctx = ctx;
    this.#cfg = ctx.config.params.metrics;
    const levels = parseRetentions(this.#cfg.retentions);
    const rules = compileRules(this.#cfg.aggregation);
    const db = ctx.store.open("metrics", METRICS_MIGRATIONS);
    db.exec(`PRAGMA wal_autocheckpoint = ${METRICS_WAL_AUTOCHECKPOINT}`);
    db.exec(`PRAGMA journal_size_limit = ${METRICS_WAL_SIZE_LIMIT}`);
    this.#carry = new StatsdCarry(
      db,
      ctx.log,
      () => ctx.counters.inc("metrics_errors_total", { what: "statsd carry-over" }),
    );
    // the write timer sleeps while nothing is pending: an idle agent does not wake every second; the
    // first points after a quiet interval (a collector round) are written in the wake-up that brought them
    this.#writer = new LazyInterval(ctx.clock, this.#cfg.flush_interval, () => this.#writeTick(), {
      leading: true,
    });
    this.store = new TimeSeriesStore(db, {
      levels,
      rules,
      now: () => ctx.clock.now(),
      maxPending: this.#cfg.max_pending,
      maxSeries: this.#cfg.max_series,
      onPending: () => this.#writer.poke(),
      onSeriesRefused: (name) => this.#seriesRefused(name),
    });
    const s = ctx.config.listeners.statsd as StatsdSettings | undefined;
    const g = ctx.config.listeners.graphite as GraphiteSettings | undefined;
    this.#statsdCfg = s?.enabled ? s : null;
    this.#graphiteCfg = g?.enabled ? g : null;
    this.statsd = new StatsdAggregator({
      intervalSeconds: s?.interval ?? 10,
      percentiles: s?.percentiles ?? [90, 99],
      maxTimerValues: s?.max_timer_values ?? 10_000,
      tags: s?.tags ?? "ignore",
    });
    this.route = (name, value, ts) => void this.store.add(name, value, ts);
    this.statsdPacket = (bytes) => this.statsd.ingestBytes(bytes);
    this.statsdLine = (line) => this.localStatsdLine(line);
  }

  /** Accepts a point from any source: mirrored if configured, then routed. */
  ingest(name: string, value: number, ts: number): void {
    if (this.mirror) {
      this.wake(); // the relay sends at the write timer's tick
      this.mirror(name, value, ts);
    }
    this.route(name, value, ts);
  }

  /** Parses one Graphite plaintext line; a bad one is counted and skipped. */
  graphiteLine(line: string): void {
    this.graphiteStats.lines++;
    const p = parseGraphiteLine(line, Math.floor(this.#ctx.clock.now() / 1000));
    if ("bad" in p) {
      this.graphiteStats.bad_lines++;
      this.graphiteStats.last_bad = `${p.bad}: ${line.slice(0, 80)}`;
      return;
    }
    this.graphiteStats.points++;
    this.ingest(p.name, p.value, p.ts);
  }

  /**
   * Reads one frame of carbon's pickle protocol: each valid point is ingested as a plaintext one
   * is; bad entries are counted and skipped, a frame that is not read is counted whole.
   */
  graphitePickle(frame: Uint8Array): void {
    const st = this.graphiteStats;
    st.frames++;
    try {
      pickledPoints(frame, Math.floor(this.#ctx.clock.now() / 1000), (name, value, ts) => {
        st.points++;
        this.ingest(name, value, ts);
      }, (why) => {
        st.bad_points++;
        st.last_bad = `pickle: ${why}`;
      });
    } catch (err) {
      if (!(err instanceof PickleError)) throw err; // not the frame's fault: the listener's onError
      st.bad_frames++;
      st.last_bad = `pickle frame refused: ${err.message}`;
    }
  }

  /** Series of this node's store matching a path pattern (pending points written first). */
  fetchLocal(pattern: string, from: number, until: number): FetchedSeries[] {
    return fetchLocal(this.store, pattern, from, until);
  }

  /** The local store as a render source. */
  readonly localSource: SeriesSource = {
    fetch: (pattern, from, until) => Promise.resolve(this.fetchLocal(pattern, from, until)),
  };

  /** A statsd line aggregated on this node: by the Worker when it listens, else here. */
  localStatsdLine(line: string): void {
    if (this.#l.statsdWorker) this.#l.statsdWorker.line(line);
    else this.statsd.ingestLine(line);
  }

  /**
   * ts routing ended (the ring is this node alone): what the main thread aggregated meanwhile goes to
   * the Worker, which aggregates from now on, counted once in statsd.metrics. Without a Worker the
   * main thread's aggregator is the local one already.
   */
  statsdBackToLocal(): void {
    this.#l.statsdWorker?.handLines(this.statsd.drainLines());
  }

  /** Under ts routing datagrams come to the main thread to be split by owner; else the Worker aggregates. */
  setStatsdLocal(local: boolean): void {
    this.#statsdLocal = local;
    this.#l.statsdWorker?.setLocal(local);
  }
  #statsdLocal = true;
  /** statsd TCP lines received (with the Worker's count: the console's last_msg_seen). */
  #statsdTcpLines = 0;
  /** Unix seconds of the last statsd flush (the start until one runs): the console's kunai.last_flush. */
  #lastStatsdFlush = 0;

  /** statsd counters of this node (Worker and main-thread aggregators together). */
  statsdStats(): ReturnType<typeof statsdStats> {
    return statsdStats(this.statsd, this.#l);
  }

  /**
   * Runs one statsd flush now (timers call it every interval): both aggregators, then a write.
   * `ts`: the time its points carry (default now).
   */
  async flushStatsd(ts = Math.floor(this.#ctx.clock.now() / 1000)): Promise<number> {
    return (await this.#flushStatsd(ts, false)).points;
  }

  /**
   * The flush: what the last stop handed over is added first if this flush is at its tick (to the
   * Worker's aggregator while one runs: the datagrams of this interval are there); with `keep`,
   * also the state the aggregators held before it (a stop hands it to the next start).
   */
  async #flushStatsd(ts: number, keep: boolean): Promise<{ points: number; state: StatsdState | null }> {
    this.beforeStatsdFlush?.();
    const carry = this.#carry.forFlush(ts);
    const worker = this.#l.statsdWorker;
    const intoWorker = carry !== null && worker !== null && worker.running && this.#statsdLocal;
    if (carry && !this.#statsdLocal) {
      // under ts routing each name of it goes to its owner, as its lines would (ours join this flush)
      const a = new StatsdAggregator(this.statsd.opts);
      a.mergeState(carry);
      for (const line of a.drainLines()) this.statsdLine(line);
    } else if (carry && !intoWorker) this.statsd.mergeState(carry);
    // the Worker aggregates: what reached this thread's aggregator meanwhile (datagrams it handed
    // over before routing ended, lines a node whose ring still names us as the owner forwarded)
    // joins its aggregate first; flushed apart, a name in both had two points for one bucket, and
    // the bucket keeps one
    if (worker?.running && this.#statsdLocal) this.statsdBackToLocal();
    const states: StatsdState[] = keep ? [this.statsd.exportState()] : [];
    const pts = this.statsd.flush(ts);
    if (worker) {
      const r = await worker.flushWith(ts, { merge: intoWorker ? carry : undefined, keep });
      pts.push(...r.points);
      if (r.state) states.push(r.state);
    }
    for (const [n, v, t] of pts) this.ingest(n, v, t);
    this.#lastStatsdFlush = Math.round(this.#ctx.clock.now() / 1000);
    try {
      this.store.flush();
    } catch (err) {
      if (!(err instanceof StoreFullError)) throw err; // the points wait: the write timer retries and logs
    }
    return { points: pts.length, state: keep ? combinedState(states, this.statsd.opts) : null };
  }

  async start(): Promise<void> {
    const ctx = this.#ctx;
    const clock = ctx.clock;
    this.#offBus = ctx.bus.on("metrics.points", ({ points }) => {
      // collectors and checks send Unix seconds; milliseconds are tolerated
      // indexed, not destructured: an iterator per point is garbage the interpreter does not elide
      for (let i = 0; i < points.length; i++) {
        const p = points[i];
        this.ingest(p[0], p[1], p[2] > 1e11 ? Math.floor(p[2] / 1000) : p[2]);
      }
    });
    this.#writer.start();
    // on the epoch grid of its interval: the pass runs in a wake-up the 10 s jobs make anyway
    this.#rollupTimer = new LazyInterval(clock, this.#cfg.rollup_interval, () => {
      this.#rollupRun ??= this.#rollupInSlices().finally(() => this.#rollupRun = null);
      return true;
    });
    this.#rollupTimer.start(true, 0);
    // statsd flushes run even without a listener: forwarded lines may arrive from other nodes
    const statsdEvery = (this.#statsdCfg?.interval ?? 10) * 1000;
    this.#lastStatsdFlush = Math.round(clock.now() / 1000);
    this.#carry.take(Math.floor(clock.now() / 1000), statsdEvery / 1000);
    this.#startedAt = clock.now();
    // on the epoch grid of the interval (as Graphite's buckets are): one wake-up with the agent's other 10 s jobs
    this.#statsdTimer = new LazyInterval(clock, statsdEvery, () => {
      void this.#statsdTick();
      return true;
    });
    this.#statsdTimer.start(true, 0);
    const onError = (what: string) => (err: Error) => {
      this.socketErrors++;
      ctx.counters.inc("metrics_socket_errors_total", { listener: what });
      ctx.log.warn(`${what}: ${err.message}`);
    };
    try {
      await openListeners(this.#l, ctx, this.#statsdCfg, this.#graphiteCfg, {
        statsdPacket: (b) => this.statsdPacket(b),
        statsdLine: (line) => {
          this.#statsdTcpLines++;
          this.statsdLine(line);
        },
        graphiteLine: (line) => this.graphiteLine(line),
        graphitePickle: (frame) => this.graphitePickle(frame),
        graphitePickleRefused: (why) => {
          this.graphiteStats.bad_frames++;
          this.graphiteStats.last_bad = `pickle frame refused: ${why}`;
        },
        statsdOverlong: () => this.statsd.stats.bad_lines++,
        graphiteOverlong: () => {
          this.graphiteStats.overlong_lines++;
          this.graphiteStats.bad_lines++;
        },
        statsdLocal: () => this.#statsdLocal,
        statsdMgmt: statsdMgmtBackend(this.statsd, this.#l, this.#statsdCfg, {
          tcpLines: () => this.#statsdTcpLines,
          lastFlush: () => this.#lastStatsdFlush,
        }),
        onError,
      });
    } catch (err) {
      await this.stop();
      throw err;
    }
  }

  /** The timer's flush, dated at its tick; the first one may be skipped (`FIRST_FLUSH_SKIP_MS`). */
  async #statsdTick(): Promise<void> {
    const clock = this.#ctx.clock;
    const ts = Math.floor(clock.now() / 1000);
    if (this.#firstTick) {
      this.#firstTick = false;
      if (clock.now() - this.#startedAt < FIRST_FLUSH_SKIP_MS && this.skipFirstStatsdFlush?.() === true) {
        this.flushesSkipped++;
        // a carry-over dated at this tick is dropped: the stop's points stand in its bucket
        const carried = this.#carry.forFlush(ts) !== null;
        this.#ctx.log.debug(
          `statsd: the tick at ${ts} is not flushed (${
            Math.round(clock.now() - this.#startedAt)
          } ms after the start, ts nodes); its lines go to the next one${
            carried ? ", the stop's points stand" : ""
          }`,
        );
        return;
      }
    }
    await this.#flushStatsdSafely(ts);
  }

  async #flushStatsdSafely(
    ts = Math.floor(this.#ctx.clock.now() / 1000),
    keep = false,
  ): Promise<StatsdState | null> {
    try {
      return (await this.#flushStatsd(ts, keep)).state;
    } catch (err) {
      this.#ctx.counters.inc("metrics_errors_total", { what: "statsd flush" });
      this.#ctx.log.error(`statsd flush failed: ${(err as Error).message}`);
      return null;
    }
  }

  #writing = false;
  /** The write and rollup passes in progress (stop waits for them). */
  #writeRun: Promise<void> | null = null;
  #rollupRun: Promise<void> | null = null;
  #stopping = false;

  /** Something waits for the write timer outside the store (a forwarder or relay batch): arm it. */
  wake(): void {
    this.#writer.poke();
  }

  /**
   * One write timer tick; true (tick again) while something is left: points beyond the first slice
   * (written synchronously here), or a forwarder or relay backlog. Otherwise the timer sleeps until
   * the next point, without an extra tick only to find nothing.
   */
  #writeTick(): boolean {
    this.#writeRun ??= this.#writeInSlices().finally(() => this.#writeRun = null);
    return this.store.pending > 0 || (this.backlog?.() ?? false);
  }

  /**
   * The write timer: pending points in transactions of at most WRITE_SLICE, yielding between them
   * so a burst of Graphite points does not stall the statsd socket; then the forwarder's turn.
   */
  async #writeInSlices(): Promise<void> {
    if (this.#writing) return;
    this.#writing = true;
    try {
      while (this.store.pending > 0) {
        if (!this.#write()) break; // the next tick tries again
        if (this.store.pending > 0) await new Promise((r) => setTimeout(r, 0));
      }
      this.#safe("forward", () => this.afterFlush?.());
    } finally {
      this.#writing = false;
    }
  }

  /** Points of new names refused since the last line about them, and when that was (monotonic ms). */
  #refused = { n: 0, loggedAt: -Infinity };

  /** `metrics.max_series` reached: said at once, then once a minute with how many were refused. */
  #seriesRefused(name: string): void {
    const r = this.#refused;
    r.n++;
    const now = performance.now();
    if (now - r.loggedAt < 60_000) return;
    this.#ctx.log.warn(
      `${r.n} point(s) of new metric names refused (the latest ${JSON.stringify(name.slice(0, 120))}): ` +
        `${this.#cfg.max_series} names are stored (metrics.max_series); points of known names are still taken`,
    );
    r.n = 0;
    r.loggedAt = now;
  }

  /** The reason writes fail (a full disk), while they do, and when it was last logged. */
  #writeFailure = { text: "", loggedAt: 0 };

  /**
   * One slice of the pending points; false when it failed. A write that keeps failing for the
   * same reason is logged once a minute, and its end is logged.
   */
  #write(): boolean {
    const f = this.#writeFailure;
    try {
      this.store.flush(WRITE_SLICE);
    } catch (err) {
      this.#ctx.counters.inc("metrics_errors_total", { what: "write" });
      const text = (err as Error).message;
      const now = Date.now();
      if (text !== f.text || now - f.loggedAt >= 60_000 || now < f.loggedAt) {
        this.#ctx.log.error(`write failed: ${text}; ${this.store.pending} point(s) wait in memory`);
        f.loggedAt = now;
      }
      f.text = text;
      return false;
    }
    if (f.text) {
      this.#ctx.log.info(`points written again after: ${f.text}`);
      f.text = "";
    }
    return true;
  }

  async #rollupInSlices(): Promise<void> {
    try {
      await this.store.rollupInSlices(undefined, () => this.#stopping);
    } catch (err) {
      this.#ctx.counters.inc("metrics_errors_total", { what: "rollup" });
      this.#ctx.log.error(`rollup failed: ${(err as Error).message}`);
    }
  }

  #safe(what: string, fn: () => unknown): void {
    try {
      fn();
    } catch (err) {
      this.#ctx.counters.inc("metrics_errors_total", { what });
      this.#ctx.log.error(`${what} failed: ${(err as Error).message}`);
    }
  }

  async stop(): Promise<void> {
    this.#stopping = true;
    this.#rollupTimer?.stop();
    this.#rollupTimer = null;
    this.#writer.stop();
    // passes in progress end before the store is closed (a rollup gives up at its next slice)
    await this.#rollupRun;
    await this.#writeRun;
    this.#statsdTimer?.stop();
    this.#offBus?.();
    this.#offBus = null;
    await closeSockets(this.#l);
    // what was received and acknowledged by nothing yet still lands: flush statsd, then the store.
    // Its points carry the next tick's time, when they would have been flushed: stamped now, they
    // fell in the bucket of the last tick's points, and a bucket keeps its last point, so these few
    // seconds replaced a whole interval (every restart lost an interval of counters).
    // A start before that tick flushes there too, replacing these points: the state they came from
    // is handed to it (statsd_carryover.ts), which adds it to its own flush at the tick
    const every = this.#statsdCfg?.interval ?? 10;
    const nowS = Math.floor(this.#ctx.clock.now() / 1000);
    const next = (Math.floor(nowS / every) + 1) * every;
    const at = Math.min(next, nowS + MAX_AHEAD_S);
    // under ts routing the interval so far goes to the nodes that take our names when we leave: the
    // stop's points and a carry-over (below) would be a second point for a bucket they flush too,
    // and the store keeps the last one of a bucket (an interval of counts lost at each restart)
    this.#safe("statsd hand-off", () => {
      const n = this.handOffStatsd?.();
      if (n) {
        this.#ctx.log.info(
          `statsd: ${n} line(s) of this interval handed to the ts nodes that take this node's names`,
        );
      }
    });
    const state = await this.#flushStatsdSafely(at, at === next);
    if (state) this.#safe("statsd carry-over", () => this.#carry.save({ tick: at, interval: every, state }));
    await this.#l.statsdWorker?.stop();
    this.#l.statsdWorker = null;
    this.#safe("final flush", () => this.store.flush());
  }

  /** Actual listening ports (0 when not listening). */
  ports(): ReturnType<typeof listenerPorts> {
    return listenerPorts(this.#l);
  }

  /** `/agent/info` sections for statsd and graphite: enabled only while really listening. */
  listenerInfo(): ReturnType<typeof listenerInfo> {
    return listenerInfo(this.#l, this.#statsdCfg, this.#graphiteCfg, this.statsd, this.graphiteStats);
  }

  info(): Record<string, unknown> {
    return {
      series: this.store.seriesCount,
      pending: this.store.pending,
      /** Write timer ticks since start (it sleeps while nothing is pending). */
      write_ticks: this.#writer.ticks,
      levels: this.store.levels,
      store: this.store.stats,
      socket_errors: this.socketErrors,
      ...this.listenerInfo(),
    };
  }
}

/** The subsystem face of the service (what lib/agent.ts starts and stops). */
export function asSubsystem(svc: MetricsService, extra: Partial<Subsystem> = {}): Subsystem {
  return {
    name: "metrics",
    start: () => svc.start(),
    stop: () => svc.stop(),
    info: () => svc.info(),
    ...extra,
  };
}
