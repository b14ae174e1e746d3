/**
 * The network as gossip sees it: unreliable datagrams plus a reliable request/response stream
 * (push-pull). The real implementation is UDP + HTTP (udp.ts); the simulated one (sim.ts) runs
 * hundreds of nodes in one process on a virtual clock.
 */
import { isIPv6 } from "node:net";
import { hostPort } from "../host_port.ts";

/** Where a peer listens: datagrams and streams use the same address and port number. */
export interface PeerAddr {
  addr: string;
  port: number;
}

/** Called for every datagram received; must not throw (the transport guards it anyway). */
export type PacketHandler = (data: Uint8Array, from: PeerAddr) => void;

/** Serves one stream request (push-pull); the answer bytes go back to the caller. */
export type RequestHandler = (data: Uint8Array, from: PeerAddr) => Promise<Uint8Array>;

/** A request that got no usable answer (refused, timed out, partitioned, bad status). */
export class TransportError extends Error {
  constructor(readonly peer: PeerAddr, reason: string) {
    super(`request to ${hostPort(peer.addr, peer.port)} failed: ${reason}`);
    this.name = "TransportError";
  }
}

export interface Transport {
  /** Our own listening address (what peers use to reach us). */
  readonly local: PeerAddr;
  /** Fire-and-forget datagram; errors are counted, never thrown. */
  sendPacket(to: PeerAddr, data: Uint8Array): void;
  /** Installs the datagram handler (one per transport). */
  onPacket(handler: PacketHandler): void;
  /** Reliable request/response to a peer; rejects with TransportError. */
  request(to: PeerAddr, data: Uint8Array, timeoutMs: number): Promise<Uint8Array>;
  /**
   * True when the peer's stream port actively refused a connection within `timeoutMs` (nothing
   * listens there: the process is gone); false when it accepted, or on a timeout or any other
   * error (no evidence). Sends nothing: the connection, if any, is closed at once.
   */
  refused(to: PeerAddr, timeoutMs: number): Promise<boolean>;
  /** Installs the stream request handler. */
  onRequest(handler: RequestHandler): void;
  /** Starts receiving. */
  start(): Promise<void>;
  /** Stops receiving and releases sockets. */
  close(): Promise<void>;
}

/** `addr:port` key used in maps and messages (an IPv6 address in brackets: `[::1]:6768`). */
export function peerKey(p: PeerAddr): string {
  return hostPort(p.addr, p.port);
}

/**
 * An IPv6 address (at most 8 groups of at most 4 hex digits, one `::`, an IPv4 tail) with an optional
 * `%zone` of interface-name characters. The groups are checked, not only the characters: `::1:13592`,
 * a port written without brackets, passed as an address and failed at every join attempt.
 */
function looksIpv6(addr: string): boolean {
  const m = /^([0-9A-Fa-f:.]+)(%[A-Za-z0-9_.-]+)?$/.exec(addr);
  return m !== null && isIPv6(m[1]);
}

/**
 * True for what an address can be: an IPv4 or IPv6 literal (the shape), or a host name of letters,
 * digits, `.`, `-`, `_`. Nothing with `/`, `?`, `#`, `@`, spaces or control characters, which would
 * change the meaning of the `http://<addr>:<port>/...` URLs and config lines built from it.
 */
export function isHostAddr(addr: string): boolean {
  return addr.includes(":") ? looksIpv6(addr) : /^[A-Za-z0-9.\-_]+$/.test(addr);
}

/**
 * Parses `addr[:port]` (IPv6 bare, `::1`, or in brackets with a port, `[::1]:6768`); the port
 * defaults to `defaultPort`. Returns null when malformed: `bad:port:x` is neither a host with a
 * port nor an IPv6 address.
 */
export function parsePeer(text: string, defaultPort: number): PeerAddr | null {
  const t = text.trim();
  if (!t) return null;
  let addr = t;
  let port = defaultPort;
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(t);
  if (v6) {
    addr = v6[1];
    if (!looksIpv6(addr)) return null; // brackets hold an IPv6 address, nothing else
    if (v6[2] !== undefined) port = Number(v6[2]);
  } else if ((t.match(/:/g) ?? []).length === 1) {
    const i = t.lastIndexOf(":");
    addr = t.slice(0, i);
    const p = t.slice(i + 1);
    if (!/^\d+$/.test(p)) return null;
    port = Number(p);
  }
  if (!isHostAddr(addr)) return null;
  if (!Number.isInteger(port) || port < 1 || port > 65535) return null;
  return { addr, port };
}
