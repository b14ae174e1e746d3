/**
 * Collectors subsystem: Linux, service and status-URL collectors run in permission-scoped Workers
 * (see groups.ts), results persisted in `collectors.db`, handed by lib/agent.ts to the evaluator,
 * detectors and checks as a CollectorResultsView (the returned object), on the bus
 * (`collector.result`, `metrics.points` as `<node>.<collector>.<path>`) and `GET /collectors`.
 * A reload's new free data (`redis_port`, `mysql_*`...) reaches the next runs.
 *
 * ```ts
 * const collectors = createCollectors(ctx);
 * await collectors.start();
 * collectors.get("cpustats")?.cpuall; // {"%usr": 1.2, ..., "%idle": 97.5}
 * ```
 */
import type { Ctx, Subsystem } from "../subsystem.ts";
import type { TimerId } from "../clock/mod.ts";
import type { RouteTable } from "../routing/mod.ts";
import type { CollectorResultsView } from "../types.ts";
import { type CollectorEntry, CollectorRuntime } from "./runtime.ts";
import { COLLECTORS_MIGRATIONS, loadEntries, saveEntry } from "./persist.ts";
import { collectorsRoutes } from "./routes.ts";
import { NamedPoints } from "./flatten.ts";
import type { GroupSpec } from "./groups.ts";
import { FailureNote } from "../log/failure.ts";

export { type CollectorEntry, CollectorRuntime, failureReason, type RuntimeOptions } from "./runtime.ts";
export {
  defaultGroups,
  type GroupSpec,
  LINUX_COLLECTORS,
  SERVICE_COLLECTORS,
  SLOW_COLLECTORS,
} from "./groups.ts";
export { flattenMetrics } from "./flatten.ts";

export interface CollectorsApi extends CollectorResultsView {
  /** Every collector's entry, sorted by name. */
  entries(): CollectorEntry[];
  entry(name: string): CollectorEntry | undefined;
  /** Runs one collector now (joins a run in flight). */
  runOnce(name: string): Promise<CollectorEntry>;
}

export interface CollectorsOptions {
  /** Replace the default Worker groups (tests). */
  groups?: GroupSpec[];
}

/** Longest time between two saves of a collector's entry. */
const SAVE_EVERY_MS = 60_000;

export function createCollectors(ctx: Ctx, opts: CollectorsOptions = {}): Subsystem & CollectorsApi {
  const db = ctx.store.open("collectors", COLLECTORS_MIGRATIONS);
  const saved = new Map<string, { at: number; active: boolean }>();
  const save = (entry: CollectorEntry) => {
    saveEntry(db, entry, ctx.clock.now());
    saved.set(entry.name, { at: ctx.clock.now(), active: entry.active });
  };
  // a full disk fails every save of every collector: said once (then once a minute), and its end
  const saveNote = new FailureNote(ctx.log, "saving collector results", 60_000, () => ctx.clock.now());
  // the entries due for a save in one wake-up (a round's collectors all reach their minute together)
  // are written in one transaction, in a 0 ms timeout after the round's results: one commit, not one each
  const pending = new Map<string, CollectorEntry>();
  let pendingTimer: TimerId | null = null;
  const savePending = () => {
    pendingTimer = null;
    const due = [...pending.values()];
    pending.clear();
    if (!due.length || !db.isOpen) return;
    try {
      db.transaction(() => due.forEach(save));
      saveNote.ok();
    } catch (err) {
      for (const e of due) saved.delete(e.name); // rolled back: saved again with their next result
      saveNote.fail(err as Error);
    }
  };
  // collector_runs_total's series as adders, one per collector and result: every collector's every
  // run counts, and a labelled series' key string built per run was an idle agent's garbage
  const runCounters = {
    ok: new Map<string, (n?: number) => void>(),
    failed: new Map<string, (n?: number) => void>(),
  };
  const countRun = (name: string, ok: boolean) => {
    const m = ok ? runCounters.ok : runCounters.failed;
    let inc = m.get(name);
    if (!inc) {
      m.set(
        name,
        inc = ctx.counters.counter("collector_runs_total", { collector: name, result: ok ? "ok" : "failed" }),
      );
    }
    inc();
  };
  /** Each collector's point names, built once (see NamedPoints). */
  const named = new Map<string, NamedPoints>();
  const runtime = new CollectorRuntime({
    sandbox: ctx.sandbox,
    clock: ctx.clock,
    log: ctx.log,
    params: ctx.config.params.collectors,
    data: ctx.config.data,
    groups: opts.groups,
    onWarning: (name) => ctx.counters.inc("collector_warnings_total", { collector: name }),
    onResult(entry, ok) {
      countRun(entry.name, ok);
      // saved when its state flips or a minute after its last save; everything again at stop
      const now = ctx.clock.now();
      const last = saved.get(entry.name);
      if (!last || last.active !== entry.active || now - last.at >= SAVE_EVERY_MS || now < last.at) {
        pending.set(entry.name, entry);
        pendingTimer ??= ctx.clock.setTimeout(savePending, 0);
      }
      ctx.bus.emit("collector.result", {
        name: entry.name,
        active: entry.active,
        results: entry.results,
        metrics: entry.metrics,
        log: entry.log,
        last_check: entry.last_check,
      });
      if (ok && entry.metrics.length) {
        const prefix = `${ctx.node.name}.${entry.name}.`;
        let names = named.get(entry.name);
        if (!names) named.set(entry.name, names = new NamedPoints());
        ctx.bus.emit("metrics.points", { points: names.points(prefix, entry.metrics, entry.last_check) });
      }
    },
  });
  runtime.restore(
    loadEntries(db, (name, err) => ctx.log.warn(`collectors.db: entry ${name} skipped: ${err.message}`)),
  );
  ctx.counters.describe("collector_runs_total", "counter", "collector runs by result");
  ctx.counters.describe("collector_warnings_total", "counter", "problems a run reported without failing");

  let offReload: (() => void) | null = null;
  const api: Subsystem & CollectorsApi = {
    name: "collectors",
    start() {
      runtime.start();
      // free data read by collectors (redis_port, mysql_*...) applies from the next run
      offReload = ctx.bus.on("config.reloaded", () => {
        const respawned = runtime.reconfigure(ctx.config.data);
        if (respawned.length) {
          ctx.log.info(`configuration reloaded: new permissions for ${respawned.join(", ")}`);
        }
      });
      return Promise.resolve();
    },
    stop() {
      offReload?.();
      offReload = null;
      runtime.stop();
      if (pendingTimer !== null) ctx.clock.clearTimeout(pendingTimer);
      pendingTimer = null;
      pending.clear();
      try {
        if (db.isOpen) db.transaction(() => runtime.entries().filter((e) => e.last_check > 0).forEach(save));
      } catch (err) {
        saveNote.fail(err as Error); // a full disk: the last results are only a cache for the next start
      }
      return Promise.resolve();
    },
    info() {
      return Object.fromEntries(
        runtime.entries().map((e) => [e.name, { name: e.name, active: e.active, log: e.log }]),
      );
    },
    routes(): RouteTable {
      return collectorsRoutes(runtime);
    },
    get: (name) => runtime.entry(name)?.results ?? undefined,
    names: () => runtime.names(),
    entries: () => runtime.entries(),
    entry: (name) => runtime.entry(name),
    runOnce: (name) => runtime.runOnce(name),
  };
  return api;
}
