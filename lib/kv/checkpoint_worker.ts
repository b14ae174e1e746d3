/// <reference lib="deno.worker" />
/**
 * The Worker side of checkpointer.ts: its own SQLite connection to kv.db, which copies the
 * write-ahead log back into the database (`PRAGMA wal_checkpoint(PASSIVE)`) and syncs both files on
 * this thread, while the agent's connection keeps committing on the main one. Runs with read and
 * write permission on kv.db's directory only. Messages: see CheckpointRequest / CheckpointReply.
 */
import { DatabaseSync, type StatementSync } from "node:sqlite";
import type { CheckpointReply, CheckpointRequest } from "./checkpointer.ts";

let db: DatabaseSync | null = null;
let checkpoint: StatementSync | null = null;
let restart: StatementSync | null = null;

const post = (m: CheckpointReply) => self.postMessage(m);

self.onmessage = (e: MessageEvent<CheckpointRequest>) => {
  const m = e.data;
  try {
    switch (m.type) {
      case "hello":
        return post({ type: "ready" });
      case "open":
        db?.close();
        db = new DatabaseSync(m.path);
        // the same durability as the agent's connection: the WAL is synced before the copy, the
        // database after it, before the log may be restarted (SQLite's order); a write of the agent
        // in progress is waited for (briefly) rather than failed
        db.exec("PRAGMA synchronous = NORMAL; PRAGMA cache_size = -256; PRAGMA busy_timeout = 200");
        checkpoint = db.prepare("PRAGMA wal_checkpoint(PASSIVE)");
        restart = m.restartSql ? db.prepare(m.restartSql) : null;
        return post({ type: "opened" });
      case "checkpoint": {
        if (!checkpoint) throw new Error("checkpoint before open");
        const t0 = performance.now();
        const row = checkpoint.get() as { busy: number; log: number; checkpointed: number } | undefined;
        const [busy, log, done] = [
          Number(row?.busy ?? 1),
          Number(row?.log ?? -1),
          Number(row?.checkpointed ?? -1),
        ];
        let restarted = false;
        if (m.restart && restart && busy === 0 && log > 0 && done === log) {
          // all copied: the first frame written now starts the log over, and SQLite syncs its new
          // header right then. Written here, that sync is on this thread, not in an agent's commit
          try {
            restart.run(Date.now());
            restarted = true;
          } catch { /* the agent was writing (SQLITE_BUSY): its next commit starts the log over */ }
        }
        return post({
          type: "checkpointed",
          id: m.id,
          busy,
          log,
          checkpointed: done,
          restarted,
          ms: performance.now() - t0,
        });
      }
      case "close":
        db?.close();
        db = null;
        checkpoint = restart = null;
        post({ type: "closed" });
        return self.close();
    }
  } catch (err) {
    post({ type: "error", id: "id" in m ? m.id : undefined, message: (err as Error).message });
  }
};

post({ type: "ready" });
