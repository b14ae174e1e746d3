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
