/**
 * The reference's runtime configuration changes (§2.3): `GET /configuration` returns `local.json` and
 * `PUT /configuration/update` merges a JSON object into it. This file reads, merges and writes that one
 * file; the agent validates the whole configuration with the merged text in place of the file
 * before it writes it.
 */
import { join } from "node:path";
import { writeAtomic } from "../fs/mod.ts";

/** Where the configuration's `local.json` is, and why it cannot be edited (YAML) if so. */
export function localConfigFile(cfgDir: string): { path: string; yaml: string | null } {
  const path = join(cfgDir, "local.json");
  let yaml: string | null = null;
  for (const name of ["local.yml", "local.yaml"]) {
    try {
      if (Deno.statSync(join(cfgDir, name)).isFile) yaml = join(cfgDir, name);
    } catch { /* absent */ }
  }
  return { path, yaml };
}

/** The text of `local.json` (null when there is none) and its object; throws when it is not one. */
export function readLocalConfig(path: string): { text: string | null; value: Record<string, unknown> } {
  let text: string;
  try {
    text = Deno.readTextFileSync(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return { text: null, value: {} };
    throw err;
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new Error(`${path} is not valid JSON (${(err as Error).message}); fix it by hand first`);
  }
  if (!value || typeof value !== "object" || Array.isArray(value)) {
    throw new Error(`${path} does not hold a JSON object; fix it by hand first`);
  }
  return { text, value: value as Record<string, unknown> };
}

/**
 * `current` with the top-level keys of `patch` replaced (a `null` removes the key), keys sorted as
 * the reference rewrote the file.
 */
export function mergeLocalConfig(
  current: Record<string, unknown>,
  patch: Record<string, unknown>,
): Record<string, unknown> {
  const merged: Record<string, unknown> = { ...current };
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete merged[k];
    else merged[k] = v;
  }
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(merged).sort()) out[k] = merged[k];
  return out;
}

/** The text `local.json` is written with. */
export function localConfigText(value: Record<string, unknown>): string {
  return JSON.stringify(value, null, 2) + "\n";
}

/**
 * Writes `local.json` atomically, keeping its owner and mode (0600 for a new one: it may hold keys).
 * A symlink (a configuration management's layout) stays one: the file it points to is replaced.
 */
export function writeLocalConfig(path: string, value: Record<string, unknown> | string): void {
  const text = typeof value === "string" ? value : localConfigText(value);
  let target = path;
  try {
    target = Deno.realPathSync(path);
  } catch { /* a new file */ }
  writeAtomic(target, text, { keepOwner: true, mode: 0o600, fsync: true });
}
