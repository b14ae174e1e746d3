/**
 * Detectors (reference §7): rules evaluated every `interval` that add tags to our node when they
 * match (`ctx.node.setSourceTags("detector:<id>", tags)`), and remove them when the rule stops
 * matching if `remove_when_false: true`. Tag changes go on the bus (`tags.changed`), so checks
 * re-link and gossip spreads them. An evaluation error keeps the current tags and is reported.
 */
import { DueTimer, nextOnGrid, parseDuration } from "../clock/mod.ts";
import { CollectorPending, type EvalEnv, evaluateBool, machineIo, walkPath } from "../evaluator/mod.ts";
import type { Ctx } from "../subsystem.ts";
import type { CollectorResultsView } from "../types.ts";
import { byKey } from "../order.ts";

/** A loaded detector. */
export interface DetectorDef {
  id: string;
  file: string;
  tags: string[];
  applyIf: string;
  intervalMs: number;
  removeWhenFalse: boolean;
  value: Record<string, unknown>;
}

/** The dry-run answer for one detector. */
export interface DetectorRun {
  matched: boolean;
  tags: string[];
  new_tags: string[];
  error?: string;
  /** Set when the rule read a collector that has no results yet. */
  pendingCollector?: string;
}

/** What detectors read besides ctx (wired by lib/agent.ts). */
export interface DetectorsDeps {
  /** Latest collector results; absent when collectors do not run. */
  collectors?: CollectorResultsView;
}

interface DetectorRuntime {
  matched: boolean | null;
  lastRun: number;
  error: string;
  /** The last run found a collector without its first result yet: run again soon. */
  waiting: boolean;
}

/** At start, a detector whose collector has not produced its first result retries instead of warning. */
const FIRST_RESULTS_GRACE_MS = 60_000;
const FIRST_RESULTS_RETRY_MS = 1000;

const PACK_ID = /^packs\/([^/]+)\/detectors\/(.+)$/;

/** `packs/<pack>/detectors/<name>` → `<name>`; other ids unchanged. */
export function detectorId(configId: string): string {
  const m = PACK_ID.exec(configId);
  return m ? m[2] : configId;
}

/** Builds a detector from a validated config object. */
export function makeDetectorDef(id: string, file: string, v: Record<string, unknown>): DetectorDef {
  const interval = parseDuration(v.interval ?? "10s") ?? 10_000;
  return {
    id,
    file,
    tags: Array.isArray(v.tags) ? v.tags.map(String) : [],
    applyIf: String(v.apply_if ?? ""),
    intervalMs: Math.max(1000, interval),
    removeWhenFalse: v.remove_when_false === true,
    value: v,
  };
}

/** Two definitions that apply the same tags under the same rule. */
function sameRule(a: DetectorDef, b: DetectorDef): boolean {
  return a.applyIf === b.applyIf && a.removeWhenFalse === b.removeWhenFalse &&
    a.tags.length === b.tags.length && a.tags.every((t) => b.tags.includes(t));
}

export class Detectors {
  readonly name = "detectors";
  #ctx: Ctx;
  #deps: DetectorsDeps;
  #defs = new Map<string, DetectorDef>();
  #rt = new Map<string, DetectorRuntime>();
  #started = false;
  /** When each detector runs next (clock ms); one timer waits for the earliest. */
  #due: DueTimer<string>;
  #offs: Array<() => void> = [];
  /** Evaluation errors since start (for info). */
  errors = 0;

  /** When this subsystem was built: the first-results grace counts from here. */
  #createdAt: number;

  constructor(ctx: Ctx, deps: DetectorsDeps = {}) {
    this.#ctx = ctx;
    this.#deps = deps;
    this.#createdAt = ctx.clock.elapsed();
    this.#due = new DueTimer(ctx.clock, (ids, now) => this.#fire(ids, now));
    this.loadFromConfig();
  }

  /** (Re)reads detectors from `ctx.config.objects.detector`; removed detectors drop their tags. */
  loadFromConfig(): void {
    const next = new Map<string, DetectorDef>();
    for (const obj of Object.values(this.#ctx.config.objects.detector ?? {})) {
      const id = detectorId(obj.id);
      next.set(id, makeDetectorDef(id, obj.file, obj.value));
    }
    // a detector renamed (moved to another file or pack) keeps its tags: dropping them and detecting
    // them again at its first run would flap them, re-linking checks and regenerating configs twice
    const fresh = [...next.keys()].filter((id) => !this.#defs.has(id));
    for (const [id, old] of this.#defs) {
      if (next.has(id)) continue;
      const rt = this.#rt.get(id);
      this.#unschedule(id);
      const heir = fresh.findIndex((n) => sameRule(next.get(n)!, old));
      if (heir >= 0) {
        const [to] = fresh.splice(heir, 1);
        this.#ctx.node.moveSourceTags(`detector:${id}`, `detector:${to}`);
        if (rt) this.#rt.set(to, rt);
      }
      this.#ctx.node.setSourceTags(`detector:${id}`, []);
    }
    this.#defs = next;
    if (this.#started) { for (const id of next.keys()) this.#schedule(id, 0); }
  }

  #env(): EvalEnv {
    return {
      collectors: this.#deps.collectors,
      lookup: (p) => walkPath(this.#ctx.config.data, p),
      io: machineIo(this.#ctx),
    };
  }

  /** Evaluates one detector's rule now without applying anything. */
  async evaluate(id: string): Promise<DetectorRun> {
    const def = this.#defs.get(id);
    if (!def) throw new Error(`detector ${id} not found`);
    const have = this.#ctx.node.tags();
    try {
      const matched = await evaluateBool(def.applyIf, this.#env());
      return { matched, tags: def.tags, new_tags: matched ? def.tags.filter((t) => !have.includes(t)) : [] };
    } catch (err) {
      const run: DetectorRun = {
        matched: false,
        tags: def.tags,
        new_tags: [],
        error: `${def.file || id}: apply_if: ${(err as Error).message}`,
      };
      if (err instanceof CollectorPending) run.pendingCollector = err.collector;
      return run;
    }
  }

  /** Dry run of every detector (or one): `{name: {matched, tags, new_tags}}`. */
  async dryRun(id?: string): Promise<Record<string, DetectorRun>> {
    const ids = id === undefined ? [...this.#defs.keys()].sort() : [id];
    const out: Record<string, DetectorRun> = {};
    for (const i of ids) {
      const { pendingCollector: _, ...run } = await this.evaluate(i);
      out[i] = run;
    }
    return out;
  }

  /** Runs one detector and applies its tags. */
  async runDetector(id: string): Promise<DetectorRun> {
    const def = this.#defs.get(id);
    if (!def) throw new Error(`detector ${id} not found`);
    const r = await this.evaluate(id);
    const rt = this.#runtime(id);
    rt.lastRun = this.#ctx.clock.now();
    if (this.#defs.get(id) !== def) return r;
    rt.waiting = this.#awaitingFirstResults(r);
    if (rt.waiting) {
      this.#ctx.log.debug(`detector ${id}: waiting for collector results: ${r.error}`);
      return r;
    }
    if (r.error) {
      this.errors++;
      if (rt.error !== r.error) this.#ctx.log.warn(`detector ${id}: ${r.error}`);
      rt.error = r.error;
      return r;
    }
    rt.error = "";
    const source = `detector:${id}`;
    if (r.matched) {
      if (r.new_tags.length) {
        this.#ctx.log.info(`detector ${id}: new tag(s) detected: ${r.new_tags.join(", ")}`);
      }
      this.#ctx.node.setSourceTags(source, def.tags);
    } else if (def.removeWhenFalse && rt.matched) {
      this.#ctx.log.info(`detector ${id}: no longer matches; removing tag(s) ${def.tags.join(", ")}`);
      this.#ctx.node.setSourceTags(source, []);
    }
    rt.matched = r.matched;
    return r;
  }

  /** True when the rule read a scheduled collector without results yet, shortly after start. */
  #awaitingFirstResults(r: DetectorRun): boolean {
    return !!r.pendingCollector && !!this.#deps.collectors &&
      this.#ctx.clock.elapsed() - this.#createdAt < FIRST_RESULTS_GRACE_MS &&
      this.#deps.collectors.names().includes(r.pendingCollector);
  }

  #runtime(id: string): DetectorRuntime {
    let rt = this.#rt.get(id);
    if (!rt) this.#rt.set(id, rt = { matched: null, lastRun: 0, error: "", waiting: false });
    return rt;
  }

  /** Plans a run of `id` in `delay` ms (replacing its planned one). */
  #schedule(id: string, delay: number): void {
    this.#runtime(id);
    this.#due.set(id, this.#ctx.clock.now() + delay);
  }

  #fire(due: string[], startedAt: number): void {
    for (const id of due) {
      const rt = this.#runtime(id);
      this.runDetector(id).catch((err) => this.#ctx.log.error(`detector ${id} failed:`, err)).finally(() => {
        const def = this.#defs.get(id);
        if (this.#started && def && !this.#due.has(id)) {
          // on the epoch grid of its interval, like the collectors (one wake-up for all of them)
          const every = def.intervalMs;
          // (a wall clock stepped back during the run: from now, not from a start an hour ahead)
          const from = Math.min(startedAt, this.#ctx.clock.now());
          this.#due.set(id, rt.waiting ? from + FIRST_RESULTS_RETRY_MS : nextOnGrid(from + every / 2, every));
        }
      });
    }
  }

  #unschedule(id: string): void {
    this.#due.delete(id);
    this.#rt.delete(id);
  }

  /** The detector objects (`GET /agent/detectors`). */
  list(): Array<Record<string, unknown>> {
    return [...this.#defs.values()].sort(byKey((d) => d.id)).map((d) => {
      const rt = this.#rt.get(d.id);
      return {
        ...d.value,
        id: d.id,
        name: d.id,
        from: d.file ? `file:${d.file}` : "",
        matched: rt?.matched ?? null,
        last_launch: rt ? Math.floor(rt.lastRun / 1000) : 0,
        error: rt?.error || null,
      };
    });
  }

  has(id: string): boolean {
    return this.#defs.has(id);
  }

  start(): Promise<void> {
    this.#started = true;
    this.#due.start();
    this.#offs.push(this.#ctx.bus.on("config.reloaded", () => this.loadFromConfig()));
    for (const id of this.#defs.keys()) this.#schedule(id, 0);
    return Promise.resolve();
  }

  stop(): Promise<void> {
    this.#started = false;
    for (const off of this.#offs) off();
    this.#offs = [];
    this.#due.stop();
    return Promise.resolve();
  }

  info(): Record<string, unknown> {
    const matched = [...this.#rt.entries()].filter(([, r]) => r.matched).map(([id]) => id).sort();
    return { loaded: this.#defs.size, matched, errors: this.errors };
  }
}
