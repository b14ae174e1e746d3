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

/**
 * A mapping's header line in /proc/PID/smaps: range, permissions, file. parseSmaps finds the headers
 * with one regular expression over the whole text and reads the five page counts it needs from each
 * mapping's block with `indexOf`, so its loops run once per mapping (an agent has ~270) instead of
 * once per line (~25 per mapping): the line-by-line loop took ~6 ms cold and, at the +2 s release, an
 * optimising compile on V8's background threads in every agent of a cluster that had just started
 * (docs/benchmarks.md, 2026-12-03, 14:30).
 */
const HEADER = /^([0-9a-f]+)-([0-9a-f]+) (\S{4}) \S+ \S+ \S+ *(.*)$/gm;

/** The kB value of the field `name` ("\nRss:") between `from` and `to`, 0 when absent. */
function kbIn(text: string, name: string, from: number, to: number): number {
  const at = text.indexOf(name, from);
  if (at < 0 || at >= to) return 0;
  const kb = parseInt(text.slice(at + name.length, Math.min(to, at + name.length + 32)), 10);
  return Number.isFinite(kb) ? kb : 0;
}

/** Parses /proc/PID/smaps text. */
export function parseSmaps(text: string): Mapping[] {
  const out: Mapping[] = [];
  const bodies: number[] = []; // where each mapping's field lines start (the end of its header)
  const re = new RegExp(HEADER);
  const starts: number[] = [];
  for (let h = re.exec(text); h !== null; h = re.exec(text)) {
    starts.push(h.index);
    bodies.push(h.index + h[0].length);
    out.push({
      start: BigInt("0x" + h[1]),
      end: BigInt("0x" + h[2]),
      perms: h[3],
      path: h[4].trim(),
      rssKb: 0,
      anonymousKb: 0,
      dirtyKb: 0,
    });
  }
  for (let i = 0; i < out.length; i++) {
    const from = bodies[i];
    const to = i + 1 < out.length ? starts[i + 1] : text.length;
    const m = out[i];
    m.rssKb = kbIn(text, "\nRss:", from, to);
    m.anonymousKb = kbIn(text, "\nAnonymous:", from, to) + kbIn(text, "\nSwap:", from, to);
    m.dirtyKb = kbIn(text, "\nPrivate_Dirty:", from, to) + kbIn(text, "\nShared_Dirty:", from, to);
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
