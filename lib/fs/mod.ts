/**
 * Kernel file helpers: the one atomic file writer of the agent (temporary file beside the target,
 * then rename over it, so a reader sees the old or the new file, never a half-written one) and
 * `readIfExists` / `pathExists`.
 *
 * ```ts
 * writeAtomic("/etc/haproxy.cfg", text, { keepOwner: true, fsync: true });
 * writeAtomic(keyringFile, json, { mode: 0o600, mkdir: true });
 * ```
 */
import { basename, dirname, join } from "node:path";

export { existsNoThrow, missingNoThrow, type StatFs, statfs } from "./libc.ts";
export { SEEN_MAX, SeenRequests } from "./seen.ts";

/** The file's text, or null when it does not exist. */
export function readIfExists(path: string): string | null {
  try {
    return Deno.readTextFileSync(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return null;
    throw err;
  }
}

/** Whether anything, a dangling link included, is at the path; any error reading it counts as nothing. */
export function entryExists(path: string): boolean {
  try {
    Deno.lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

/** Whether something exists at the path (a missing path is false; any other error is thrown). */
/** Whether `path` is a directory (following links); any error reading it counts as no. */
export function isDirectory(path: string): boolean {
  try {
    return Deno.statSync(path).isDirectory;
  } catch {
    return false;
  }
}

export function pathExists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return false;
    throw err;
  }
}

export interface WriteAtomicOptions {
  /**
   * Permission bits of the new file (set with chmod, so the umask does not narrow them). Without
   * it (and without `keepOwner` finding a file) the file gets the process's default mode.
   */
  mode?: number;
  /** Keep the owner, group and mode of the file being replaced (`mode` is then only the default). */
  keepOwner?: boolean;
  /** Create the parent directories first. */
  mkdir?: boolean;
  /**
   * fsync the temporary file before the rename and the directory after it (the new content survives
   * a power loss; costs two disk flushes).
   */
  fsync?: boolean;
}

/**
 * A file write refused because the disk is full (ENOSPC), naming the file: the HTTP API answers 507,
 * as for a database (lib/store's StoreFullError).
 */
export class DiskFullError extends Error {
  constructor(readonly file: string, cause: Error) {
    super(`${file}: the disk is full (${cause.message}); nothing of this write was stored`, { cause });
    this.name = "DiskFullError";
  }
}

/**
 * A file write refused because the file system is read-only (EROFS: remounted `ro` after errors, a
 * read-only bind mount), naming the file: the HTTP API answers 503.
 */
export class ReadOnlyFsError extends Error {
  constructor(readonly file: string, cause: Error) {
    super(`${file}: the file system is read-only (${cause.message}); nothing of this write was stored`, {
      cause,
    });
    this.name = "ReadOnlyFsError";
  }
}

/** Whether `err` is the kernel's "Read-only file system" (EROFS). */
export function isReadOnlyFs(err: unknown): boolean {
  return err instanceof Error &&
    ((err as { code?: string }).code === "EROFS" ||
      /\(os error 30\)|Read-only file system/.test(err.message));
}

/** Whether `err` is the kernel's "No space left on device" (ENOSPC). */
export function isNoSpace(err: unknown): boolean {
  return err instanceof Error &&
    ((err as { code?: string }).code === "ENOSPC" ||
      /\(os error 28\)|No space left on device/.test(err.message));
}

/** A temporary file's name beside `path` (hidden, ours by pid: `sweepTemps` removes it after a kill). */
export function tempBeside(path: string): string {
  return join(dirname(path), `.${basename(path)}.kunai-${Deno.pid}-${crypto.randomUUID().slice(0, 8)}.tmp`);
}

const TEMP_NAME = /^\..+\.kunai-(\d+)-[0-9a-f]{8}\.tmp$/;

/**
 * Removes the temporary files (`tempBeside`) under `dir` (at most `depth` levels down) left by a
 * process that is gone: an agent killed during a write. Returns their paths.
 */
export function sweepTemps(dir: string, depth = 3): string[] {
  const removed: string[] = [];
  let entries: Deno.DirEntry[];
  try {
    entries = [...Deno.readDirSync(dir)];
  } catch {
    return removed; // missing or unreadable: nothing of ours
  }
  for (const e of entries) {
    const p = join(dir, e.name);
    if (e.isDirectory && depth > 0 && !e.name.startsWith(".")) removed.push(...sweepTemps(p, depth - 1));
    const m = e.isFile ? TEMP_NAME.exec(e.name) : null;
    if (!m || Number(m[1]) === Deno.pid || pathExists(`/proc/${m[1]}`)) continue;
    try {
      Deno.removeSync(p);
      removed.push(p);
    } catch { /* gone meanwhile */ }
  }
  return removed;
}

/**
 * Whether a directory's fsync failed only because the file system cannot sync directories (EINVAL,
 * ENOTSUP: some network and pseudo file systems), or because the directory cannot be opened for reading:
 * nothing to report then. Anything else (EIO above all) means the rename may not be on disk.
 */
export function dirSyncUnsupported(err: unknown): boolean {
  if (err instanceof Deno.errors.PermissionDenied) return true;
  const code = (err as { code?: unknown } | null)?.code;
  return code === "EINVAL" || code === "ENOTSUP" || code === "EOPNOTSUPP";
}

/**
 * fsync of a directory: a rename (or a new file) in it is on disk once this returns, not only the
 * file's data. A file system that cannot sync a directory (some network ones) is left as it is; an I/O
 * error is thrown, as the rename before it may be lost.
 */
export function syncDir(dir: string): void {
  let d: Deno.FsFile;
  try {
    d = Deno.openSync(dir, { read: true });
  } catch (err) {
    if (dirSyncUnsupported(err)) return;
    throw err;
  }
  try {
    d.syncSync();
  } catch (err) {
    if (!dirSyncUnsupported(err)) throw err;
  } finally {
    d.close();
  }
}

/**
 * Replaces `path` with `data` atomically; the temporary file is removed when anything fails. A full
 * disk throws a DiskFullError naming `path`, a read-only file system a ReadOnlyFsError.
 */
export function writeAtomic(path: string, data: string | Uint8Array, opts: WriteAtomicOptions = {}): void {
  let mode = opts.mode, uid: number | null = null, gid: number | null = null;
  if (opts.keepOwner) {
    try {
      const st = Deno.statSync(path);
      mode = (st.mode ?? mode ?? 0o644) & 0o7777;
      uid = st.uid;
      gid = st.gid;
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    }
  }
  if (opts.mkdir) Deno.mkdirSync(dirname(path), { recursive: true });
  const tmp = tempBeside(path);
  try {
    const f = Deno.openSync(tmp, { write: true, createNew: true, mode });
    try {
      const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
      for (let off = 0; off < bytes.length;) off += f.writeSync(bytes.subarray(off));
      if (opts.fsync) f.syncSync();
    } finally {
      f.close();
    }
    if (mode !== undefined) Deno.chmodSync(tmp, mode);
    if (uid !== null && gid !== null) {
      try {
        Deno.chownSync(tmp, uid, gid);
      } catch (err) {
        // Only root may give a file away; a non-root agent keeps its own ownership.
        if (!(err instanceof Deno.errors.PermissionDenied)) throw err;
      }
    }
    Deno.renameSync(tmp, path);
    if (opts.fsync) syncDir(dirname(path));
  } catch (err) {
    try {
      Deno.removeSync(tmp);
    } catch { /* never created */ }
    if (isNoSpace(err)) throw new DiskFullError(path, err as Error);
    throw isReadOnlyFs(err) ? new ReadOnlyFsError(path, err as Error) : err;
  }
}
