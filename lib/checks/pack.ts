/**
 * The default configuration pack shipped in `<repo>/etc/packs/` (checks, detectors, Nagios
 * checks). It is embedded in the binary (`deno compile --include etc/packs`) and copied into
 * `<data>/global-configuration/packs/` at the first start, so users can edit or delete it.
 */
import { dirname, join, relative } from "node:path";
import { projectRoot } from "../root.ts";
import { syncDir } from "../fs/mod.ts";

/** Where the pack lives in the checkout (works from the source tree, its JavaScript copy and the compiled binary). */
export const DEFAULT_PACKS_DIR = new URL("etc/packs/", projectRoot());

function walk(dir: string, out: string[]): void {
  for (const e of Deno.readDirSync(dir)) {
    const p = join(dir, e.name);
    if (e.isDirectory) walk(p, out);
    else if (e.isFile) out.push(p);
  }
}

/**
 * Copies the default packs into `<dataDir>/global-configuration/packs` when that directory does not
 * exist yet (never overwrites). Returns the files written (empty when nothing was done).
 */
export function installDefaultPack(dataDir: string, source: string | URL = DEFAULT_PACKS_DIR): string[] {
  const target = join(dataDir, "global-configuration", "packs");
  try {
    Deno.statSync(target);
    return [];
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
  const src = source instanceof URL ? source.pathname : source;
  const files: string[] = [];
  try {
    walk(src, files);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return [];
    throw err;
  }
  const parent = dirname(target);
  Deno.mkdirSync(parent, { recursive: true, mode: 0o750 }); // may be the first to make the data dir
  // a copy cut off by a kill or a power loss: a dot name (the configuration loader skips it), and
  // removed here; `packs.tmp-<pid>`, the name before, was loaded as configuration
  for (const e of Deno.readDirSync(parent)) {
    if (/^\.?packs\.tmp-\d+$/.test(e.name)) Deno.removeSync(join(parent, e.name), { recursive: true });
  }
  const tmp = join(parent, `.packs.tmp-${Deno.pid}`);
  const written: string[] = [];
  for (const f of files.sort()) {
    const rel = relative(src, f);
    const dst = join(tmp, rel);
    Deno.mkdirSync(dirname(dst), { recursive: true });
    using out = Deno.openSync(dst, { write: true, create: true, truncate: true });
    const data = Deno.readFileSync(f);
    for (let off = 0; off < data.length;) off += out.writeSync(data.subarray(off));
    out.syncSync(); // on disk before the rename makes the pack visible: never an empty file after a power loss
    written.push(join(target, rel));
  }
  Deno.renameSync(tmp, target);
  syncDir(parent);
  return written;
}
