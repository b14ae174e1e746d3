/**
 * Deno.serve that outlives a failed accept. Deno ends a server whose accept fails (EMFILE: the
 * process is out of file descriptors) and rejects its `finished`; unheard, that rejection ends the
 * process. A `LastingServer` says so (once, then once a minute: FailureNote), listens again a
 * second later on the same address (again each second while that fails), and says when it answers
 * again.
 *
 * ```ts
 * const srv = LastingServer.start({ path: sock, onListen: () => {} }, handler, log, "HTTP API on unix:" + sock);
 * await srv.shutdown();
 * ```
 */
import { FailureNote } from "../log/failure.ts";
import type { Logger } from "../log/mod.ts";

/** Delay before listening again after the server stopped (ms). */
export const RELISTEN_MS = 1000;

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
    /** Runs after each listen (a unix socket's mode). */
    private after: () => void,
    log: Logger,
    what: string,
  ) {
    this.#note = new FailureNote(log, what, 60_000, Date.now, 2_000);
  }

  /** Listens (errors such as AddrInUse are thrown, as by Deno.serve). */
  static start(opts: Options, handler: Handler, log: Logger, what: string, after = () => {}): LastingServer {
    const s = new LastingServer(opts, handler, after, log, what);
    s.#listen();
    return s;
  }

  /** The address listened on (TCP: the port chosen for port 0). */
  get addr(): Deno.Addr | null {
    return this.#srv?.addr ?? null;
  }

  #listen(): void {
    if ("path" in this.opts && this.opts.path) {
      // a unix socket left by the server that stopped: ours (we listen on it)
      try {
        Deno.removeSync(this.opts.path);
      } catch { /* not there */ }
    }
    const handler: Handler = (req, info) => {
      // said once it answers again (2 s after the last failure), not at each new listen
      if (this.#note.failing) this.#note.ok();
      return this.handler(req, info);
    };
    const srv = Deno.serve(this.opts as Deno.ServeUnixOptions, handler as Deno.ServeHandler<Deno.UnixAddr>);
    this.#srv = srv;
    this.after();
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
