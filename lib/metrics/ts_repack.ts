/**
 * Chunks written raw by an agent older than packed chunks (chunks.ts) are packed in the background,
 * a few thousand at the end of each pass, in rowid order from where the last pass stopped (the
 * place kept in `meta`), until the table has been read to its end once: chunks written since are
 * packed already, or raw because packing would not pay. The database's pages freed by it are
 * reused by later writes (the file does not shrink without a VACUUM).
 */
import type { TsCore } from "./ts_schema.ts";
import { chunkValues, packChunk, RAW_BYTES } from "./chunks.ts";

/** Chunks looked at per transaction. */
export const REPACK_BATCH = 500;
/** Chunks looked at per pass at most (~50 ms here for 2 000 chunks). */
export const REPACK_PER_PASS = 2_000;
const DONE = "done";

/**
 * One transaction of repacking: looks at up to `limit` chunks after the kept place, rewrites the
 * raw ones that pack smaller; returns how many were looked at (0: nothing left, or done before).
 */
export function repackBatch(core: TsCore, limit = REPACK_BATCH): { seen: number; packed: number } {
  const db = core.db;
  const at = db.get<{ value: string }>("SELECT value FROM meta WHERE key = 'repack_after'")?.value ?? "0";
  if (at === DONE) return { seen: 0, packed: 0 };
  let seen = 0, packed = 0;
  db.transaction(() => {
    const rows = db.all<{ id: number; data: Uint8Array }>(
      "SELECT rowid AS id, data FROM chunks WHERE rowid > ? ORDER BY rowid LIMIT ?",
      Number(at),
      limit,
    );
    const update = db.statement("UPDATE chunks SET data = ? WHERE rowid = ?");
    for (const r of rows) {
      if (r.data.length !== RAW_BYTES) continue;
      const blob = packChunk(chunkValues(r.data));
      if (blob.length < RAW_BYTES) {
        update.run(blob, r.id);
        packed++;
      }
    }
    seen = rows.length;
    const next = rows.length < limit ? DONE : String(rows[rows.length - 1].id);
    db.run("INSERT OR REPLACE INTO meta (key, value) VALUES ('repack_after', ?)", next);
  });
  core.stats.chunks_repacked += packed;
  return { seen, packed };
}

/** A pass's repacking: REPACK_PER_PASS chunks at most, a transaction per step (yield between). */
export function* repackPass(core: TsCore): Generator<void> {
  for (let n = 0; n < REPACK_PER_PASS;) {
    const seen = repackBatch(core).seen;
    if (!seen) return;
    n += seen;
    yield;
  }
}
