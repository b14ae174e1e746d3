/**
 * SQLite storage (node:sqlite, WAL). Each subsystem opens its own named database under the data
 * dir (`agent.db`, `kv.db`, `metrics.db`) with its own numbered migrations, so a burst in one never
 * holds the lock another waits for.
 *
 * ```ts
 * const db = openDatabase(`${dataDir}/agent.db`, [
 *   { version: 1, sql: "CREATE TABLE kv_meta (key TEXT PRIMARY KEY, value TEXT)" },
 * ]);
 * db.run("INSERT INTO kv_meta VALUES (?, ?)", "a", "b");
 * db.get<{ value: string }>("SELECT value FROM kv_meta WHERE key = ?", "a");
 * ```
 */
import { backup, DatabaseSync, type SQLInputValue, type StatementSync } from "node:sqlite";

export interface Migration {
  /** 1, 2, 3... applied in order, each once. */
  version: number;
  sql: string;
}

export type SqlValue = SQLInputValue;

/** Thrown when a database cannot be opened or migrated; names the file. */
export class StoreError extends Error {
  constructor(readonly file: string, message: string) {
    super(`${file}: ${message}`);
    this.name = "StoreError";
  }
}

/** SQLite's SQLITE_FULL, as node:sqlite reports it. */
function diskFull(err: unknown): boolean {
  return err instanceof Error && /database or disk is full/i.test(err.message);
}

/**
 * A write refused because the disk (or the database's size limit) is full: nothing of the
 * transaction was stored; the HTTP API answers 507 naming the file.
 */
export class StoreFullError extends Error {
  constructor(readonly file: string, cause: Error) {
    super(`${file}: the disk is full (${cause.message}); nothing of this write was stored`, { cause });
    this.name = "StoreFullError";
  }
}

/** A small typed wrapper: cached prepared statements, transactions, clean close. */
export class Database {
  readonly path: string;
  #db: DatabaseSync;
  #stmts = new Map<string, StatementSync>();
  #txDepth = 0;

  constructor(path: string, db: DatabaseSync) {
    this.path = path;
    this.#db = db;
  }

  #stmt(sql: string): StatementSync {
    let s = this.#stmts.get(sql);
    if (!s) {
      s = this.#db.prepare(sql);
      this.#stmts.set(sql, s);
    }
    return s;
  }

  /** The cached prepared statement of `sql`, for hot loops that call it directly. */
  statement(sql: string): StatementSync {
    return this.#stmt(sql);
  }

  /** Executes a statement; returns changes and last row id. */
  run(sql: string, ...params: SqlValue[]): { changes: number; lastInsertRowid: number } {
    try {
      const r = this.#stmt(sql).run(...params);
      return { changes: Number(r.changes), lastInsertRowid: Number(r.lastInsertRowid) };
    } catch (err) {
      throw this.#full(err);
    }
  }

  get<T>(sql: string, ...params: SqlValue[]): T | undefined {
    return this.#stmt(sql).get(...params) as T | undefined;
  }

  all<T>(sql: string, ...params: SqlValue[]): T[] {
    return this.#stmt(sql).all(...params) as T[];
  }

  /** Runs raw SQL (several statements allowed, no parameters). */
  exec(sql: string): void {
    try {
      this.#db.exec(sql);
    } catch (err) {
      throw this.#full(err);
    }
  }

  /** SQLite's "database or disk is full" as a StoreFullError naming this file; other errors as they are. */
  #full(err: unknown): unknown {
    return diskFull(err) && !(err instanceof StoreFullError)
      ? new StoreFullError(this.path, err as Error)
      : err;
  }

  /** Runs `fn` in one transaction (nested calls join the outer one). Rolls back on throw. */
  transaction<T>(fn: () => T): T {
    if (this.#txDepth > 0) return fn();
    this.#db.exec("BEGIN IMMEDIATE");
    this.#txDepth++;
    try {
      const out = fn();
      this.#db.exec("COMMIT");
      return out;
    } catch (err) {
      // SQLite ends the transaction itself on some errors (a full disk, out of memory): a ROLLBACK
      // then fails, and its error must not hide the one that says what happened
      if (this.#db.isTransaction) {
        try {
          this.#db.exec("ROLLBACK");
        } catch { /* the original error says more */ }
      }
      throw this.#full(err);
    } finally {
      this.#txDepth--;
    }
  }

  /** Schema version applied so far. */
  get version(): number {
    return Number((this.get<{ user_version: number }>("PRAGMA user_version"))?.user_version ?? 0);
  }

  get isOpen(): boolean {
    return this.#db.isOpen;
  }

  /**
   * Copies the database to `path` with SQLite's online backup (a consistent copy while writers
   * continue, `pagesPerStep` pages per step between event-loop turns).
   */
  async backup(path: string, pagesPerStep = 1024): Promise<void> {
    await backup(this.#db, path, { rate: pagesPerStep });
  }

  /** Checkpoints the WAL and closes. Safe to call twice. */
  close(): void {
    if (!this.#db.isOpen) return;
    this.#stmts.clear();
    try {
      this.#db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
    } catch { /* read-only or busy: close anyway */ }
    this.#db.close();
  }
}

/**
 * SQLite's page cache per database, in KiB, unless the caller asks for more. SQLite's default
 * (2 000 KiB) filled up within minutes on the time-series, collector and check databases, which
 * see a write every few seconds: one of the reasons an idle agent's RSS crept up ~10 MB in 10 min.
 * Pages beyond it are re-read from the kernel's page cache (the WAL is read from there anyway).
 * The KV store, whose reads are the hot path, keeps SQLite's default (`KV_CACHE_KIB`).
 */
export const DEFAULT_CACHE_KIB = 256;
/** SQLite's own default page cache (KiB), for the databases on a hot read path. */
export const KV_CACHE_KIB = 2000;

/**
 * Page size of a new KV database (bytes). A replicated write changes a few rows spread over the
 * b-trees, and a commit writes every page it touched to the WAL in full: with 1 KiB pages instead
 * of SQLite's 4 KiB, a 20-record group commit of 100-byte values costs 11-12 instead of 17-19 µs
 * of commit per record (statements +1 µs; measured on 10 000 keys). A database created with another
 * page size keeps it (WAL mode cannot change it).
 */
export const KV_PAGE_SIZE = 1024;

/**
 * A database is the agent's and its group's alone (its WAL holds KV values, exec results, check
 * outputs): created 0640 under a umask that would open it wider (SQLite gives `-wal` and `-shm` the
 * database file's mode), and an existing one readable by every user (an older agent's, under umask
 * 022) loses the others' bits.
 */
function privateFile(path: string): void {
  try {
    Deno.openSync(path, { write: true, createNew: true, mode: 0o640 }).close();
    return;
  } catch (err) {
    if (!(err instanceof Deno.errors.AlreadyExists)) throw err;
  }
  for (const f of [path, `${path}-wal`, `${path}-shm`]) {
    try {
      const mode = Deno.statSync(f).mode;
      if (mode !== null && (mode & 0o007) !== 0) Deno.chmodSync(f, mode & 0o7770);
    } catch (err) {
      // gone, or not ours to change (an admin's copy): opened as it is
      if (!(err instanceof Deno.errors.NotFound || err instanceof Deno.errors.PermissionDenied)) throw err;
    }
  }
}

/**
 * Opens (creating if needed) a database in WAL mode and applies pending migrations. `pageSize`
 * applies only to a database created here (SQLite ignores it for an existing one).
 */
export function openDatabase(
  path: string,
  migrations: Migration[] = [],
  cacheKib = DEFAULT_CACHE_KIB,
  pageSize?: number,
  log?: MigrationLog,
): Database {
  let raw: DatabaseSync;
  try {
    if (path !== ":memory:") privateFile(path);
    raw = new DatabaseSync(path);
  } catch (err) {
    throw new StoreError(path, `cannot open database: ${(err as Error).message}`);
  }
  const db = new Database(path, raw);
  try {
    // before the first write (journal_mode = WAL writes the header of a new file)
    if (pageSize) db.exec(`PRAGMA page_size = ${Math.floor(pageSize)}`);
    if (path !== ":memory:") db.exec("PRAGMA journal_mode = WAL");
    db.exec("PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 5000; PRAGMA foreign_keys = ON");
    db.exec(`PRAGMA cache_size = -${Math.max(1, Math.floor(cacheKib))}`);
    migrate(db, migrations, log);
  } catch (err) {
    db.close();
    if (err instanceof StoreError || err instanceof StoreFullError) throw err;
    const msg = (err as Error).message;
    throw new StoreError(
      path,
      /not a database|malformed|corrupt/i.test(msg) ? `${msg}${damagedHint(path)}` : msg,
    );
  }
  return db;
}

/**
 * What to do about a damaged database file, said where the agent refuses to start on one (or, for
 * gossip.db, opened later, where its history cannot be saved). Snapshots hold kv, metrics and checks.
 */
function damagedHint(path: string): string {
  const base = path.slice(path.lastIndexOf("/") + 1);
  const inSnapshot = ["kv.db", "metrics.db", "checks.db"].includes(base);
  return "; the file is damaged: " +
    (inSnapshot ? "restore it from a snapshot (`kunai snapshot restore FILE`), or " : "") +
    "move it aside (with its -wal and -shm files) and an empty one is made" +
    (base === "kv.db" ? " (the node gets its keys back from the other nodes holding them)" : "");
}

/** Where the upgrade of an existing database's schema is told (it can take seconds on a large file). */
export interface MigrationLog {
  info(message: string): void;
}

function migrate(db: Database, migrations: Migration[], log?: MigrationLog): void {
  const sorted = [...migrations].sort((a, b) => a.version - b.version);
  for (let i = 0; i < sorted.length; i++) {
    if (sorted[i].version !== i + 1) {
      throw new StoreError(db.path, `migrations must be numbered 1..n, got ${sorted[i].version} at ${i + 1}`);
    }
  }
  const current = db.version;
  if (current > sorted.length) {
    throw new StoreError(
      db.path,
      `database schema version ${current} is newer than this kunai (${sorted.length}); refusing to downgrade`,
    );
  }
  // a new file's schema is made without a word; an existing file's upgrade is said before and after
  const told = current > 0 && current < sorted.length && log;
  const began = performance.now();
  if (told) log.info(`${db.path}: upgrading its schema from version ${current} to ${sorted.length}`);
  for (const m of sorted.slice(current)) {
    db.transaction(() => {
      db.exec(m.sql);
      db.exec(`PRAGMA user_version = ${m.version}`);
    });
  }
  if (told) {
    log.info(`${db.path}: schema version ${sorted.length} in ${Math.round(performance.now() - began)} ms`);
  }
}

/** Opens named databases under one directory and closes them all at stop. */
export class Store {
  readonly dir: string;
  #dbs = new Map<string, Database>();
  #log?: MigrationLog;

  /** `log`: where a schema upgrade of an existing file is told. */
  constructor(dir: string, log?: MigrationLog) {
    this.dir = dir;
    this.#log = log;
  }

  /** Opens `<dir>/<name>.db` once; later calls return the same handle. */
  open(
    name: string,
    migrations: Migration[] = [],
    cacheKib = DEFAULT_CACHE_KIB,
    pageSize?: number,
  ): Database {
    let db = this.#dbs.get(name);
    if (db && db.isOpen) return db;
    const path = this.dir === ":memory:" ? ":memory:" : `${this.dir}/${name}.db`;
    db = openDatabase(path, migrations, cacheKib, pageSize, this.#log);
    this.#dbs.set(name, db);
    return db;
  }

  names(): string[] {
    return [...this.#dbs.keys()];
  }

  /** The open handle of `<dir>/<name>.db`, if a subsystem opened it (no migration, no create). */
  handle(name: string): Database | undefined {
    const db = this.#dbs.get(name);
    return db && db.isOpen ? db : undefined;
  }

  closeAll(): void {
    for (const db of this.#dbs.values()) db.close();
    this.#dbs.clear();
  }
}
