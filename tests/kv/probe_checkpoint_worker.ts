/**
 * The checkpoint Worker's module with a probe, for checkpointer_test.ts: `probe` says whether each
 * path may be read, then the real methods (open, checkpoint, close) run as they do in the agent.
 */
import { serve } from "../../lib/sandbox/worker_kit.ts";
import { DatabaseSync } from "node:sqlite";

let db: DatabaseSync | null = null;
serve({
  probe(p: { paths: string[] }): Record<string, string> {
    const out: Record<string, string> = {};
    for (const path of p.paths) {
      try {
        Deno.readFileSync(path);
        out[path] = "allowed";
      } catch (err) {
        out[path] = (err as Error).name;
      }
    }
    return out;
  },
  checkpoint(p: { path: string }): unknown {
    db ??= new DatabaseSync(p.path);
    return db.prepare("PRAGMA wal_checkpoint(PASSIVE)").get();
  },
});
