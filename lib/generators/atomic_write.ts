/**
 * Atomic file replacement: write a temporary file beside the target, give it the target's owner
 * and mode, fsync, then rename over the target, so a reader sees the old or the new file, never a
 * half-written one.
 */
import { basename, dirname, join } from "node:path";

/** The file's text, or null when it does not exist. */
export function readIfExists(path: string): string | null {
  try {
    return Deno.readTextFileSync(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return null;
    throw err;
  }
}

/** Replaces `path` with `text` atomically, keeping the owner and mode of the file it replaces. */
export function writeAtomic(path: string, text: string, defaultMode = 0o644): void {
  let mode = defaultMode, uid: number | null = null, gid: number | null = null;
  try {
    const st = Deno.statSync(path);
    mode = (st.mode ?? defaultMode) & 0o7777;
    uid = st.uid;
    gid = st.gid;
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
  const tmp = join(dirname(path), `.${basename(path)}.kunai-${Deno.pid}-${Date.now()}.tmp`);
  try {
    const f = Deno.openSync(tmp, { write: true, createNew: true, mode });
    try {
      const bytes = new TextEncoder().encode(text);
      for (let off = 0; off < bytes.length;) off += f.writeSync(bytes.subarray(off));
      f.syncSync();
    } finally {
      f.close();
    }
    Deno.chmodSync(tmp, mode);
    if (uid !== null && gid !== null) {
      try {
        Deno.chownSync(tmp, uid, gid);
      } catch (err) {
        // Only root may give a file away; a non-root agent keeps its own ownership.
        if (!(err instanceof Deno.errors.PermissionDenied)) throw err;
      }
    }
    Deno.renameSync(tmp, path);
  } catch (err) {
    try {
      Deno.removeSync(tmp);
    } catch { /* never created */ }
    throw err;
  }
}
