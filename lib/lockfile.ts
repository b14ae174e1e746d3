/**
 * The pid/lock file: refuses a second agent on the same data dir without touching the first.
 */

/** Another agent holds the lock. */
export class LockHeld extends Error {
  constructor(readonly path: string, readonly pid: number) {
    super(
      `Valid previous daemon exists (pid ${pid}, lock file ${path}); stop it first with 'kunai agent stop'`,
    );
    this.name = "LockHeld";
  }
}

/** True when a process with that pid is running (Linux /proc; signal 0 elsewhere). */
export function processAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    Deno.statSync(`/proc/${pid}`);
    return true;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return false;
  }
  try {
    Deno.kill(pid, "SIGCONT");
    return true;
  } catch {
    return false;
  }
}

function readPid(path: string): number | null {
  try {
    const n = Number(Deno.readTextFileSync(path).trim());
    return Number.isInteger(n) && n > 0 ? n : null;
  } catch {
    return null;
  }
}

/** Takes the lock (atomic create); a stale file (dead pid) is replaced. Throws LockHeld. */
export function acquireLock(path: string, pid = Deno.pid): void {
  const dir = path.replace(/\/[^/]*$/, "");
  if (dir) Deno.mkdirSync(dir, { recursive: true });
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const f = Deno.openSync(path, { write: true, createNew: true, mode: 0o644 });
      f.writeSync(new TextEncoder().encode(`${pid}\n`));
      f.close();
      return;
    } catch (err) {
      if (!(err instanceof Deno.errors.AlreadyExists)) throw err;
    }
    const holder = readPid(path);
    if (holder !== null && holder !== pid && processAlive(holder)) throw new LockHeld(path, holder);
    if (holder === null) {
      // being written by a concurrent starter, or garbage: look again shortly
      const st = safeStat(path);
      if (st && Date.now() - (st.mtime?.getTime() ?? 0) < 2000 && attempt < 2) {
        sleepSync(100);
        continue;
      }
    }
    try {
      Deno.removeSync(path);
    } catch { /* raced: retry */ }
  }
  throw new Error(`cannot take the lock file ${path}`);
}

/** Removes the lock file if it still names us. */
export function releaseLock(path: string, pid = Deno.pid): void {
  if (readPid(path) === pid) {
    try {
      Deno.removeSync(path);
    } catch { /* already gone */ }
  }
}

/** The pid recorded in a lock file when that process is alive, else null. */
export function lockHolder(path: string): number | null {
  const pid = readPid(path);
  return pid !== null && processAlive(pid) ? pid : null;
}

function safeStat(path: string): Deno.FileInfo | null {
  try {
    return Deno.statSync(path);
  } catch {
    return null;
  }
}

function sleepSync(ms: number): void {
  const end = Date.now() + ms;
  const sab = new Int32Array(new SharedArrayBuffer(4));
  Atomics.wait(sab, 0, 0, Math.max(0, end - Date.now()));
}
