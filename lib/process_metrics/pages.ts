/**
 * Drops the start-up pages of read-only file mappings from the agent's resident set. Starting
 * `deno run main.ts` touches ~45 MB of the deno executable (the TypeScript transpiler, the module
 * loader, npm resolution, ICU data...) that a running agent mostly never executes again, yet they
 * stay mapped and counted in its RSS. Once the agent is up, `madvise(MADV_DONTNEED)` unmaps them:
 * the pages stay in the kernel's page cache (shared with every other deno process), and the ones
 * still used come back on their next access as a minor fault. Contents cannot change: only
 * mappings that are read-only and hold no anonymous (copied-on-write) or dirty page are touched, so
 * every page dropped is re-read from the very same file page.
 *
 * ```ts
 * const r = releaseFilePages(); // once, after start-up: { mappings, bytes } (bytes of RSS given back)
 * ```
 */

/** One mapping of /proc/self/smaps, with what decides whether its pages may be dropped. */
export interface Mapping {
  start: bigint;
  end: bigint;
  perms: string;
  /** The file mapped ("" for anonymous memory, "[heap]", "[stack]"...). */
  path: string;
  rssKb: number;
  /** Copied-on-write pages: their contents exist nowhere else. */
  anonymousKb: number;
  dirtyKb: number;
}

const HEADER = /^([0-9a-f]+)-([0-9a-f]+) (\S{4}) \S+ \S+ \S+ *(.*)$/;
const FIELD = /^(Rss|Anonymous|Private_Dirty|Shared_Dirty|Swap):\s+(\d+) kB/;

/** Parses /proc/PID/smaps text. */
export function parseSmaps(text: string): Mapping[] {
  const out: Mapping[] = [];
  let cur: Mapping | null = null;
  for (const line of text.split("\n")) {
    const h = line.match(HEADER);
    if (h) {
      cur = {
        start: BigInt("0x" + h[1]),
        end: BigInt("0x" + h[2]),
        perms: h[3],
        path: h[4].trim(),
        rssKb: 0,
        anonymousKb: 0,
        dirtyKb: 0,
      };
      out.push(cur);
      continue;
    }
    const f = cur && line.match(FIELD);
    if (!f || !cur) continue;
    const kb = Number(f[2]);
    if (f[1] === "Rss") cur.rssKb = kb;
    else if (f[1] === "Anonymous" || f[1] === "Swap") cur.anonymousKb += kb;
    else cur.dirtyKb += kb;
  }
  return out;
}

/**
 * True when dropping the mapping's pages cannot change what the process reads: a file mapping
 * (absolute path, not "(deleted)"), neither writable nor holding a copied or dirty page, with
 * something resident; and, with `lasting`, a file it accepts. releaseFilePages() accepts the
 * executable and shared libraries (`*.so*`), mapped as long as the process lives, and not other
 * files (SQLite's mmap of deno's code cache): one of those could be unmapped, and its address
 * reused by anonymous memory, between the read of /proc/self/smaps and the madvise — which would
 * then zero live memory.
 */
export function releasable(m: Mapping, lasting?: (path: string) => boolean): boolean {
  return m.path.startsWith("/") && !m.path.endsWith(" (deleted)") && !m.perms.includes("w") &&
    m.anonymousKb === 0 && m.dirtyKb === 0 && m.rssKb > 0 && (lasting === undefined || lasting(m.path));
}

/** The files whose mappings last as long as this process: `exe` and shared libraries. */
export function lastingFile(exe: string): (path: string) => boolean {
  return (path) => path === exe || /\/[^/]+\.so(\.[0-9]+)*$/.test(path);
}

const MADV_DONTNEED = 4;

/** What releaseFilePages() did. */
export interface ReleaseResult {
  /** Mappings whose pages were dropped. */
  mappings: number;
  /** Resident bytes those mappings held. */
  bytes: number;
  /** Mappings madvise refused (left as they were). */
  failed: number;
  /** The first few refusals: errno, range and file, for the log. */
  errors: string[];
}

type Libc = {
  madvise: { parameters: ["pointer", "usize", "i32"]; result: "i32" };
  __errno_location: { parameters: []; result: "pointer" };
};

/**
 * Drops the resident pages of every releasable mapping of the deno executable and the shared
 * libraries of this process. Returns how many
 * mappings and how many resident bytes they held, how many madvise refused (left as they were),
 * or null where it cannot (not Linux, no glibc, no FFI permission): then nothing changed.
 */
export function releaseFilePages(): ReleaseResult | null {
  if (Deno.build.os !== "linux") return null;
  let lib: Deno.DynamicLibrary<Libc>;
  let maps: Mapping[];
  try {
    const lasting = lastingFile(Deno.realPathSync(Deno.execPath()));
    maps = parseSmaps(Deno.readTextFileSync("/proc/self/smaps")).filter((m) => releasable(m, lasting));
    lib = Deno.dlopen("libc.so.6", {
      madvise: { parameters: ["pointer", "usize", "i32"], result: "i32" },
      __errno_location: { parameters: [], result: "pointer" },
    });
  } catch {
    return null;
  }
  let mappings = 0;
  let bytes = 0;
  let failed = 0;
  const errors: string[] = [];
  try {
    for (const m of maps) {
      if (lib.symbols.madvise(Deno.UnsafePointer.create(m.start), m.end - m.start, MADV_DONTNEED) !== 0) {
        failed++;
        const at = lib.symbols.__errno_location();
        const errno = at ? new Deno.UnsafePointerView(at).getInt32() : -1;
        if (errors.length < 5) {
          errors.push(`errno ${errno} ${m.start.toString(16)}-${m.end.toString(16)} ${m.path}`);
        }
        continue;
      }
      mappings++;
      bytes += m.rssKb * 1024;
    }
  } finally {
    lib.close();
  }
  return { mappings, bytes, failed, errors };
}
