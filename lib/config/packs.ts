/**
 * `GET /packs` (reference §2.1 and §5): the `package.json` of every pack, a folder under `packs/` of
 * a configuration directory. Read on each call (packs change with propagation and reloads).
 */
import { basename, join } from "node:path";

/** Largest package.json read (metadata only). */
const MAX_PACKAGE_BYTES = 256 * 1024;

/**
 * One pack: its package.json as written, plus its level: which configuration directory holds it
 * (`cfg` = the cfg dir, else `global`, `zone` or `local` for `<data>/<level>-configuration`). No
 * path: the route is open to read.
 */
export type PackInfo = Record<string, unknown> & { name: string; level: string };

function levelOf(dir: string, first: boolean): string {
  if (first) return "cfg";
  const m = /^(.+)-configuration$/.exec(basename(dir));
  return m ? m[1] : basename(dir);
}

/** A pack folder's package.json, or `{error}` saying why it cannot be read as one; null when it has none. */
function readPackage(file: string): Record<string, unknown> | null {
  let text: string;
  try {
    if (Deno.statSync(file).size > MAX_PACKAGE_BYTES) {
      return { error: `package.json larger than ${MAX_PACKAGE_BYTES} bytes` };
    }
    text = Deno.readTextFileSync(file);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return null; // a folder without metadata: not listed
    return { error: `cannot read package.json: ${(err as Error).message}` };
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return { error: `package.json is not JSON: ${(err as Error).message}` };
  }
  if (!value || typeof value !== "object" || Array.isArray(value)) {
    return { error: "package.json is not a JSON object" };
  }
  return value as Record<string, unknown>;
}

/**
 * Every `<dir>/packs/<pack>/package.json` of `dirs` (the cfg dir first), in directory order. A file
 * that cannot be read or is not a JSON object is listed with `error`, never skipped silently. A pack
 * is named by its package.json's `name`, else by its folder (as the reference did).
 */
export function listPacks(dirs: string[]): PackInfo[] {
  const out: PackInfo[] = [];
  for (const [i, dir] of dirs.entries()) {
    const level = levelOf(dir, i === 0);
    let folders: string[];
    try {
      folders = [...Deno.readDirSync(join(dir, "packs"))]
        .filter((e) => e.isDirectory && !e.name.startsWith("."))
        .map((e) => e.name)
        .sort();
    } catch {
      continue; // no packs folder here
    }
    for (const folder of folders) {
      const pkg = readPackage(join(dir, "packs", folder, "package.json"));
      if (pkg === null) continue;
      const name = typeof pkg.name === "string" && pkg.name ? pkg.name : folder;
      out.push({ ...pkg, name, level });
    }
  }
  return out;
}
