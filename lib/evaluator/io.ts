/**
 * The machine-facing functions over a small file-system interface: `makeIo(fs)` is shared by the
 * sandboxed Worker (io_worker.ts, files through the read broker) and `localIo` (in-process, for
 * tests and one-shot tools). They never throw for an unreadable file or an unreachable host: they
 * answer False. A path the broker refuses is an EvalError naming it.
 */
import { EvalError } from "./errors.ts";
import {
  type EvalIo,
  GREP_MAX_BYTES,
  grepText,
  type IoFunction,
  PACKAGE_NAME,
  parseDpkgStatus,
} from "./machine.ts";
import type { PyValue } from "./values.ts";

export { parseDpkgStatus } from "./machine.ts";

/** What the functions need from the machine. */
export interface IoFs {
  /** null when the path does not exist or cannot be looked at. */
  stat(path: string): Promise<{ isFile: boolean; mtime: number | null; size: number } | null>;
  /** The first `max` bytes of a file as text; null when missing or unreadable. */
  readHead(path: string, max: number): Promise<string | null>;
  /** Runs `rpm -q --quiet -- name` with a deadline; true when it exits 0, null when there is no rpm. */
  rpmQuery(name: string): Promise<boolean | null>;
}

/** Where has_package looks; tests point these elsewhere. */
export const packageSources = {
  dpkgStatus: "/var/lib/dpkg/status",
  rpm: ["/usr/bin/rpm", "/bin/rpm"],
};

/** The functions over `fs`. */
export function makeIo(fs: IoFs): EvalIo {
  let dpkgCache: { path: string; mtime: number; size: number; installed: Set<string> } | null = null;

  async function hasPackage(name: string): Promise<boolean> {
    if (!PACKAGE_NAME.test(name)) return false;
    const path = packageSources.dpkgStatus;
    const st = await fs.stat(path);
    if (st?.isFile) {
      const mtime = st.mtime ?? 0;
      if (!dpkgCache || dpkgCache.path !== path || dpkgCache.mtime !== mtime || dpkgCache.size !== st.size) {
        const text = await fs.readHead(path, 64 * 1024 * 1024);
        dpkgCache = { path, mtime, size: st.size, installed: parseDpkgStatus(text ?? "") };
      }
      if (dpkgCache.installed.has(name)) return true;
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
      const content = await fs.readHead(path, GREP_MAX_BYTES);
      return content === null ? false : grepText(content, text as string, regexp === true);
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

/** Runs rpm (argv, no shell) from the candidates; null when none is there. */
export async function rpmQuery(name: string): Promise<boolean | null> {
  for (const rpm of packageSources.rpm) {
    try {
      const out = await new Deno.Command(rpm, {
        args: ["-q", "--quiet", "--", name],
        stdout: "null",
        stderr: "null",
        signal: AbortSignal.timeout(10_000),
      }).output();
      return out.success;
    } catch {
      // not there: next candidate
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
  async readHead(path, max) {
    let file: Deno.FsFile | undefined;
    try {
      file = await Deno.open(path, { read: true });
      const info = await file.stat();
      if (!info.isFile) return null;
      const buf = new Uint8Array(Math.min(info.size || max, max));
      let off = 0;
      while (off < buf.length) {
        const n = await file.read(buf.subarray(off));
        if (n === null) break;
        off += n;
      }
      return new TextDecoder().decode(buf.subarray(0, off));
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
