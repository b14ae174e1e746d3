/**
 * Permission-scoped Workers with a read broker.
 *
 * Deno lets only `--allow-all` processes read `/proc`, `/sys` and `/dev`, and never a restricted
 * Worker, so the agent runs with all permissions and answers a Worker's file requests itself when
 * the path is on that Worker's allow-list. Workers are long-lived and grouped by permission set.
 *
 * ```ts
 * const sandbox = new Sandbox(log);
 * const w = sandbox.spawn({
 *   name: "linux-collectors",
 *   module: new URL("../collectors/workers/linux.ts", import.meta.url),
 *   permissions: { read: false, write: false, net: false, run: false, env: false, ffi: false, sys: false, import: false },
 *   brokerAllow: ["/proc/stat", "/proc/net/dev", "/sys/block/*"],
 * });
 * const load = await w.call("loadavg", {}, 2000);
 * ```
 */
import type {
  BrokerBatch,
  BrokerReplies,
  BrokerReply,
  BrokerRequest,
  CallMessage,
  FromWorker,
  HelloMessage,
  ReplyMessage,
} from "./protocol.ts";
import { gridDelay } from "../clock/mod.ts";
import type { Logger } from "../log/mod.ts";
import { silentLogger } from "../log/mod.ts";
import { denied } from "./broker.ts";
import { LocalBroker, type MethodServer } from "./local.ts";
import { procStat, reapRun, trackRefusal } from "./reaper.ts";

export type { BrokerDirEntry, BrokerStat, BrokerStatfs } from "./protocol.ts";
export { BrokerDenied } from "./protocol.ts";
export { brokerAllows, closedToOthers, MAX_BROKER_FILE } from "./broker.ts";
export { reapOrphanRuns, reapsSettled } from "./reaper.ts";
export { type InlineHandlers, InlineMethods, LocalBroker, type MethodServer } from "./local.ts";
export { RUN_MARKER_VAR } from "./protocol.ts";

/** Deno permissions of a Worker (anything not listed is denied). */
export type WorkerPermissions = Deno.PermissionOptionsObject;

/** Everything denied: the starting point for every Worker. */
export const NO_PERMISSIONS: WorkerPermissions = {
  env: false,
  ffi: false,
  import: false,
  net: false,
  read: false,
  run: false,
  sys: false,
  write: false,
};

export interface WorkerSpec {
  /** Shown in logs and errors. */
  name: string;
  /** The Worker module (it calls `serve()` from worker_kit.ts). */
  module: URL | string;
  permissions: WorkerPermissions;
  /**
   * Paths the broker may read for this Worker: exact paths, `dir/*` (direct children),
   * `dir/**` (anything below).
   */
  brokerAllow?: string[];
  /**
   * Paths (same patterns) refused even when allowed, checked against the path asked and its real
   * path (symlinks resolved): the agent's own configuration, keys and data for the evaluator.
   */
  brokerDeny?: string[];
  /** Reads only of files readable by every user (the evaluator: `/etc/shadow` is refused). */
  brokerWorldReadable?: boolean;
  /** Paths (same patterns) the broker may `statfs` for this Worker: sizes only, never contents. */
  statfsAllow?: string[];
  /** Time allowed for the Worker to load and call serve() (default 10 s). */
  startTimeoutMs?: number;
  /**
   * The Worker spawns detached children and may ask the main thread to kill their process groups
   * (worker_kit `trackProcessGroup` / `killProcessGroup`). Tracked groups die with the Worker,
   * with every process carrying their run marker (see reaper.ts).
   */
  processGroups?: boolean;
}

/** A call that did not answer in time; the Worker was restarted. */
export class WorkerTimeout extends Error {
  constructor(worker: string, method: string, ms: number) {
    super(`${worker}: ${method} did not answer within ${ms} ms (worker restarted)`);
    this.name = "WorkerTimeout";
  }
}

/** An error thrown inside the Worker, re-thrown in the main thread with its name. */
export class WorkerError extends Error {
  constructor(readonly worker: string, name: string, message: string) {
    super(message);
    this.name = name;
  }
}

/** A detached child registered by a Worker: its group, run marker and start time. */
interface TrackedGroup {
  marker: string;
  since: number;
}

/** How often a starting Worker is asked again for its "ready" (HelloMessage). */
const HELLO_EVERY_MS = 500;

const MARKER = /^[A-Za-z0-9._:-]{1,80}$/;

/** One long-lived Worker. Calls are queued by id; a timed-out call restarts the Worker. */
export class SandboxWorker implements MethodServer {
  readonly spec: WorkerSpec;
  #worker: Worker | null = null;
  #ready: Promise<void> | null = null;
  #nextId = 1;
  #pending = new Map<
    number,
    { resolve: (v: unknown) => void; reject: (e: Error) => void; timer: ReturnType<typeof setTimeout> }
  >();
  #log: Logger;
  #closed = false;
  /** While a Worker starts: its "hello" repeat, its start deadline and how to fail the start. */
  #starting: {
    hello: ReturnType<typeof setInterval>;
    timer: ReturnType<typeof setTimeout>;
    reject: (e: Error) => void;
  } | null = null;
  /** Detached children's process groups registered by the Worker. */
  #groups = new Map<number, TrackedGroup>();
  /** Times the Worker was (re)started. */
  starts = 0;
  /** Broker messages received and the requests they carried (a batch carries several). */
  brokerMessages = 0;
  brokerRequests = 0;

  #broker: LocalBroker;

  constructor(spec: WorkerSpec, log: Logger) {
    this.spec = spec;
    this.#log = log;
    this.#broker = new LocalBroker(spec, log, true);
  }

  /** Broker requests refused, for info and tests. */
  get deniedReads(): number {
    return this.#broker.deniedReads;
  }

  /** In-memory files its broker holds open (see KeptFiles). */
  get keptFiles(): number {
    return this.#broker.keptFiles;
  }

  #start(): Promise<void> {
    if (this.#ready) return this.#ready;
    this.starts++;
    const w = new Worker(this.spec.module, {
      type: "module",
      name: this.spec.name,
      deno: { permissions: this.spec.permissions },
    });
    this.#worker = w;
    this.#ready = new Promise<void>((resolve, reject) => {
      const ms = this.spec.startTimeoutMs ?? 10_000;
      // re-asks for "ready" until it comes: a new Worker's first message can sit undelivered (HelloMessage)
      const hello = setInterval(
        () => w.postMessage({ kind: "hello" } satisfies HelloMessage),
        HELLO_EVERY_MS,
      );
      const timer = setTimeout(() => {
        this.#started();
        const err = new Error(`${this.spec.name}: worker did not start within ${ms} ms`);
        this.#log.error(err.message);
        reject(err);
        this.#restart();
      }, ms);
      this.#starting = { hello, timer, reject };
      w.onmessage = (ev: MessageEvent<FromWorker>) => {
        const msg = ev.data;
        if (msg.kind === "ready") {
          this.#started();
          resolve();
        } else if (msg.kind === "reply") this.#onReply(msg);
        else if (msg.kind === "broker") void this.#onBroker(w, msg);
        else if (msg.kind === "broker-batch") void this.#onBrokerBatch(w, msg);
      };
      w.onerror = (ev: ErrorEvent) => {
        ev.preventDefault();
        this.#started();
        const err = new Error(`${this.spec.name}: worker failed: ${ev.message}`);
        this.#log.error(err.message);
        reject(err);
        this.#failAll(err);
        this.#restart();
      };
    });
    this.#ready.catch(() => {}); // both failures are logged above; callers awaiting #ready get the rejection
    return this.#ready;
  }

  /** The start is over (ready, failed or given up): its timers stop. */
  #started(): void {
    if (!this.#starting) return;
    clearInterval(this.#starting.hello);
    clearTimeout(this.#starting.timer);
    this.#starting = null;
  }

  #restart(): void {
    // stopped while starting: the start fails now (its callers do not wait for the deadline), and its
    // timers go (the deadline would log a start that nobody waits for, and restart again)
    const starting = this.#starting;
    this.#started();
    starting?.reject(new Error(`${this.spec.name}: worker stopped while starting`));
    this.#broker.closeFiles(this.#closed);
    for (const [pid, g] of this.#groups) reapRun(pid, g.marker, g.since);
    this.#groups.clear();
    this.#worker?.terminate();
    this.#worker = null;
    this.#ready = null;
  }

  #failAll(err: Error): void {
    for (const [id, p] of this.#pending) {
      clearTimeout(p.timer);
      p.reject(err);
      this.#pending.delete(id);
    }
  }

  #onReply(msg: ReplyMessage): void {
    const p = this.#pending.get(msg.id);
    if (!p) return;
    this.#pending.delete(msg.id);
    clearTimeout(p.timer);
    if (msg.ok) p.resolve(msg.value);
    else {p.reject(
        new WorkerError(this.spec.name, msg.error?.name ?? "Error", msg.error?.message ?? "worker error"),
      );}
  }

  async #onBroker(w: Worker, msg: BrokerRequest): Promise<void> {
    this.brokerMessages++;
    this.brokerRequests++;
    const reply = await this.#answer(msg);
    if (this.#worker === w) w.postMessage(reply);
  }

  /** Several requests of one Worker turn: each checked and answered as alone, all in one reply. */
  async #onBrokerBatch(w: Worker, msg: BrokerBatch): Promise<void> {
    const requests = Array.isArray(msg.requests) ? msg.requests : [];
    this.brokerMessages++;
    this.brokerRequests += requests.length;
    const replies: BrokerReplies = {
      kind: "broker-replies",
      replies: await Promise.all(requests.map((r) => this.#answer(r))),
    };
    if (this.#worker === w) w.postMessage(replies);
  }

  async #answer(msg: BrokerRequest): Promise<BrokerReply> {
    const reply: BrokerReply = { kind: "broker-reply", id: msg.id, ok: true };
    try {
      reply.value = await this.#brokerOp(msg);
    } catch (err) {
      const e = err as Error;
      reply.ok = false;
      reply.error = { name: e.name, message: e.message };
    }
    return reply;
  }

  async #brokerOp(msg: BrokerRequest): Promise<unknown> {
    if (msg.op === "trackGroup" || msg.op === "killGroup" || msg.op === "untrackGroup") {
      return this.#groupOp(msg);
    }
    return await this.#broker.op(msg);
  }

  #groupOp(msg: BrokerRequest): null {
    const pid = msg.pid;
    if (!this.spec.processGroups || typeof pid !== "number" || !Number.isInteger(pid) || pid <= 1) {
      this.#broker.deniedReads++;
      throw denied(`${this.spec.name}: process group op ${msg.op} of ${String(pid)} is not allowed`);
    }
    if (msg.op === "trackGroup") {
      const st = procStat(pid);
      // our direct child leading its own group, or gone/being reaped (its leftovers still carry the marker)
      const refusal = trackRefusal(pid, st, Deno.pid);
      if (refusal) throw denied(`${this.spec.name}: ${refusal}`);
      const marker = typeof msg.marker === "string" && MARKER.test(msg.marker) ? msg.marker : "";
      this.#groups.set(pid, { marker, since: st?.start ?? 0 });
    } else if (msg.op === "untrackGroup") this.#groups.delete(pid);
    else {
      const g = this.#groups.get(pid);
      if (!g) throw denied(`${this.spec.name}: process group ${pid} was not registered`);
      reapRun(pid, g.marker, g.since);
    }
    return null;
  }

  /** Process groups the Worker registered and has not released (killed when it stops). */
  get trackedGroups(): number[] {
    return [...this.#groups.keys()];
  }

  /**
   * Calls a method served by the Worker; rejects after `timeoutMs` and restarts the Worker. A limit of
   * 5 s or more fires on the agent's 10 s wake grid, less than a grid step late (`gridDelay`: the timer
   * is nearly always cleared, and a cleared timer still wakes the event loop at its due time).
   */
  async call<T = unknown>(method: string, params: unknown = {}, timeoutMs = 10_000): Promise<T> {
    if (this.#closed) throw new Error(`${this.spec.name}: sandbox worker is stopped`);
    await this.#start();
    const w = this.#worker!;
    const id = this.#nextId++;
    return await new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        if (!this.#pending.has(id)) return;
        this.#pending.delete(id);
        this.#log.warn(`${this.spec.name}: ${method} timed out after ${timeoutMs} ms; restarting the worker`);
        const err = new WorkerTimeout(this.spec.name, method, timeoutMs);
        reject(err);
        this.#failAll(err);
        this.#restart();
      }, gridDelay(Date.now(), timeoutMs));
      this.#pending.set(id, { resolve: resolve as (v: unknown) => void, reject, timer });
      const msg: CallMessage = { kind: "call", id, method, params };
      try {
        w.postMessage(msg);
      } catch (err) {
        clearTimeout(timer);
        this.#pending.delete(id);
        reject(err);
      }
    });
  }

  /** True while the isolate is running. */
  get running(): boolean {
    return this.#worker !== null;
  }

  terminate(): void {
    this.#closed = true;
    this.#failAll(new Error(`${this.spec.name}: sandbox worker stopped`));
    this.#restart();
  }
}

/** Creates and tracks the agent's Workers so they all stop with it. */
export class Sandbox {
  #workers = new Map<string, SandboxWorker>();
  #log: Logger;

  constructor(log: Logger = silentLogger) {
    this.#log = log;
  }

  /** Starts (lazily, on first call) a Worker; one per name. */
  spawn(spec: WorkerSpec): SandboxWorker {
    const existing = this.#workers.get(spec.name);
    if (existing) existing.terminate();
    const w = new SandboxWorker(spec, this.#log);
    this.#workers.set(spec.name, w);
    return w;
  }

  workers(): SandboxWorker[] {
    return [...this.#workers.values()];
  }

  /** The broker of `spec` answered in this thread (no Worker), logging refusals like a Worker's. */
  localBroker(spec: Omit<WorkerSpec, "module" | "permissions">): LocalBroker {
    return new LocalBroker(spec, this.#log);
  }

  stopAll(): void {
    for (const w of this.#workers.values()) w.terminate();
    this.#workers.clear();
  }
}
