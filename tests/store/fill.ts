/**
 * Makes a database "full" as a full disk does: SQLite's `max_page_count` at the pages in use, after
 * filling their free space with `insert(i, text)` (rows of the table the test writes to, so that
 * even a one-row write there fails with SQLITE_FULL). `room()` ends it.
 */
import type { Database } from "../../lib/store/mod.ts";

export function fill(db: Database, insert: (i: number, text: string) => void): { room: () => void } {
  const pages = () => db.get<{ page_count: number }>("PRAGMA page_count")!.page_count;
  db.exec(`PRAGMA max_page_count = ${pages() + 1}`);
  let i = 0;
  for (const size of [1000, 200, 40, 8, 1]) {
    for (;;) {
      try {
        insert(i++, "x".repeat(size));
      } catch {
        break;
      }
    }
  }
  return { room: () => db.exec(`PRAGMA max_page_count = ${pages() + 100_000}`) };
}
