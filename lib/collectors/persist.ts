/**
 * Last collector entries in `collectors.db`, reloaded at start so `{collector.x.y}` evaluates
 * before the first run.
 */
import type { Database, Migration } from "../store/mod.ts";
import type { CollectorEntry } from "./runtime.ts";

export const COLLECTORS_MIGRATIONS: Migration[] = [
  {
    version: 1,
    sql:
      "CREATE TABLE collector_results (name TEXT PRIMARY KEY, entry TEXT NOT NULL, saved_at INTEGER NOT NULL)",
  },
];

/**
 * Upserts one entry, without its `metrics` (the flattened copy of its results, rebuilt from them
 * when loaded: half the text to encode and write every minute).
 */
export function saveEntry(db: Database, e: CollectorEntry, now: number): void {
  db.run(
    "INSERT INTO collector_results (name, entry, saved_at) VALUES (?, ?, ?) ON CONFLICT(name) DO UPDATE SET entry = excluded.entry, saved_at = excluded.saved_at",
    e.name,
    JSON.stringify({ ...e, metrics: undefined }),
    now,
  );
}

/** Every saved entry (rows that do not parse are skipped and reported through `onBad`). */
export function loadEntries(
  db: Database,
  onBad: (name: string, err: Error) => void = () => {},
): CollectorEntry[] {
  const out: CollectorEntry[] = [];
  for (const row of db.all<{ name: string; entry: string }>("SELECT name, entry FROM collector_results")) {
    try {
      const e = JSON.parse(row.entry) as CollectorEntry;
      if (!e || typeof e !== "object" || e.name !== row.name) {
        throw new Error("entry does not match its name");
      }
      out.push(e);
    } catch (err) {
      onBad(row.name, err as Error);
    }
  }
  return out;
}
