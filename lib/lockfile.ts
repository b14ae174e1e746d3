/**
 * The pid/lock file: an OS file lock (flock through `Deno.FsFile.tryLockSync`) held for the agent's
 * life, so a second agent on the same data dir is refused without touching the first. The kernel
 * releases the lock when the holder exits (even on kill -9), so a stale file, a reused pid or a
 * zombie never blocks a restart. The file also records the holder's pid for `kunai agent stop`.
 */

/** Another agent holds the lock. */
export class LockHeld extends Error {
  constructor(readonly path: string, readonly pid: number | null) {
    super(
      `Valid previous daemon exists (pid ${pid ?? "unknown"}, lock file ${path}); ` +
        "stop it first with 'kunai agent stop'",
    );
    this.name = "LockHeld";
  }
}

/** Lock files this process holds, by path (the open file keeps the lock). */
const held = new Map<string, Deno.FsFile>();

function readPid(path: string): number | null {
  try {
    const n = Number(Deno.readTextFileSync(path).trim());
    return Number.isInteger(n) && n > 0 ? n : null;
  } catch {
    return null;
  }
}

function sameFile(f: Deno.FsFile, path: string): boolean {
  try {
    return f.statSync().ino === Deno.statSync(path).ino;
  } catch {
    return false;
  }
}

/**
 * Takes the lock and writes our pid into the file. Throws LockHeld when another process (or
 * another Agent of this process) holds it.
 */
export function acquireLock(path: string, pid = Deno.pid): void {
  if (held.has(path)) throw new LockHeld(path, pid);
  const dir = path.replace(/\/[^/]*$/, "");
  if (dir) Deno.mkdirSync(dir, { recursive: true, mode: 0o750 });
  for (let attempt = 0; attempt < 5; attempt++) {
    const f = Deno.openSync(path, { read: true, write: true, create: true, mode: 0o644 });
    let locked = false;
    try {
      locked = f.tryLockSync(true);
    } catch (err) {
      f.close();
      throw new Error(`cannot lock ${path}: ${(err as Error).message}`);
    }
    if (!locked) {
      f.close();
      throw new LockHeld(path, readPid(path));
    }
    // the previous holder may have removed the file between our open and our lock: then we
    // locked an unlinked file; open the new one
    if (!sameFile(f, path)) {
      f.close();
      continue;
    }
    f.truncateSync(0);
    f.writeSync(new TextEncoder().encode(`${pid}\n`));
    held.set(path, f);
    return;
  }
  throw new Error(`cannot take the lock file ${path}: it keeps being replaced`);
}

/** Removes the lock file and releases the lock, if we hold it. */
export function releaseLock(path: string): void {
  const f = held.get(path);
  if (!f) return;
  held.delete(path);
  try {
    Deno.removeSync(path);
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  } finally {
    f.close(); // closing releases the lock
  }
}

/**
 * The pid of the process holding the lock (0 when it is locked but names no pid), or null when
 * nobody holds it.
 */
export function lockHolder(path: string): number | null {
  if (held.has(path)) return Deno.pid;
  let f: Deno.FsFile;
  try {
    f = Deno.openSync(path, { read: true });
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return null;
    throw err;
  }
  try {
    if (f.tryLockSync(false)) return null;
    return readPid(path) ?? 0;
  } finally {
    f.close();
  }
}

/** True while a process with that pid runs (a zombie counts as exited). Linux /proc. */
export function processRunning(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    // "pid (comm) S ...": the state follows the last ')'
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
    return state !== "Z" && state !== "X";
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return false;
    throw err;
  }
}
