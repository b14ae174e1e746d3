/**
 * Event handlers (Serf's `-event-handler user:NAME=script`): `event_handler` objects run a shell
 * command when a cluster event of one of their names is logged here (`kunai event send`, gossip).
 *
 * What arrives from the network cannot start a command unless the cluster key vouches for it: a
 * handler runs only for authenticated events (sent through this agent's write route, or received
 * sealed with the cluster key; see ClusterEventRecord). Without `encryption_key` anyone who can
 * reach the gossip port could send events, so events from other agents are then skipped, counted
 * and logged (once per handler), and the start logs a warning naming the handlers.
 *
 * The payload is never part of a command line: it is the command's stdin, and the event's fields
 * are environment variables (runEnv). The environment holds nothing else of the agent's (no
 * `KUNAI_HTTP_TOKEN`): PATH, LANG, HOME and those variables. One run at a time per handler, in arrival order; at most
 * MAX_QUEUED wait (more are dropped and counted, a storm of events cannot fork without bound); the
 * process group is killed at `timeout`. A command still running when the agent stops is left to
 * finish (a deploy script should not die half-way because the agent restarts); its timeout then no
 * longer applies.
 */
import type { Ctx } from "../subsystem.ts";
import type { ClusterEventRecord, MemberRecord } from "../types.ts";
import { runShell } from "../process/mod.ts";
import { isMemberPattern, MEMBER_BUS_EVENTS, MemberEventBatcher, memberLine } from "./member_events.ts";
import {
  QUERY_MAX_RUNNING,
  QUERY_PREFIX,
  QUERY_RESPONSE_BYTES,
  type QueryAnswer,
  type QueryRequest,
} from "./queries.ts";
import { applies, eventFamily, eventHandlerDefs, matchesEvent } from "./event_handler_def.ts";
import {
  type EventRunView,
  OUTPUT_BYTES,
  runHandler,
  type RunRecord,
  type ShellRunner,
} from "./event_run.ts";

/** Events waiting per handler while one runs. */
export const MAX_QUEUED = 16;

/** A handler as `GET /agent/event-handlers` shows it (not its command: it may hold a secret). */
export interface EventHandlerView {
  name: string;
  file: string;
  events: string[];
  apply_on: string;
  applies: boolean;
  timeout_ms: number;
  runs: number;
  failures: number;
  dropped: number;
  skipped_unauthenticated: number;
  running: boolean;
  queued: number;
  last: EventRunView | null;
}

/** A handler, its queue and its counters. */
interface Slot extends RunRecord {
  queue: ClusterEventRecord[];
  running: boolean;
  dropped: number;
  skipped: number;
  warnedUnauthenticated: boolean;
}

/** Runs `event_handler` objects for the cluster events the bus carries. */
export class EventHandlers {
  #ctx: Ctx;
  #slots = new Map<string, Slot>();
  #stopped = false;
  #run: ShellRunner;
  #keyed: () => boolean;
  #members: MemberEventBatcher;
  /** True while some handler runs for membership events (else they are not even batched). */
  #wantsMembers = false;
  #memberSeq = 0;
  #queryRuns = 0;

  /** `keyed`: true while gossip seals with a cluster key. */
  constructor(ctx: Ctx, keyed: () => boolean, run: ShellRunner = runShell) {
    this.#ctx = ctx;
    this.#keyed = keyed;
    this.#run = run;
    this.#members = new MemberEventBatcher(ctx.clock, (name, recs) => this.#onMembers(name, recs));
    this.reload();
  }

  /** Takes the configuration's handlers; a handler that stays keeps its counters and queue. */
  reload(): void {
    const next = new Map<string, Slot>();
    for (const def of eventHandlerDefs(this.#ctx)) {
      const old = this.#slots.get(def.name);
      // the same object: a run in progress holds it, and its end must clear `running` on the slot
      // that stays (a copy stayed "running" forever and its events were never run again)
      if (old) old.def = def;
      next.set(
        def.name,
        old ?? {
          def,
          queue: [],
          running: false,
          runs: 0,
          failures: 0,
          dropped: 0,
          skipped: 0,
          warnedUnauthenticated: false,
          last: null,
        },
      );
    }
    // a slot dropped by the reload keeps running its current command, then stops taking events
    for (const [name, old] of this.#slots) if (!next.has(name)) old.queue.length = 0;
    // a kept one runs what is still waiting only if its new definition wants it (`events`, `apply_on`)
    const tags = this.#ctx.node.tags();
    for (const s of next.values()) {
      if (!s.queue.length) continue;
      s.queue = applies(s.def, tags) ? s.queue.filter((e) => matchesEvent(s.def.events, e.name)) : [];
    }
    this.#slots = next;
    this.#wantsMembers = [...next.values()].some((s) => s.def.events.some(isMemberPattern));
  }

  /** Logs at start what the configuration means for events from other agents. */
  start(): void {
    if (!this.#slots.size || this.#keyed()) return;
    this.#ctx.log.warn(
      `event handlers ${[...this.#slots.keys()].join(", ")} run only for events sent by this agent: ` +
        `without encryption_key anyone who can reach the gossip port could send events (membership events and ` +
        `queries from other agents run nothing either)`,
    );
  }

  stop(): void {
    this.#stopped = true;
    this.#members.stop();
    for (const s of this.#slots.values()) s.queue.length = 0;
  }

  /** A change of the membership (a `member.*` bus event); batched into `member-*` events. */
  onMember(busEvent: keyof typeof MEMBER_BUS_EVENTS, rec: MemberRecord): void {
    if (this.#stopped || !this.#wantsMembers || rec.uuid === this.#ctx.node.uuid) return;
    this.#members.change(busEvent, rec);
  }

  /**
   * A batch of membership changes, run as one event: one line per node on stdin. The nodes' records
   * came from the network, so without a cluster key they are not authenticated either.
   */
  #onMembers(name: string, recs: MemberRecord[]): void {
    const { node, clock } = this.#ctx;
    const now = clock.now();
    this.#dispatch(true, {
      id: `${name}-${now}-${++this.#memberSeq}`,
      name,
      payload: recs.map((r) => memberLine(r) + "\n").join(""),
      from: node.name,
      from_uuid: node.uuid,
      at: now,
      received: now,
      authenticated: this.#keyed(),
    });
  }

  /** A cluster event was logged here (ours included). */
  onEvent(e: ClusterEventRecord): void {
    this.#dispatch(false, e);
  }

  /** Queues `e` on the handlers it concerns; `member`: a batch of membership changes. */
  #dispatch(member: boolean, e: ClusterEventRecord): void {
    // a sent event cannot pose as a membership event (gossip refuses the names; this is the rule)
    if (this.#stopped || eventFamily(e.name) !== (member ? "member" : "event")) return;
    const { counters, log } = this.#ctx;
    const tags = this.#ctx.node.tags();
    for (const s of this.#slots.values()) {
      if (!matchesEvent(s.def.events, e.name) || !applies(s.def, tags)) continue;
      if (!e.authenticated) {
        const what = isMemberPattern(e.name) ? "membership events (records other agents gossip)" : "events";
        this.#skipUnauthenticated(s, `skipped event ${e.name} from ${e.from}`, what);
        continue;
      }
      if (s.queue.length >= MAX_QUEUED) {
        s.dropped++;
        counters.inc("event_handler_dropped_total", { handler: s.def.name });
        log.warn(
          `event handler ${s.def.name}: ${MAX_QUEUED} events already waiting, event ${e.name} (${e.id}) dropped`,
        );
        continue;
      }
      s.queue.push(e);
      if (!s.running) void this.#drain(s);
    }
  }

  async #drain(s: Slot): Promise<void> {
    s.running = true;
    try {
      for (let e = s.queue.shift(); e && !this.#stopped; e = s.queue.shift()) await this.#runOne(s, e);
    } finally {
      s.running = false;
    }
  }

  /** Counts a run `s` did not make for want of authentication; the first one is logged. */
  #skipUnauthenticated(s: Slot, did: string, what: string): void {
    s.skipped++;
    this.#ctx.counters.inc("event_handler_skipped_total", { handler: s.def.name, why: "unauthenticated" });
    if (s.warnedUnauthenticated) return;
    s.warnedUnauthenticated = true;
    this.#ctx.log.warn(
      `event handler ${s.def.name}: ${did}: ${what} run handlers only when the cluster has an encryption_key ` +
        `(counted in event_handler_skipped_total)`,
    );
  }

  /** Runs `s`'s command for `e` (event_run.ts); null if it cannot start. */
  #runOne(s: Slot, e: ClusterEventRecord, timeoutMs = s.def.timeout, maxOutput = OUTPUT_BYTES) {
    return runHandler(this.#ctx, this.#run, s, e, timeoutMs, maxOutput);
  }

  /**
   * Answers a question (lib/handlers/queries.ts) with the stdout of the first handler, by name, of
   * `query:NAME` that applies here. `authenticated`: asked through our write route, or received
   * sealed with the cluster key; otherwise nothing runs.
   */
  /**
   * `admit`, called right before the handler would run: why it must not (a replay), or null once
   * the question is recorded.
   */
  async answerQuery(
    q: QueryRequest,
    authenticated: boolean,
    admit?: () => string | null,
  ): Promise<QueryAnswer> {
    const { node, clock } = this.#ctx;
    const base = { node: node.name, uuid: node.uuid };
    const name = QUERY_PREFIX + q.name;
    const tags = node.tags();
    const s = [...this.#slots.values()].find((s) => matchesEvent(s.def.events, name) && applies(s.def, tags));
    if (!authenticated) {
      // the same answer with or without a handler: an unauthenticated asker learns nothing
      const error = "queries from other agents run nothing without a cluster encryption_key";
      if (s) {
        this.#skipUnauthenticated(s, `refused query ${q.name} from ${q.from}`, "queries from other agents");
      }
      return { ...base, status: "refused", error };
    }
    if (!s) return { ...base, status: "no-handler" };
    const refuse = (error: string): QueryAnswer => ({
      ...base,
      status: "refused",
      handler: s.def.name,
      error,
    });
    if (this.#stopped) return refuse("the agent is stopping");
    if (this.#queryRuns >= QUERY_MAX_RUNNING) return refuse(`busy: ${QUERY_MAX_RUNNING} queries running`);
    // answer before the asker gives up: what is left of its deadline, less the way back
    const left = Math.min(s.def.timeout, q.deadline - clock.now() - 100);
    if (left < 50) {
      return { ...base, status: "timeout", handler: s.def.name, error: "no time left to answer" };
    }
    const refused = admit?.();
    if (refused) return refuse(refused);
    this.#queryRuns++;
    try {
      const e: ClusterEventRecord = {
        id: q.qid,
        name,
        payload: q.payload,
        from: q.from,
        from_uuid: q.from_uuid,
        at: q.issued,
        received: clock.now(),
        authenticated,
      };
      const r = await this.#runOne(s, e, left, QUERY_RESPONSE_BYTES);
      if (!r) return { ...base, status: "failed", handler: s.def.name, error: "cannot start /bin/sh" };
      return {
        ...base,
        status: r.timedOut ? "timeout" : r.code === 0 ? "ok" : "failed",
        handler: s.def.name,
        code: r.code,
        output: new TextDecoder().decode(r.stdout),
        truncated: r.dropped.stdout > 0,
        duration_ms: r.durationMs,
      };
    } finally {
      this.#queryRuns--;
    }
  }

  list(): EventHandlerView[] {
    const tags = this.#ctx.node.tags();
    return [...this.#slots.values()].map((s) => ({
      name: s.def.name,
      file: s.def.file,
      events: s.def.events,
      apply_on: s.def.apply_on,
      applies: applies(s.def, tags),
      timeout_ms: s.def.timeout,
      runs: s.runs,
      failures: s.failures,
      dropped: s.dropped,
      skipped_unauthenticated: s.skipped,
      running: s.running,
      queued: s.queue.length,
      last: s.last,
    }));
  }
}
