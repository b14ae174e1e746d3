/**
 * The read broker's file operations and its path policy (main thread): a Worker asks, the broker
 * answers only for paths on that Worker's allow-list, never on its deny-list, and, for Workers
 * that read on behalf of untrusted text (the evaluator), only world-readable files.
 */
import { existsNoThrow, missingNoThrow, statfs } from "../fs/mod.ts";
import { dirname } from "node:path";
import type { BrokerDirEntry, BrokerRequest } from "./protocol.ts";
import { listeningText } from "./netlink.ts";

/** Largest file the broker hands over (a Worker cannot make the agent slurp huge files). */
export const MAX_BROKER_FILE = 4 * 1024 * 1024;
/** Largest `readChunk` answer. */
export const MAX_CHUNK = 1024 * 1024;

/** The path policy of one Worker (from its WorkerSpec). */
export interface BrokerPolicy {
  /** `read`, `readChunk`, `readDir`, `readLink`, `stat`. */
  allow: string[];
  /** `statfs` (sizes only). */
  statfsAllow: string[];
  /** Refused even when allowed; matched against the path as asked and its real path. */
  deny: string[];
  /** Reads (not stat) only of files whose real path is readable by every user (mode o+r). */
  worldReadable: boolean;
}

/** Matches a path against allow-list entries: exact, `dir/*` (children), `dir/**` (below), `a/* /b`. */
export function brokerAllows(allow: string[], path: string): boolean {
  if (!path.startsWith("/") || DOT_DOT.test(path)) return false;
  // compiled once per list: each request checks the allow-list and the deny-list (twice), and
  // slicing every entry on every request was most of an idle agent's broker garbage
  const rules = compiledList(allow);
  for (let i = 0; i < rules.length; i++) { // indexed: an interpreted for-of allocates an iterator and its results
    const r = rules[i];
    switch (r.kind) {
      case BELOW:
        if (path === r.base || (path.startsWith(r.base) && path.charCodeAt(r.base.length) === SLASH)) {
          return true;
        }
        break;
      case CHILDREN:
        if (path === r.base) return true;
        if (
          path.startsWith(r.base) && path.charCodeAt(r.base.length) === SLASH &&
          path.indexOf("/", r.base.length + 1) < 0
        ) return true;
        break;
      case GLOB:
        if (r.re!.test(path)) return true; // segment glob like /proc/*/stat
        break;
      default:
        if (path === r.base) return true;
    }
  }
  return false;
}

const SLASH = 47;
const EXACT = 0, BELOW = 1, CHILDREN = 2, GLOB = 3;
interface Rule {
  /** The entry it was compiled from (a list changed in place is compiled again). */
  src: string;
  kind: number;
  /** The path (EXACT), or the directory without its `/**` or `/*`. */
  base: string;
  re?: RegExp;
}
const COMPILED = new WeakMap<string[], Rule[]>();

function compiledList(list: string[]): Rule[] {
  const had = COMPILED.get(list);
  if (had && had.length === list.length) {
    let same = true;
    for (let i = 0; i < had.length && same; i++) same = had[i].src === list[i];
    if (same) return had;
  }
  const rules = list.map((a): Rule =>
    a.endsWith("/**")
      ? { src: a, kind: BELOW, base: a.slice(0, -3) }
      : a.endsWith("/*")
      ? { src: a, kind: CHILDREN, base: a.slice(0, -2) }
      : a.includes("*")
      ? { src: a, kind: GLOB, base: a, re: segmentGlob(a) }
      : { src: a, kind: EXACT, base: a }
  );
  COMPILED.set(list, rules);
  return rules;
}

/** A `..` segment anywhere in a path (tested without splitting it: every broker request asks). */
const DOT_DOT = /(?:^|\/)\.\.(?:\/|$)/;

/** Compiled segment globs: each broker request checks the whole allow-list. */
const GLOBS = new Map<string, RegExp>();

function segmentGlob(pattern: string): RegExp {
  let re = GLOBS.get(pattern);
  if (!re) {
    if (GLOBS.size >= 1024) GLOBS.clear();
    GLOBS.set(pattern, re = new RegExp("^" + pattern.split("*").map(escapeRe).join("[^/]*") + "$"));
  }
  return re;
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** A refusal, re-thrown in the Worker with this name. */
export function denied(message: string): Error {
  const e = new Error(message);
  e.name = "BrokerDenied";
  return e;
}

/**
 * Why `path` may not be touched by `op` under `policy`, or null when it may. Resolves symlinks
 * (a link to a denied file is denied) and, for reads under `worldReadable`, checks the mode.
 */
export async function refusal(
  policy: BrokerPolicy,
  op: BrokerRequest["op"],
  path: unknown,
): Promise<string | null> {
  const allow = op === "statfs" ? policy.statfsAllow : policy.allow;
  if (typeof path !== "string" || !brokerAllows(allow, path)) return "not on its allow-list";
  if (!policy.deny.length && !policy.worldReadable) return null;
  if (brokerAllows(policy.deny, path)) return "on its deny-list";
  // missing (or a dangling link): the operation itself answers "not found". Asked first, without an
  // exception: detectors look for absent files every 10 s, and each NotFound error costs a stack trace
  if (syncFs(path) && !existsNoThrow(path)) return null;
  let real: string;
  try {
    real = syncFs(path) ? Deno.realPathSync(path) : await Deno.realPath(path);
  } catch {
    return null; // missing: the operation itself answers "not found"
  }
  if (brokerAllows(policy.deny, real)) return `on its deny-list (${real})`;
  if (policy.worldReadable && op !== "stat" && op !== "statfs") {
    const sync = syncFs(real);
    return await closedToOthers(real, (p) => sync ? Deno.statSync(p) : Deno.stat(p));
  }
  return null;
}

/**
 * Why the file at `real` (symlinks resolved) is not readable by every user, or null when it is: it
 * must be others-readable and every directory above it must let anyone through (a 0644 file in a
 * 0700 home, or in /etc/kunai 0770, is private). `stat` may be sync (in-memory file systems).
 */
export async function closedToOthers(
  real: string,
  stat: (path: string) => Deno.FileInfo | Promise<Deno.FileInfo>,
): Promise<string | null> {
  const st = await stat(real);
  if (st.mode === null || (st.mode & 0o004) === 0) return "not readable by every user";
  for (let dir = dirname(real); dir !== "/"; dir = dirname(dir)) {
    const d = await stat(dir);
    if (d.mode === null || (d.mode & 0o001) === 0) return `not readable by every user (${dir} is closed)`;
  }
  return null;
}

/**
 * Paths on the kernel's in-memory file systems: reading them never waits for a disk, so the broker
 * reads them synchronously (one call instead of an open, reads and a close each sent to a thread of
 * the blocking pool, which also wakes and spawns threads: most of an idle agent's file reads are the
 * linux collectors' /proc files, every 10 s).
 */
export function inMemoryFs(path: string): boolean {
  return (path.startsWith("/proc/") || path.startsWith("/sys/")) && !PROC_LINKS_OUT.test(path);
}
/** /proc entries that lead back onto ordinary file systems (a process's root, cwd, open files). */
const PROC_LINKS_OUT = /^\/proc\/[^/]+\/(?:task\/[^/]+\/)?(?:root|cwd|fd|map_files|exe)(?:\/|$)/;

/**
 * Paths the broker handles synchronously: the in-memory file systems, and the system's own small
 * files on the root file system that detectors and checks read every few seconds (`/etc`, the dpkg
 * database, and `/usr/lib`, where `/etc/os-release` and its kind link to). An asynchronous file
 * operation costs a blocking-pool thread hop and a wake-up of this thread each, and one
 * `grep('debian', '/etc/os-release')` takes nine of them (policy: real path, modes of the file and of
 * each directory above; read: open, stat, seek, reads, close). Anything else (home directories, mounts that may be
 * remote and hang) stays asynchronous. A path with `..` never counts as under these directories.
 */
export function syncFs(path: string): boolean {
  if (path.includes("/..")) return false;
  return inMemoryFs(path) || path.startsWith("/etc/") || path.startsWith("/usr/lib/") ||
    path.startsWith("/var/lib/dpkg/");
}

/** Reads at most `max` bytes (one more to tell "longer"), in chunks: no `max`-sized buffer up front. */
async function readBounded(path: string, max: number, exact: boolean): Promise<string> {
  if (syncFs(path)) return readBoundedSync(path, max, exact);
  using file = await Deno.open(path, { read: true });
  const chunks: Uint8Array[] = [];
  let total = 0;
  const chunk = new Uint8Array(64 * 1024);
  while (total <= max) {
    const n = await file.read(chunk.subarray(0, Math.min(chunk.length, max + 1 - total)));
    if (n === null) break;
    chunks.push(chunk.slice(0, n));
    total += n;
  }
  return joinChunks(path, chunks, total, max, exact);
}

/** The same for in-memory files; one 64 KB buffer serves every call. */
function readBoundedSync(path: string, max: number, exact: boolean): string {
  using file = Deno.openSync(path, { read: true });
  return readOpenSync(file, path, max, exact);
}

/**
 * Open handles of the in-memory files a Worker reads again and again (the linux collectors' /proc
 * files, every 10 s): a read seeks back to 0 and reads again (procfs and sysfs generate a file's
 * content anew at offset 0) instead of an open and a close each time, ~25-70 µs less per file on a
 * 2-core VM. At most `max` files, the least recently read closed first. A kept handle that fails
 * (a process that ended, a device that went away) is closed and the path opened afresh, once.
 */
export class KeptFiles {
  #files = new Map<string, Deno.FsFile>();
  /** Closed for good: reads still answer, without keeping anything open. */
  #final = false;
  constructor(readonly max = 32) {}

  /** The text of `path` (an in-memory file), as readBounded would give it. */
  read(path: string, max: number, exact: boolean): string {
    const kept = this.#files.get(path);
    if (kept) {
      this.#files.delete(path);
      try {
        kept.seekSync(0, Deno.SeekMode.Start);
        const text = readOpenSync(kept, path, max, exact);
        this.#files.set(path, kept); // most recently read goes last
        return text;
      } catch {
        kept.close(); // opened afresh below: its error (if any) is the answer
      }
    }
    const file = Deno.openSync(path, { read: true });
    let text: string;
    try {
      text = readOpenSync(file, path, max, exact);
    } catch (err) {
      file.close();
      throw err;
    }
    if (this.#final) {
      file.close();
      return text;
    }
    this.#files.set(path, file);
    if (this.#files.size > this.max) {
      const [oldest, f] = this.#files.entries().next().value!;
      this.#files.delete(oldest);
      f.close();
    }
    return text;
  }

  /** Files held open. */
  get size(): number {
    return this.#files.size;
  }

  /** Closes every handle (the Worker stopped; `forGood`: it will not start again). */
  close(forGood = false): void {
    this.#final ||= forGood;
    for (const f of this.#files.values()) f.close();
    this.#files.clear();
  }
}

function readOpenSync(file: Deno.FsFile, path: string, max: number, exact: boolean): string {
  const chunks: Uint8Array[] = [];
  let total = 0;
  while (total <= max) {
    const n = file.readSync(SYNC_CHUNK.subarray(0, Math.min(SYNC_CHUNK.length, max + 1 - total)));
    if (n === null) break;
    chunks.push(SYNC_CHUNK.slice(0, n));
    total += n;
  }
  return joinChunks(path, chunks, total, max, exact);
}
const SYNC_CHUNK = new Uint8Array(64 * 1024);
const DECODER = new TextDecoder();

function joinChunks(path: string, chunks: Uint8Array[], total: number, max: number, exact: boolean): string {
  if (total > max && exact) throw new Error(`${path} is larger than ${max} bytes`);
  if (chunks.length === 1 && total <= max) return DECODER.decode(chunks[0]);
  const out = new Uint8Array(Math.min(total, max));
  let off = 0;
  for (const c of chunks) {
    const part = c.subarray(0, Math.min(c.length, out.length - off));
    out.set(part, off);
    off += part.length;
  }
  return DECODER.decode(out);
}

/** `readChunk` of a `syncFs` path: the same answer, without leaving this thread. */
function readChunkSync(path: string, offset: number, len: number): Uint8Array {
  using file = Deno.openSync(path, { read: true });
  const st = file.statSync();
  if (!st.isFile) throw new Error(`${path} is not a file`);
  file.seekSync(offset, Deno.SeekMode.Start);
  const buf = new Uint8Array(st.size > 0 ? Math.min(len, Math.max(0, st.size - offset) + 1) : len);
  let off = 0;
  while (off < buf.length) {
    const n = file.readSync(buf.subarray(off));
    if (n === null) break;
    off += n;
  }
  return off === buf.length ? buf : buf.slice(0, off);
}

/** The operations an absent file answers at once, with the system call Deno's error names. */
const MISSABLE: Partial<Record<BrokerRequest["op"], string>> = {
  read: "open",
  readChunk: "open",
  readDir: "readdir",
  readLink: "readlink",
  stat: "stat",
};

/**
 * Deno's NotFound for an absent file, built without a stack trace: detectors and checks ask for
 * absent files every round, and the operation's own error (Deno's error class, its stack captured
 * through the timers and promise jobs above it) was ~4 % of an idle agent's main-thread CPU.
 */
function notFound(verb: string, path: string): Error {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    const e = new Deno.errors.NotFound(`No such file or directory (os error 2): ${verb} '${path}'`);
    (e as Error & { code?: string }).code = "ENOENT";
    return e;
  } finally {
    Error.stackTraceLimit = limit;
  }
}

/**
 * Paths whose last operation found them: they skip the access(2) probe below (a system call and a
 * C string for each read of a file that is there every round: ~6 % of an idle agent's main thread).
 * A path whose operation then fails is probed again the next time.
 */
const FOUND = new Set<string>();
/** Paths remembered at most (then forgotten all at once: they are probed again). */
export const FOUND_MAX = 4096;

/** Runs one allowed file operation (`kept`: in-memory files read through handles kept open). */
export async function fileOp(
  msg: Pick<BrokerRequest, "op" | "path" | "offset" | "max">,
  kept?: KeptFiles,
): Promise<unknown> {
  const path = msg.path;
  const verb = MISSABLE[msg.op];
  if (!verb || typeof path !== "string" || !syncFs(path)) return await runOp(msg, kept);
  if (!FOUND.has(path) && missingNoThrow(path)) throw notFound(verb, path);
  let out: unknown;
  try {
    out = await runOp(msg, kept);
  } catch (err) {
    FOUND.delete(path);
    throw err;
  }
  if (FOUND.size >= FOUND_MAX) FOUND.clear();
  FOUND.add(path);
  return out;
}

async function runOp(
  msg: Pick<BrokerRequest, "op" | "path" | "offset" | "max">,
  kept?: KeptFiles,
): Promise<unknown> {
  const path = msg.path;
  switch (msg.op) {
    case "read":
      if (kept && inMemoryFs(path)) return kept.read(path, MAX_BROKER_FILE, true);
      return await readBounded(path, MAX_BROKER_FILE, true);
    case "readChunk": {
      const offset = Math.max(0, Math.floor(Number(msg.offset) || 0));
      const len = Math.max(0, Math.min(Math.floor(Number(msg.max) || 0), MAX_CHUNK));
      if (syncFs(path)) return readChunkSync(path, offset, len);
      using file = await Deno.open(path, { read: true });
      const st = await file.stat();
      if (!st.isFile) throw new Error(`${path} is not a file`);
      await file.seek(offset, Deno.SeekMode.Start);
      // a small file gets a small buffer (/proc files report size 0: the full chunk then)
      const buf = new Uint8Array(st.size > 0 ? Math.min(len, Math.max(0, st.size - offset) + 1) : len);
      let off = 0;
      while (off < buf.length) {
        const n = await file.read(buf.subarray(off));
        if (n === null) break;
        off += n;
      }
      // an exact copy: posting a view would clone its whole buffer
      return off === buf.length ? buf : buf.slice(0, off);
    }
    case "readDir": {
      const out: BrokerDirEntry[] = [];
      const add = (e: Deno.DirEntry) =>
        out.push({ name: e.name, isFile: e.isFile, isDirectory: e.isDirectory, isSymlink: e.isSymlink });
      if (inMemoryFs(path)) {
        for (const e of Deno.readDirSync(path)) if (add(e) > 100_000) break;
      } else {
        for await (const e of Deno.readDir(path)) if (add(e) > 100_000) break;
      }
      return out;
    }
    case "readLink":
      return await Deno.readLink(path);
    case "stat": {
      const st = syncFs(path) ? Deno.statSync(path) : await Deno.stat(path);
      return {
        isFile: st.isFile,
        isDirectory: st.isDirectory,
        size: st.size,
        mtime: st.mtime?.getTime() ?? null,
      };
    }
    case "listening": {
      const version = path === "/proc/net/tcp" ? 4 : path === "/proc/net/tcp6" ? 6 : 0;
      if (!version) throw new Error(`listening: ${path} is not /proc/net/tcp or /proc/net/tcp6`);
      const text = listeningText(version);
      if (text === null) {
        throw new Error("listening sockets cannot be asked of the kernel here; read the file");
      }
      return text;
    }
    case "statfs": {
      // Deno has no statfs: libc's (lib/fs; the main thread runs with all permissions)
      return await statfs(path);
    }
    default:
      throw new Error(`unknown broker op ${String(msg.op)}`);
  }
}
