/**
 * The state fold of checks: each raw result goes through flap protection into the check's
 * runtime state, is saved (history only on a change), and a transition is announced on the bus
 * (`check.changed`), with plugin perfdata as `metrics.points`.
 */
import type { Ctx } from "../subsystem.ts";
import { type CheckResultEvent, type CheckStateName, STATE_IDS } from "../types.ts";
import type { CheckDef } from "./check_def.ts";
import type { RawResult } from "./evaluated.ts";
import { applyResult, type FlapState } from "./flap.ts";
import { type PerfDatum, perfMetricName } from "./perfdata.ts";
import { CheckStateStore, type Silence } from "./state_store.ts";
import { FailureNote } from "../log/failure.ts";

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

export function freshRuntime(): CheckRuntime {
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

export class CheckStates {
  #ctx: Ctx;
  readonly #runCounters = new Map<string, (n?: number) => void>();
  #rt = new Map<string, CheckRuntime>();
  #store: CheckStateStore;
  #silences: Map<string, Silence>;
  /** Runs that ended UNKNOWN because of an error (for info). */
  errors = 0;

  /** A full disk fails every flush (10 s): said once, then once a minute, and its end. */
  #saveNote: FailureNote;

  constructor(ctx: Ctx) {
    this.#ctx = ctx;
    this.#saveNote = new FailureNote(ctx.log, "saving check states", 60_000, () => ctx.clock.now());
    this.#store = new CheckStateStore(ctx.store);
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
    this.#silences = this.#store.loadSilences();
  }

  /** The check's silence, or null (one whose end passed is forgotten here). */
  silence(id: string): Silence | null {
    const s = this.#silences.get(id);
    if (!s) return null;
    if (s.until !== null && s.until <= this.#ctx.clock.now()) {
      this.#silences.delete(id);
      this.#store.endSilence(id);
      return null;
    }
    return s;
  }

  /** Silences a check's notifications (null: ends it); saved first (a failed save changes nothing). */
  setSilence(id: string, s: Silence | null): void {
    this.#store.saveSilence(id, s);
    if (s) this.#silences.set(id, s);
    else this.#silences.delete(id);
  }

  get(id: string): CheckRuntime | undefined {
    return this.#rt.get(id);
  }

  /** Forgets a check's state (replaced or deleted definition). */
  forget(id: string): void {
    this.#rt.delete(id);
    this.#store.remove(id);
  }

  /**
   * Forgets the state and the silence of every check not in `ids` (removed from the configuration,
   * while the agent ran or was down): a check added again later under the same id starts pending and
   * unsilenced, rather than muted by an acknowledgement nobody can see or end.
   */
  retainOnly(ids: ReadonlySet<string>): void {
    for (const id of [...this.#rt.keys()]) if (!ids.has(id)) this.forget(id);
    for (const id of [...this.#silences.keys()]) {
      if (ids.has(id)) continue;
      this.#silences.delete(id);
      this.#store.endSilence(id);
    }
  }

  /** Folds one result in; returns true when the state changed. */
  fold(def: CheckDef, raw: RawResult, perf: PerfDatum[]): boolean {
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
    let count = this.#runCounters.get(raw.state); // an adder per state: no series key built per run
    if (!count) {
      this.#runCounters.set(
        raw.state,
        count = this.#ctx.counters.counter("check_runs_total", { state: raw.state }),
      );
    }
    count();
    const ts = Math.floor(now / 1000);
    // an applied result: its counters decide nothing (they matter only in a soft state, not applied);
    // in the same state (the store compares) the row may wait
    const quiet = d.applied;
    this.#store.save(
      {
        id: def.id,
        state: rt.state,
        state_id: rt.state_id,
        output: rt.output,
        last_check: ts,
        failures: rt.failures,
        successes: rt.successes,
      },
      changed,
      quiet,
    );
    if (perf.length) {
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
        last_check: ts,
        handlers: Array.isArray(def.value.handlers) ? def.value.handlers.map(String) : ["default"],
      };
      if (def.service) ev.service = def.service;
      const silence = this.silence(def.id);
      if (silence && silence.until === null && rt.state === "ok") {
        // an acknowledgement lasts until the check recovers; the recovery itself is notified
        this.#silences.delete(def.id);
        this.#store.endSilence(def.id);
        this.#ctx.log.info(`check ${def.id}: recovered, its silence ended`);
      } else if (silence) ev.silenced = { reason: silence.reason, until: silence.until };
      this.#ctx.log.info(`check ${def.id}: ${oldState} -> ${rt.state}: ${logLine(rt.output)}`);
      this.#ctx.bus.emit("check.changed", ev);
    }
    return changed;
  }

  /** Transitions of a check, newest first. */
  history(id: string) {
    this.flush(); // on a full disk the newest transitions wait in memory: listed first
    return this.#store.history(id);
  }

  /** Writes pending states (logs, never throws); `final` (a stop): the newest run of rows that wait too. */
  flush(final = false): void {
    try {
      this.#store.flush(final);
      this.#saveNote.ok();
    } catch (err) {
      this.#saveNote.fail(err as Error);
    }
  }
}

/** An output's first line for the log, at most LOG_OUTPUT characters (a plugin may print megabytes). */
function logLine(output: string): string {
  const first = output.split("\n", 1)[0];
  return first.length > LOG_OUTPUT ? `${first.slice(0, LOG_OUTPUT)}… (${first.length} characters)` : first;
}

const LOG_OUTPUT = 300;
