/**
 * The real transport: UDP datagrams on `port` (Deno.listenDatagram, one reused receive buffer)
 * and push-pull as an HTTP POST (http_post.ts: one request per socket, no `fetch` client) to the
 * peer's `/gossip/push-pull` on the same port number, where the agent's HTTP API listens. Inbound
 * push-pull is served by the gossip peer route on the HTTP API itself (it opens the envelope and
 * calls gossip directly), never through this transport.
 */
import {
  type PacketHandler,
  type PeerAddr,
  type RequestHandler,
  type Transport,
  TransportError,
} from "./types.ts";
import { httpPost, type PostAnswer } from "./http_post.ts";
import { explainDrop } from "./envelope.ts";
import { hostPort } from "../host_port.ts";

/** Largest UDP payload we accept (IPv4 limit). */
export const MAX_DATAGRAM = 65507;
/** Path of the push-pull stream on the HTTP API. */
export const PUSH_PULL_PATH = "/gossip/push-pull";

export interface UdpTransportOptions {
  bind: string;
  port: number;
  /** Address advertised to peers. */
  advertise: string;
  /** Largest push-pull answer accepted. */
  maxResponseBytes?: number;
  /**
   * Also receive datagrams sent to this broadcast address on `port` (a second socket, shared with
   * other agents of the host): what `kunai agent detect` sends when `bind` is one address.
   */
  listenBroadcast?: string;
  /** Called on socket errors and handler failures (counted by the owner). */
  onError?: (where: string, err: unknown) => void;
}

export class UdpTransport implements Transport {
  readonly local: PeerAddr;
  #opts: UdpTransportOptions;
  #conn: Deno.DatagramConn | null = null;
  #broadcast: Deno.DatagramConn | null = null;
  #onPacket: PacketHandler = () => {};
  #loop: Promise<void> | null = null;
  #broadcastLoop: Promise<void> | null = null;
  #closed = false;

  constructor(opts: UdpTransportOptions) {
    this.#opts = opts;
    this.local = { addr: opts.advertise, port: opts.port };
  }

  onPacket(handler: PacketHandler): void {
    this.#onPacket = handler;
  }

  /** Inbound streams arrive on the HTTP peer route, not here: the handler is not used. */
  onRequest(_handler: RequestHandler): void {}

  /** Binds the UDP socket (throws if the port is taken) and starts the receive loop. */
  // deno-lint-ignore require-await
  async start(): Promise<void> {
    try {
      this.#conn = Deno.listenDatagram({
        transport: "udp",
        hostname: this.#opts.bind,
        port: this.#opts.port,
      });
    } catch (err) {
      const why = err instanceof Deno.errors.AddrInUse ? "address already in use" : (err as Error).message;
      throw new Error(
        `cannot listen for gossip on udp ${hostPort(this.#opts.bind, this.#opts.port)}: ${why}`,
      );
    }
    const a = this.#conn.addr as Deno.NetAddr;
    if (this.local.port === 0) (this.local as { port: number }).port = a.port;
    const bc = this.#opts.listenBroadcast;
    if (bc) {
      try {
        // reuseAddress: every agent of the host receives each broadcast
        this.#broadcast = Deno.listenDatagram({
          transport: "udp",
          hostname: bc,
          port: a.port,
          reuseAddress: true,
        });
      } catch (err) {
        this.#conn.close();
        this.#conn = null;
        throw new Error(
          `cannot listen for detection broadcasts on udp ${bc}:${a.port}: ${(err as Error).message}`,
        );
      }
    }
    this.#loop = this.#receiveLoop(this.#conn);
    if (this.#broadcast) this.#broadcastLoop = this.#receiveLoop(this.#broadcast);
  }

  /** The actual bound UDP port (useful with port 0 in tests). */
  get boundPort(): number {
    return (this.#conn?.addr as Deno.NetAddr | undefined)?.port ?? 0;
  }

  async #receiveLoop(conn: Deno.DatagramConn): Promise<void> {
    const buf = new Uint8Array(MAX_DATAGRAM);
    while (!this.#closed) {
      let data: Uint8Array;
      let from: Deno.NetAddr;
      try {
        const [d, addr] = await conn.receive(buf);
        data = d.slice();
        from = addr as Deno.NetAddr;
      } catch (err) {
        if (this.#closed) return;
        this.#opts.onError?.("receive", err);
        // a transient socket error (e.g. ICMP unreachable surfaced on Linux): keep going, but yield
        await new Promise((r) => setTimeout(r, 5));
        continue;
      }
      try {
        this.#onPacket(data, { addr: from.hostname, port: from.port });
      } catch (err) {
        this.#opts.onError?.("handler", err);
      }
    }
  }

  sendPacket(to: PeerAddr, data: Uint8Array): void {
    const conn = this.#conn;
    if (!conn || this.#closed) return;
    conn.send(data, { transport: "udp", hostname: to.addr, port: to.port }).catch((err) =>
      this.#opts.onError?.("send", err)
    );
  }

  async request(to: PeerAddr, data: Uint8Array, timeoutMs: number): Promise<Uint8Array> {
    const maxBytes = this.#opts.maxResponseBytes ?? 16 * 1024 * 1024;
    let answer: PostAnswer;
    try {
      answer = await httpPost(to.addr, to.port, PUSH_PULL_PATH, data, { timeoutMs, maxBytes });
    } catch (err) {
      throw new TransportError(to, (err as Error).message);
    }
    if (answer.status < 200 || answer.status > 299) {
      throw new TransportError(to, `HTTP ${answer.status}${refusalText(answer.body)}`);
    }
    return answer.body;
  }

  /** A TCP connect to the peer's API port (the one push-pull uses); ConnectionRefused = nothing listens. */
  async refused(to: PeerAddr, timeoutMs: number): Promise<boolean> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<"timeout">((r) => timer = setTimeout(() => r("timeout"), timeoutMs));
    const connect = Deno.connect({ hostname: to.addr, port: to.port, transport: "tcp" });
    try {
      const conn = await Promise.race([connect, timeout]);
      if (conn === "timeout") {
        connect.then((c) => c.close(), () => {});
        return false;
      }
      conn.close();
      return false;
    } catch (err) {
      return err instanceof Deno.errors.ConnectionRefused;
    } finally {
      clearTimeout(timer);
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    for (const c of [this.#conn, this.#broadcast]) {
      try {
        c?.close();
      } catch { /* already closed */ }
    }
    this.#conn = this.#broadcast = null;
    await this.#loop?.catch(() => {});
    await this.#broadcastLoop?.catch(() => {});
  }
}

/**
 * What a peer's error answer says (`{"error": "..."}` of the routing layer), for the log and
 * `kunai join`: ": the peer refused our message: <why>" or ": <its error>", "" when it said nothing readable.
 */
function refusalText(body: Uint8Array): string {
  let error: unknown;
  try {
    error = (JSON.parse(new TextDecoder().decode(body.subarray(0, 4096))) as { error?: unknown }).error;
  } catch {
    return "";
  }
  if (typeof error !== "string") return "";
  const text = error.replace(/[^\x20-\x7e]+/g, " ").trim().slice(0, 200);
  const refused = /^peer message refused: (\w+)$/.exec(text);
  return refused ? `: the peer refused our message: ${explainDrop(refused[1])}` : text ? `: ${text}` : "";
}
