/**
 * The checks subsystem's core: composes the definitions (definitions.ts), the scheduler, the
 * runner (runner.ts) and the state fold (state.ts); activates checks against our tags (again on
 * every `tags.changed` and `config.reloaded`), publishes our services and answers the views.
 */
import type { Ctx } from "../subsystem.ts";
import { LazyInterval } from "../clock/mod.ts";
import { reapOrphanRuns } from "../sandbox/mod.ts";
import { redactSecrets } from "../secrets.ts";
import type { CollectorResultsView } from "../types.ts";
import { appliesTo, type CheckDef } from "./check_def.ts";
import { CheckDefinitions, shownProblems } from "./definitions.ts";
import type { RawResult } from "./evaluated.ts";
import { CheckRunner } from "./runner.ts";
import { Scheduler } from "./scheduler.ts";
import { type ServiceDef, serviceRecord, type ServiceState } from "./services.ts";
import { CheckStates, freshRuntime } from "./state.ts";
import type { Silence } from "./state_store.ts";
import { byKey } from "../order.ts";

const FLUSH_MS = 2000;
/**
 * Results within this long of a flush that ran at once are flushed at once too (checks due together
 * finish a few turns apart): no wake-up of their own FLUSH_MS later.
 */
const FLUSH_BURST_MS = 100;
/** At start, a check whose collector has not produced its first result yet waits instead of going UNKNOWN. */
const FIRST_RESULTS_GRACE_MS = 60_000;
const FIRST_RESULTS_RETRY_MS = 1000;

export class Checks {
  readonly name = "checks";
  #ctx: Ctx;
  #collectors?: CollectorResultsView;
  readonly defs: CheckDefinitions;
  #states: CheckStates;
  #runner: CheckRunner;
  #scheduler: Scheduler;
  #offs: Array<() => void> = [];
  /**
   * Saved states are written together within FLUSH_MS of a result; no timer while no check runs, and
   * the first result after a quiet FLUSH_MS is written in the wake-up that brought it.
   */
  #flush: LazyInterval;
  #started = false;
  /** When this subsystem was built: the first-results grace counts from here. */
  #createdAt: number;

  constructor(ctx: Ctx, collectors?: CollectorResultsView) {
    this.#ctx = ctx;
    this.#collectors = collectors;
    this.#createdAt = ctx.clock.elapsed();
    this.defs = new CheckDefinitions(ctx);
    this.#states = new CheckStates(ctx);
    this.#flush = new LazyInterval(ctx.clock, FLUSH_MS, () => this.#states.flush(), {
      leading: true,
      burst: FLUSH_BURST_MS,
    });
    this.#runner = new CheckRunner(ctx, this.defs, collectors);
    this.#scheduler = new Scheduler(
      ctx.clock,
      ctx.config.params.checks.max_concurrency,
      (id) => this.runCheck(id),
      Math.random,
      (id, err) => {
        ctx.counters.inc("check_run_failures_total");
        ctx.log.error(`check ${id}: run failed:`, err);
      },
    );
    ctx.counters.describe(
      "check_run_failures_total",
      "counter",
      "check runs that threw (a bug: see the log)",
    );
    this.defs.loadFromConfig();
    this.#states.retainOnly(new Set(this.defs.ids()));
  }

  /** (Re)reads checks and services from the configuration. */
  loadFromConfig(): void {
    const kinds = new Map(this.defs.ids().map((id) => [id, this.defs.get(id)!.kind]));
    this.defs.loadFromConfig();
    // a check the configuration no longer has leaves no state or silence behind (ids change with
    // generated or renamed files: each kept its last outputs and history for good)
    this.#states.retainOnly(new Set(this.defs.ids()));
    // one that became another kind (a plugin made passive) starts over: its last state was another's
    for (const [id, kind] of kinds) {
      const def = this.defs.get(id);
      if (!def || def.kind === kind) continue;
      this.#scheduler.remove(id);
      this.#states.forget(id);
    }
    if (this.#started) this.relink();
  }

  /** A definition was added, replaced or dropped: its schedule and state start over. */
  reset(ids: string[]): void {
    for (const id of ids) {
      this.#scheduler.remove(id);
      this.#states.forget(id);
    }
    this.relink();
  }

  /** Recomputes the active set against our tags; schedules, unschedules, updates the runner's allow-list. */
  relink(): void {
    for (const id of this.defs.activate(this.#ctx.node.tags())) this.#scheduler.remove(id);
    this.#runner.nagios.allow(this.defs.executables());
    if (this.#started) {
      // expression checks read collector results and cost nothing outside the agent: they run in the
      // collectors' wake-up (within their jitter); plugins keep the plain jitter that spreads them
      const grid = this.#ctx.config.params.collectors.interval;
      for (const def of this.defs.activeDefs()) {
        if (def.kind === "passive") continue;
        const lastCheck = this.#states.get(def.id)?.lastCheck ?? 0;
        this.#scheduler.set(def.id, def.intervalMs, lastCheck, def.kind === "evaluated" ? grid : 0);
      }
    }
    this.#publishServices();
  }

  /** Runs in flight, by check id, with the definition they run: a run asked meanwhile shares it. */
  #inflight = new Map<string, { def: CheckDef | undefined; run: Promise<void | number> }>();

  /**
   * Runs one check now and folds in its result (the scheduler calls this, `kunai checks run` too);
   * while a run of the same definition is in flight, answers that run instead of starting another
   * (a run of a definition replaced since then is discarded when it ends: a new one starts).
   */
  runCheck(id: string): Promise<void | number> {
    const def = this.defs.get(id);
    const running = this.#inflight.get(id);
    if (running && running.def === def) return running.run;
    const entry = { def, run: this.#runCheck(id, def) };
    entry.run = entry.run.finally(() => {
      if (this.#inflight.get(id) === entry) this.#inflight.delete(id);
    });
    this.#inflight.set(id, entry);
    return entry.run;
  }

  async #runCheck(id: string, def: CheckDef | undefined): Promise<void | number> {
    if (!def) return;
    const r = await this.#runner.run(def);
    if (!r || this.defs.get(id) !== def) return; // superseded, or replaced while running
    if (this.#awaitingFirstResults(def, r.raw)) return FIRST_RESULTS_RETRY_MS;
    if (this.#states.fold(def, r.raw, r.perf) && def.service) this.#publishServices();
    this.#flush.poke();
  }

  /**
   * True while a collector the check reads is scheduled but has not produced its first result yet
   * (agent just started): the check stays as it was rather than flapping to UNKNOWN.
   */
  #awaitingFirstResults(def: CheckDef, raw: RawResult): boolean {
    const name = raw.pendingCollector;
    if (!name || !this.#collectors || !this.#collectors.names().includes(name)) return false;
    if (this.#ctx.clock.elapsed() - this.#createdAt >= FIRST_RESULTS_GRACE_MS) return false;
    this.#ctx.log.debug(`check ${def.id}: waiting for the first results of collector ${name}`);
    return true;
  }

  #publishServices(): void {
    const tags = this.#ctx.node.tags();
    const out: Record<string, unknown> = {};
    for (const sd of this.defs.services()) {
      if (!appliesTo(sd.applyOn, tags)) continue;
      const rt = sd.checkId ? this.#states.get(sd.checkId) : undefined;
      const st: ServiceState | undefined = rt
        ? { state: rt.state, state_id: rt.state_id, output: rt.changeOutput }
        : undefined;
      out[sd.name] = serviceRecord(sd, st);
    }
    this.#ctx.node.setServices(out);
  }

  // ---------- views ----------

  /**
   * The check as configured (defaults applied, with its `from` and `apply_on`), secret-named fields
   * masked: what mail and webhook templates see as `check` under the fields of the state change, as
   * the original rendered its whole check object (`{{ check.notes }}`, `{{ check.mailq.warning }}`).
   */
  definition(id: string): Record<string, unknown> | undefined {
    const def = this.defs.get(id);
    if (!def) return undefined;
    const out: Record<string, unknown> = {
      ...redactSecrets(def.value) as Record<string, unknown>,
      id,
      name: id,
      from: def.from,
      apply_on: def.applyOn,
    };
    if (def.service) out.service = def.service;
    return out;
  }

  /** The API shape of one check. */
  view(id: string): Record<string, unknown> | undefined {
    const def = this.defs.get(id);
    if (!def) return undefined;
    const rt = this.#states.get(id) ?? freshRuntime();
    const next = this.#scheduler.nextRun(id);
    const out: Record<string, unknown> = {
      // secret-named fields (a password used by a macro) are masked: GET /agent/checks is a read route
      ...this.definition(id),
      kind: def.kind,
      active: this.defs.isActive(id),
      state: rt.state,
      state_id: rt.state_id,
      output: rt.output,
      last_check: Math.floor(rt.lastCheck / 1000),
      next_check: next !== undefined ? Math.floor(next / 1000) : null,
    };
    const problems = shownProblems(def);
    if (problems.length) out.problems = problems;
    if (rt.soft) out.soft = rt.soft;
    if (rt.perf.length) out.perfdata = rt.perf;
    const silence = this.#states.silence(id);
    if (silence) out.silenced = silence;
    return out;
  }

  /** The check's silence, or null. */
  silence(id: string): Silence | null {
    return this.#states.silence(id);
  }

  /** Silences (null: un-silences) a check's notifications; saved at once, announced as `check.silenced`. */
  setSilence(id: string, s: Silence | null): void {
    const had = this.#states.silence(id) !== null;
    this.#states.setSilence(id, s);
    if (s || had) this.#ctx.bus.emit("check.silenced", { id, silenced: s });
  }

  /** Every loaded check (active or not), by id. */
  allViews(): Record<string, Record<string, unknown>> {
    const out: Record<string, Record<string, unknown>> = {};
    for (const id of this.defs.ids().sort()) out[id] = this.view(id)!;
    return out;
  }

  /** Active checks only, by id. */
  activeViews(): Record<string, Record<string, unknown>> {
    const out: Record<string, Record<string, unknown>> = {};
    for (const id of this.defs.activeIds().sort()) out[id] = this.view(id)!;
    return out;
  }

  def(id: string): CheckDef | undefined {
    return this.defs.get(id);
  }

  serviceDef(name: string): ServiceDef | undefined {
    return this.defs.service(name);
  }

  /** Every configured service with its current state, by name. */
  serviceViews(): Record<string, Record<string, unknown>> {
    const out: Record<string, Record<string, unknown>> = {};
    const tags = this.#ctx.node.tags();
    for (const sd of this.defs.services().sort(byKey((s) => s.name))) {
      const rt = sd.checkId ? this.#states.get(sd.checkId) : undefined;
      const rec = serviceRecord(
        sd,
        rt ? { state: rt.state, state_id: rt.state_id, output: rt.output } : undefined,
      );
      rec.active = appliesTo(sd.applyOn, tags);
      out[sd.name] = rec;
    }
    return out;
  }

  /** Transitions of a check, newest first. */
  history(id: string) {
    return this.#states.history(id);
  }

  isActive(id: string): boolean {
    return this.defs.isActive(id);
  }

  // ---------- lifecycle ----------

  start(): Promise<void> {
    this.#started = true;
    const orphans = reapOrphanRuns();
    if (orphans) {
      this.#ctx.log.warn(`killed ${orphans} process(es) left by plugins of an agent killed with -9`);
    }
    this.#offs.push(this.#ctx.bus.on("tags.changed", () => this.relink()));
    this.#offs.push(this.#ctx.bus.on("config.reloaded", () => this.loadFromConfig()));
    this.relink();
    this.#flush.start();
    this.#ctx.log.info(`${this.defs.size} check(s) loaded, ${this.defs.activeIds().length} active`);
    return Promise.resolve();
  }

  stop(): Promise<void> {
    this.#started = false;
    for (const off of this.#offs) off();
    this.#offs = [];
    this.#flush.stop();
    this.#scheduler.stop();
    this.#runner.stop();
    this.#states.flush(true);
    return Promise.resolve();
  }

  info(): Record<string, unknown> {
    const counts: Record<string, number> = { ok: 0, warning: 0, critical: 0, unknown: 0, pending: 0 };
    for (const id of this.defs.activeIds()) counts[this.#states.get(id)?.state ?? "pending"]++;
    return {
      loaded: this.defs.size,
      active: this.defs.activeIds().length,
      services: this.defs.serviceCount,
      states: counts,
      running: this.#scheduler.running,
      queued: this.#scheduler.queued,
      runs: this.#scheduler.runs,
      errors: this.#states.errors,
      run_failures: this.#scheduler.failures,
      scheduling_delay_ms: this.#scheduler.delayStats(),
      plugin_executables: this.#runner.nagios.allowed.length,
    };
  }
}
