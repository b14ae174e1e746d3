/**
 * `{term, votedFor}` per group in `raft.db` (lib/store), written before any vote leaves, and synced:
 * `synchronous = FULL` (the store's NORMAL leaves a commit in the page cache, which outlives a kill
 * but not a power loss; a node that forgot its vote could vote twice in a term, and two leaders be
 * elected). Votes are rare: the sync costs nothing that matters.
 */
import type { Database } from "../store/mod.ts";
import type { RaftPersistence } from "./group.ts";

export const RAFT_MIGRATIONS = [{
  version: 1,
  sql: "CREATE TABLE raft_state (grp TEXT PRIMARY KEY, term INTEGER NOT NULL, voted_for TEXT)",
}];

export class SqliteRaftStore implements RaftPersistence {
  constructor(private db: Database) {
    db.exec("PRAGMA synchronous = FULL");
  }

  load(group: string): { term: number; votedFor: string | null } {
    const row = this.db.get<{ term: number; voted_for: string | null }>(
      "SELECT term, voted_for FROM raft_state WHERE grp = ?",
      group,
    );
    return { term: row ? Number(row.term) : 0, votedFor: row?.voted_for ?? null };
  }

  save(group: string, term: number, votedFor: string | null): void {
    this.db.run(
      "INSERT OR REPLACE INTO raft_state (grp, term, voted_for) VALUES (?, ?, ?)",
      group,
      term,
      votedFor,
    );
  }
}
