/**
 * The sockets of the metric listeners: a UDP receive loop (`Deno.listenDatagram`, one reused
 * buffer, `receive(buf)`, then the datagrams already queued by `recvmmsg`: lib/udp_mmsg.ts) and a TCP line server (partial lines across reads, max line length,
 * idle timeout, bounded connections). Both hand bytes or lines to a callback and never stop on
 * bad input; socket errors are logged and counted by the caller's `onError`.
 */
import type { Clock } from "../clock/mod.ts";
import { LineSplitter } from "./graphite_parse.ts";
import { UdpBatch } from "../udp_mmsg.ts";

/** Largest UDP datagram. */
const DATAGRAM_MAX = 65_536;

/** A UDP socket whose datagrams go to `onPacket` (a view: read it before returning). */
export class UdpListener {
  #conn: Deno.DatagramConn;
  #closed = false;
  readonly done: Promise<void>;
  readonly port: number;

  /** Binds now (throws if the port is taken) and starts receiving. */
  constructor(
    hostname: string,
    port: number,
    onPacket: (bytes: Uint8Array) => void,
    onError: (err: Error) => void,
  ) {
    this.#conn = Deno.listenDatagram({ hostname, port, transport: "udp" });
    this.port = (this.#conn.addr as Deno.NetAddr).port;
    this.done = this.#loop(onPacket, onError);
  }

  async #loop(onPacket: (bytes: Uint8Array) => void, onError: (err: Error) => void): Promise<void> {
    const buf = new Uint8Array(DATAGRAM_MAX);
    // the datagrams queued while one is handled: one system call per 32 (64 KiB slots: none is cut)
    const batch = UdpBatch.open(this.#conn, 32, DATAGRAM_MAX);
    const take = (bytes: Uint8Array) => {
      try {
        onPacket(bytes);
      } catch (err) {
        onError(err as Error);
      }
    };
    while (!this.#closed) {
      let bytes: Uint8Array;
      try {
        [bytes] = await this.#conn.receive(buf);
      } catch (err) {
        if (this.#closed) return;
        onError(err as Error);
        await new Promise((r) => setTimeout(r, 10)); // never spin on a failing socket
        continue;
      }
      take(bytes);
      // bounded, so a flood still lets the rest of the agent run between rounds
      batch?.drain(8, () => this.#closed, (i) => take(batch.datagram(i)));
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#conn.close();
    } catch { /* already closed by the runtime */ }
    await this.done;
  }
}

export interface TcpLineOptions {
  hostname: string;
  port: number;
  maxLine: number;
  /** Milliseconds without data before a connection is closed. */
  idleTimeout: number;
  maxConnections: number;
  clock: Clock;
  onLine: (line: string) => void;
  onOverlong: () => void;
  onError: (err: Error) => void;
}

interface Connection {
  conn: Deno.TcpConn;
  lastRead: number;
}

export class TcpLineServer {
  #listener: Deno.TcpListener;
  #conns = new Set<Connection>();
  #closed = false;
  #sweep: number;
  readonly done: Promise<void>;
  readonly port: number;
  /** Connections refused over `maxConnections`, closed idle. */
  refused = 0;
  idleClosed = 0;

  constructor(readonly opts: TcpLineOptions) {
    this.#listener = Deno.listen({ hostname: opts.hostname, port: opts.port, transport: "tcp" });
    this.port = (this.#listener.addr as Deno.NetAddr).port;
    this.#sweep = opts.clock.setInterval(() => this.#closeIdle(), Math.min(1000, opts.idleTimeout));
    this.done = this.#accept();
  }

  get connections(): number {
    return this.#conns.size;
  }

  async #accept(): Promise<void> {
    while (!this.#closed) {
      let conn: Deno.TcpConn;
      try {
        conn = await this.#listener.accept();
      } catch (err) {
        if (this.#closed) return;
        this.opts.onError(err as Error);
        await new Promise((r) => setTimeout(r, 10));
        continue;
      }
      if (this.#conns.size >= this.opts.maxConnections) {
        this.refused++;
        conn.close();
        continue;
      }
      const c: Connection = { conn, lastRead: this.opts.clock.now() };
      this.#conns.add(c);
      this.#serve(c).finally(() => this.#conns.delete(c));
    }
  }

  async #serve(c: Connection): Promise<void> {
    const o = this.opts;
    const split = new LineSplitter(o.maxLine, o.onLine, o.onOverlong);
    const buf = new Uint8Array(65_536);
    try {
      while (true) {
        const n = await c.conn.read(buf);
        if (n === null) break;
        c.lastRead = o.clock.now();
        split.push(buf.subarray(0, n));
      }
      split.end();
    } catch (err) {
      if (
        !this.#closed && !(err instanceof Deno.errors.BadResource) &&
        !(err instanceof Deno.errors.ConnectionReset)
      ) {
        o.onError(err as Error);
      }
    } finally {
      try {
        c.conn.close();
      } catch { /* closed by the idle sweep or stop */ }
    }
  }

  #closeIdle(): void {
    const limit = this.opts.clock.now() - this.opts.idleTimeout;
    for (const c of this.#conns) {
      if (c.lastRead < limit) {
        this.idleClosed++;
        try {
          c.conn.close();
        } catch { /* already closed */ }
      }
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.opts.clock.clearInterval(this.#sweep);
    this.#listener.close();
    for (const c of this.#conns) {
      try {
        c.conn.close();
      } catch { /* already closed */ }
    }
    await this.done;
  }
}
