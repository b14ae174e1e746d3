/**
 * Listening TCP sockets from the kernel's socket-diagnostics netlink (what `ss -tln` asks), for the
 * broker's `listening` op: the answer `/proc/net/tcp` and `tcp6` give for their LISTEN lines, in the
 * same text format, without producing the rest of those files. The kernel finishes a `/proc/net/tcp*`
 * file only by walking every bucket of its established-connections hash (~2.5-5 ms per file on a
 * 2-core VM with 24 GB, however few sockets there are); a dump filtered to LISTEN walks only the
 * listening hash (~30 µs). Linux only, through libc; `null` anywhere this cannot be done (the caller
 * then reads the file).
 *
 * ```ts
 * listeningText(6); // "  sl  local_address ...\n   0: 00000000000000000000000000000000:0050 ... 0A\n"
 * ```
 */

const AF_NETLINK = 16;
const SOCK_RAW = 3;
const SOCK_CLOEXEC = 0x80000;
const NETLINK_SOCK_DIAG = 4;
const SOCK_DIAG_BY_FAMILY = 20;
const NLM_F_REQUEST = 0x1;
const NLM_F_DUMP = 0x300;
const NLMSG_ERROR = 2;
const NLMSG_DONE = 3;
const MSG_DONTWAIT = 0x40;
const IPPROTO_TCP = 6;
const TCP_LISTEN = 10;
/** nlmsghdr (16) + inet_diag_req_v2 (56). */
const REQUEST_LEN = 72;
/** nlmsghdr (16) + inet_diag_msg up to the end of its socket id (4 + 48). */
const MIN_REPLY = 16 + 52;
/** Most reply batches read for one dump (each up to 32 KB: thousands of listeners). */
const MAX_BATCHES = 256;

const SYMBOLS = {
  socket: { parameters: ["i32", "i32", "i32"], result: "i32" },
  send: { parameters: ["i32", "buffer", "usize", "i32"], result: "isize" },
  recv: { parameters: ["i32", "buffer", "usize", "i32"], result: "isize" },
  close: { parameters: ["i32"], result: "i32" },
} as const;

let libc: Deno.DynamicLibrary<typeof SYMBOLS> | null | undefined;

function openLibc(): Deno.DynamicLibrary<typeof SYMBOLS> | null {
  if (libc !== undefined) return libc;
  try {
    libc = Deno.build.os === "linux" ? Deno.dlopen("libc.so.6", SYMBOLS) : null;
  } catch {
    libc = null; // no glibc, or no FFI permission
  }
  return libc;
}

/** The inet_diag dump request for the LISTEN sockets of one family (`family`: AF_INET or AF_INET6). */
export function listenRequest(family: number, seq = 1): Uint8Array {
  const buf = new Uint8Array(REQUEST_LEN);
  const v = new DataView(buf.buffer);
  v.setUint32(0, REQUEST_LEN, true);
  v.setUint16(4, SOCK_DIAG_BY_FAMILY, true);
  v.setUint16(6, NLM_F_REQUEST | NLM_F_DUMP, true);
  v.setUint32(8, seq, true);
  buf[16] = family;
  buf[17] = IPPROTO_TCP;
  v.setUint32(20, 1 << TCP_LISTEN, true);
  return buf;
}

const hex = (n: number, width: number) => n.toString(16).toUpperCase().padStart(width, "0");

/**
 * Appends the `/proc/net/tcp*` lines of the sockets in one batch of replies to `lines`; true once the
 * dump is done. Addresses print as the kernel prints them there: each 32-bit word of the address as
 * a host-order (little-endian) number.
 */
export function parseListenReplies(bytes: Uint8Array, family: number, lines: string[]): boolean {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const words = family === 10 ? 4 : 1;
  for (let off = 0; off + 16 <= bytes.length;) {
    const len = v.getUint32(off, true);
    const type = v.getUint16(off + 4, true);
    if (len < 16 || off + len > bytes.length) throw new Error("malformed netlink reply");
    if (type === NLMSG_DONE) return true;
    if (type === NLMSG_ERROR) throw new Error(`netlink error ${-v.getInt32(off + 16, true)}`);
    if (len >= MIN_REPLY && bytes[off + 16] === family) {
      const port = v.getUint16(off + 20, false);
      let addr = "";
      for (let w = 0; w < words; w++) addr += hex(v.getUint32(off + 24 + 4 * w, true), 8);
      const zero = "0".repeat(8 * words);
      lines.push(`${String(lines.length - 1).padStart(4)}: ${addr}:${hex(port, 4)} ${zero}:0000 0A`);
    }
    off += (len + 3) & ~3;
  }
  return false;
}

/**
 * The LISTEN lines `/proc/net/tcp` (`version` 4) or `/proc/net/tcp6` (6) would show, with the
 * files' header line, or null when the netlink dump is not available here.
 */
export function listeningText(version: 4 | 6): string | null {
  const lib = openLibc();
  if (!lib) return null;
  const family = version === 6 ? 10 : 2;
  const fd = lib.symbols.socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
  if (fd < 0) return null;
  try {
    const req = listenRequest(family);
    if (Number(lib.symbols.send(fd, req, BigInt(req.length), 0)) !== req.length) return null;
    const lines = ["  sl  local_address rem_address   st"];
    const buf = new Uint8Array(32 * 1024);
    for (let i = 0; i < MAX_BATCHES; i++) {
      // the kernel fills the queue while sending and after each read: never waits
      const n = Number(lib.symbols.recv(fd, buf, BigInt(buf.length), MSG_DONTWAIT));
      if (n <= 0) return null;
      if (parseListenReplies(buf.subarray(0, n), family, lines)) return lines.join("\n") + "\n";
    }
    return null;
  } catch {
    return null;
  } finally {
    lib.symbols.close(fd);
  }
}
