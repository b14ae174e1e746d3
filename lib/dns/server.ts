/**
 * The DNS listeners: one UDP socket (a receive loop over one reused buffer, `Deno.listenDatagram`)
 * and one TCP listener (RFC 1035 §4.2.2 two-byte length framing, several queries per connection,
 * idle timeout, capped connections). Both hand packets to a DnsHandler; names outside the domain
 * go to the recursors when the handler says so.
 */
import type { Logger } from "../log/mod.ts";
import type { DnsHandler, HandleResult } from "./handler.ts";
import { forwardQuery, type Upstream } from "./forward.ts";
import { MAX_QUERY_BYTES, type Query } from "./wire.ts";
import { UdpBatch } from "../udp_mmsg.ts";
import { hostPort } from "../host_port.ts";

export interface ServerOptions {
  hostname: string;
  port: number;
  handler: DnsHandler;
  recursors: Upstream[];
  /** A TCP client that sends no query, or reads no answer, this long is closed (default 10 s). */
  tcpIdleMs?: number;
  log: Logger;
  /** Socket-level failures (send errors, accept errors), by place. */
  onError: (where: string, err: unknown) => void;
  /** Forward results (ok, timeout, error). */
  onForward: (result: string) => void;
}

/** TCP connections served at once; more are closed at accept. */
const MAX_TCP_CONNS = 128;
/** TCP connections one client address may hold (a resolver pipelines on one or a few). */
export const MAX_TCP_PER_CLIENT = 16;
/** A TCP connection idle this long is closed (`dns.tcp_idle_timeout`). */
const TCP_IDLE_MS = 10_000;
const FORWARD_TIMEOUT_MS = 2000;
/** Forwards to the recursors in flight at most; more are answered SERVFAIL at once (counted `busy`). */
export const MAX_FORWARDS = 512;
/**
 * Batches of queued queries taken after one wake-up before the loop yields to the event loop
 * (64 queries each), so a flood cannot keep gossip, HTTP and the TCP listener waiting.
 */
const MAX_BATCH_ROUNDS = 8;
/**
 * Pauses after a failed receive (10 ms: as the metric listeners) or accept (100 ms: as the HTTP front):
 * a socket that fails at once each time (out of file descriptors) must not spin.
 */
const RECEIVE_PAUSE_MS = 10;
const ACCEPT_PAUSE_MS = 100;

export class DnsServer {
  #opts: ServerOptions;
  #udp: Deno.DatagramConn | null = null;
  #tcp: Deno.Listener | null = null;
  #conns = new Set<Deno.Conn>();
  /** Open TCP connections per client address (MAX_TCP_PER_CLIENT). */
  #perClient = new Map<string, number>();
  #closed = false;
  #loops: Promise<void>[] = [];
  /** True once the UDP loop takes queued queries in batches (recvmmsg/sendmmsg). */
  udpBatching = false;
  /** UDP queries taken in batches rather than by a receive each. */
  udpBatched = 0;

  constructor(opts: ServerOptions) {
    this.#opts = opts;
  }

  /** Binds both sockets (throws if either port is taken) and starts serving. */
  start(): void {
    const { hostname, port } = this.#opts;
    this.#udp = Deno.listenDatagram({ hostname, port, transport: "udp" });
    try {
      this.#tcp = Deno.listen({ hostname, port, transport: "tcp" });
    } catch (err) {
      this.#udp.close();
      this.#udp = null;
      throw err;
    }
    this.#loops.push(this.#udpLoop(this.#udp), this.#acceptLoop(this.#tcp));
  }

  async close(): Promise<void> {
    this.#closed = true;
    for (const s of [this.#udp, this.#tcp]) {
      try {
        s?.close();
      } catch { /* already closed */ }
    }
    for (const c of this.#conns) closeQuietly(c);
    await Promise.allSettled(this.#loops);
  }

  async #udpLoop(sock: Deno.DatagramConn): Promise<void> {
    const buf = new Uint8Array(65536);
    const batch = UdpBatch.open(sock);
    this.udpBatching = batch !== null;
    if (batch) batch.onSendError = (err) => this.#opts.onError("udp-send", err);
    while (!this.#closed) {
      let data: Uint8Array, addr: Deno.Addr;
      try {
        [data, addr] = await sock.receive(buf);
      } catch (err) {
        if (this.#closed) return;
        this.#opts.onError("udp-receive", err);
        await pause(RECEIVE_PAUSE_MS);
        continue;
      }
      this.#answerUdp(sock, data, addr);
      // the queries that arrived meanwhile: a few system calls for all of them, not an op each
      try {
        this.udpBatched += batch?.drain(MAX_BATCH_ROUNDS, () => this.#closed, (i) => {
          let r: HandleResult;
          try {
            r = this.#opts.handler.handle(batch.datagram(i), "udp");
          } catch (err) {
            return this.#opts.onError("udp-handle", err);
          }
          if (r.kind === "reply") batch.reply(i, r.bytes, sock);
          else if (r.kind === "forward") {
            const from = batch.sender(i);
            if (from) this.#forwardUdp(sock, { ...r.query, raw: batch.datagram(i).slice() }, from);
          }
        }, () => batch.flush(sock)) ?? 0;
      } catch (err) {
        if (this.#closed) return;
        this.#opts.onError("udp-receive", err);
        await pause(RECEIVE_PAUSE_MS);
      }
    }
  }

  /** Answers one datagram received by the DatagramConn (a query that makes the handler throw: none). */
  #answerUdp(sock: Deno.DatagramConn, data: Uint8Array, addr: Deno.Addr): void {
    let r: HandleResult;
    try {
      r = this.#opts.handler.handle(data, "udp");
    } catch (err) {
      return this.#opts.onError("udp-handle", err);
    }
    if (r.kind === "reply") {
      sock.send(r.bytes, addr).catch((err) => this.#opts.onError("udp-send", err));
    } else if (r.kind === "forward") {
      this.#forwardUdp(sock, { ...r.query, raw: data.slice() }, addr);
    }
  }

  #forwardUdp(sock: Deno.DatagramConn, q: Query, addr: Deno.Addr): void {
    this.#forward(q, "udp").then((bytes) => sock.send(bytes, addr))
      .catch((err) => this.#opts.onError("udp-send", err));
  }

  /** Forwards in flight: each holds a socket up to FORWARD_TIMEOUT_MS per recursor. */
  #forwarding = 0;

  async #forward(q: Query, proto: "udp" | "tcp"): Promise<Uint8Array> {
    // a flood of outside names (spoofed sources, a recursor gone quiet) must not take every socket
    if (this.#forwarding >= MAX_FORWARDS) {
      this.#opts.onForward("busy");
      return this.#opts.handler.servfail(q, proto);
    }
    this.#forwarding++;
    try {
      return await this.#forwardNow(q, proto);
    } finally {
      this.#forwarding--;
    }
  }

  async #forwardNow(q: Query, proto: "udp" | "tcp"): Promise<Uint8Array> {
    for (const up of this.#opts.recursors) {
      try {
        const bytes = await forwardQuery(up, q.raw, proto, FORWARD_TIMEOUT_MS);
        if (bytes) {
          this.#opts.onForward("ok");
          return bytes;
        }
        this.#opts.onForward("timeout");
      } catch (err) {
        this.#opts.onForward("error");
        this.#opts.log.debug(
          `forward to ${hostPort(up.hostname, up.port)} failed: ${(err as Error).message}`,
        );
      }
    }
    return this.#opts.handler.servfail(q, proto);
  }

  async #acceptLoop(listener: Deno.Listener): Promise<void> {
    while (!this.#closed) {
      let conn: Deno.Conn;
      try {
        conn = await listener.accept();
      } catch (err) {
        if (this.#closed) return;
        this.#opts.onError("tcp-accept", err);
        await pause(ACCEPT_PAUSE_MS);
        continue;
      }
      if (this.#conns.size >= MAX_TCP_CONNS) {
        this.#opts.onError("tcp-too-many", new Error("too many connections"));
        closeQuietly(conn);
        continue;
      }
      // one client must not take every slot
      const from = (conn.remoteAddr as Deno.NetAddr).hostname;
      const held = this.#perClient.get(from) ?? 0;
      if (held >= MAX_TCP_PER_CLIENT) {
        this.#opts.onError("tcp-per-client", new Error(`${from} holds ${held} connections`));
        closeQuietly(conn);
        continue;
      }
      this.#perClient.set(from, held + 1);
      this.#conns.add(conn);
      this.#serveConn(conn)
        .catch((err) => this.#opts.onError("tcp-conn", err))
        .finally(() => {
          this.#conns.delete(conn);
          const left = (this.#perClient.get(from) ?? 1) - 1;
          if (left > 0) this.#perClient.set(from, left);
          else this.#perClient.delete(from);
          closeQuietly(conn);
        });
    }
  }

  /**
   * Reads framed queries until EOF, idle timeout, or a frame over the query cap. A query begun must
   * be whole within the idle timeout of its first byte (a byte every 9 s no longer holds the
   * connection: the deadline is not reset by each read).
   */
  async #serveConn(conn: Deno.Conn): Promise<void> {
    let pending: Uint8Array = new Uint8Array(0);
    const chunk = new Uint8Array(4096);
    const idleMs = this.#opts.tcpIdleMs ?? TCP_IDLE_MS;
    let due = 0; // when the query begun must be whole (0: none begun)
    while (!this.#closed) {
      const n = await readWithTimeout(conn, chunk, due ? due - performance.now() : idleMs);
      if (n === null) {
        if (due) this.#opts.handler.countDrop("tcp-slow");
        return;
      }
      if (!pending.length) due = performance.now() + idleMs;
      pending = concat(pending, chunk.subarray(0, n));
      while (pending.length >= 2) {
        const len = (pending[0] << 8) | pending[1];
        if (len > MAX_QUERY_BYTES || len < 12) {
          this.#opts.handler.countDrop(len < 12 ? "tcp-short" : "tcp-oversized");
          return;
        }
        if (pending.length < 2 + len) break;
        const packet = pending.slice(2, 2 + len);
        pending = pending.slice(2 + len);
        // the next query, already begun, is due within the timeout from now
        due = pending.length ? performance.now() + idleMs : 0;
        const r = this.#opts.handler.handle(packet, "tcp");
        let bytes: Uint8Array | null = null;
        if (r.kind === "reply") bytes = r.bytes;
        else if (r.kind === "forward") bytes = await this.#forward(r.query, "tcp");
        if (!bytes) continue;
        const framed = new Uint8Array(bytes.length + 2);
        framed[0] = bytes.length >> 8;
        framed[1] = bytes.length & 0xff;
        framed.set(bytes, 2);
        // a client that pipelines queries and reads no answer is closed, not served forever
        if (!await writeWithTimeout(conn, framed, idleMs)) {
          this.#opts.handler.countDrop("tcp-unread");
          return;
        }
      }
    }
  }
}

async function readWithTimeout(conn: Deno.Conn, buf: Uint8Array, ms: number): Promise<number | null> {
  if (ms <= 0) return null;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<null>((resolve) => {
    timer = setTimeout(() => {
      closeQuietly(conn);
      resolve(null);
    }, ms);
  });
  try {
    return await Promise.race([conn.read(buf), timeout]);
  } catch (err) {
    if (err instanceof Deno.errors.BadResource || err instanceof Deno.errors.ConnectionReset) return null;
    throw err;
  } finally {
    clearTimeout(timer);
  }
}

/** Writes `data` whole; false (the connection closed) when no part of it went out for `ms`. */
async function writeWithTimeout(conn: Deno.Conn, data: Uint8Array, ms: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let stalled = false;
  const arm = () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      stalled = true;
      closeQuietly(conn);
    }, ms);
  };
  try {
    for (let off = 0; off < data.length;) {
      arm();
      off += await conn.write(data.subarray(off));
    }
    return true;
  } catch (err) {
    if (stalled || err instanceof Deno.errors.BadResource) return false;
    throw err;
  } finally {
    clearTimeout(timer);
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (!a.length) return b.slice();
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function closeQuietly(c: { close(): void }): void {
  try {
    c.close();
  } catch { /* already closed: nothing to release */ }
}
