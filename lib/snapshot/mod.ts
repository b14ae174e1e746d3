/**
 * Backups of a node's stores in one file: `kunai snapshot save FILE` asks the running agent for a
 * consistent copy of `kv.db`, `metrics.db` and `checks.db` (SQLite online backup: writers go on),
 * with a manifest (version, node, time, sha256 per part); `kunai snapshot restore FILE` puts them
 * back into the data dir of a stopped agent (or a new node), after checking every byte. The node's
 * identity (`agent.db`) is not part of it, so a restored node keeps its own uuid.
 *
 * ```ts
 * const manifest = await saveSnapshot(store, "/tmp/node1.snap", { node: "n1", uuid, version });
 * await restoreSnapshot("/tmp/node1.snap", { dataDir, lockFile, version });
 * ```
 */
import { DatabaseSync } from "node:sqlite";
import { join } from "node:path";
import type { Store } from "../store/mod.ts";
import { acquireLock, LockHeld, releaseLock } from "../lockfile.ts";
import type { Ctx, Subsystem } from "../subsystem.ts";
import { HttpError, RouteTable } from "../routing/mod.ts";
import { VERSION } from "../version.ts";
import { extractParts, type Manifest, readManifest, SnapshotError, writeSnapshot } from "./format.ts";
import { pathExists, syncDir, tempBeside } from "../fs/mod.ts";

export { fileDigest, type Manifest, readManifest, SnapshotError } from "./format.ts";

/** The databases a snapshot holds, when present. */
export const SNAPSHOT_PARTS = ["kv", "metrics", "checks"];

/**
 * Writes a snapshot of the stores to `out`: each database open in `store` is copied with the
 * online backup API; one not opened by this agent but present on disk is copied from a read-only
 * handle.
 */
export async function saveSnapshot(
  store: Store,
  out: string,
  meta: { node: string; uuid: string; version?: string; now?: () => number },
  parts = SNAPSHOT_PARTS,
): Promise<Manifest> {
  const tmp = await Deno.makeTempDir({ prefix: "kunai-snapshot-" });
  try {
    const files: Array<{ name: string; path: string }> = [];
    for (const name of parts) {
      const path = `${tmp}/${name}.db`;
      const open = store.handle(name);
      if (open) await open.backup(path);
      else {
        const src = `${store.dir}/${name}.db`;
        if (!pathExists(src)) continue;
        const raw = new DatabaseSync(src, { readOnly: true });
        try {
          const { backup } = await import("node:sqlite");
          await backup(raw, path);
        } finally {
          raw.close();
        }
      }
      files.push({ name, path });
    }
    const now = meta.now?.() ?? Date.now();
    return await writeSnapshot(out, {
      version: meta.version ?? VERSION,
      node: meta.node,
      uuid: meta.uuid,
      time: Math.floor(now / 1000),
    }, files);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
}

export interface RestoreOptions {
  dataDir: string;
  /** The agent's lock file: held while restoring, so the agent cannot start meanwhile. */
  lockFile: string;
  /** This kunai's version; a snapshot of another version is refused. */
  version?: string;
}

/**
 * Restores a snapshot into `dataDir` of a stopped agent. Refuses (SnapshotError, nothing
 * changed) a damaged, truncated or foreign-version file, or a running agent. The databases
 * replaced are kept as `<name>.db.pre-restore` with their WAL (`-2`, `-3`... after an earlier restore).
 */
export async function restoreSnapshot(file: string, opts: RestoreOptions): Promise<Manifest> {
  const { manifest } = await readManifest(file);
  const version = opts.version ?? VERSION;
  if (manifest.version !== version) {
    throw new SnapshotError(file, `written by kunai ${manifest.version}, this is ${version}: refused`);
  }
  try {
    acquireLock(opts.lockFile);
  } catch (err) {
    if (err instanceof LockHeld) {
      throw new SnapshotError(file, `the agent is running (pid ${err.pid}); stop it first`);
    }
    throw err;
  }
  try {
    await Deno.mkdir(opts.dataDir, { recursive: true, mode: 0o750 }); // as the agent makes it
    const parts = await extractParts(file, opts.dataDir);
    try {
      for (const p of parts) {
        const db = new DatabaseSync(p.path, { readOnly: true });
        try {
          const row = db.prepare("PRAGMA quick_check").get() as Record<string, unknown> | undefined;
          const verdict = String(Object.values(row ?? {})[0] ?? "");
          if (verdict !== "ok") {
            throw new SnapshotError(file, `part ${p.name} is not a sound database: ${verdict}`);
          }
        } finally {
          db.close();
          dropSidecars(p.path);
        }
      }
    } catch (err) {
      for (const p of parts) Deno.removeSync(p.path);
      if (err instanceof SnapshotError) throw err;
      throw new SnapshotError(file, `a part is not a database: ${(err as Error).message}`);
    }
    for (const p of parts) {
      const target = `${opts.dataDir}/${p.name}.db`;
      takeOwnership(p.path, target, opts.dataDir);
      if (pathExists(target)) {
        // kept whole: its write-ahead log goes with it (after a crash it holds committed writes), under
        // the name SQLite looks for beside the kept file; an earlier restore's copy is not overwritten
        const kept = keptName(target);
        Deno.renameSync(target, kept);
        if (pathExists(`${target}-wal`)) Deno.renameSync(`${target}-wal`, `${kept}-wal`);
      }
      if (pathExists(`${target}-wal`)) Deno.removeSync(`${target}-wal`); // of no database now
      if (pathExists(`${target}-shm`)) Deno.removeSync(`${target}-shm`); // rebuilt from the WAL
      Deno.renameSync(p.path, target);
    }
    syncDir(opts.dataDir);
    return manifest;
  } finally {
    releaseLock(opts.lockFile);
  }
}

/**
 * Gives a restored part the owner and mode of the database it replaces, or, for a new one, the data
 * dir's owner and the agent's 0640: a restore run as root for an agent that runs as its own user
 * (scripts/kunai.service: `User=kunai`) otherwise left root's files that the agent could not write,
 * readable by every user (0644 under the usual umask). A non-root restore cannot give files away:
 * they stay its own (it is then the agent's user, or shares its group).
 */
function takeOwnership(part: string, target: string, dataDir: string): void {
  let ref: Deno.FileInfo;
  let mode = 0o640;
  try {
    ref = Deno.statSync(target);
    mode = (ref.mode ?? mode) & 0o7777;
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
    ref = Deno.statSync(dataDir);
  }
  Deno.chmodSync(part, mode);
  if (ref.uid === null || ref.gid === null) return;
  try {
    Deno.chownSync(part, ref.uid, ref.gid);
  } catch (err) {
    if (!(err instanceof Deno.errors.PermissionDenied)) throw err;
  }
}

/**
 * SQLite opens a part in WAL mode with an empty `-wal` and `-shm` beside it, even read-only: gone with
 * the check, or they would stay in the data dir under the part's temporary name.
 */
function dropSidecars(path: string): void {
  for (const side of [`${path}-wal`, `${path}-shm`]) {
    try {
      Deno.removeSync(side);
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    }
  }
}

/** `<db>.pre-restore`, or `<db>.pre-restore-2`, `-3`... when an earlier restore kept one already. */
function keptName(target: string): string {
  let name = `${target}.pre-restore`;
  for (let n = 2; pathExists(name); n++) name = `${target}.pre-restore-${n}`;
  return name;
}

/** The `snapshot` subsystem: `POST /snapshot/save` (write route) answers the snapshot file. */
export function createSnapshot(ctx: Ctx): Subsystem & { routes(): RouteTable } {
  let saves = 0;
  let last: { time: number; bytes: number } | null = null;
  return {
    name: "snapshot",
    start: () => Promise.resolve(),
    stop: () => Promise.resolve(),
    info: () => ({ saves, last }),
    routes() {
      const r = new RouteTable("snapshot");
      r.write(
        "POST",
        "/snapshot/save",
        "a consistent copy of kv, metrics and checks databases (file body)",
        async (c) => {
          // beside the databases (their file system has room for their copy; /tmp may be a tmpfs),
          // named so that the next start removes it after a kill (sweepTemps)
          const out = tempBeside(join(ctx.config.params.data, "snapshot.snap"));
          let f: Deno.FsFile;
          try {
            await saveSnapshot(ctx.store, out, {
              node: ctx.node.name,
              uuid: ctx.node.uuid,
              now: () => ctx.clock.now(),
            });
            f = await Deno.open(out, { read: true });
          } catch (err) {
            await Deno.remove(out);
            throw new HttpError(500, `snapshot failed: ${(err as Error).message}`);
          }
          const size = (await f.stat()).size;
          await Deno.remove(out); // the open handle keeps the bytes until the answer is sent
          saves++;
          last = { time: Math.floor(ctx.clock.now() / 1000), bytes: size };
          return c.body(f.readable, 200, {
            "content-type": "application/octet-stream",
            "content-length": String(size),
          });
        },
      );
      return r;
    },
  };
}
