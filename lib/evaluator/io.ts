/**
 * The machine-facing functions over a small file-system interface: `makeIo(fs)` is shared by the
 * sandboxed Worker (io_worker.ts, files through the read broker) and `localIo` (in-process, for
 * tests and one-shot tools). They never throw for an unreadable file or an unreachable host: they
 * answer False. A path the broker refuses is an EvalError naming it.
 */
import { EvalError } from "./errors.ts";
import { type EvalIo, GREP_MAX_BYTES, grepMatcher, type IoFunction, PACKAGE_NAME } from "./machine.ts";
import type { PyValue } from "./values.ts";
import { DEFAULT_PATH } from "../process/mod.ts";

export { parseDpkgStatus } from "./machine.ts";

/** What the functions need from the machine. */
export interface IoFs {
  /** null when the path does not exist or cannot be looked at. */
  stat(path: string): Promise<{ isFile: boolean; mtime: number | null; size: number } | null>;
  /** Up to `len` bytes of a file from `offset` (empty at its end); null when missing or unreadable. */
  readChunk(path: string, offset: number, len: number): Promise<Uint8Array | null>;
  /** Runs `rpm -q --quiet -- name` with a deadline; true when it exits 0, null when there is no rpm. */
  rpmQuery(name: string): Promise<boolean | null>;
}

function refusedOr<T>(path: string, err: unknown, fallback: T): T {
  if ((err as Error)?.name === "BrokerDenied") {
    throw new EvalError("runtime", `${path} may not be read by expressions (${(err as Error).message})`);
  }
  return fallback;
}

/**
 * An IoFs over the read broker (in the io Worker, or the main thread's LocalBroker): a path the
 * broker refuses is an EvalError naming it; a missing or unreadable one answers "nothing".
 */
export function brokeredFs(b: {
  stat(path: string): Promise<{ isFile: boolean; mtime: number | null; size: number }>;
  readChunk(path: string, offset: number, len: number): Promise<Uint8Array>;
  rpmQuery(name: string): Promise<boolean | null>;
}): IoFs {
  return {
    async stat(path) {
      try {
        return await b.stat(path);
      } catch (err) {
        return refusedOr(path, err, null);
      }
    },
    async readChunk(path, offset, len) {
      try {
        return await b.readChunk(path, offset, len);
      } catch (err) {
        return refusedOr(path, err, null);
      }
    },
    rpmQuery: (name) => b.rpmQuery(name),
  };
}

/** Where has_package looks; tests point these elsewhere. */
export const packageSources = {
  dpkgStatus: "/var/lib/dpkg/status",
  rpm: ["/usr/bin/rpm", "/bin/rpm"],
};

/** Bytes read per round trip. */
const CHUNK = 256 * 1024;

/**
 * The lines of the first `max` bytes of a file, read in chunks (a big file is never held whole);
 * null when the file is missing or unreadable.
 */
export async function fileLines(fs: IoFs, path: string, max: number): Promise<AsyncGenerator<string> | null> {
  const first = await fs.readChunk(path, 0, Math.min(CHUNK, max));
  if (first === null) return null;
  return (async function* () {
    const decoder = new TextDecoder();
    let carry = "";
    let chunk: Uint8Array | null = first;
    let offset = 0;
    while (chunk && chunk.length) {
      offset += chunk.length;
      const text = carry + decoder.decode(chunk, { stream: true });
      const lines = text.split(/\r?\n/);
      carry = lines.pop()!;
      yield* lines;
      if (offset >= max) break;
      chunk = await fs.readChunk(path, offset, Math.min(CHUNK, max - offset));
    }
    carry += decoder.decode();
    if (carry) yield carry;
  })();
}

/** True when a line of `lines` (dpkg status) shows package `name` installed. */
async function dpkgInstalledIn(lines: AsyncGenerator<string>, name: string): Promise<boolean> {
  let inPara = false;
  for await (const line of lines) {
    if (line === "") inPara = false;
    else if (line.startsWith("Package:")) inPara = line.slice(8).trim() === name;
    else if (inPara && line.startsWith("Status:")) {
      const status = line.slice(7).trim();
      if (/\binstalled$/.test(status) && !/\bnot-installed\b/.test(status)) return true;
    }
  }
  return false;
}

/** The functions over `fs`. */
export function makeIo(fs: IoFs): EvalIo {
  /** Answers per package name, valid while the dpkg status file keeps its mtime and size. */
  let dpkgCache: { path: string; mtime: number; size: number; answers: Map<string, boolean> } | null = null;

  async function hasPackage(name: string): Promise<boolean> {
    if (!PACKAGE_NAME.test(name)) return false;
    const path = packageSources.dpkgStatus;
    const st = await fs.stat(path);
    if (st?.isFile) {
      const mtime = st.mtime ?? 0;
      if (!dpkgCache || dpkgCache.path !== path || dpkgCache.mtime !== mtime || dpkgCache.size !== st.size) {
        dpkgCache = { path, mtime, size: st.size, answers: new Map() };
      }
      let installed = dpkgCache.answers.get(name);
      if (installed === undefined) {
        // read in chunks, only this package's paragraph looked at: no set of every package is kept
        const lines = await fileLines(fs, path, 64 * 1024 * 1024);
        installed = lines ? await dpkgInstalledIn(lines, name) : false;
        if (dpkgCache.answers.size < 256) dpkgCache.answers.set(name, installed);
      }
      if (installed) return true;
    }
    return (await fs.rpmQuery(name)) ?? false;
  }

  const calls: Record<IoFunction, (a: PyValue[]) => Promise<PyValue>> = {
    async fileexists([p]) {
      const path = p as string;
      if (path === "" || path.includes("\0")) return false;
      return (await fs.stat(path)) !== null;
    },
    async grep([text, p, regexp]) {
      const path = p as string;
      if (path === "" || path.includes("\0")) return false;
      const lines = await fileLines(fs, path, GREP_MAX_BYTES);
      if (lines === null) return false;
      const matches = grepMatcher(text as string, regexp === true);
      for await (const line of lines) if (matches(line)) return true;
      return false;
    },
    has_package: ([n]) => hasPackage(n as string),
    check_tcp: ([h, p, t]) => checkTcp(h as string, p as number, t as number),
  };
  return {
    call(name, args) {
      const fn = calls[name];
      if (!fn) return Promise.reject(new EvalError("name", `function '${name}' is not a machine function`));
      return fn(args);
    },
  };
}

/** True when a TCP connection opens within `seconds`. */
export async function checkTcp(host: string, port: number, seconds: number): Promise<boolean> {
  if (host === "" || host.length > 255) return false;
  const hostname = host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const attempt = Deno.connect({ hostname, port, transport: "tcp" });
  const expired = new Promise<null>((resolve) => timer = setTimeout(() => resolve(null), seconds * 1000));
  try {
    const conn = await Promise.race([attempt, expired]);
    if (conn === null) {
      attempt.then((c) => c.close(), () => {});
      return false;
    }
    conn.close();
    return true;
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}

/** rpm paths found missing, until when (ms): a Debian host does not try to spawn them every 10 s. */
const rpmMissing = new Map<string, number>();
const RPM_RECHECK_MS = 10 * 60_000;

/** Runs rpm (argv, no shell) from the candidates; null when none is there. */
export async function rpmQuery(name: string): Promise<boolean | null> {
  for (const rpm of packageSources.rpm) {
    if ((rpmMissing.get(rpm) ?? 0) > performance.now()) continue;
    try {
      const out = await new Deno.Command(rpm, {
        args: ["-q", "--quiet", "--", name],
        // nothing of the agent's environment (its secrets); read without the env permission
        env: { PATH: DEFAULT_PATH, LANG: "C" },
        clearEnv: true,
        stdout: "null",
        stderr: "null",
        signal: AbortSignal.timeout(10_000),
      }).output();
      return out.success;
    } catch (err) {
      // not there: next candidate (and not tried again for a while)
      if (err instanceof Deno.errors.NotFound) rpmMissing.set(rpm, performance.now() + RPM_RECHECK_MS);
    }
  }
  return null;
}

/** The file system of this process (tests, tools): no allow-list, no deadline. */
const denoFs: IoFs = {
  async stat(path) {
    try {
      const st = await Deno.stat(path);
      return { isFile: st.isFile, mtime: st.mtime?.getTime() ?? null, size: st.size };
    } catch {
      return null;
    }
  },
  async readChunk(path, offset, len) {
    let file: Deno.FsFile | undefined;
    try {
      file = await Deno.open(path, { read: true });
      if (!(await file.stat()).isFile) return null;
      await file.seek(offset, Deno.SeekMode.Start);
      const buf = new Uint8Array(len);
      let off = 0;
      while (off < len) {
        const n = await file.read(buf.subarray(off));
        if (n === null) break;
        off += n;
      }
      return buf.subarray(0, off);
    } catch {
      return null;
    } finally {
      file?.close();
    }
  },
  rpmQuery,
};

/**
 * In-process machine functions, for tests and one-shot tools only: the agent hands the evaluator
 * the sandboxed Worker's io (io_host.ts), so a slow file or a costly regexp never blocks it.
 */
export const localIo: EvalIo = makeIo(denoFs);
