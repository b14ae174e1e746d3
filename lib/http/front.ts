/**
 * The TCP front of the HTTP API: accepts TCP connections and forwards their bytes to a private
 * Deno.serve on a unix socket, watching each connection's request phases so that slow and idle
 * clients are closed (Deno.serve has no header or idle timeout: 200 clients sending one byte every
 * few seconds would hold 200 connections forever).
 *
 * Per connection: `idle` (no request in flight) → first client byte → `head` (the request line and
 * headers must end within `headerTimeoutMs`) → `body` (a declared body must arrive within the same
 * deadline counted again from the end of the headers) → `wait` (the app is working, no deadline: a
 * blocking read may take minutes) → first response byte → `idle` (closed after `idleTimeoutMs` with
 * no byte either way). A `101 Switching Protocols` answer turns the connection into a `tunnel`: the
 * private server's (the UI feed) is dropped after `tunnelSilenceMs` without a byte from the client (its
 * pings go unanswered); a socket the front speaks itself must send its first message within
 * `headerTimeoutMs` (a peer's follows its upgrade at once), finish any message it begins within the
 * same deadline, and read its answers (nothing written for `idleTimeoutMs`: dropped); it may stay
 * idle (a peer keeps its socket between calls). Above `maxConnections` open connections, new ones are
 * closed at once (counted).
 *
 * With `fast` (fast.ts), a plain request of a route that has a fast handler, arriving whole in one
 * read on a connection that never sent anything to the private server, is answered here instead;
 * so is the WebSocket upgrade of a socket route (ws_front.ts: the front then speaks the socket
 * itself, and the connection's upstream is closed).
 */
import { join } from "node:path";
import { ChunkedBody } from "./chunked.ts";
import type { Logger } from "../log/mod.ts";
import { FailureNote } from "../log/failure.ts";
import type { Counters } from "../counters.ts";
import { type FastDispatch, type FastUpgrade, isUpgrade } from "./fast.ts";
import { WsFrontConn } from "./ws_front.ts";
import { removeLeftoverDirs } from "./serve.ts";

export interface TcpFrontOptions {
  hostname: string;
  port: number;
  headerTimeoutMs: number;
  idleTimeoutMs: number;
  /**
   * Where the private server listens (a unix socket only we use); its owner guarantees nobody
   * else uses it (the agent's data dir, under its lock). Default: a fresh temp dir.
   */
  privateSocket?: string;
  /** Open connections kept at most (each costs three file descriptors). */
  maxConnections?: number;
  /**
   * Open connections one client address may hold (default 256; 0: no limit), so that one client
   * cannot take every connection, peer routes included (Consul's `http_max_conns_per_client`).
   */
  maxPerClient?: number;
  log: Logger;
  counters: Counters;
  /** Starts the private server on this unix socket path. */
  serve: (path: string) => { shutdown(): Promise<void> };
  /** Answers plain requests of fast routes itself (fast.ts); null: always the private server. */
  fast?: FastDispatch | null;
  /**
   * A websocket of the private server (the UI's feed) whose client sent no byte for this long is
   * dropped (default 60 s: the feed pings every 15 s, and a live client answers each).
   */
  tunnelSilenceMs?: number;
}

/** Longest request head kept while looking for its end; larger heads are refused. */
const MAX_HEAD_BYTES = 64 * 1024;
const CHUNK = 64 * 1024;
/** Answer bytes a socket spoken here may queue for a client before the front stops reading it. */
const WS_BACKLOG = 8 * 1024 * 1024;
/** One character per byte, so string offsets are byte offsets. */
const LATIN1 = new TextDecoder("latin1");

type Phase = "idle" | "head" | "body" | "wait" | "tunnel";

interface Conn {
  client: Deno.Conn;
  upstream: Deno.Conn;
  phase: Phase;
  /** When the current phase started (deadlines of head and body). */
  since: number;
  /** Last byte either way (idle deadline). */
  last: number;
  /** Last byte from the client (a tunnel's deadline). */
  heard: number;
  /** The head read so far (latin1), to find its end and its body framing. */
  head: string;
  /** Body bytes still expected (content-length), or -1 for chunked. */
  bodyLeft: number;
  /** A chunked body's framing, followed to see its end (null: not chunked). */
  chunked: ChunkedBody | null;
  closed: boolean;
  /**
   * Requests may still be answered by the fast path: nothing was forwarded to the private server
   * yet, so no answer of it can still be on its way (after one forwarded request, all go there).
   */
  fast: boolean;
  /** The socket this front speaks itself on this connection (its upstream then closed), or null. */
  ws: WsFrontConn | null;
  /** An answer of `ws` is being written, and when the write last made progress (or began). */
  writing: boolean;
  wrote: number;
}

export class TcpFront {
  readonly #conns = new Set<Conn>();
  /** Open connections per client address (`maxPerClient`). */
  readonly #perClient = new Map<string, number>();
  #perClientSaidAt = -Infinity;
  #closing = false;
  /** The deadline sweep: runs only while connections are open (an idle agent has none to sweep). */
  #timer: ReturnType<typeof setInterval> | null = null;
  readonly #tick: number;

  /** Out of file descriptors, every accept and connect fails: said once a minute, not each time. */
  #acceptNote: FailureNote;
  #upstreamNote: FailureNote;

  private constructor(
    readonly addr: Deno.NetAddr,
    private readonly listener: Deno.Listener,
    private readonly server: { shutdown(): Promise<void> },
    /** Removed at close: the private socket, or the temp dir holding it. */
    private readonly cleanup: string,
    private readonly path: string,
    private readonly opts: TcpFrontOptions,
  ) {
    this.#acceptNote = new FailureNote(
      opts.log,
      "the HTTP front accepting connections",
      60_000,
      Date.now,
      2_000,
    );
    this.#upstreamNote = new FailureNote(
      opts.log,
      "the HTTP front reaching the API server",
      60_000,
      Date.now,
      2_000,
    );
    this.#tick = Math.max(100, Math.min(1000, Math.min(opts.headerTimeoutMs, opts.idleTimeoutMs) / 4));
    void this.#accept();
  }

  /**
   * Listens on `hostname:port` (AddrInUse propagates) and starts the private server, first removing
   * what a killed agent left beside its private socket (`removeLeftoverDirs`).
   */
  static async start(opts: TcpFrontOptions): Promise<TcpFront> {
    if (opts.privateSocket) await removeLeftoverDirs(opts.privateSocket, opts.log);
    const listener = Deno.listen({ hostname: opts.hostname, port: opts.port });
    let path = opts.privateSocket;
    let cleanup = path ?? "";
    let server: { shutdown(): Promise<void> };
    try {
      if (path) removeIfPresent(path); // left by a killed agent: ours, since we hold the lock
      else {
        cleanup = Deno.makeTempDirSync({ prefix: "kunai-http-" });
        path = join(cleanup, "tcp.sock");
      }
      server = opts.serve(path); // it makes the socket 0600
    } catch (err) {
      listener.close();
      if (cleanup) removeIfPresent(cleanup);
      throw err;
    }
    return new TcpFront(listener.addr as Deno.NetAddr, listener, server, cleanup, path, opts);
  }

  /** Open client connections. */
  get connections(): number {
    return this.#conns.size;
  }

  /** True while the deadline sweep is scheduled (only with connections open). */
  get sweeping(): boolean {
    return this.#timer !== null;
  }

  async close(): Promise<void> {
    this.#closing = true;
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
    try {
      this.listener.close();
    } catch { /* already closed */ }
    for (const c of this.#conns) this.#drop(c, "");
    // the socket file goes first: a shutdown held up by a long request must not leave it behind
    removeIfPresent(this.cleanup);
    await this.server.shutdown();
  }

  async #accept(): Promise<void> {
    const max = this.opts.maxConnections ?? 4096;
    const perClient = this.opts.maxPerClient ?? 256;
    while (!this.#closing) {
      let client: Deno.Conn;
      try {
        client = await this.listener.accept();
      } catch (err) {
        if (this.#closing || err instanceof Deno.errors.BadResource) return;
        // e.g. out of file descriptors: say so (once a minute), breathe, keep serving
        this.#acceptNote.fail(err as Error);
        this.opts.counters.inc("http_front_errors_total", { where: "accept" });
        await new Promise((r) => setTimeout(r, 100));
        continue;
      }
      this.#acceptNote.ok();
      // small answers and pipelined frames (peer websockets) must not wait for Nagle's delayed ACK
      (client as Deno.TcpConn).setNoDelay?.(true);
      // a socket with no deadline (a peer's KV stream, a feed) whose host vanished without a reset is
      // found by the kernel's keepalive probes (~2 h on Linux's defaults) instead of never
      (client as Deno.TcpConn).setKeepAlive?.(true);
      if (this.#conns.size >= max) {
        this.opts.counters.inc("http_connections_dropped_total", { reason: "too_many" });
        client.close();
        continue;
      }
      const from = (client.remoteAddr as Deno.NetAddr).hostname;
      const held = this.#perClient.get(from) ?? 0;
      if (perClient > 0 && held >= perClient) {
        this.opts.counters.inc("http_connections_dropped_total", { reason: "per_client" });
        this.#perClientNote(from, perClient);
        client.close();
        continue;
      }
      this.#perClient.set(from, held + 1);
      void this.#serve(client, from);
    }
  }

  async #serve(client: Deno.Conn, from: string): Promise<void> {
    try {
      await this.#serveConn(client);
    } finally {
      const left = (this.#perClient.get(from) ?? 1) - 1;
      if (left > 0) this.#perClient.set(from, left);
      else this.#perClient.delete(from);
    }
  }

  /** Says once a minute that a client address reached its share of connections. */
  #perClientNote(from: string, limit: number): void {
    const now = performance.now();
    if (now - this.#perClientSaidAt < 60_000) return;
    this.#perClientSaidAt = now;
    this.opts.log.warn(
      `HTTP: ${from} holds ${limit} connections (http.max_conns_per_client): its next ones are closed at once`,
    );
  }

  async #serveConn(client: Deno.Conn): Promise<void> {
    let upstream: Deno.Conn;
    try {
      upstream = await Deno.connect({ transport: "unix", path: this.path });
    } catch (err) {
      this.#upstreamNote.fail(err as Error);
      this.opts.counters.inc("http_front_errors_total", { where: "upstream" });
      client.close();
      return;
    }
    this.#upstreamNote.ok();
    const now = performance.now();
    const c: Conn = {
      client,
      upstream,
      phase: "idle",
      since: now,
      last: now,
      heard: now,
      head: "",
      bodyLeft: 0,
      chunked: null,
      closed: false,
      fast: !!this.opts.fast,
      ws: null,
      writing: false,
      wrote: now,
    };
    this.#conns.add(c);
    if (this.#timer === null && !this.#closing) this.#timer = setInterval(() => this.#sweep(), this.#tick);
    this.opts.counters.inc("http_connections_total");
    await Promise.all([
      this.#pump(c, client, upstream, (b) => this.#fromClient(c, b), (b) => this.#fast(c, b)),
      this.#pump(c, upstream, client, (b) => this.#fromServer(c, b)),
    ]);
    // a socket that is closing drops the connection itself once its close frame is written
    if (!c.ws?.ended) this.#drop(c, "");
  }

  /**
   * Copies `from` to `to` until EOF or error; `see` watches each chunk before it is forwarded;
   * `answer` (client side) may answer a chunk itself instead (the fast path).
   */
  async #pump(
    c: Conn,
    from: Deno.Conn,
    to: Deno.Conn,
    see: (b: Uint8Array) => boolean,
    answer?: (b: Uint8Array) => Promise<Uint8Array> | FastUpgrade | null,
  ): Promise<void> {
    const buf = new Uint8Array(CHUNK);
    try {
      while (!c.closed) {
        // a peer that does not read its answers is not read either: answers queue up to a bound;
        // nor one whose messages in flight are at their bound (SOCKET_MAX_INFLIGHT)
        while (c.ws && from === c.client && !c.ws.ended && !c.closed) {
          if (c.ws.backlog > WS_BACKLOG) await c.ws.drained();
          else if (c.ws.busy) await c.ws.ready();
          else break;
        }
        const n = await from.read(buf);
        if (n === null) break;
        const chunk = buf.subarray(0, n);
        if (c.ws) {
          c.last = performance.now();
          if (!c.ws.feed(chunk)) return; // closing: the socket drops the connection once its close frame is out
          continue;
        }
        const fast = answer?.(chunk);
        if (fast && isUpgrade(fast)) {
          const out = await fast.answer;
          await this.#toClient(c, out);
          if (c.closed) return;
          this.#upgrade(c, fast);
          continue;
        }
        if (fast) {
          // the client's next request stays unread until this answer is written: answers keep their order
          await this.#toClient(c, await fast);
          continue;
        }
        if (!see(chunk)) return;
        if (to === c.client) await this.#toClient(c, chunk);
        else for (let off = 0; off < n;) off += await to.write(chunk.subarray(off));
      }
      if (c.ws) return; // the upstream was closed by #upgrade; a client's EOF: dropped by #serve
      if (!c.closed) await to.closeWrite();
      if (from === c.upstream) {
        // the server is done with this connection (a websocket it closed, an answer with
        // "Connection: close"): a client that keeps it open is idle from now on, and dropped as such
        c.phase = "idle";
        c.last = performance.now();
      }
    } catch (err) {
      if (c.closed) return; // we closed it (deadline or shutdown)
      if (c.ws && from === c.upstream) return;
      // a client that resets its connection is ordinary; anything else is worth a line
      if (!(err instanceof Deno.errors.ConnectionReset || err instanceof Deno.errors.BrokenPipe)) {
        this.opts.log.debug(`HTTP front connection error: ${(err as Error).message}`);
      }
      this.opts.counters.inc("http_front_errors_total", { where: "io" });
      this.#drop(c, "");
    }
  }

  /**
   * Writes an answer to the client as the idle phase: a client that stops reading it is dropped
   * after `idleTimeoutMs` without progress (each part written counts as a byte), not held forever.
   */
  async #toClient(c: Conn, bytes: Uint8Array): Promise<void> {
    if (c.phase === "wait") c.phase = "idle"; // a fast answer (a forwarded one moved on in #fromServer)
    c.last = performance.now();
    for (let off = 0; off < bytes.length && !c.closed;) {
      off += await c.client.write(bytes.subarray(off));
      c.last = performance.now();
    }
  }

  /** From now on this connection is `up`'s socket, spoken here: no deadline, no upstream. */
  #upgrade(c: Conn, up: FastUpgrade): void {
    c.phase = "tunnel";
    c.since = c.last = performance.now(); // its first message is due within headerTimeoutMs (#sweep)
    c.ws = new WsFrontConn(
      up.route,
      up.envelope,
      async (bytes) => {
        c.writing = true;
        c.wrote = performance.now();
        try {
          for (let off = 0; off < bytes.length;) {
            off += await c.client.write(bytes.subarray(off));
            c.wrote = performance.now();
          }
        } finally {
          c.writing = false;
        }
        c.last = c.wrote;
      },
      () => this.#drop(c, ""),
    );
    try {
      c.upstream.close();
    } catch { /* already closed */ }
  }

  /** Tracks the request phases from the client's bytes; false when the connection was dropped. */
  #fromClient(c: Conn, bytes: Uint8Array): boolean {
    const now = performance.now();
    c.last = c.heard = now;
    if (c.phase === "tunnel") return true;
    if (c.phase === "idle" || c.phase === "wait") {
      c.phase = "head";
      c.since = now;
      c.head = "";
    }
    let rest = bytes.length; // bytes of this chunk after the head
    if (c.phase === "head") {
      const start = Math.max(0, c.head.length - 3);
      c.head += LATIN1.decode(bytes);
      const end = c.head.indexOf("\r\n\r\n", start);
      if (end < 0) {
        if (c.head.length > MAX_HEAD_BYTES) return this.#drop(c, "header_too_large");
        return true;
      }
      rest = c.head.length - (end + 4);
      const head = c.head.slice(0, end);
      c.head = "";
      c.since = now;
      c.chunked = null;
      if (/^transfer-encoding:.*chunked/im.test(head)) {
        c.bodyLeft = -1;
        c.chunked = new ChunkedBody();
      } else c.bodyLeft = Number(/^content-length:\s*(\d+)/im.exec(head)?.[1] ?? 0);
      c.phase = c.bodyLeft === 0 ? "wait" : "body";
    }
    if (c.phase === "body" && rest > 0) {
      if (c.bodyLeft > 0) {
        c.bodyLeft -= Math.min(c.bodyLeft, rest);
        if (c.bodyLeft === 0) c.phase = "wait";
      } else if (c.chunked) {
        // a malformed body is the server's to refuse (it answers at once): no longer timed here
        if (c.chunked.feed(bytes.subarray(bytes.length - rest)) !== "more") c.phase = "wait";
      }
    }
    return true;
  }

  /** Answers `bytes` on the fast path when it is one whole plain request of a fast route (else null). */
  #fast(c: Conn, bytes: Uint8Array): Promise<Uint8Array> | FastUpgrade | null {
    if (!c.fast || c.phase !== "idle") return null;
    const p = this.opts.fast!(bytes);
    if (!p) {
      c.fast = false; // forwarded from now on
      return null;
    }
    c.phase = "wait";
    c.last = performance.now();
    return p;
  }

  #fromServer(c: Conn, bytes: Uint8Array): boolean {
    c.last = performance.now();
    if (c.phase === "wait" || c.phase === "body") {
      // the start of an answer: "HTTP/1.1 101" hands the connection over to another protocol
      c.phase = bytes.length >= 12 && LATIN1.decode(bytes.subarray(9, 12)) === "101" ? "tunnel" : "idle";
    }
    return true;
  }

  #sweep(): void {
    const now = performance.now();
    for (const c of this.#conns) {
      if ((c.phase === "head" || c.phase === "body") && now - c.since > this.opts.headerTimeoutMs) {
        this.#drop(c, c.phase === "head" ? "header_timeout" : "body_timeout");
      } else if (c.phase === "idle" && now - c.last > this.opts.idleTimeoutMs) {
        this.#drop(c, "idle_timeout");
      } else if (c.ws && c.ws.messages === 0 && now - c.since > this.opts.headerTimeoutMs) {
        // an upgraded socket that sends no message (only pings, or nothing) holds a slot for nothing;
        // a peer's first message follows its upgrade at once, and one without the key is refused there
        this.#drop(c, "tunnel_timeout");
      } else if (c.ws && c.ws.startedAt >= 0 && now - c.ws.startedAt > this.opts.headerTimeoutMs) {
        // a message begun must end within the deadline of a request's body (the same messages go
        // over HTTP): a frame announcing 8 MB and sent a byte an hour held its slot forever
        this.#drop(c, "message_timeout");
      } else if (c.writing && now - c.wrote > this.opts.idleTimeoutMs) {
        // a client that does not read its answers: nothing written for the idle deadline (and the
        // front stopped reading it, its backlog full)
        this.#drop(c, "write_timeout");
      } else if (
        c.phase === "tunnel" && !c.ws && now - c.heard > (this.opts.tunnelSilenceMs ?? 60_000)
      ) {
        // a client that answers no ping (gone without a reset, or holding a slot on purpose)
        this.#drop(c, "tunnel_idle");
      }
    }
  }

  /** Closes both sides once; `reason` (when given) is counted. Returns false for `see`. */
  #drop(c: Conn, reason: string): false {
    if (c.closed) return false;
    c.closed = true;
    this.#conns.delete(c);
    if (this.#conns.size === 0 && this.#timer !== null) {
      clearInterval(this.#timer);
      this.#timer = null;
    }
    if (reason) this.opts.counters.inc("http_connections_dropped_total", { reason });
    c.ws?.abort();
    for (const s of [c.client, c.upstream]) {
      try {
        s.close();
      } catch { /* already closed by the other pump */ }
    }
    return false;
  }
}

function removeIfPresent(path: string): void {
  try {
    Deno.removeSync(path, { recursive: true });
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
}
