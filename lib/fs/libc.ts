/**
 * The two file-system calls the agent used to take from `node:fs`, through libc (FFI): `access(2)`
 * for "does this path exist" without an exception, and `statfs(2)` (Deno has no statfs). Importing
 * `node:fs` loads Deno's Node layer for fs, streams, process and crypto: ~1.2 MB more V8 heap and
 * ~2.5 MB more RSS in every agent (docs/benchmarks.md, "Footprint (perf-rss5)"). Where libc cannot be
 * opened (no glibc, no FFI permission), `existsNoThrow` falls back to `Deno.statSync` and `statfs` to
 * `node:fs`, imported then.
 *
 * ```ts
 * if (existsNoThrow("/etc/os-release")) ...
 * const s = await statfs("/"); // { type, bsize, blocks, bfree, bavail, files, ffree }
 * ```
 */

/** `statfs(2)`'s figures, as node:fs `statfsSync` reports them. */
export interface StatFs {
  type: number;
  bsize: number;
  blocks: number;
  bfree: number;
  bavail: number;
  files: number;
  ffree: number;
}

const SYMBOLS = {
  access: { parameters: ["buffer", "i32"], result: "i32" },
  statfs: { parameters: ["buffer", "buffer"], result: "i32" },
  __errno_location: { parameters: [], result: "pointer" },
} as const;

/** errno names for the failures statfs(2) reports on a path. */
const ERRNO: Record<number, string> = {
  1: "EPERM",
  2: "ENOENT",
  5: "EIO",
  13: "EACCES",
  20: "ENOTDIR",
  36: "ENAMETOOLONG",
  38: "ENOSYS",
  40: "ELOOP",
  75: "EOVERFLOW",
};

let libc: Deno.DynamicLibrary<typeof SYMBOLS> | null | undefined;

function openLibc(): Deno.DynamicLibrary<typeof SYMBOLS> | null {
  if (libc !== undefined) return libc;
  libc = null;
  // struct statfs below is the 64-bit Linux layout (x86_64, aarch64: every field a long)
  if (Deno.build.os !== "linux" || !["x86_64", "aarch64"].includes(Deno.build.arch)) return libc;
  try {
    libc = Deno.dlopen("libc.so.6", SYMBOLS);
  } catch {
    libc = null; // no glibc or no FFI permission: the fallbacks
  }
  return libc;
}

const encoder = new TextEncoder();
const cString = (s: string) => encoder.encode(s + "\0");

/**
 * True when something exists at `path` (links followed, like `existsSync`): false for a missing
 * path and for any other failure, never an exception (callers probe absent files every 10 s, and a
 * thrown NotFound costs a stack trace). A path holding a NUL byte does not exist.
 */
export function existsNoThrow(path: string): boolean {
  if (path.includes("\0")) return false;
  const c = openLibc();
  if (c) return c.symbols.access(cString(path), 0 /* F_OK */) === 0;
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * True only when `path` certainly does not exist: access(2) fails with ENOENT (or ENOTDIR, a file
 * where a directory was expected), links followed. Any other answer (it exists, no permission to
 * look, no libc) is false: the caller then does its operation and gets the real error. Never
 * throws; for the read broker, which answers "not found" for absent files every round without
 * running (and throwing from) the operation.
 */
export function missingNoThrow(path: string): boolean {
  if (path.includes("\0")) return false;
  const c = openLibc();
  if (!c || c.symbols.access(cString(path), 0 /* F_OK */) === 0) return false;
  // FFI calls run on this thread, so errno is still access's
  const at = c.symbols.__errno_location();
  const errno = at ? new Deno.UnsafePointerView(at).getInt32() : 0;
  return errno === 2 /* ENOENT */ || errno === 20 /* ENOTDIR */;
}

/** `statfs(2)` of the file system holding `path`; throws (with errno) when the call fails. */
export async function statfs(path: string): Promise<StatFs> {
  const c = openLibc();
  if (!c || path.includes("\0")) {
    const s = (await import("node:fs")).statfsSync(path);
    return {
      type: Number(s.type),
      bsize: Number(s.bsize),
      blocks: Number(s.blocks),
      bfree: Number(s.bfree),
      bavail: Number(s.bavail),
      files: Number(s.files),
      ffree: Number(s.ffree),
    };
  }
  const buf = new BigInt64Array(16); // struct statfs: 15 longs (120 bytes), with room to spare
  if (c.symbols.statfs(cString(path), buf) !== 0) {
    // FFI calls run on this thread, so errno is still statfs's
    const at = c.symbols.__errno_location();
    const errno = at ? new Deno.UnsafePointerView(at).getInt32() : 0;
    throw new Error(`${ERRNO[errno] ?? `errno ${errno}`}: statfs '${path}'`);
  }
  const f = (i: number) => Number(buf[i]);
  return { type: f(0), bsize: f(1), blocks: f(2), bfree: f(3), bavail: f(4), files: f(5), ffree: f(6) };
}
