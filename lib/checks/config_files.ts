/**
 * Runtime edits of check and service objects (reference §2.3): `<cfg_dir>/<name>.json` holding
 * `{"check": …}` or `{"service": …}`, written atomically; the path must stay inside cfg_dir.
 */
import { join, normalize, resolve } from "node:path";
import { writeAtomic } from "../fs/mod.ts";

/** A name that would leave the configuration directory or is not a plain relative path. */
export class BadObjectName extends Error {
  constructor(name: string, why: string) {
    super(`invalid name ${JSON.stringify(name)}: ${why}`);
    this.name = "BadObjectName";
  }
}

const NAME = /^[A-Za-z0-9_][A-Za-z0-9_.\-/ ]*$/;

/** `<cfgDir>/<name>.json`, refusing `..`, absolute paths and odd characters. */
export function objectFilePath(cfgDir: string, name: string): string {
  if (!name || name.length > 200) throw new BadObjectName(name, "must be 1 to 200 characters");
  if (!NAME.test(name)) throw new BadObjectName(name, "use letters, digits, '_', '-', '.', ' ' and '/' only");
  if (name.split("/").some((s) => s === "" || s === "." || s === "..")) {
    throw new BadObjectName(name, "empty, '.' or '..' path segments are not allowed");
  }
  // a key of the plain objects names end up in: `out["__proto__"] = v` sets the prototype instead
  if (name === "__proto__" || name.endsWith("/__proto__")) {
    throw new BadObjectName(name, "__proto__ is reserved");
  }
  const root = resolve(cfgDir);
  const p = normalize(join(root, `${name}.json`));
  if (!p.startsWith(root + "/")) {
    throw new BadObjectName(name, "the file must stay inside the configuration directory");
  }
  return p;
}

/** True when `file` lies inside `dir`. */
export function isInside(dir: string, file: string): boolean {
  const root = resolve(dir);
  return resolve(file).startsWith(root + "/");
}

/** Writes `{ key: value }` as pretty JSON via a temp file + rename (creating parent dirs). */
export function writeObjectFile(
  path: string,
  key: "check" | "service",
  value: Record<string, unknown>,
): void {
  // synced: an empty file after a power loss would stop the next start (an invalid JSON file)
  writeAtomic(path, JSON.stringify({ [key]: value }, null, 2) + "\n", { mkdir: true, fsync: true });
}

/** Removes a file; false when it was not there. */
export function removeObjectFile(path: string): boolean {
  try {
    Deno.removeSync(path);
    return true;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return false;
    throw err;
  }
}

/** Runtime fields that are never written back to a file. */
export const RUNTIME_FIELDS = [
  "id",
  "name",
  "from",
  "state",
  "state_id",
  "output",
  "last_check",
  "next_check",
  "active",
  "kind",
  "problems",
  "perfdata",
  "metrics",
  "modification_time",
  "service",
  "soft",
  "members",
  "passing",
  "failing",
  "passing-members",
  "failing-members",
  "incarnation",
  "check",
];

/** A copy of `v` without runtime fields (except those listed in `keep`). */
export function stripRuntime(v: Record<string, unknown>, keep: string[] = []): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) if (!RUNTIME_FIELDS.includes(k) || keep.includes(k)) out[k] = x;
  return out;
}
