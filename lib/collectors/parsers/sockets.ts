/**
 * openports: listening sockets from `/proc/net/{tcp,tcp6,udp,udp6}` (netstat -tuln style).
 */

export interface PortEntry {
  proto: string;
  source: string;
  dest: string;
  state: string;
}

const TCP_STATES: Record<string, string> = {
  "01": "ESTABLISHED",
  "02": "SYN_SENT",
  "03": "SYN_RECV",
  "04": "FIN_WAIT1",
  "05": "FIN_WAIT2",
  "06": "TIME_WAIT",
  "07": "CLOSE",
  "08": "CLOSE_WAIT",
  "09": "LAST_ACK",
  "0A": "LISTEN",
  "0B": "CLOSING",
};

/** Decodes a kernel hex address (`0100007F` = 127.0.0.1; 32 hex digits = IPv6). */
export function decodeHexAddr(hex: string): string {
  if (hex.length === 8) {
    const n = parseInt(hex, 16);
    return [n & 255, (n >>> 8) & 255, (n >>> 16) & 255, n >>> 24].join(".");
  }
  if (hex.length !== 32) throw new Error(`bad socket address "${hex}"`);
  const words: string[] = [];
  for (let w = 0; w < 4; w++) {
    const word = hex.slice(w * 8, w * 8 + 8);
    // each 32-bit word is in host (little-endian) order
    const bytes = [word.slice(6, 8), word.slice(4, 6), word.slice(2, 4), word.slice(0, 2)];
    words.push(bytes[0] + bytes[1], bytes[2] + bytes[3]);
  }
  const groups = words.map((g) => parseInt(g, 16).toString(16));
  if (groups.slice(0, 5).every((g) => g === "0") && groups[5] === "ffff") {
    const tail = words[6] + words[7];
    return "::ffff:" + [0, 2, 4, 6].map((i) => parseInt(tail.slice(i, i + 2), 16)).join(".");
  }
  return compressV6(groups);
}

function compressV6(groups: string[]): string {
  let best = -1, bestLen = 0;
  for (let i = 0; i < 8;) {
    if (groups[i] !== "0") {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === "0") j++;
    if (j - i > bestLen) [best, bestLen] = [i, j - i];
    i = j;
  }
  if (bestLen < 2) return groups.join(":");
  return groups.slice(0, best).join(":") + "::" + groups.slice(best + bestLen).join(":");
}

/** Listening entries of one `/proc/net/<proto>` file (tcp: LISTEN; udp: every bound socket). */
export function parseProcNet(text: string, proto: "tcp" | "tcp6" | "udp" | "udp6"): PortEntry[] {
  const out: PortEntry[] = [];
  const lines = text.split("\n").slice(1);
  for (const line of lines) {
    const p = line.trim().split(/\s+/);
    if (p.length < 4) continue;
    const [laddr, lport] = p[1].split(":");
    const st = p[3].toUpperCase();
    const isTcp = proto.startsWith("tcp");
    if (isTcp && st !== "0A") continue;
    if (!isTcp && st !== "07") continue;
    const host = decodeHexAddr(laddr);
    const v6 = proto.endsWith("6");
    out.push({
      proto,
      source: `${host}:${parseInt(lport, 16)}`,
      dest: v6 ? ":::*" : "0.0.0.0:*",
      state: isTcp ? TCP_STATES[st] ?? st : "",
    });
  }
  return out;
}

/**
 * True once `text` (read from the start of `/proc/net/tcp` or `tcp6`) holds a complete socket line
 * whose state is not LISTEN: the kernel lists every listening socket first (its listening hash),
 * then walks its whole established hash, so nothing after that line is listening.
 */
export function pastListening(text: string): boolean {
  const end = text.lastIndexOf("\n");
  if (end < 0) return false;
  const lines = text.slice(0, end).split("\n");
  for (let i = 1; i < lines.length; i++) {
    const st = lines[i].trim().split(/\s+/)[3];
    if (st !== undefined && st.toUpperCase() !== "0A") return true;
  }
  return false;
}

/**
 * First chunk asked of a `/proc/net/tcp*` file (~6 socket lines); each next one is twice larger. Small:
 * the kernel walks its connection hash only until it has produced what was asked, and connections are
 * sparse in it (16 KB of them cost ~1 ms on a 2-core VM, 1 KB ~30 µs).
 */
export const LISTEN_CHUNK = 1024;
/** The broker's largest chunk. */
const MAX_LISTEN_CHUNK = 1024 * 1024;

/**
 * The head of a `/proc/net/tcp*` file that holds all its listening sockets, read in growing chunks
 * from the start up to the first socket that is not listening (or the end), cut after its last
 * complete line. The kernel produces these files as they are read and walks every bucket of its
 * established-connections hash to finish them (~5 ms per file on a 2-core VM with 24 GB, even with
 * few sockets): stopping after the listening part makes it cost ~0.1 ms instead when connections
 * follow (a tcp6 file without them is still walked to its end).
 * `readChunk(offset, max)` returns at most `max` bytes at `offset`, fewer only at the end.
 */
export async function readListening(
  readChunk: (offset: number, max: number) => Promise<Uint8Array>,
): Promise<string> {
  const decoder = new TextDecoder();
  let text = "";
  let offset = 0;
  for (let max = LISTEN_CHUNK;; max = Math.min(2 * max, MAX_LISTEN_CHUNK)) {
    const bytes = await readChunk(offset, max);
    offset += bytes.length;
    text += decoder.decode(bytes, { stream: bytes.length === max });
    if (bytes.length < max) return text;
    if (pastListening(text)) return text.slice(0, text.lastIndexOf("\n") + 1);
  }
}
