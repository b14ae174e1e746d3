/**
 * The sockets of the metric listeners: a UDP receive loop (`Deno.listenDatagram`, one reused
 * buffer, `receive(buf)`, then the datagrams already queued by `recvmmsg`: lib/udp_mmsg.ts) and a TCP
 * stream server (idle timeout, bounded connections in all and per client address) with a sink per
 * connection: lines (partial lines across reads, max line length), carbon's pickle frames
 * (lib/metrics/graphite_pickle.ts) or statsd's management console, which answers
 * (lib/metrics/statsd_mgmt.ts). They hand bytes, lines or frames to
 * a callback and never stop on bad input; socket errors are logged and counted by the caller's `onError`.
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

/** One connection, as its sink sees it. */
export interface StreamPeer {
  /** Writes all of `bytes` back; each piece the peer takes counts as progress for `idleTimeout`. */
  write(bytes: Uint8Array): Promise<void>;
  /** The client's address (what its share of a listener's resources is counted by). */
  readonly client: string;
}

/** What a TCP server does with one connection's bytes. */
export interface StreamSink {
  /**
   * Bytes read (a view of a reused buffer: copy what is kept, before any await); false closes the
   * connection. A promise (a sink that answers) holds the next read until it settles.
   */
  push(bytes: Uint8Array): boolean | Promise<boolean>;
  /**
   * The connection ended: `clean` when the peer closed it (else it was closed idle, at stop, by
   * an error, or after `push` refused it: a partial last line is not a line then). A promise (the
   * answer to a last line: the peer may still read) is awaited before the connection is closed.
   */
  end(clean: boolean): void | Promise<void>;
}

export interface TcpStreamOptions {
  hostname: string;
  port: number;
  /** Milliseconds without a read or a write's progress before a connection is closed. */
  idleTimeout: number;
  maxConnections: number;
  /** Connections one client address may hold (default `maxConnections`: no share of its own). */
  maxPerClient?: number;
  clock: Clock;
  /** A sink for each new connection. */
  sink: (peer: StreamPeer) => StreamSink;
  onError: (err: Error) => void;
}

export interface TcpLineOptions extends Omit<TcpStreamOptions, "sink"> {
  maxLine: number;
  onLine: (line: string) => void;
  onOverlong: () => void;
}

interface Connection {
  conn: Deno.TcpConn;
  client: string;
  /** When a read or a write last made progress. */
  lastActive: number;
}

/** A TCP server handing each connection's bytes to its own sink (idle timeout, bounded connections). */
export class TcpStreamServer {
  #listener: Deno.TcpListener;
  #conns = new Set<Connection>();
  #closed = false;
  #sweep: number;
  readonly #sweepEvery: number;
  #lastSweep: number;
  readonly done: Promise<void>;
  readonly port: number;
  /** Open connections per client address. */
  #perClient = new Map<string, number>();
  /** Connections refused (over `maxConnections` or `maxPerClient`: also `refusedPerClient`), closed idle. */
  refused = 0;
  refusedPerClient = 0;
  idleClosed = 0;

  constructor(readonly opts: TcpStreamOptions) {
    this.#listener = Deno.listen({ hostname: opts.hostname, port: opts.port, transport: "tcp" });
    this.port = (this.#listener.addr as Deno.NetAddr).port;
    this.#sweepEvery = Math.min(1000, opts.idleTimeout);
    this.#lastSweep = opts.clock.elapsed();
    this.#sweep = opts.clock.setInterval(() => this.#closeIdle(), this.#sweepEvery);
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
      const client = conn.remoteAddr.hostname;
      const held = this.#perClient.get(client) ?? 0;
      const perClient = this.opts.maxPerClient ?? this.opts.maxConnections;
      if (this.#conns.size >= this.opts.maxConnections || held >= perClient) {
        this.refused++;
        if (held >= perClient) this.refusedPerClient++;
        conn.close();
        continue;
      }
      this.#perClient.set(client, held + 1);
      const c: Connection = { conn, client, lastActive: this.opts.clock.elapsed() };
      this.#conns.add(c);
      this.#serve(c).finally(() => {
        this.#conns.delete(c);
        const left = (this.#perClient.get(client) ?? 1) - 1;
        if (left > 0) this.#perClient.set(client, left);
        else this.#perClient.delete(client);
      });
    }
  }

  async #serve(c: Connection): Promise<void> {
    const o = this.opts;
    const sink = o.sink({ write: (bytes) => this.#write(c, bytes), client: c.client });
    const buf = new Uint8Array(65_536);
    let ended = false;
    try {
      while (true) {
        const n = await c.conn.read(buf);
        if (n === null) {
          ended = true;
          await sink.end(true);
          break;
        }
        c.lastActive = o.clock.elapsed();
        const more = sink.push(buf.subarray(0, n));
        if (more !== true && (more === false || !await more)) break;
      }
    } catch (err) {
      if (
        !this.#closed && !(err instanceof Deno.errors.BadResource) &&
        !(err instanceof Deno.errors.ConnectionReset) && !(err instanceof Deno.errors.BrokenPipe) &&
        !(err instanceof Deno.errors.Interrupted) // a write the idle sweep cut short: closed, not failed
      ) {
        o.onError(err as Error);
      }
    } finally {
      if (!ended) sink.end(false);
      try {
        c.conn.close();
      } catch { /* closed by the idle sweep or stop */ }
    }
  }

  /** Writes in pieces of 64 KiB: a peer that stops reading makes no progress and is closed idle. */
  async #write(c: Connection, bytes: Uint8Array): Promise<void> {
    for (let off = 0; off < bytes.length;) {
      off += await c.conn.write(bytes.subarray(off, off + 65_536));
      c.lastActive = this.opts.clock.elapsed();
    }
  }

  #closeIdle(): void {
    const now = this.opts.clock.elapsed();
    // a sweep far behind its period: this process was stalled (a host swapping, a stopped process),
    // not its clients, and what they sent meanwhile waits unread in the sockets: judged now, a sender
    // was cut and its buffered lines lost. The next sweep judges them, after those reads.
    const stalled = now - this.#lastSweep > 2 * this.#sweepEvery;
    this.#lastSweep = now;
    if (stalled) return;
    const limit = now - this.opts.idleTimeout;
    for (const c of this.#conns) {
      if (c.lastActive < limit) {
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

/** Lines over TCP (partial lines across reads, `maxLine`): Graphite plaintext and statsd. */
export class TcpLineServer extends TcpStreamServer {
  constructor(opts: TcpLineOptions) {
    super({
      ...opts,
      sink: () => {
        const split = new LineSplitter(opts.maxLine, opts.onLine, opts.onOverlong);
        return {
          push: (b) => (split.push(b), true),
          end: (clean) => {
            if (clean) split.end();
          },
        };
      },
    });
  }
}
