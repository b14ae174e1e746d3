/**
 * Keeps kv.db's write-ahead log written out to disk in the background, so that SQLite's
 * checkpoints, which run on the agent's one thread, find little left to sync.
 *
 * Why: with `synchronous = NORMAL` a commit only appends to the WAL (page cache); every
 * `wal_autocheckpoint` pages SQLite syncs the whole WAL, copies the pages back into the database
 * and syncs that. Under a steady write load the first sync had ~32 MB of dirty WAL to push and
 * stalled the event loop for 25-45 ms every ~1.5 s on each KV node (`KUNAI_LAG_PROBE`; with 128 MB
 * between checkpoints, 100-200 ms): the longest pauses of a write and most of its p99. Here, at
 * most every `intervalMs` after a commit, an `fdatasync` of the WAL runs on Deno's blocking-I/O
 * thread pool (its own descriptor: a sync writes out the file, whoever wrote it), off the event
 * loop; the checkpoint's own sync then has only the last few milliseconds of commits to write.
 *
 * Durability only gains: SQLite's syncs all still happen, these come in addition. The WAL carries
 * no lock of SQLite's (its locks live in the database file, or in memory in exclusive mode), so
 * opening and closing another descriptor of it takes none away.
 *
 * ```ts
 * const flush = new WalFlush(db.path + "-wal");
 * flush.committed(); // after each commit: starts a background sync when one is due
 * ```
 */

/** The background sync, injectable for tests. */
export type SyncFile = (path: string) => Promise<void>;

/** `fdatasync` of `path` through its own descriptor, on Deno's blocking-I/O threads. */
export const syncFile: SyncFile = async (path) => {
  const f = await Deno.open(path, { read: true });
  try {
    await f.syncData();
  } finally {
    f.close();
  }
};

/** At most one background sync per this many ms (each writes what ~this much load appended). */
export const WAL_FLUSH_MS = 100;

export class WalFlush {
  #running: Promise<void> | null = null;
  #last = -Infinity;
  #closed = false;
  /** Background syncs done and failed (info and tests). */
  syncs = 0;
  failures = 0;

  constructor(
    readonly path: string,
    readonly onError: (err: Error) => void = () => {},
    readonly intervalMs = WAL_FLUSH_MS,
    readonly sync: SyncFile = syncFile,
    readonly now: () => number = () => performance.now(),
  ) {}

  /** After a commit: starts a sync unless one runs or the last began under `intervalMs` ago. */
  committed(): void {
    if (this.#running || this.#closed) return;
    const t = this.now();
    if (t - this.#last < this.intervalMs) return;
    this.#last = t;
    this.#running = this.sync(this.path).then(
      () => {
        this.syncs++;
      },
      (err: Error) => {
        // no WAL (yet, or any more: a TRUNCATE checkpoint, the last connection closed): nothing to write
        if (err instanceof Deno.errors.NotFound) return;
        // told the first time and then once per 1000 (a failing disk would fill the log at 10/s)
        if (this.failures++ % 1000 === 0) this.onError(err);
      },
    ).finally(() => this.#running = null);
  }

  /** No sync starts after this (the database is closing); resolves once the running one is done. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#running;
  }
}
