/**
 * The Worker side of checkpointer.ts (a sandbox Worker: lib/sandbox/worker_kit.ts): its own SQLite
 * connection to kv.db, which copies the write-ahead log back into the database
 * (`PRAGMA wal_checkpoint(PASSIVE)`) and syncs both files on this thread while the agent's
 * connection keeps committing on the main one. Runs with read and write permission on kv.db and
 * the files SQLite keeps beside it only (checkpointPermissions). Methods: `open`, `checkpoint`, `close`.
 */
import { DatabaseSync, type StatementSync } from "node:sqlite";
import { serve } from "../sandbox/worker_kit.ts";
import type { CheckpointOutcome } from "./checkpointer.ts";

let db: DatabaseSync | null = null;
let checkpoint: StatementSync | null = null;
let restart: StatementSync | null = null;

serve({
  open(p: { path: string; restartSql?: string }): void {
    db?.close();
    db = new DatabaseSync(p.path);
    // the same durability as the agent's connection: the WAL is synced before the copy, the
    // database after it, before the log may be restarted (SQLite's order); a write of the agent
    // in progress is waited for (briefly) rather than failed
    db.exec("PRAGMA synchronous = NORMAL; PRAGMA cache_size = -256; PRAGMA busy_timeout = 200");
    checkpoint = db.prepare("PRAGMA wal_checkpoint(PASSIVE)");
    restart = p.restartSql ? db.prepare(p.restartSql) : null;
  },

  checkpoint(p: { restart: boolean }): CheckpointOutcome {
    if (!checkpoint) throw new Error("checkpoint before open");
    const t0 = performance.now();
    const row = checkpoint.get() as { busy: number; log: number; checkpointed: number } | undefined;
    const [busy, log, done] = [
      Number(row?.busy ?? 1),
      Number(row?.log ?? -1),
      Number(row?.checkpointed ?? -1),
    ];
    let restarted = false;
    if (p.restart && restart && busy === 0 && log > 0 && done === log) {
      // all copied: the first frame written now starts the log over, and SQLite syncs its new
      // header right then. Written here, that sync is on this thread, not in an agent's commit
      try {
        restart.run(Date.now());
        restarted = true;
      } catch { /* the agent was writing (SQLITE_BUSY): its next commit starts the log over */ }
    }
    return { busy, log, checkpointed: done, restarted, ms: performance.now() - t0 };
  },

  close(): void {
    db?.close();
    db = checkpoint = restart = null;
  },
});
