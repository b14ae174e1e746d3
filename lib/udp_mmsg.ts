/**
 * Batched UDP receive and send beside a `Deno.DatagramConn`: Linux's `recvmmsg` and `sendmmsg`
 * through libc (`Deno.dlopen`) on the socket's own descriptor. Each `receive()`/`send()` of a
 * DatagramConn is one asynchronous op and one promise, ~5 µs of a DNS server's ~12 µs per query at
 * full load; once a `receive()` has woken the loop, the datagrams already queued in the kernel are
 * taken here by one non-blocking system call (up to `slots` at a time), and the replies go out by
 * one more. The DatagramConn keeps its part: it waits for the socket to become readable and is
 * what closes it. Reading the descriptor behind its back is safe: its next `receive()` finds the
 * queue empty and waits for the next datagram, as it would have.
 *
 * Linux on a 64-bit little-endian machine only (the `struct mmsghdr` layout below, glibc and musl
 * alike); elsewhere, or without libc, `UdpBatch.open` returns null and the caller keeps to the
 * DatagramConn's own calls.
 *
 * ```ts
 * const sock = Deno.listenDatagram({ hostname: "127.0.0.1", port: 5353, transport: "udp" });
 * const batch = UdpBatch.open(sock); // null: not available here
 * const n = batch?.receive() ?? 0;   // never blocks
 * for (let i = 0; i < n; i++) batch!.reply(i, answer(batch!.datagram(i)), sock);
 * batch?.flush(sock);                // before the next receive(); what sendmmsg left goes by sock.send
 * ```
 */
import { udpSocketFds } from "./udp_buffer.ts";
import { openLibc } from "./libc.ts";

const MSG_DONTWAIT = 0x40;
const AF_INET = 2;
const AF_INET6 = 10;
/** sizeof(struct mmsghdr) on LP64: struct msghdr (56) + msg_len (4) + padding (4). */
const MMSG = 64;
/** sizeof(struct iovec) on LP64. */
const IOV = 16;
/** sizeof(struct sockaddr_storage). */
const NAME = 128;

const symbols = {
  recvmmsg: { parameters: ["i32", "buffer", "u32", "i32", "pointer"], result: "i32" },
  sendmmsg: { parameters: ["i32", "buffer", "u32", "i32"], result: "i32" },
} as const;
type Mmsg = Deno.DynamicLibrary<typeof symbols>["symbols"];
let lib: Mmsg | null | undefined;

/** recvmmsg/sendmmsg from libc, loaded once; null off Linux on a 64-bit machine or without libc. */
function loadLib(): Mmsg | null {
  if (lib !== undefined) return lib;
  const lp64 = ["x86_64", "aarch64"].includes(Deno.build.arch);
  lib = lp64 ? openLibc(symbols) : null;
  return lib;
}

/** The address of a buffer's first byte, for pointers written into the kernel's structures. */
function addressOf(buf: Uint8Array): bigint {
  return BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(buf)));
}

/** A sender's address from a `struct sockaddr_in`/`sockaddr_in6`; null for any other family. */
export function decodeSockaddr(b: Uint8Array): Deno.NetAddr | null {
  const family = b[0] | (b[1] << 8);
  const port = (b[2] << 8) | b[3];
  if (family === AF_INET) {
    return { transport: "udp", hostname: `${b[4]}.${b[5]}.${b[6]}.${b[7]}`, port };
  }
  if (family === AF_INET6) {
    const words: string[] = [];
    for (let i = 8; i < 24; i += 2) words.push(((b[i] << 8) | b[i + 1]).toString(16));
    return { transport: "udp", hostname: words.join(":"), port };
  }
  return null;
}

export class UdpBatch {
  /** Datagrams taken per `receive()`. */
  readonly slots: number;
  /** Bytes kept of each datagram: a longer one is cut to this length (its caller sees it over-long). */
  readonly slotBytes: number;
  /** Replies that went out by sendmmsg, and by the DatagramConn's send when the kernel took fewer. */
  sent = 0;
  fallbackSends = 0;
  /** Replies the DatagramConn's send could not send (too long, unreachable, the socket closed). */
  sendFailures = 0;
  /** Told of each failed send, with its error (the owner counts and logs it). */
  onSendError: ((err: unknown) => void) | null = null;

  #fd: number;
  #lib: Mmsg;
  #rxHdr: Uint8Array;
  #rxView: DataView;
  /** Held so the iovec array lives as long as the headers that point into it. */
  #rxIov: Uint8Array;
  #names: Uint8Array;
  #data: Uint8Array;
  #namesAt: bigint;
  #txHdr: Uint8Array;
  #txView: DataView;
  #txIov: Uint8Array;
  #txIovView: DataView;
  #txIovAt: bigint;
  #arena: Uint8Array;
  #arenaAt: bigint;
  #arenaUsed = 0;
  /** Queued replies: the slot whose sender gets each, and where its bytes sit in the arena. */
  #queued: Array<{ slot: number; off: number; len: number }> = [];

  private constructor(fd: number, l: Mmsg, slots: number, slotBytes: number) {
    this.#fd = fd;
    this.#lib = l;
    this.slots = slots;
    this.slotBytes = slotBytes;
    this.#rxHdr = new Uint8Array(slots * MMSG);
    this.#rxView = new DataView(this.#rxHdr.buffer);
    this.#names = new Uint8Array(slots * NAME);
    this.#data = new Uint8Array(slots * slotBytes);
    const rxIov = new Uint8Array(slots * IOV);
    const iovView = new DataView(rxIov.buffer);
    this.#namesAt = addressOf(this.#names);
    const dataAt = addressOf(this.#data), iovAt = addressOf(rxIov);
    for (let i = 0; i < slots; i++) {
      iovView.setBigUint64(i * IOV, dataAt + BigInt(i * slotBytes), true);
      iovView.setBigUint64(i * IOV + 8, BigInt(slotBytes), true);
      const h = i * MMSG;
      this.#rxView.setBigUint64(h, this.#namesAt + BigInt(i * NAME), true); // msg_name
      this.#rxView.setBigUint64(h + 16, iovAt + BigInt(i * IOV), true); // msg_iov
      this.#rxView.setBigUint64(h + 24, 1n, true); // msg_iovlen
    }
    this.#rxIov = rxIov;
    this.#txHdr = new Uint8Array(slots * MMSG);
    this.#txView = new DataView(this.#txHdr.buffer);
    this.#txIov = new Uint8Array(slots * IOV);
    this.#txIovView = new DataView(this.#txIov.buffer);
    this.#txIovAt = addressOf(this.#txIov);
    this.#arena = new Uint8Array(slots * 1024);
    this.#arenaAt = addressOf(this.#arena);
  }

  /**
   * A batch on `sock`'s descriptor, or null where batching is not available (not Linux on a
   * 64-bit machine, no libc, FFI refused, the descriptor not found). Never throws.
   */
  static open(sock: Deno.DatagramConn, slots = 64, slotBytes = 2048): UdpBatch | null {
    try {
      const l = loadLib();
      if (!l) return null;
      const port = (sock.addr as Deno.NetAddr).port;
      const fds = udpSocketFds(port);
      if (fds.length !== 1) return null; // none, or two sockets on one port: cannot tell ours
      return new UdpBatch(fds[0], l, slots, slotBytes);
    } catch {
      return null;
    }
  }

  /**
   * A batch on descriptor `fd`, found by another thread (`udpSocketFds`: /proc/self is closed to a
   * Worker without every permission); null where batching is not available. Never throws.
   */
  static onFd(fd: number, slots = 64, slotBytes = 2048): UdpBatch | null {
    try {
      const l = loadLib();
      return l ? new UdpBatch(fd, l, slots, slotBytes) : null;
    } catch {
      return null;
    }
  }

  /**
   * Takes the datagrams queued on the socket, up to `slots`, without waiting; returns how many.
   * Only while the DatagramConn is open: once closed, its descriptor number may be another file's.
   */
  receive(): number {
    const v = this.#rxView;
    for (let i = 0; i < this.slots; i++) v.setUint32(i * MMSG + 8, NAME, true); // msg_namelen in/out
    const n = this.#lib.recvmmsg(this.#fd, this.#rxHdr, this.slots, MSG_DONTWAIT, null);
    return n > 0 ? n : 0; // -1: nothing queued (EAGAIN) or the socket closed under us
  }

  /**
   * Takes what is queued, round after round: each datagram to `take(i)`, then `afterRound()` (a
   * flush of the replies); stops at a round that did not fill the slots, after `rounds` rounds (so a
   * flood still lets the event loop run), or when `stopped()` (its owner closed the socket) says so.
   * Returns how many datagrams it took.
   */
  drain(rounds: number, stopped: () => boolean, take: (i: number) => void, afterRound?: () => void): number {
    let total = 0;
    for (let round = 0; round < rounds && !stopped(); round++) {
      const n = this.receive();
      for (let i = 0; i < n; i++) take(i);
      afterRound?.();
      total += n;
      if (n < this.slots) break;
    }
    return total;
  }

  /** Datagram `i` of the last `receive()` (a view: valid until the next `receive()`). */
  datagram(i: number): Uint8Array {
    const len = this.#rxView.getUint32(i * MMSG + 56, true);
    return this.#data.subarray(i * this.slotBytes, i * this.slotBytes + len);
  }

  /** The sender of datagram `i`. */
  sender(i: number): Deno.NetAddr | null {
    return decodeSockaddr(this.#names.subarray(i * NAME, (i + 1) * NAME));
  }

  /** Queues `bytes` for the sender of datagram `i`, sent by `flush()` (copied now). */
  reply(i: number, bytes: Uint8Array, sock: Deno.DatagramConn): void {
    if (this.#queued.length >= this.slots) this.flush(sock); // one header per slot
    if (bytes.length > this.#arena.length - this.#arenaUsed) {
      this.flush(sock);
      if (bytes.length > this.#arena.length) {
        this.#sendOne(i, bytes, sock);
        return;
      }
    }
    this.#arena.set(bytes, this.#arenaUsed);
    this.#queued.push({ slot: i, off: this.#arenaUsed, len: bytes.length });
    this.#arenaUsed += bytes.length;
  }

  /**
   * Sends the queued replies with one sendmmsg; those the kernel did not take (its send buffer
   * full) go by `sock.send`, which waits for room.
   */
  flush(sock: Deno.DatagramConn): void {
    const q = this.#queued;
    if (q.length === 0) return;
    const v = this.#txView, iv = this.#txIovView;
    const rx = this.#rxView;
    for (let j = 0; j < q.length; j++) {
      const { slot, off, len } = q[j];
      iv.setBigUint64(j * IOV, this.#arenaAt + BigInt(off), true);
      iv.setBigUint64(j * IOV + 8, BigInt(len), true);
      const h = j * MMSG;
      v.setBigUint64(h, this.#namesAt + BigInt(slot * NAME), true); // msg_name: the sender
      v.setUint32(h + 8, rx.getUint32(slot * MMSG + 8, true), true); // msg_namelen
      v.setBigUint64(h + 16, this.#txIovAt + BigInt(j * IOV), true); // msg_iov
      v.setBigUint64(h + 24, 1n, true); // msg_iovlen
    }
    let done = this.#lib.sendmmsg(this.#fd, this.#txHdr, q.length, MSG_DONTWAIT);
    if (done < 0) done = 0;
    this.sent += done;
    for (let j = done; j < q.length; j++) {
      const { slot, off, len } = q[j];
      this.#sendOne(slot, this.#arena.slice(off, off + len), sock);
    }
    q.length = 0;
    this.#arenaUsed = 0;
  }

  #sendOne(slot: number, bytes: Uint8Array, sock: Deno.DatagramConn): void {
    const to = this.sender(slot);
    if (!to) return;
    this.fallbackSends++;
    sock.send(bytes, to).catch((err) => {
      this.sendFailures++;
      this.onSendError?.(err);
    });
  }
}
