/**
 * Leveled logger: lines go to stderr and `<log>/daemon.log`; the last 20 warnings and errors are
 * kept for `/agent/info`. One logger per agent, `child(part)` per subsystem.
 *
 * Line format (reference §0.2, with an ISO-8601 UTC time instead of the epoch):
 * `<nodename> [2026-11-30T05:48:19.123Z][PART] LEVEL: message`.
 */
export type LogLevel = "DEBUG" | "INFO" | "WARNING" | "ERROR";
export const LOG_LEVELS: LogLevel[] = ["DEBUG", "INFO", "WARNING", "ERROR"];
const RANK: Record<LogLevel, number> = { DEBUG: 0, INFO: 1, WARNING: 2, ERROR: 3 };
const KEEP = 20;

export interface Logger {
  debug(msg: string, ...rest: unknown[]): void;
  info(msg: string, ...rest: unknown[]): void;
  warn(msg: string, ...rest: unknown[]): void;
  error(msg: string, ...rest: unknown[]): void;
  /** A logger writing with another part name into the same sinks. */
  child(part: string): Logger;
}

export interface LogSinkOptions {
  level?: LogLevel;
  /** Node name written at the start of each line. */
  node?: string;
  /** File to append to (created with its directory); none = stderr only. */
  file?: string;
  /** Write to stderr too (default true). */
  stderr?: boolean;
  /** Clock for the epoch field. */
  now?: () => number;
}

/** The shared sink behind every child logger: level filter, file, ring of recent problems. */
export class LogSink {
  level: LogLevel;
  node: string;
  #file: Deno.FsFile | null = null;
  #stderr: boolean;
  #now: () => number;
  #encoder = new TextEncoder();
  /** Recent lines per level, for `/agent/info` (ERROR and WARNING only are kept). */
  recent: Record<LogLevel, string[]> = { ERROR: [], WARNING: [], INFO: [], DEBUG: [] };
  /** Counts per level since start, for `/metrics`. */
  counts: Record<LogLevel, number> = { ERROR: 0, WARNING: 0, INFO: 0, DEBUG: 0 };

  constructor(opts: LogSinkOptions = {}) {
    this.level = opts.level ?? "INFO";
    this.node = opts.node ?? "kunai";
    this.#stderr = opts.stderr ?? true;
    this.#now = opts.now ?? Date.now;
    if (opts.file) this.openFile(opts.file);
  }

  /** Starts appending to a file (closing any previous one). */
  openFile(path: string): void {
    this.#file?.close();
    const dir = path.replace(/\/[^/]*$/, "");
    if (dir) Deno.mkdirSync(dir, { recursive: true });
    this.#file = Deno.openSync(path, { create: true, append: true });
  }

  write(level: LogLevel, part: string, msg: string, rest: unknown[]): void {
    if (RANK[level] < RANK[this.level]) return;
    this.counts[level]++;
    const extra = rest.map(formatExtra).join(" ");
    const text = extra ? `${msg} ${extra}` : msg;
    const line = `${this.node} [${new Date(this.#now()).toISOString()}][${part}] ${level}: ${text}`;
    if (level === "ERROR" || level === "WARNING") {
      const list = this.recent[level];
      list.push(line);
      if (list.length > KEEP) list.shift();
    }
    const bytes = this.#encoder.encode(line + "\n");
    if (this.#stderr) {
      try {
        Deno.stderr.writeSync(bytes);
      } catch { /* stderr closed (daemon): file only */ }
    }
    try {
      this.#file?.writeSync(bytes);
    } catch { /* disk full: nothing better to do */ }
  }

  logger(part: string): Logger {
    const w = (level: LogLevel) => (msg: string, ...rest: unknown[]) => this.write(level, part, msg, rest);
    return {
      debug: w("DEBUG"),
      info: w("INFO"),
      warn: w("WARNING"),
      error: w("ERROR"),
      child: (p: string) => this.logger(p),
    };
  }

  close(): void {
    this.#file?.close();
    this.#file = null;
  }
}

function formatExtra(v: unknown): string {
  if (v instanceof Error) return v.stack ?? v.message;
  if (typeof v === "string") return v;
  try {
    return JSON.stringify(v);
  } catch {
    return String(v);
  }
}

/** A logger that drops everything (tests, CLI). */
export const silentLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
  child: () => silentLogger,
};
