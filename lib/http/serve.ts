/**
 * Deno.serve that outlives a failed accept. Deno ends a server whose accept fails (EMFILE: the
 * process is out of file descriptors) and rejects its `finished`; unheard, that rejection ends the
 * process. A `LastingServer` says so (once, then once a minute: FailureNote), listens again a
 * second later on the same address (again each second while that fails), and says when it answers
 * again. A unix socket given a mode has it from the moment it appears at its path (`serveUnix`).
 *
 * ```ts
 * const srv = LastingServer.start({ path: sock, onListen: () => {} }, handler, log, "HTTP API on unix:" + sock, { bits: 0o660 });
 * await srv.shutdown();
 * ```
 */
import { dirname, join } from "node:path";
import { FailureNote } from "../log/failure.ts";
import type { Logger } from "../log/mod.ts";

/** Delay before listening again after the server stopped (ms). */
export const RELISTEN_MS = 1000;

/** A unix socket's permission bits, which it has from the moment its path exists. */
export interface SocketMode {
  /** 0o660: the agent's user and group; 0o600: the agent's user alone. */
  bits: number;
  /** Told when the filesystem refuses the chmod (the socket is served anyway); without it, the listen fails. */
  onChmodError?: (err: Error) => void;
}

/** The longest path Linux binds a unix socket to (`sun_path` is 108 bytes with its NUL). */
const SUN_PATH_MAX = 107;

type Options = Deno.ServeUnixOptions | Deno.ServeTcpOptions;
type Handler = (req: Request, info: Deno.ServeHandlerInfo<Deno.Addr>) => Response | Promise<Response>;

/** The same text whether the server stopped or could not listen again (one line a minute, not two). */
function again(err: Error): Error {
  return new Error(
    `${err.message.replace(/^(Http: )?(Error: )?/, "")}; listening again every ${
      RELISTEN_MS / 1000
    } s until it works`,
  );
}

export class LastingServer {
  #srv: Deno.HttpServer | null = null;
  #timer: ReturnType<typeof setTimeout> | null = null;
  #closing = false;
  #note: FailureNote;

  private constructor(
    private opts: Options,
    private handler: Handler,
    /** A unix socket's mode, set at each listen before the socket appears at its path. */
    private mode: SocketMode | undefined,
    private log: Logger,
    what: string,
  ) {
    this.#note = new FailureNote(log, what, 60_000, Date.now, 2_000);
  }

  /** Listens (errors such as AddrInUse are thrown, as by Deno.serve). */
  static start(opts: Options, handler: Handler, log: Logger, what: string, mode?: SocketMode): LastingServer {
    const s = new LastingServer(opts, handler, mode, log, what);
    s.#listen();
    return s;
  }

  /** The address listened on (TCP: the port chosen for port 0). */
  get addr(): Deno.Addr | null {
    return this.#srv?.addr ?? null;
  }

  #listen(): void {
    const handler: Handler = (req, info) => {
      // said once it answers again (2 s after the last failure), not at each new listen
      if (this.#note.failing) this.#note.ok();
      return this.handler(req, info);
    };
    const srv = "path" in this.opts && this.opts.path
      ? serveUnix(this.opts, handler as Deno.ServeHandler<Deno.UnixAddr>, this.mode, this.log)
      : Deno.serve(this.opts as Deno.ServeTcpOptions, handler as Deno.ServeHandler<Deno.NetAddr>);
    this.#srv = srv;
    srv.finished.then(() => {}, (err: Error) => {
      if (this.#closing || this.#srv !== srv) return;
      this.#srv = null;
      this.#note.fail(again(err));
      this.#again();
    });
  }

  #again(): void {
    this.#timer = setTimeout(() => {
      this.#timer = null;
      if (this.#closing) return;
      try {
        this.#listen();
      } catch (err) {
        this.#note.fail(again(err as Error));
        this.#again();
      }
    }, RELISTEN_MS);
  }

  async shutdown(): Promise<void> {
    this.#closing = true;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    const srv = this.#srv;
    this.#srv = null;
    if (srv) await srv.shutdown();
  }
}

/**
 * Serves on the unix socket `opts.path`, which never exists there with a wider mode than `mode`.
 * bind(2) gives a socket the umask's mode and a chmod can only follow it: in between, anyone the umask
 * lets in may connect (under umask 0, anyone). So the socket is bound in a fresh 0700 directory beside
 * its path (the same filesystem), given its mode there, and renamed onto its path: a rename keeps the
 * listening socket, and replaces at once the socket a stopped server left. The process umask is not
 * touched: it is the whole process's, and workers and async fs calls create files meanwhile.
 */
function serveUnix(
  opts: Deno.ServeUnixOptions,
  handler: Deno.ServeHandler<Deno.UnixAddr>,
  mode: SocketMode | undefined,
  log: Logger,
): Deno.HttpServer<Deno.UnixAddr> {
  const path = opts.path;
  const dir = mode ? privateDirBeside(path) : null;
  if (dir === null) {
    // no mode to keep, or the private path too long for bind(2): bound in place, then chmod'ed
    try {
      Deno.removeSync(path); // a unix socket left by the server that stopped: ours (we listen on it)
    } catch { /* not there */ }
    const srv = Deno.serve(opts, handler);
    if (mode) setMode(srv, path, mode, log);
    return srv;
  }
  const tmp = join(dir, "s");
  try {
    const srv = Deno.serve({ ...opts, path: tmp }, handler);
    setMode(srv, tmp, mode!, log);
    try {
      Deno.renameSync(tmp, path);
    } catch (err) {
      stopNow(srv, log);
      throw err;
    }
    return srv;
  } finally {
    try {
      Deno.removeSync(tmp); // not renamed: the listen failed
    } catch { /* renamed, or never bound */ }
    try {
      Deno.removeSync(dir);
    } catch (err) {
      log.warn(`cannot remove ${dir}, where ${path} was bound: ${(err as Error).message}`);
    }
  }
}

/**
 * A new directory only the agent's user may enter (`.kunai-` and 6 random hex digits), beside `path`,
 * or null when a socket in it would not fit bind(2)'s path (the socket is then bound in place).
 */
function privateDirBeside(path: string): string | null {
  const parent = dirname(path);
  const hex = () =>
    Array.from(crypto.getRandomValues(new Uint8Array(3)), (b) => b.toString(16).padStart(2, "0")).join("");
  if (new TextEncoder().encode(join(parent, ".kunai-000000", "s")).length > SUN_PATH_MAX) return null;
  for (let tries = 0;; tries++) {
    const dir = join(parent, `.kunai-${hex()}`);
    try {
      Deno.mkdirSync(dir, { mode: 0o700 }); // a symlink or anything else already there: AlreadyExists
      Deno.chmodSync(dir, 0o700); // a umask of 0700 would have left it closed to us too
      return dir;
    } catch (err) {
      if (!(err instanceof Deno.errors.AlreadyExists) || tries >= 8) throw err;
    }
  }
}

/** The name of a directory made by `privateDirBeside`. */
const PRIVATE_DIR = /^\.kunai-[0-9a-f]{6}$/;

/** A private directory changed more recently may be another server's, binding right now. */
export const LEFTOVER_MIN_AGE_MS = 10_000;

/**
 * Removes the private directories beside `path` that a server killed while binding left behind
 * (`serveUnix` removes its own at once, but not after a kill -9 in between): each is removed only
 * when named as `privateDirBeside` names them, a real directory of the agent's user, unchanged
 * for `LEFTOVER_MIN_AGE_MS`, and holding nothing but (at most) the socket `s` that nobody listens
 * on. Anything else is left alone, with a warning; a failure is a warning too, never thrown.
 * Each removal is logged. Call it at start, before serving on `path`. Returns how many went.
 */
export async function removeLeftoverDirs(path: string, log: Logger): Promise<number> {
  const parent = dirname(path);
  let names: string[];
  try {
    names = [...Deno.readDirSync(parent)].map((e) => e.name).filter((n) => PRIVATE_DIR.test(n));
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) {
      log.warn(`cannot look for leftover socket directories in ${parent}: ${(err as Error).message}`);
    }
    return 0;
  }
  let removed = 0;
  for (const name of names) {
    const dir = join(parent, name);
    try {
      const why = await leftoverRefusal(dir);
      if (why === "young") {
        log.debug(`left ${dir} for a later start: changed less than ${LEFTOVER_MIN_AGE_MS / 1000} s ago`);
        continue;
      }
      if (why) {
        log.warn(`left ${dir} alone (it looks like a leftover socket directory, but ${why})`);
        continue;
      }
      try {
        Deno.removeSync(join(dir, "s"));
      } catch (err) {
        if (!(err instanceof Deno.errors.NotFound)) throw err;
      }
      Deno.removeSync(dir); // not recursive: anything that appeared since stays, and so does the dir
      removed++;
      log.info(`removed ${dir}, a socket directory left by a server killed while binding ${path}`);
    } catch (err) {
      log.warn(`cannot remove the leftover socket directory ${dir}: ${(err as Error).message}`);
    }
  }
  return removed;
}

/** Why the private directory `dir` is not a dead leftover ("young": maybe being used now), or null. */
async function leftoverRefusal(dir: string): Promise<string | null> {
  const st = Deno.lstatSync(dir);
  if (!st.isDirectory) return "it is not a directory";
  if (st.uid !== Deno.uid()) return `it belongs to uid ${st.uid}`;
  if (st.mtime && Date.now() - st.mtime.getTime() < LEFTOVER_MIN_AGE_MS) return "young";
  const entries = [...Deno.readDirSync(dir)].map((e) => e.name);
  if (entries.length === 0) return null;
  if (entries.length > 1 || entries[0] !== "s") {
    const some = entries.sort().slice(0, 3).join(", ");
    return `it holds ${some}${entries.length > 3 ? ` and ${entries.length - 3} more` : ""}`;
  }
  const sock = join(dir, "s");
  const s = Deno.lstatSync(sock);
  if (!s.isSocket || s.uid !== Deno.uid()) return `its ${sock} is not a socket of the agent's user`;
  try {
    (await Deno.connect({ transport: "unix", path: sock })).close();
    return `a server is listening on ${sock}`;
  } catch (err) {
    if (err instanceof Deno.errors.ConnectionRefused || err instanceof Deno.errors.NotFound) return null;
    return `connecting to ${sock} failed: ${(err as Error).message}`;
  }
}

/** chmod of a socket just bound; a refusal is told, or stops the server and throws. */
function setMode(srv: Deno.HttpServer, path: string, mode: SocketMode, log: Logger): void {
  try {
    Deno.chmodSync(path, mode.bits);
  } catch (err) {
    if (mode.onChmodError) return mode.onChmodError(err as Error);
    stopNow(srv, log);
    throw err;
  }
}

function stopNow(srv: Deno.HttpServer, log: Logger): void {
  srv.shutdown().catch((err) =>
    log.warn(`stopping a server that failed to start: ${(err as Error).message}`)
  );
}
