/**
 * The checks subsystem: loads checks and services from the configuration, activates them against
 * our tags (again on every `tags.changed`), schedules runs, keeps and persists state, publishes our
 * services and emits `check.changed` on transitions and `metrics.points` for plugin perfdata.
 */
import type { Ctx } from "../subsystem.ts";
import type { CheckResultEvent, CheckStateName } from "../types.ts";
import { STATE_IDS } from "../types.ts";
import type { EvalEnv } from "../evaluator/mod.ts";
import { appliesTo, type CheckDef, makeCheckDef, shortObjectId } from "./check_def.ts";
import { expressionProblems, type RawResult, runEvaluated } from "./evaluated.ts";
import { applyResult, type FlapState } from "./flap.ts";
import { lookupPath } from "./macros.ts";
import { NagiosRunner, PluginRefused, resolveCommand } from "./nagios_runner.ts";
import { parsePluginOutput, type PerfDatum, perfMetricName, stateOfExitCode } from "./perfdata.ts";
import { Scheduler } from "./scheduler.ts";
import { makeServiceDef, type ServiceDef, serviceRecord, type ServiceState } from "./services.ts";
import { CheckStateStore } from "./state_store.ts";

/** Runtime state of one check. */
export interface CheckRuntime {
  state: CheckStateName;
  state_id: number;
  output: string;
  /** Unix ms of the last finished run (0: never). */
  lastCheck: number;
  failures: number;
  successes: number;
  /** Output at the last state change (what services publish). */
  changeOutput: string;
  perf: PerfDatum[];
  /** Set while a result is held back by flap protection. */
  soft: string;
}

function freshRuntime(): CheckRuntime {
  return {
    state: "pending",
    state_id: 3,
    output: "",
    lastCheck: 0,
    failures: 0,
    successes: 0,
    changeOutput: "",
    perf: [],
    soft: "",
  };
}

const FLUSH_MS = 2000;
/** At start, a check whose collector has not produced its first result yet waits instead of going UNKNOWN. */
const FIRST_RESULTS_GRACE_MS = 60_000;
const FIRST_RESULTS_RETRY_MS = 1000;

export class Checks {
  readonly name = "checks";
  #ctx: Ctx;
  #defs = new Map<string, CheckDef>();
  #services = new Map<string, ServiceDef>();
  #rt = new Map<string, CheckRuntime>();
  #active = new Set<string>();
  #store: CheckStateStore;
  #scheduler: Scheduler;
  #runner: NagiosRunner;
  #offs: Array<() => void> = [];
  #flushTimer: number | null = null;
  #started = false;
  /** When this subsystem was built: the first-results grace counts from here. */
  #createdAt: number;
  /** Runs that ended UNKNOWN because of an error (for info). */
  errors = 0;

  constructor(ctx: Ctx) {
    this.#ctx = ctx;
    this.#createdAt = ctx.clock.now();
    this.#store = new CheckStateStore(ctx.store);
    this.#scheduler = new Scheduler(
      ctx.clock,
      ctx.config.params.checks.max_concurrency,
      (id) => this.runCheck(id),
    );
    this.#runner = new NagiosRunner(ctx.sandbox);
    for (const s of this.#store.loadAll().values()) {
      this.#rt.set(s.id, {
        ...freshRuntime(),
        state: s.state,
        state_id: s.state_id,
        output: s.output,
        changeOutput: s.output,
        lastCheck: s.last_check * 1000,
        failures: s.failures,
        successes: s.successes,
      });
    }
    this.loadFromConfig();
  }

  // ---------- definitions ----------

  /** (Re)reads checks and services from `ctx.config.objects`. */
  loadFromConfig(): void {
    const cfgDir = this.#ctx.config.cfgDir;
    const timeout = this.#ctx.config.params.checks.timeout;
    const defs = new Map<string, CheckDef>();
    const inCfg = (f: string) => f.startsWith(cfgDir + "/");
    for (const obj of Object.values(this.#ctx.config.objects.check ?? {})) {
      const id = shortObjectId(obj.id);
      const prev = defs.get(id);
      if (prev && inCfg(prev.file) && !inCfg(obj.file)) continue; // a local override wins
      defs.set(
        id,
        this.#prepare(
          makeCheckDef({ id, file: obj.file, value: obj.value, configId: obj.id, defaultTimeoutMs: timeout }),
        ),
      );
    }
    const services = new Map<string, ServiceDef>();
    for (const obj of Object.values(this.#ctx.config.objects.service ?? {})) {
      const name = typeof obj.value.name === "string" && obj.value.name
        ? obj.value.name
        : shortObjectId(obj.id);
      const sd = makeServiceDef(name, obj.file, obj.value);
      services.set(name, sd);
      if (sd.checkId) defs.set(sd.checkId, this.#serviceCheckDef(sd));
    }
    this.#defs = defs;
    this.#services = services;
    if (this.#started) this.relink();
  }

  #serviceCheckDef(sd: ServiceDef): CheckDef {
    return this.#prepare(makeCheckDef({
      id: sd.checkId!,
      file: sd.file,
      value: sd.value.check as Record<string, unknown>,
      service: sd.name,
      applyOn: sd.applyOn,
      defaultTimeoutMs: this.#ctx.config.params.checks.timeout,
    }));
  }

  #prepare(def: CheckDef): CheckDef {
    if (def.kind === "evaluated") def.problems.push(...expressionProblems(def));
    if (def.kind === "nagios") {
      try {
        resolveCommand(
          String(def.value.script),
          (p) => this.#lookup(def, p),
          this.#dirs(),
          def.value.shell === true,
        );
      } catch (err) {
        if (err instanceof PluginRefused) def.problems.push(`${def.file || def.id}: script: ${err.message}`);
        else throw err;
      }
    }
    for (const p of def.problems) this.#ctx.log.warn(`check ${def.id}: ${p}`);
    return def;
  }

  #dirs() {
    const p = this.#ctx.config.params;
    return { pluginDirs: p.checks.plugin_dirs, libexec: p.libexec };
  }

  #lookup(def: CheckDef, path: string): unknown {
    const svc = def.service ? this.#services.get(def.service)?.value : undefined;
    return lookupPath([def.value, svc, this.#ctx.config.data], path);
  }

  /** Adds or replaces a check at runtime (HTTP PUT). */
  putCheck(id: string, file: string, value: Record<string, unknown>): CheckDef {
    const def = this.#prepare(
      makeCheckDef({
        id,
        file,
        value,
        configId: id,
        defaultTimeoutMs: this.#ctx.config.params.checks.timeout,
      }),
    );
    this.#defs.set(id, def);
    this.#rt.delete(id);
    this.#scheduler.remove(id);
    this.#store.remove(id);
    this.relink();
    return def;
  }

  /** Drops a check (HTTP DELETE). */
  deleteCheck(id: string): boolean {
    if (!this.#defs.delete(id)) return false;
    this.#scheduler.remove(id);
    this.#rt.delete(id);
    this.#store.remove(id);
    this.relink();
    return true;
  }

  /** Adds or replaces a service at runtime (HTTP PUT). */
  putService(name: string, file: string, value: Record<string, unknown>): ServiceDef {
    this.deleteService(name, false);
    const sd = makeServiceDef(name, file, value);
    this.#services.set(name, sd);
    if (sd.checkId) this.#defs.set(sd.checkId, this.#serviceCheckDef(sd));
    this.relink();
    return sd;
  }

  /** Drops a service and its embedded check. */
  deleteService(name: string, relink = true): boolean {
    const sd = this.#services.get(name);
    if (!sd) return false;
    this.#services.delete(name);
    if (sd.checkId) {
      this.#defs.delete(sd.checkId);
      this.#scheduler.remove(sd.checkId);
      this.#rt.delete(sd.checkId);
      this.#store.remove(sd.checkId);
    }
    if (relink) this.relink();
    return true;
  }

  // ---------- activation ----------

  /** Recomputes the active set against our tags; schedules, unschedules, updates the runner's allow-list. */
  relink(): void {
    const tags = this.#ctx.node.tags();
    const active = new Set<string>();
    for (const def of this.#defs.values()) {
      const svcOk = !def.service || appliesTo(this.#services.get(def.service)?.applyOn ?? "*", tags);
      if (svcOk && appliesTo(def.applyOn, tags)) active.add(def.id);
    }
    for (const id of this.#active) if (!active.has(id)) this.#scheduler.remove(id);
    this.#active = active;
    const executables: string[] = [];
    for (const id of active) {
      const def = this.#defs.get(id)!;
      if (def.kind === "nagios" && !def.problems.length) {
        try {
          executables.push(this.#resolve(def).executable);
        } catch { /* reported at load */ }
      }
    }
    this.#runner.allow(executables);
    if (this.#started) {
      for (const id of active) {
        const def = this.#defs.get(id)!;
        if (def.kind === "passive") continue;
        this.#scheduler.set(id, def.intervalMs, this.#rt.get(id)?.lastCheck ?? 0);
      }
    }
    this.#publishServices();
  }

  #resolve(def: CheckDef) {
    return resolveCommand(
      String(def.value.script),
      (p) => this.#lookup(def, p),
      this.#dirs(),
      def.value.shell === true,
    );
  }

  // ---------- runs ----------

  /** Runs one check now and folds in its result (the scheduler calls this; tests may too). */
  async runCheck(id: string): Promise<void | number> {
    const def = this.#defs.get(id);
    if (!def) return;
    let raw: RawResult | null;
    let perf: PerfDatum[] = [];
    if (def.problems.length) raw = { state: "unknown", output: def.problems.join("; ") };
    else if (def.kind === "evaluated") raw = await runEvaluated(def, this.#evalEnv(def));
    else if (def.kind === "nagios") {
      const r = await this.#runNagios(def);
      if (!r) return; // superseded by a runner restart: the next run counts
      raw = r.raw;
      perf = r.perf;
    } else return;
    if (this.#defs.get(id) !== def) return; // replaced while running
    if (this.#awaitingFirstResults(def, raw)) return FIRST_RESULTS_RETRY_MS;
    this.#fold(def, raw, perf);
  }

  /**
   * True while a collector the check reads is running but has not produced its first result yet
   * (agent just started): the check stays as it was rather than flapping to UNKNOWN.
   */
  #awaitingFirstResults(def: CheckDef, raw: RawResult): boolean {
    if (def.kind !== "evaluated" || raw.state !== "unknown" || !this.#ctx.views.collectors) return false;
    if (this.#ctx.clock.now() - this.#createdAt >= FIRST_RESULTS_GRACE_MS) return false;
    const m = /collector '([^']+)' has no results/.exec(raw.output);
    if (!m || !this.#ctx.views.collectors.names().includes(m[1])) return false;
    this.#ctx.log.debug(`check ${def.id}: waiting for the first results of collector ${m[1]}`);
    return true;
  }

  #evalEnv(def: CheckDef): EvalEnv {
    return { collectors: this.#ctx.views.collectors, lookup: (p) => this.#lookup(def, p) };
  }

  async #runNagios(def: CheckDef): Promise<{ raw: RawResult; perf: PerfDatum[] } | null> {
    let argv: string[];
    try {
      const cmd = this.#resolve(def);
      argv = cmd.argv;
      if (!this.#runner.allowed.includes(cmd.executable)) {
        this.#runner.allow([...this.#runner.allowed, cmd.executable]);
      }
    } catch (err) {
      return {
        raw: { state: "unknown", output: `${def.file || def.id}: script: ${(err as Error).message}` },
        perf: [],
      };
    }
    const max = this.#ctx.config.params.checks.max_output;
    const r = await this.#runner.run(argv, def.timeoutMs, max);
    if (r.error && r.generation !== this.#runner.generation) return null;
    if (r.error) return { raw: { state: "unknown", output: r.error }, perf: [] };
    if (r.timedOut) {
      const partial = parsePluginOutput(r.output).text;
      const secs = def.timeoutMs / 1000;
      return {
        raw: {
          state: "unknown",
          output: `plugin timed out after ${secs}s and was killed${partial ? `: ${partial}` : ""}`,
        },
        perf: [],
      };
    }
    const parsed = parsePluginOutput(r.output);
    const st = r.signal ? { state: "unknown" as const } : stateOfExitCode(r.code);
    let output = parsed.long ? `${parsed.text}\n${parsed.long}` : parsed.text;
    if (r.signal) output = `plugin killed by ${r.signal}${output ? `: ${output}` : ""}`;
    else if (r.code !== null && r.code > 3) {
      output = `plugin exited with code ${r.code}${output ? `: ${output}` : ""}`;
    }
    if (r.truncated) output += ` [output truncated at ${max} bytes]`;
    return { raw: { state: st.state, output }, perf: parsed.perf };
  }

  #fold(def: CheckDef, raw: RawResult, perf: PerfDatum[]): void {
    const now = this.#ctx.clock.now();
    const rt = this.#rt.get(def.id) ?? freshRuntime();
    const old: FlapState = { state: rt.state, failures: rt.failures, successes: rt.successes };
    const d = applyResult(old, raw.state, {
      failuresBeforeCritical: Number(def.value.failures_before_critical ?? 1),
      successesBeforeOk: Number(def.value.successes_before_ok ?? 1),
    });
    if (raw.state === "unknown") this.errors++;
    const oldState = rt.state, oldId = rt.state_id;
    rt.state = d.state;
    rt.state_id = d.state === "pending" ? 3 : STATE_IDS[d.state];
    rt.failures = d.failures;
    rt.successes = d.successes;
    rt.soft = d.applied ? "" : d.note;
    rt.output = d.applied ? raw.output : `${raw.output} [${d.note}]`;
    rt.lastCheck = now;
    rt.perf = perf;
    const changed = d.state !== oldState;
    if (changed) rt.changeOutput = rt.output;
    this.#rt.set(def.id, rt);
    this.#ctx.counters.inc("check_runs_total", { state: raw.state });
    this.#store.save({
      id: def.id,
      state: rt.state,
      state_id: rt.state_id,
      output: rt.output,
      last_check: Math.floor(now / 1000),
      failures: rt.failures,
      successes: rt.successes,
    }, changed);
    if (perf.length) {
      const ts = Math.floor(now / 1000);
      const node = this.#ctx.node.name;
      this.#ctx.bus.emit("metrics.points", {
        points: perf.map((p) => [perfMetricName(node, def.id, p.label), p.value, ts]),
      });
    }
    if (changed) {
      const ev: CheckResultEvent = {
        id: def.id,
        name: def.id,
        state: rt.state,
        state_id: rt.state_id,
        old_state: oldState,
        old_state_id: oldId,
        output: rt.output,
        last_check: Math.floor(now / 1000),
        handlers: Array.isArray(def.value.handlers) ? def.value.handlers.map(String) : ["default"],
      };
      if (def.service) ev.service = def.service;
      this.#ctx.log.info(`check ${def.id}: ${oldState} -> ${rt.state}: ${rt.output.split("\n")[0]}`);
      this.#ctx.bus.emit("check.changed", ev);
      if (def.service) this.#publishServices();
    }
  }

  #publishServices(): void {
    const tags = this.#ctx.node.tags();
    const out: Record<string, unknown> = {};
    for (const sd of this.#services.values()) {
      if (!appliesTo(sd.applyOn, tags)) continue;
      const rt = sd.checkId ? this.#rt.get(sd.checkId) : undefined;
      const st: ServiceState | undefined = rt
        ? { state: rt.state, state_id: rt.state_id, output: rt.changeOutput }
        : undefined;
      out[sd.name] = serviceRecord(sd, st);
    }
    this.#ctx.node.setServices(out);
  }

  // ---------- views ----------

  /** The API shape of one check. */
  view(id: string): Record<string, unknown> | undefined {
    const def = this.#defs.get(id);
    if (!def) return undefined;
    const rt = this.#rt.get(id) ?? freshRuntime();
    const next = this.#scheduler.nextRun(id);
    const out: Record<string, unknown> = {
      ...def.value,
      id,
      name: id,
      from: def.from,
      apply_on: def.applyOn,
      kind: def.kind,
      active: this.#active.has(id),
      state: rt.state,
      state_id: rt.state_id,
      output: rt.output,
      last_check: Math.floor(rt.lastCheck / 1000),
      next_check: next !== undefined ? Math.floor(next / 1000) : null,
    };
    if (def.service) out.service = def.service;
    if (def.problems.length) out.problems = def.problems;
    if (rt.soft) out.soft = rt.soft;
    if (rt.perf.length) out.perfdata = rt.perf;
    return out;
  }

  /** Every loaded check (active or not), by id. */
  allViews(): Record<string, Record<string, unknown>> {
    const out: Record<string, Record<string, unknown>> = {};
    for (const id of [...this.#defs.keys()].sort()) out[id] = this.view(id)!;
    return out;
  }

  /** Active checks only, by id. */
  activeViews(): Record<string, Record<string, unknown>> {
    const out: Record<string, Record<string, unknown>> = {};
    for (const id of [...this.#active].sort()) out[id] = this.view(id)!;
    return out;
  }

  def(id: string): CheckDef | undefined {
    return this.#defs.get(id);
  }

  serviceDef(name: string): ServiceDef | undefined {
    return this.#services.get(name);
  }

  /** Every configured service with its current state, by name. */
  serviceViews(): Record<string, Record<string, unknown>> {
    const out: Record<string, Record<string, unknown>> = {};
    const tags = this.#ctx.node.tags();
    for (const sd of [...this.#services.values()].sort((a, b) => a.name.localeCompare(b.name))) {
      const rt = sd.checkId ? this.#rt.get(sd.checkId) : undefined;
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
    this.#store.flush();
    return this.#store.history(id);
  }

  isActive(id: string): boolean {
    return this.#active.has(id);
  }

  // ---------- lifecycle ----------

  start(): Promise<void> {
    this.#started = true;
    this.#offs.push(this.#ctx.bus.on("tags.changed", () => this.relink()));
    this.#offs.push(this.#ctx.bus.on("config.reloaded", () => this.loadFromConfig()));
    this.relink();
    this.#flushTimer = this.#ctx.clock.setInterval(() => this.#flush(), FLUSH_MS);
    this.#ctx.log.info(`${this.#defs.size} check(s) loaded, ${this.#active.size} active`);
    return Promise.resolve();
  }

  #flush(): void {
    try {
      this.#store.flush();
    } catch (err) {
      this.#ctx.log.error(`cannot save check states: ${(err as Error).message}`);
    }
  }

  stop(): Promise<void> {
    this.#started = false;
    for (const off of this.#offs) off();
    this.#offs = [];
    if (this.#flushTimer !== null) this.#ctx.clock.clearInterval(this.#flushTimer);
    this.#flushTimer = null;
    this.#scheduler.stop();
    this.#runner.stop();
    this.#flush();
    return Promise.resolve();
  }

  info(): Record<string, unknown> {
    const counts: Record<string, number> = { ok: 0, warning: 0, critical: 0, unknown: 0, pending: 0 };
    for (const id of this.#active) counts[this.#rt.get(id)?.state ?? "pending"]++;
    return {
      loaded: this.#defs.size,
      active: this.#active.size,
      services: this.#services.size,
      states: counts,
      running: this.#scheduler.running,
      queued: this.#scheduler.queued,
      runs: this.#scheduler.runs,
      errors: this.errors,
      scheduling_delay_ms: this.#scheduler.delayStats(),
      plugin_executables: this.#runner.allowed.length,
    };
  }
}
