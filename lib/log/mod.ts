/**
 * Leveled logger: lines go to stderr and `<log>/daemon.log`; the last 20 warnings and errors are
 * kept for `/agent/info`. One logger per agent, `child(part)` per subsystem.
 *
 * Line format (reference §0.2, with an ISO-8601 UTC time instead of the epoch):
 * `<nodename> [2026-11-30T05:48:19.123Z][PART] LEVEL: message`.
 *
 * The file rotates daily, as the reference's handler did (users asked for it: the log grew
 * forever): the first line written after midnight UTC renames `daemon.log` to
 * `daemon.log.YYYY-MM-DD` (the day its lines belong to) and starts a new one; `keepDays` rotated
 * files are kept, older ones deleted (0: the agent never rotates, for an external logrotate).
 * `reopen()` (SIGHUP, `kunai agent reload`) reopens the path, for logrotate's move-and-signal.
 *
 * A line the file refuses (a full disk) never stops the agent: the first failure is said once in the
 * recent errors of `/agent/info` and on stderr, lines go on to stderr and the live readers, and the
 * first line written again is preceded by how many were lost (a line cut by the disk filling up is
 * ended first, so no two lines are glued together).
 *
 * A day's file stops growing at `maxBytes` (a flood of lines: something failing in a loop, a cluster
 * sending made-up nodes): one line says so, later lines of that day reach stderr and the live readers
 * only (counted), and the next file starts with how many were not written. With the daily rotation,
 * the log takes at most (keepDays + 1) × maxBytes of disk.
 */
import { entryExists } from "../fs/mod.ts";

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
  /** Rotated files kept (daily rotation at midnight UTC); 0 = no rotation by the agent. Default 7. */
  keepDays?: number;
  /** Bytes a file takes at most (0: no limit); past it, lines are not written until the next file. */
  maxBytes?: number;
}

const DAY_MS = 86_400_000;

/** The shared sink behind every child logger: level filter, file, ring of recent problems. */
export class LogSink {
  level: LogLevel;
  node: string;
  #file: Deno.FsFile | null = null;
  #stderr: boolean;
  #now: () => number;
  #encoder = new TextEncoder();
  #path: string | null = null;
  #keepDays: number;
  /** When the open file's day ends (ms, midnight UTC): the first line at or after it rotates. */
  #dayEnd = Infinity;
  /** Recent lines per level, for `/agent/info` (ERROR and WARNING only are kept). */
  recent: Record<LogLevel, string[]> = { ERROR: [], WARNING: [], INFO: [], DEBUG: [] };
  /** Counts per level since start, for `/metrics`. */
  counts: Record<LogLevel, number> = { ERROR: 0, WARNING: 0, INFO: 0, DEBUG: 0 };
  /** Live readers of the log (`kunai monitor`), each with its own level. */
  #taps = new Map<(line: string) => void, number>();
  /** Lowest level a tap wants (lines below the sink's level are formatted only for taps). */
  #tapRank = Infinity;
  /** Lines the file refused since it last took one, and why. */
  #lost = 0;
  #lostWhy = "";
  /** The file ends inside a line (a write cut short). */
  #midLine = false;
  /** Bytes in the open file (from its size at open), the cap, and lines held back by it. */
  #size = 0;
  maxBytes: number;
  #over = 0;
  /** Lines held back by the cap in files before the open one, to say at its first line. */
  #overBefore = 0;

  constructor(opts: LogSinkOptions = {}) {
    this.level = opts.level ?? "INFO";
    this.node = opts.node ?? "kunai";
    this.#stderr = opts.stderr ?? true;
    this.#now = opts.now ?? Date.now;
    this.#keepDays = opts.keepDays ?? 7;
    this.maxBytes = opts.maxBytes ?? 0;
    if (opts.file) this.openFile(opts.file);
  }

  /** Starts appending to a file (closing any previous one); `keepDays` as in the options. */
  openFile(path: string, keepDays = this.#keepDays): void {
    this.#file?.close();
    this.#file = null;
    this.#keepDays = keepDays;
    const dir = path.replace(/\/[^/]*$/, "");
    if (dir) Deno.mkdirSync(dir, { recursive: true, mode: 0o750 });
    this.#path = path;
    this.#open();
  }

  /** Rotated files kept (0: no rotation); a change takes effect from the current file on. */
  get keepDays(): number {
    return this.#keepDays;
  }
  set keepDays(days: number) {
    this.#keepDays = days;
    if (this.#file) this.#setDayEnd();
  }

  /**
   * Closes and reopens the file at the same path (after an external logrotate moved it away).
   * A failure is reported in the log itself (stderr keeps working) and never thrown.
   */
  reopen(): void {
    if (!this.#path) return;
    this.#file?.close();
    this.#file = null;
    try {
      this.#open();
    } catch (err) {
      this.write("ERROR", "log", `cannot reopen ${this.#path}: ${(err as Error).message}`, []);
    }
  }

  #open(): void {
    const path = this.#path!;
    // the log says which nodes, keys and commands: the agent's group may read it, not every user
    this.#file = Deno.openSync(path, { create: true, append: true, mode: 0o640 });
    this.#midLine = false; // a new file: a line cut short stays in the old one
    let mode: number | null = null;
    try {
      const st = this.#file.statSync();
      this.#size = st.size;
      mode = st.mode;
    } catch {
      this.#size = 0;
    }
    // one an older agent made under umask 022: no longer readable by every user
    if (mode !== null && (mode & 0o007) !== 0) {
      try {
        Deno.chmodSync(path, mode & 0o7770);
      } catch { /* not ours (a file an admin made): left as it is */ }
    }
    this.#overBefore += this.#over;
    this.#over = 0;
    this.#setDayEnd();
  }

  /** The open file's day: that of its last line, so a file left from a day before rotates at the first line. */
  #setDayEnd(): void {
    let since = this.#now();
    try {
      const st = this.#file!.statSync();
      if (st.size > 0 && st.mtime) since = Math.min(since, st.mtime.getTime());
    } catch { /* no stat: today's */ }
    this.#dayEnd = this.#keepDays > 0 ? Math.floor(since / DAY_MS) * DAY_MS + DAY_MS : Infinity;
  }

  /** Renames the file to `<path>.<its day>`, opens a new one and deletes rotated files past keepDays. */
  #rotate(now: number): void {
    const path = this.#path!;
    const day = new Date(this.#dayEnd - DAY_MS).toISOString().slice(0, 10);
    this.#file?.close();
    this.#file = null;
    let problem = "";
    try {
      let target = `${path}.${day}`;
      for (let i = 1; entryExists(target); i++) target = `${path}.${day}.${i}`;
      Deno.renameSync(path, target);
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) {
        problem = `cannot rotate ${path}: ${(err as Error).message}`;
      }
    }
    try {
      this.#open();
    } catch (err) {
      problem ||= `cannot reopen ${path}: ${(err as Error).message}`;
    }
    this.#dayEnd = Math.floor(now / DAY_MS) * DAY_MS + DAY_MS;
    const { removed, refused } = this.#prune();
    if (problem) this.write("ERROR", "log", problem, []);
    else if (removed.length) this.write("INFO", "log", `log rotated; removed ${removed.join(", ")}`, []);
    // log_keep_days not held (files of another owner, a directory that cannot be listed): said
    if (refused) this.write("ERROR", "log", `${refused}; old log files are kept beyond log_keep_days`, []);
  }

  /** Deletes the oldest rotated files beyond keepDays; their names, and why some could not go. */
  #prune(): { removed: string[]; refused: string } {
    const path = this.#path!;
    const slash = path.lastIndexOf("/");
    const dir = slash >= 0 ? path.slice(0, slash) || "/" : ".";
    const base = path.slice(slash + 1);
    const rotated: string[] = [];
    try {
      for (const e of Deno.readDirSync(dir)) {
        if (!e.isFile || !e.name.startsWith(base + ".")) continue;
        if (/^\d{4}-\d{2}-\d{2}(\.\d+)?$/.test(e.name.slice(base.length + 1))) rotated.push(e.name);
      }
    } catch (err) {
      return { removed: [], refused: `cannot list ${dir}: ${(err as Error).message}` };
    }
    // newest day first; within a day, the numbered ones (later) first
    rotated.sort((a, b) => rotatedKey(b).localeCompare(rotatedKey(a)));
    const days: string[] = [];
    const removed: string[] = [];
    let refused = "";
    for (const name of rotated) {
      const day = name.slice(base.length + 1, base.length + 11);
      if (!days.includes(day)) days.push(day);
      if (days.length <= this.#keepDays) continue;
      try {
        Deno.removeSync(`${dir}/${name}`);
        removed.push(name);
      } catch (err) {
        if (!(err instanceof Deno.errors.NotFound)) {
          refused ||= `cannot remove ${dir}/${name}: ${(err as Error).message}`;
        }
      }
    }
    return { removed, refused };
  }

  /**
   * Calls `fn` with every line of `level` or above from now on, whatever the sink's own level (a
   * `kunai monitor --log-level DEBUG` sees DEBUG lines the file does not get). Returns the untap.
   * `fn` must not throw and must not log.
   */
  tap(level: LogLevel, fn: (line: string) => void): () => void {
    this.#taps.set(fn, RANK[level]);
    this.#tapRank = Math.min(...this.#taps.values());
    return () => {
      this.#taps.delete(fn);
      this.#tapRank = this.#taps.size ? Math.min(...this.#taps.values()) : Infinity;
    };
  }

  write(level: LogLevel, part: string, msg: string, rest: unknown[]): void {
    const rank = RANK[level];
    const kept = rank >= RANK[this.level];
    if (!kept && rank < this.#tapRank) return;
    const extra = rest.map(formatExtra).join(" ");
    const text = boundedLine(extra ? `${msg} ${extra}` : msg);
    const now = this.#now();
    const line = `${this.node} [${new Date(now).toISOString()}][${part}] ${level}: ${text}`;
    for (const [fn, min] of this.#taps) if (rank >= min) fn(line);
    if (!kept) return;
    this.counts[level]++;
    if (now >= this.#dayEnd && this.#path) this.#rotate(now);
    if (level === "ERROR" || level === "WARNING") {
      const list = this.recent[level];
      list.push(line);
      if (list.length > KEEP) list.shift();
    }
    const bytes = this.#encoder.encode(line + "\n");
    if (this.#stderr) writeStderr(bytes);
    if (this.#file) this.#toFile(bytes, now);
  }

  /** Appends whole lines to the file; a refusal is counted, said once, and never thrown. */
  #toFile(bytes: Uint8Array, now: number): void {
    const f = this.#file!;
    let chunk = bytes, off = 0;
    if (this.maxBytes > 0 && this.#size + bytes.length > this.maxBytes) {
      if (this.#over++ === 0) {
        this.#append(
          f,
          `${this.#stamp(now)} WARNING: ${this.#path} reached log_max_size (${this.maxBytes} bytes): ` +
            "the lines that follow are not written to it until the next file (stderr and `kunai monitor` get them)\n",
        );
      }
      this.droppedLines++;
      return;
    }
    if (this.#overBefore) {
      const n = this.#overBefore;
      this.#overBefore = 0;
      this.#append(
        f,
        `${
          this.#stamp(now)
        } WARNING: ${n} line(s) were not written to the previous file: it had reached log_max_size\n`,
      );
    }
    try {
      if (this.#lost || this.#midLine) {
        const note = this.#lost
          ? `${this.node} [${
            new Date(now).toISOString()
          }][log] WARNING: ${this.#lost} line(s) could not be ` +
            `written to ${this.#path} (${this.#lostWhy})\n`
          : "";
        chunk = this.#encoder.encode((this.#midLine ? "\n" : "") + note);
        writeAll(f, chunk, (n) => off = n);
        this.#size += chunk.length;
        this.#lost = 0;
        this.#midLine = false;
        chunk = bytes;
        off = 0;
      }
      writeAll(f, chunk, (n) => off = n);
      this.#size += chunk.length;
    } catch (err) {
      if (off > 0) this.#midLine = true;
      const why = (err as Error).message;
      if (!this.#lost) {
        // said once per failure, where it can be read while the file cannot be written
        const text =
          `${this.node} [${new Date(now).toISOString()}][log] ERROR: cannot write ${this.#path}: ${why}; ` +
          "until it works again, lines reach only `kunai monitor` (and stderr)";
        this.counts.ERROR++;
        this.recent.ERROR.push(text);
        if (this.recent.ERROR.length > KEEP) this.recent.ERROR.shift();
        for (const [fn, min] of this.#taps) if (RANK.ERROR >= min) fn(text);
        if (!this.#stderr) writeStderr(this.#encoder.encode(text + "\n"));
      }
      this.#lost++;
      this.#lostWhy = why;
    }
  }

  /** Lines not written to the file because it had reached `maxBytes` (since start). */
  droppedLines = 0;

  /** The head of the sink's own lines. */
  #stamp(now: number): string {
    return `${this.node} [${new Date(now).toISOString()}][log]`;
  }

  /** A note of the sink's own, written whole or not at all (a failure is left to the next line). */
  #append(f: Deno.FsFile, text: string): void {
    const bytes = this.#encoder.encode(text);
    try {
      writeAll(f, bytes, () => {});
      this.#size += bytes.length;
    } catch { /* the next line says what the file refuses */ }
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

function writeStderr(bytes: Uint8Array): void {
  try {
    Deno.stderr.writeSync(bytes);
  } catch { /* stderr closed (daemon) */ }
}

/** Writes all of `bytes` (a write may take part of them); `progress` hears how much went so far. */
function writeAll(f: Deno.FsFile, bytes: Uint8Array, progress: (n: number) => void): void {
  for (let off = 0; off < bytes.length;) {
    const n = f.writeSync(bytes.subarray(off));
    if (n <= 0) throw new Error("the file took no byte");
    off += n;
    progress(off);
  }
}

/** Sort key of a rotated file's suffix: `YYYY-MM-DD` then its number, zero-padded. */
function rotatedKey(name: string): string {
  const m = /\.(\d{4}-\d{2}-\d{2})(?:\.(\d+))?$/.exec(name);
  return m ? `${m[1]}.${(m[2] ?? "0").padStart(6, "0")}` : name;
}

/**
 * A message as one line of plain text: messages carry what other agents sent (node names, tags, check
 * output, command output), and a line break in them would forge log lines, an escape sequence would
 * drive the terminal of whoever reads the log (`kunai monitor`, `tail -f`, the agent in the
 * foreground). Line breaks become `\n`/`\r`, other control characters `\xNN` (tabs are kept).
 */
export function oneLine(text: string): string {
  if (!CONTROL.test(text)) return text;
  return text.replace(
    CONTROLS,
    (c) => c === "\n" ? "\\n" : c === "\r" ? "\\r" : `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`,
  );
}

/**
 * Longest message a line carries (characters, escaped): what the network sends ends up in messages,
 * and a line is kept in memory (the recent warnings of `/agent/info`): an 8 MB field made 32 MB lines.
 */
export const MAX_LINE_CHARS = 8192;

/** `oneLine` of `raw`, cut at MAX_LINE_CHARS and then saying so. */
export function boundedLine(raw: string): string {
  // cut before escaping as well: a control character escaped takes 4
  const text = oneLine(raw.length > MAX_LINE_CHARS ? raw.slice(0, MAX_LINE_CHARS) : raw);
  if (text.length <= MAX_LINE_CHARS && raw.length <= MAX_LINE_CHARS) return text;
  let end = Math.min(text.length, MAX_LINE_CHARS);
  const last = text.charCodeAt(end - 1);
  if (last >= 0xd800 && last < 0xdc00) end--; // not half of a surrogate pair
  return `${text.slice(0, end)} … (cut: the message had ${raw.length} characters)`;
}

// deno-lint-ignore no-control-regex
const CONTROL = /[\u0000-\u0008\u000a-\u001f\u007f-\u009f]/;
// deno-lint-ignore no-control-regex
const CONTROLS = /[\u0000-\u0008\u000a-\u001f\u007f-\u009f]/g;

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

export { LogMonitors } from "./monitor.ts";
