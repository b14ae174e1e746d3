/**
 * Checkpoints of kv.db off the agent's thread. SQLite copies its write-ahead log back into the
 * database ("checkpoint") inside the commit that crosses `wal_autocheckpoint`, and syncs the
 * database there: on a disk shared with other writers that sync alone held a KV node's event loop
 * for up to 654 ms (`KUNAI_LAG_PROBE`), every write, probe and read of the node waiting behind it.
 * Here a Worker with its own connection (checkpoint_worker.ts) runs `PRAGMA wal_checkpoint(PASSIVE)`
 * at most every `intervalMs` while commits come in: the copy and both syncs happen on its thread,
 * and the agent's connection keeps committing meanwhile (WAL mode lets one writer and one
 * checkpointer work at once; the database's sync comes before the log can be reused, as always).
 *
 * A checkpoint that runs beside a steady stream of commits never catches up with the last one, and
 * SQLite starts the log over only once everything in it was copied. So once a checkpoint found the
 * log at `restartBytes` or more, another one follows at once and holds the group commits (their
 * writers wait; the event loop does not) while it copies what was committed during the first, at
 * most `HOLD_MAX_MS`; the first commit after it starts the log over.
 *
 * The Worker (an isolate: ~8 MB) runs only while the store is busy: it starts once
 * `START_COMMITS_PER_S` commits came within a second, and stops after `IDLE_STOP_MS` without such a
 * second (a KV node's upkeep commits now and then, which keeps no Worker alive).
 * Until then, and for a Worker that failed, SQLite's own checkpoints in the commits do the work as
 * before (`onWorker` tells the store, which sets `wal_autocheckpoint`: see kv/storage.ts).
 *
 * ```ts
 * const cp = new Checkpointer(db.path, 1024, (msg) => log.warn(msg));
 * cp.committed(); // after each commit
 * if (cp.held) cp.whenReleased(() => flush());
 * await cp.close();
 * ```
 */
import { NO_PERMISSIONS, SandboxWorker, type WorkerPermissions } from "../sandbox/mod.ts";
import { silentLogger } from "../log/mod.ts";

/** What one checkpoint did: frames in the log, frames copied back (-1: none, busy), its time. */
export interface CheckpointOutcome {
  busy: number;
  log: number;
  checkpointed: number;
  /** The Worker wrote the first frame of a new log (see CheckpointerOptions.restartSql). */
  restarted: boolean;
  ms: number;
}

/** Counters for `kv` info. */
export interface CheckpointStats {
  running: boolean;
  checkpoints: number;
  /** Checkpoints that held the group commits so the log could start over. */
  holds: number;
  /** Logs started over by the Worker's own write. */
  restarts: number;
  last_ms: number;
  max_ms: number;
  max_hold_ms: number;
  failures: number;
  starts: number;
}

/** Checkpoint cadence while commits come in. */
export const CHECKPOINT_INTERVAL_MS = 1000;
/** Size of the log at which a checkpoint holds the group commits to let it start over. */
export const RESTART_BYTES = 32 * 1024 * 1024;
/** Longest hold of the group commits (the checkpoint goes on; the commits do not wait longer). */
export const HOLD_MAX_MS = 2000;
/** After a failure, the next checkpoint waits this long. */
export const FAILURE_PAUSE_MS = 30_000;
/** A checkpoint (or the Worker's start) not answered within this is a failure. */
export const ANSWER_TIMEOUT_MS = 30_000;
/** The Worker stops after this long without a busy second (START_COMMITS_PER_S). */
export const IDLE_STOP_MS = 60_000;
/** Commits within one second that start the Worker (a store written less keeps SQLite's checkpoints). */
export const START_COMMITS_PER_S = 50;

export interface CheckpointerOptions {
  intervalMs?: number;
  restartBytes?: number;
  startCommitsPerSecond?: number;
  /** Told when the Worker starts (true) and stops (false). */
  onWorker?: (running: boolean) => void;
  /** SQLite's own checkpoint in a commit (see kv/storage.ts; default CHECKPOINT_FALLBACK × restartBytes). */
  fallbackBytes?: number;
  /**
   * A one-row write (one `?`, given a timestamp) the Worker makes once a held checkpoint copied the
   * whole log: it starts the log over, and the sync of the new log's header SQLite makes then (up
   * to 278 ms measured on a shared disk) happens on the Worker's thread instead of in the agent's
   * next commit. Without it, that commit starts the log over.
   */
  restartSql?: string;
  idleStopMs?: number;
  now?: () => number;
}

/**
 * The checkpoint Worker's permissions: kv.db and the files SQLite keeps beside it (its -wal and -shm
 * in WAL mode, a -journal otherwise); not the rest of the data dir (keyring.json, the other stores).
 */
export function checkpointPermissions(path: string): WorkerPermissions {
  const files = ["", "-wal", "-shm", "-journal"].map((suffix) => path + suffix);
  return { ...NO_PERMISSIONS, read: files, write: files };
}

export class Checkpointer {
  readonly path: string;
  readonly restartFrames: number;
  readonly intervalMs: number;
  readonly idleStopMs: number;
  readonly restartSql: string | undefined;
  readonly startCommits: number;
  #onWorker: (running: boolean) => void;
  #windowStart = -Infinity;
  #windowCommits = 0;
  /** Last commit of a second that had `startCommits` or more. */
  #lastBusy = -Infinity;
  #now: () => number;
  #onError: (msg: string) => void;
  #worker: SandboxWorker | null = null;
  /** The Worker's connection is open. */
  #opened: Promise<unknown> | null = null;
  #running = false;
  #closed = false;
  #lastRun = -Infinity;
  #lastCommit = -Infinity;
  #timer: ReturnType<typeof setTimeout> | null = null;
  #idleTimer: ReturnType<typeof setTimeout> | null = null;
  #held = false;
  #onRelease: Array<() => void> = [];
  #cycleDone: Promise<void> = Promise.resolve();
  readonly stats: CheckpointStats = {
    running: false,
    checkpoints: 0,
    holds: 0,
    restarts: 0,
    last_ms: 0,
    max_ms: 0,
    max_hold_ms: 0,
    failures: 0,
    starts: 0,
  };

  constructor(
    path: string,
    pageSize: number,
    onError: (msg: string) => void,
    opts: CheckpointerOptions = {},
  ) {
    this.path = path;
    this.intervalMs = opts.intervalMs ?? CHECKPOINT_INTERVAL_MS;
    this.idleStopMs = opts.idleStopMs ?? IDLE_STOP_MS;
    this.restartFrames = Math.max(1, Math.ceil((opts.restartBytes ?? RESTART_BYTES) / pageSize));
    this.restartSql = opts.restartSql;
    this.startCommits = opts.startCommitsPerSecond ?? START_COMMITS_PER_S;
    this.#onWorker = opts.onWorker ?? (() => {});
    this.#now = opts.now ?? (() => performance.now());
    this.#onError = onError;
  }

  /** True while group commits must wait (see whenReleased). */
  get held(): boolean {
    return this.#held;
  }

  /** Runs `fn` once the hold ends (at once when there is none). */
  whenReleased(fn: () => void): void {
    if (!this.#held) return fn();
    this.#onRelease.push(fn);
  }

  /** After each commit: a checkpoint when one is due, else one planned for when it is. */
  committed(): void {
    if (this.#closed) return;
    const now = this.#now();
    this.#lastCommit = now;
    if (now - this.#windowStart >= 1000) {
      this.#windowStart = now;
      this.#windowCommits = 0;
    }
    if (++this.#windowCommits >= this.startCommits) this.#lastBusy = now;
    // not busy enough (yet) for a Worker of its own
    if (this.#worker === null && this.#lastBusy !== now) return;
    this.#schedule();
  }

  #schedule(): void {
    if (this.#closed || this.#running || this.#timer !== null) return;
    if (this.#idleTimer !== null) {
      clearTimeout(this.#idleTimer);
      this.#idleTimer = null;
    }
    const wait = this.#lastRun + this.intervalMs - this.#now();
    if (wait <= 0) return void this.#cycle();
    this.#timer = setTimeout(() => {
      this.#timer = null;
      if (!this.#closed && !this.#running) void this.#cycle();
    }, wait);
  }

  /** Stops the Worker once the store is idle (checked again if the timer fires a little early). */
  #armIdle(): void {
    if (this.#idleTimer !== null) clearTimeout(this.#idleTimer);
    this.#idleTimer = setTimeout(() => {
      this.#idleTimer = null;
      if (this.#running || this.#closed || this.#worker === null) return; // a cycle decides after it
      if (this.#idle()) void this.#stopWorker();
      else this.#armIdle();
    }, Math.max(1, this.#lastBusy + this.idleStopMs - this.#now() + 1));
  }

  /** True once no second of the last `idleStopMs` was busy. */
  #idle(): boolean {
    return this.#now() - this.#lastBusy >= this.idleStopMs;
  }

  /** Ends the hold and the Worker (after the checkpoint in progress, if any). */
  async close(): Promise<void> {
    this.#closed = true;
    for (const t of [this.#timer, this.#idleTimer]) if (t !== null) clearTimeout(t);
    this.#timer = this.#idleTimer = null;
    this.#release();
    await this.#cycleDone;
    await this.#stopWorker();
  }

  #cycle(): Promise<void> {
    this.#running = true;
    this.#lastRun = this.#now();
    const done = (async () => {
      try {
        const r = await this.#ask(false);
        // `log` is the log's length when that checkpoint began: commits made while it ran were
        // appended after it. Once the log is long, hold the group commits while another copies
        // those: the log is then all copied, and the next commit starts it over
        if (!this.#closed && r.log >= this.restartFrames) {
          const t0 = this.#now();
          this.#held = true;
          this.stats.holds++;
          // the commits wait at most HOLD_MAX_MS; the checkpoint itself may go on after that
          const release = () => {
            if (!this.#held) return;
            this.stats.max_hold_ms = Math.max(this.stats.max_hold_ms, Math.round(this.#now() - t0));
            this.#release();
          };
          const limit = setTimeout(release, HOLD_MAX_MS);
          try {
            if ((await this.#ask(true)).restarted) this.stats.restarts++;
          } finally {
            clearTimeout(limit);
            release();
          }
        }
      } catch (err) {
        // told the first time and then once per 100 (a failing disk would fill the log); the next
        // try waits (SQLite's own checkpoints go on meanwhile)
        if (this.stats.failures++ % 100 === 0) this.#onError(`kv checkpoint: ${(err as Error).message}`);
        this.#lastRun = this.#now() + FAILURE_PAUSE_MS - this.intervalMs;
      } finally {
        this.#running = false;
        if (!this.#closed) {
          // the store is not busy any more: SQLite's own checkpoints take over; else commits that
          // came in meanwhile are copied at the next cadence, or the Worker waits to be idle
          if (this.#idle()) void this.#stopWorker();
          else if (this.#lastCommit >= this.#lastRun) this.#schedule();
          else this.#armIdle();
        }
      }
    })();
    this.#cycleDone = done;
    return done;
  }

  #release(): void {
    this.#held = false;
    const fns = this.#onRelease.splice(0);
    for (const fn of fns) fn();
  }

  /** The Worker, started (and its connection opened) on first use. */
  #start(): { w: SandboxWorker; opened: Promise<unknown> } {
    if (this.#worker && this.#opened) return { w: this.#worker, opened: this.#opened };
    this.stats.starts++;
    const w = new SandboxWorker({
      name: "kv-checkpoint",
      module: new URL("./checkpoint_worker.ts", import.meta.url),
      permissions: checkpointPermissions(this.path),
      startTimeoutMs: ANSWER_TIMEOUT_MS,
    }, silentLogger);
    this.#worker = w;
    this.#opened = w.call("open", { path: this.path, restartSql: this.restartSql }, ANSWER_TIMEOUT_MS);
    this.stats.running = true;
    this.#onWorker(true);
    return { w, opened: this.#opened };
  }

  async #ask(restart: boolean): Promise<CheckpointOutcome> {
    const { w, opened } = this.#start();
    try {
      await opened;
      const o = await w.call<CheckpointOutcome>("checkpoint", { restart }, ANSWER_TIMEOUT_MS);
      this.stats.checkpoints++;
      this.stats.last_ms = Math.round(o.ms);
      this.stats.max_ms = Math.max(this.stats.max_ms, this.stats.last_ms);
      return o;
    } catch (err) {
      await this.#stopWorker(); // a failed start or call: a new Worker next time
      throw err;
    }
  }

  async #stopWorker(): Promise<void> {
    const w = this.#worker;
    if (!w) return;
    this.#worker = null;
    this.#opened = null;
    this.stats.running = false;
    this.#onWorker(false);
    // the Worker closes its connection first (after a checkpoint in progress: calls are in order)
    if (w.running) await w.call("close", {}, 5000).catch(() => {});
    w.terminate();
  }
}
