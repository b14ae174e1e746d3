/**
 * The kernel receive buffer (SO_RCVBUF) of this process's UDP sockets. A datagram that arrives
 * while the buffer is full is dropped by the kernel, and Linux's default buffer
 * (`net.core.rmem_default`, 212 992 bytes) holds 256 one-metric statsd datagrams or 166 of twenty
 * metrics: at 20 000 datagrams/s, 8 ms in which the receiving thread does not run (a client's
 * burst, a descheduled thread on a busy box) loses metrics although the listener uses a quarter of a
 * core. `Deno.listenDatagram` has no option for the buffer, so this finds the socket's descriptor
 * (its port in /proc/net/udp{,6}, its inode among /proc/self/fd) and calls `setsockopt` through libc.
 *
 * The kernel caps the size at `net.core.rmem_max` (Debian's default: 212 992 bytes) and reports
 * twice what it grants (it counts its bookkeeping). Never throws: a failure leaves the system's
 * default and says why.
 *
 * ```ts
 * const conn = Deno.listenDatagram({ hostname: "127.0.0.1", port: 8125, transport: "udp" });
 * const r = setUdpRecvBuffer((conn.addr as Deno.NetAddr).port, 4 << 20);
 * if (r.note) log.warn(`statsd: ${r.note}`);
 * ```
 */

/** What asking for a receive buffer gave. */
export interface RecvBuffer {
  /** Bytes asked for (0: the system's default was kept). */
  requested: number;
  /**
   * The kernel's SO_RCVBUF afterwards, as `ss -m` shows it (`rb`; after a setsockopt, twice what
   * was granted); 0 when unknown.
   */
  effective: number;
  /** Why the buffer is smaller than asked (capped, not found, no libc), for the log. */
  note?: string;
}

import { openLibc } from "./libc.ts";

const SOL_SOCKET = 1;
const SO_RCVBUF = 8;

const libcSymbols = {
  setsockopt: { parameters: ["i32", "i32", "i32", "buffer", "u32"], result: "i32" },
  getsockopt: { parameters: ["i32", "i32", "i32", "buffer", "buffer"], result: "i32" },
} as const;

type Libc = Deno.DynamicLibrary<typeof libcSymbols>["symbols"];
let libc: Libc | null | undefined;

/** libc's socket-option calls, loaded once; null where there is none. */
function loadLibc(): Libc | null {
  if (libc === undefined) libc = openLibc(libcSymbols);
  return libc;
}

/**
 * The inodes of UDP sockets bound to `port`, from /proc/net/udp and /proc/net/udp6 text (one
 * table each: `sl local_address rem_address st ... inode`, local address as `HEXADDR:HEXPORT`).
 */
export function udpInodes(tables: string[], port: number): Set<string> {
  const hexPort = ":" + port.toString(16).toUpperCase().padStart(4, "0");
  const inodes = new Set<string>();
  for (const table of tables) {
    for (const line of table.split("\n").slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length > 9 && f[1].toUpperCase().endsWith(hexPort) && f[9] !== "0") inodes.add(f[9]);
    }
  }
  return inodes;
}

/** This process's descriptors of the UDP sockets bound to `port`. */
export function udpSocketFds(port: number): number[] {
  const tables: string[] = [];
  for (const path of ["/proc/net/udp", "/proc/net/udp6"]) {
    try {
      tables.push(Deno.readTextFileSync(path));
    } catch { /* no IPv6, or no /proc */ }
  }
  const inodes = udpInodes(tables, port);
  if (inodes.size === 0) return [];
  const fds: number[] = [];
  for (const entry of Deno.readDirSync("/proc/self/fd")) {
    let target: string;
    try {
      target = Deno.readLinkSync(`/proc/self/fd/${entry.name}`);
    } catch {
      continue; // closed since the listing
    }
    const m = /^socket:\[(\d+)\]$/.exec(target);
    if (m && inodes.has(m[1])) fds.push(Number(entry.name));
  }
  return fds;
}

/** The kernel's SO_RCVBUF (twice what was asked, when it was set). */
function getRcvbuf(c: Libc, fd: number): number {
  const value = new Int32Array(1);
  const len = new Uint32Array([4]);
  const rc = c.getsockopt(
    fd,
    SOL_SOCKET,
    SO_RCVBUF,
    new Uint8Array(value.buffer),
    new Uint8Array(len.buffer),
  );
  return rc === 0 ? value[0] : 0;
}

/** The kernel's SO_RCVBUF of this process's UDP socket on `port` (0 when it cannot be read). */
export function udpRecvBuffer(port: number): number {
  try {
    const c = loadLibc();
    const fd = c ? udpSocketFds(port)[0] : undefined;
    return c && fd !== undefined ? getRcvbuf(c, fd) : 0;
  } catch {
    return 0;
  }
}

/** `n` bytes for a log line: "8 MiB", "416 KiB". */
export function formatBytes(n: number): string {
  if (n >= 1 << 20 && n % (1 << 20) === 0) return `${n / (1 << 20)} MiB`;
  if (n >= 1024) return `${Math.round(n / 1024)} KiB`;
  return `${n} B`;
}

/**
 * Asks for `bytes` of receive buffer on this process's UDP socket(s) bound to `port` (0: keeps the
 * system's default). The kernel grants at most `net.core.rmem_max`; `note` then says so and how to
 * raise it.
 */
export function setUdpRecvBuffer(port: number, bytes: number): RecvBuffer {
  if (!(bytes > 0)) return { requested: 0, effective: udpRecvBuffer(port) };
  try {
    const c = loadLibc();
    if (!c) return { requested: bytes, effective: 0, note: "no libc to set the receive buffer with" };
    const fds = udpSocketFds(port);
    if (fds.length === 0) {
      return { requested: bytes, effective: 0, note: `no UDP socket of this process on port ${port}` };
    }
    const asked = new Uint8Array(new Int32Array([Math.min(bytes, 0x7fffffff)]).buffer);
    let effective = 0;
    for (const fd of fds) {
      if (c.setsockopt(fd, SOL_SOCKET, SO_RCVBUF, asked, 4) !== 0) {
        return { requested: bytes, effective: getRcvbuf(c, fd), note: "setsockopt(SO_RCVBUF) failed" };
      }
      effective = getRcvbuf(c, fd);
    }
    if (effective > 0 && effective < 2 * bytes) {
      return {
        requested: bytes,
        effective,
        note: `net.core.rmem_max caps the receive buffer at ${formatBytes(effective / 2)} (asked ${
          formatBytes(bytes)
        }): raise it (sysctl -w net.core.rmem_max=${bytes}) so bursts are not dropped`,
      };
    }
    return { requested: bytes, effective };
  } catch (err) {
    return {
      requested: bytes,
      effective: 0,
      note: `cannot set the receive buffer: ${(err as Error).message}`,
    };
  }
}
