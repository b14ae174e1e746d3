/**
 * The collector scheduler: runs each collector in its group's long-lived Worker every interval
 * (no overlap, a timeout per run), keeps the last entry per collector and reports each outcome.
 * Used by the agent (lib/collectors/mod.ts) and by `kunai collectors run` in the CLI process.
 *
 * ```ts
 * const rt = new CollectorRuntime({ sandbox, clock, log, params, data });
 * const entry = await rt.runOnce("loadaverage"); // entry.results.load1
 * ```
 */
import { InlineMethods, type MethodServer, type Sandbox } from "../sandbox/mod.ts";
import { type Clock, DueTimer, nextOnGrid, type TimerId } from "../clock/mod.ts";
import type { Logger } from "../log/mod.ts";
import type { CollectorsConfig } from "../config/mod.ts";
import { flattenMetrics, MetricPaths } from "./flatten.ts";
import { defaultGroups, type GroupSpec, SLOW_COLLECTORS } from "./groups.ts";
import type { RunReply } from "./protocol.ts";
import { askMany } from "./batch.ts";
import { PrecheckBackoff } from "./backoff.ts";

/** One collector as `/collectors` shows it (reference §5). */
export interface CollectorEntry {
  name: string;
  /** epoch seconds of the last run (0 = never) */
  last_check: number;
  /** epoch seconds of the next planned run */
  next_check: number;
  results: Record<string, unknown> | null;
  metrics: Array<[string, number]>;
  active: boolean;
  /** why the collector is inactive, or "" */
  log: string;
}

export interface RuntimeOptions {
  sandbox: Sandbox;
  clock: Clock;
  log: Logger;
  params: Pick<CollectorsConfig, "interval" | "timeout" | "disabled" | "intervals"> & {
    linux_worker?: boolean;
  };
  /** Free configuration data handed to each run (redis_server, mysql_user...). */
  data: Record<string, unknown>;
  /** Worker groups (default: linux + services from `data`). */
  groups?: GroupSpec[];
  /** Called after every run, success or failure. */
  onResult?: (entry: CollectorEntry, ok: boolean) => void;
  /** Called for each problem a run reported without failing (already logged). */
  onWarning?: (name: string, warning: string) => void;
}

/** Turns a Worker failure into the reason shown in `log`. */
export function failureReason(err: unknown): string {
  const e = err as Error;
  if (e?.name === "BrokerDenied" || e?.name === "NotCapable" || e?.name === "PermissionDenied") {
    return `permission denied: ${e.message}`;
  }
  return `${e?.name && e.name !== "Error" ? e.name + ": " : ""}${e?.message ?? String(err)}`;
}

/** Extra time allowed for a run that has to start its Worker first (module load on a busy box). */
const START_GRACE_MS = 30_000;

export class CollectorRuntime {
  #o: RuntimeOptions;
  #groups: GroupSpec[];
  #groupOf = new Map<string, GroupSpec>();
  #workers = new Map<string, MethodServer>();
  #entries = new Map<string, CollectorEntry>();
  /** When each scheduled collector is next due (clock ms); one timer waits for the earliest. */
  #due: DueTimer<string>;
  #inflight = new Map<string, Promise<CollectorEntry>>();
  /** Collectors whose Worker call has not settled (a timed-out run may still be working). */
  #busy = new Set<string>();
  #started = false;
  /** Refused prechecks: scheduled runs reuse the refusal for a while (see backoff.ts). */
  #backoff = new PrecheckBackoff();
  /** Runs done / failed since start, for info(). */
  runs = 0;
  /** Problems a run reported without failing (a connection that did not close), for info. */
  warnings = 0;
  failures = 0;

  /** Groups were given by the caller (tests): a reload keeps them. */
  #fixedGroups: boolean;

  constructor(opts: RuntimeOptions) {
    this.#o = { ...opts };
    this.#due = new DueTimer(opts.clock, (names, now) => this.#fire(names, now));
    this.#fixedGroups = !!opts.groups;
    this.#groups = opts.groups ?? defaultGroups(opts.data, this.#groupOpts());
    this.#indexGroups();
    for (const name of this.names()) this.#entries.set(name, blankEntry(name, this.disabled(name)));
  }

  #groupOpts(): { linuxWorker: boolean } {
    return { linuxWorker: this.#o.params.linux_worker === true };
  }

  #indexGroups(): void {
    this.#groupOf.clear();
    for (const g of this.#groups) {
      for (const c of g.collectors) if (!this.#groupOf.has(c)) this.#groupOf.set(c, g);
    }
  }

  /**
   * New configuration data (a reload): the next runs use it, and a group whose permissions follow
   * from it (the services Worker's net allow-list: `redis_port`, `mysql_*`...) gets a fresh Worker.
   */
  reconfigure(data: Record<string, unknown>): string[] {
    this.#o.data = data;
    this.#backoff.clear();
    if (this.#fixedGroups) return [];
    const next = defaultGroups(data, this.#groupOpts());
    const changed: string[] = [];
    for (const g of next) {
      const old = this.#groups.find((x) => x.name === g.name);
      if (old && JSON.stringify(old.permissions) === JSON.stringify(g.permissions)) continue;
      changed.push(g.name);
      this.#workers.get(g.name)?.terminate();
      this.#workers.delete(g.name);
    }
    this.#groups = next;
    this.#indexGroups();
    return changed;
  }

  /** Every known collector name, sorted. */
  names(): string[] {
    return [...this.#groupOf.keys()].sort();
  }

  disabled(name: string): boolean {
    return this.#o.params.disabled.includes(name);
  }

  /** `collectors.intervals.<name>`, else the global interval (at least SLOW_COLLECTORS' floor). */
  intervalOf(name: string): number {
    return this.#o.params.intervals[name] ?? Math.max(this.#o.params.interval, SLOW_COLLECTORS[name] ?? 0);
  }

  entry(name: string): CollectorEntry | undefined {
    return this.#entries.get(name);
  }

  entries(): CollectorEntry[] {
    return this.names().map((n) => this.#entries.get(n)!);
  }

  /** Puts back persisted entries (results usable by checks before the first run). */
  restore(saved: CollectorEntry[]): void {
    for (const e of saved) {
      if (!this.#groupOf.has(e.name) || this.disabled(e.name)) continue;
      this.#entries.set(e.name, { ...e, metrics: e.metrics ?? flattenMetrics(e.results) });
    }
  }

  /** Workers spawned so far, and in-thread groups once called (for info and tests). */
  workers(): MethodServer[] {
    return [...this.#workers.values()];
  }

  #worker(g: GroupSpec): MethodServer {
    let w = this.#workers.get(g.name);
    if (!w && g.inline) {
      w = new InlineMethods(
        { name: g.name, brokerAllow: g.brokerAllow, statfsAllow: g.statfsAllow },
        g.inline,
        this.#o.log,
      );
      this.#workers.set(g.name, w);
    } else if (!w) {
      w = this.#o.sandbox.spawn({
        name: g.name,
        module: g.module,
        permissions: g.permissions,
        brokerAllow: g.brokerAllow,
        statfsAllow: g.statfsAllow,
        startTimeoutMs: START_GRACE_MS,
      });
      this.#workers.set(g.name, w);
    }
    return w;
  }

  /**
   * Schedules every enabled collector now, then every interval. One timer serves them all: it wakes
   * at the earliest due time and starts every collector due then, together (collectors that started
   * together and share an interval stay together: one wake-up per interval, not one per collector).
   */
  start(): void {
    if (this.#started) return;
    this.#started = true;
    const now = this.#o.clock.now();
    for (const name of this.names()) if (!this.disabled(name)) this.#due.set(name, now);
    this.#due.start();
  }

  /**
   * Starts every collector due now (those of a batching group in one Worker message); each is due
   * again one interval after this start, once it ended.
   */
  #fire(due: string[], startedAt: number): void {
    const asks = this.#batchAsks(due);
    for (const name of due) {
      const ask = asks.get(name);
      const run = ask
        ? this.#track(name, this.#run(name, this.#groupOf.get(name)!, ask))
        : this.#runNow(name, true);
      void run.finally(() => {
        if (!this.#started) return;
        // on the epoch grid of its interval (at least half an interval on): the collectors, detectors and
        // housekeeping jobs of one interval wake the agent once, not each at the phase it started with
        const every = this.intervalOf(name);
        // (a wall clock stepped back during the run: from now, not from a start an hour ahead)
        this.#due.set(name, nextOnGrid(Math.min(startedAt, this.#o.clock.now()) + every / 2, every));
      });
    }
  }

  /**
   * One `runMany` call per batching group with two or more collectors ready among `names` (not in
   * flight, no earlier call still running); returns, per collector in a batch, how to get its reply.
   * The group's Worker runs them at once, each under the timeout (the call itself gives up at twice it).
   */
  #batchAsks(names: string[]): Map<string, () => Promise<RunReply>> {
    const asks = new Map<string, () => Promise<RunReply>>();
    const byGroup = new Map<GroupSpec, string[]>();
    for (const name of names) {
      const g = this.#groupOf.get(name);
      if (!g?.batch || this.#inflight.has(name) || this.#busy.has(name)) continue;
      byGroup.set(g, [...byGroup.get(g) ?? [], name]);
    }
    const timeout = this.#o.params.timeout;
    for (const [g, ready] of byGroup) {
      if (ready.length < 2) continue;
      for (const n of ready) this.#busy.add(n);
      const w = this.#worker(g);
      // the Worker times each run out itself; this bound only catches a Worker that stopped answering
      const limit = 2 * timeout + (w.running ? 0 : START_GRACE_MS);
      const data = pickData(this.#o.data, g.dataKeys);
      const batch = askMany(w, { names: ready, data, timeoutMs: timeout }, limit, this.#o.clock, () => {
        for (const n of ready) this.#busy.delete(n);
      });
      for (const [n, ask] of batch) asks.set(n, ask);
    }
    return asks;
  }

  /** Collectors waiting for their next run, with when (clock ms): for tests and info. */
  schedule(): Map<string, number> {
    return this.#due.plan();
  }

  /** Runs one collector now (joins a run already in flight: never two at once). */
  runOnce(name: string): Promise<CollectorEntry> {
    return this.#runNow(name, false);
  }

  /** A run now; a `scheduled` one may reuse a refused precheck instead of probing (see backoff.ts). */
  #runNow(name: string, scheduled: boolean): Promise<CollectorEntry> {
    const g = this.#groupOf.get(name);
    if (!g) {
      return Promise.reject(new Error(`unknown collector "${name}" (known: ${this.names().join(", ")})`));
    }
    const running = this.#inflight.get(name);
    if (running) return running;
    return this.#track(name, this.#run(name, g, () => this.#ask(name, g, scheduled)));
  }

  /** Registers a run in flight (a runOnce meanwhile joins it). */
  #track(name: string, run: Promise<CollectorEntry>): Promise<CollectorEntry> {
    const p = run.finally(() => this.#inflight.delete(name));
    this.#inflight.set(name, p);
    return p;
  }

  /** One run's reply: the group's precheck while its Worker is down, else the Worker, under a timeout. */
  async #ask(name: string, g: GroupSpec, scheduled: boolean): Promise<RunReply> {
    const { clock } = this.#o;
    const timeout = this.#o.params.timeout;
    if (this.#busy.has(name)) throw new Error("the previous run has not finished yet; skipped");
    if (g.precheck && !this.#workers.get(g.name)?.running) {
      const held = scheduled ? this.#backoff.held(name) : null;
      if (held) return held;
      const early = await g.precheck(name, pickData(this.#o.data, g.dataKeys));
      if (early) {
        this.#backoff.refused(name, early, this.intervalOf(name));
        return early;
      }
      this.#backoff.answered(name);
    }
    this.#busy.add(name);
    const w = this.#worker(g);
    // a Worker that is not up yet gets its start time on top (module load, first-use compile)
    const limit = timeout + (w.running ? 0 : START_GRACE_MS);
    const call = w.call<RunReply>("run", {
      name,
      data: pickData(this.#o.data, g.dataKeys),
      timeoutMs: timeout,
    }, timeout * 3);
    call.then(() => this.#busy.delete(name), () => this.#busy.delete(name));
    let timer: TimerId | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = clock.setTimeout(() => reject(new Error(`run took longer than ${limit} ms`)), limit);
    });
    try {
      return await Promise.race([call, timedOut]);
    } finally {
      clock.clearTimeout(timer!);
      call.catch(() => {}); // its outcome is the race's (or, after a timeout, the #busy bookkeeping's)
    }
  }

  /** Stops a prechecked group's Worker once none of its collectors finds anything (next runs precheck). */
  #stopIfIdle(g: GroupSpec): void {
    if (!g.precheck) return;
    const w = this.#workers.get(g.name);
    if (!w || g.collectors.some((c) => this.#busy.has(c) || this.#entries.get(c)?.active)) return;
    w.terminate();
    this.#workers.delete(g.name);
    this.#o.log.debug(`${g.name}: no service answers; Worker stopped until one does`);
  }

  /** Each collector's metric names, built once (see MetricPaths). */
  #paths = new Map<string, MetricPaths>();

  #pathsOf(name: string): MetricPaths {
    let p = this.#paths.get(name);
    if (!p) this.#paths.set(name, p = new MetricPaths());
    return p;
  }

  async #run(name: string, g: GroupSpec, ask: () => Promise<RunReply>): Promise<CollectorEntry> {
    const { clock } = this.#o;
    const startedAt = clock.now();
    const prev = this.#entries.get(name) ?? blankEntry(name, false);
    const base = {
      ...prev,
      name,
      last_check: Math.floor(startedAt / 1000),
      next_check: Math.floor((startedAt + this.intervalOf(name)) / 1000),
    };
    let entry: CollectorEntry;
    let ok = false;
    this.runs++;
    try {
      const reply = await ask();
      if (!reply || typeof reply !== "object") throw new Error("collector returned nothing");
      for (const w of Array.isArray(reply.warnings) ? reply.warnings : []) {
        this.warnings++;
        this.#o.log.warn(`collector ${name}: ${w}`);
        this.#o.onWarning?.(name, w);
      }
      if (reply.results && typeof reply.results === "object" && Object.keys(reply.results).length > 0) {
        entry = {
          ...base,
          results: reply.results,
          metrics: this.#pathsOf(name).flatten(reply.results),
          active: !reply.inactive,
          log: reply.inactive ?? "",
        };
        ok = !reply.inactive;
      } else {
        entry = { ...base, active: false, log: reply.inactive ?? "collector returned no data" };
      }
    } catch (err) {
      entry = { ...base, active: false, log: failureReason(err) };
    }
    if (!ok) {
      this.failures++;
      // a collector that stops working is a warning; one that never worked here (no server) is info
      if (prev.active) this.#o.log.warn(`collector ${name} is inactive: ${entry.log}`);
      else if (prev.log !== entry.log) this.#o.log.info(`collector ${name} is inactive: ${entry.log}`);
    }
    this.#entries.set(name, entry);
    if (!ok) this.#stopIfIdle(g);
    try {
      this.#o.onResult?.(entry, ok);
    } catch (err) {
      this.#o.log.error(`collector ${name}: result listener failed: ${(err as Error).message}`);
    }
    return entry;
  }

  /** Stops scheduling and the Workers (in-flight runs fail). */
  stop(): void {
    this.#started = false;
    this.#due.stop();
    for (const w of this.#workers.values()) w.terminate();
    this.#workers.clear();
  }
}

function pickData(data: Record<string, unknown>, prefixes: string[] = []): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(data)) if (prefixes.some((p) => k.startsWith(p))) out[k] = v;
  return out;
}

function blankEntry(name: string, disabled: boolean): CollectorEntry {
  return {
    name,
    last_check: 0,
    next_check: 0,
    results: null,
    metrics: [],
    active: false,
    log: disabled ? "disabled in configuration (collectors.disabled)" : "not run yet",
  };
}
