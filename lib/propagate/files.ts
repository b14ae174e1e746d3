/**
 * Files of a propagation (pure checks + small fs helpers): which relative paths are acceptable,
 * the directory walk of the sender and hashing.
 */
import { join, resolve, sep } from "node:path";

export type PropagateType = "configuration" | "libexec";

/** One file of a manifest. */
export interface ManifestFile {
  /** Relative to the propagated directory, `/`-separated. */
  path: string;
  sha256: string;
  size: number;
  /** Permission bits (libexec plugins stay executable). */
  mode: number;
}

export interface Manifest {
  type: PropagateType;
  from: string;
  time: number;
  files: ManifestFile[];
}

/** Files a manifest may list at most, and the largest file propagated. */
export const MAX_FILES = 2000;

/**
 * Null when `rel` is a clean relative path inside the target directory; otherwise why not
 * (absolute, `..` or `.` segments, empty segments, control characters, backslashes).
 */
export function unsafePath(rel: string): string | null {
  if (typeof rel !== "string" || rel.length === 0 || rel.length > 1024) return "empty or too long";
  if (rel.startsWith("/")) return "absolute path";
  for (let i = 0; i < rel.length; i++) {
    const c = rel.charCodeAt(i);
    if (c < 0x20 || c === 0x7f || c === 0x5c) return "control character or backslash";
  }
  for (const seg of rel.split("/")) {
    if (seg === "..") return "'..' segment escapes the directory";
    if (seg === "." || seg === "") return "empty or '.' segment";
  }
  return null;
}

/** `dir/rel`, refusing anything that would resolve outside `dir`. */
export function targetPath(dir: string, rel: string): string {
  const why = unsafePath(rel);
  if (why) throw new Error(`refused path ${JSON.stringify(rel)}: ${why}`);
  const base = resolve(dir);
  const full = resolve(join(base, rel));
  if (!full.startsWith(base + sep)) throw new Error(`refused path ${JSON.stringify(rel)}: outside ${base}`);
  return full;
}

/** Regular files under `dir` (symlinks and special files skipped), relative `/` paths, sorted. */
export function walkFiles(dir: string, skip: (rel: string) => boolean): string[] {
  const out: string[] = [];
  const visit = (abs: string, rel: string) => {
    for (const e of Deno.readDirSync(abs)) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (skip(r)) continue;
      if (e.isDirectory) visit(join(abs, e.name), r);
      else if (e.isFile) out.push(r);
    }
  };
  visit(dir, "");
  return out.sort();
}

export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const d = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>));
  return [...d].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** Validates a manifest read back from KV; a string says what is wrong. */
export function parseManifest(v: unknown): Manifest | string {
  if (!v || typeof v !== "object") return "not an object";
  const m = v as Record<string, unknown>;
  if (m.type !== "configuration" && m.type !== "libexec") return "bad type";
  if (!Array.isArray(m.files) || m.files.length > MAX_FILES) return "bad file list";
  for (const f of m.files as Array<Record<string, unknown>>) {
    if (
      !f || typeof f.path !== "string" || typeof f.sha256 !== "string" || !/^[0-9a-f]{64}$/.test(f.sha256)
    ) {
      return "bad file entry";
    }
    if (!Number.isSafeInteger(f.size) || !Number.isSafeInteger(f.mode)) return "bad file entry";
  }
  return {
    type: m.type,
    from: String(m.from ?? ""),
    time: Number(m.time ?? 0),
    files: m.files as ManifestFile[],
  };
}
