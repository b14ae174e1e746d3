/**
 * IPv4 addresses per interface without tools or extra permissions: local addresses from
 * `/proc/net/fib_trie`, matched to interfaces through the connected routes of `/proc/net/route`.
 */

export interface Route {
  iface: string;
  dest: number;
  gateway: number;
  mask: number;
  flags: number;
  metric: number;
}

function hexLe(h: string): number {
  const n = parseInt(h, 16);
  // little-endian 32-bit -> host order number a.b.c.d as (a<<24)|...
  return (((n & 255) << 24) | (((n >>> 8) & 255) << 16) | (((n >>> 16) & 255) << 8) | (n >>> 24)) >>> 0;
}

/** Dotted quad from a 32-bit number. */
export function ipString(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".");
}

function ipNumber(s: string): number {
  return s.split(".").reduce((a, b) => (a * 256 + Number(b)), 0) >>> 0;
}

/** Parses `/proc/net/route`. */
export function parseRoutes(text: string): Route[] {
  const out: Route[] = [];
  for (const line of text.split("\n").slice(1)) {
    const p = line.trim().split(/\s+/);
    if (p.length < 8) continue;
    out.push({
      iface: p[0],
      dest: hexLe(p[1]),
      gateway: hexLe(p[2]),
      flags: parseInt(p[3], 16),
      metric: Number(p[6]),
      mask: hexLe(p[7]),
    });
  }
  return out;
}

/** Interface of the default route with the lowest metric, or null. */
export function defaultRouteIface(routes: Route[]): string | null {
  const defs = routes.filter((r) => r.dest === 0 && r.mask === 0 && (r.flags & 1)).sort((a, b) =>
    a.metric - b.metric
  );
  return defs[0]?.iface ?? null;
}

/** Local (`/32 host LOCAL`) addresses listed in `/proc/net/fib_trie`, loopback excluded. */
export function parseFibLocal(text: string): string[] {
  const out = new Set<string>();
  let last: string | null = null;
  for (const line of text.split("\n")) {
    const leaf = /\|--\s+(\d+\.\d+\.\d+\.\d+)/.exec(line);
    if (leaf) {
      last = leaf[1];
      continue;
    }
    if (last && /\/32 host LOCAL/.test(line) && !last.startsWith("127.")) out.add(last);
  }
  return [...out];
}

export interface IfaceAddr {
  iface: string;
  address: string;
  netmask: string;
  broadcast: string;
}

/** Maps each local address to the interface whose connected route holds it (longest mask wins). */
export function addressesByIface(fibTrie: string, routes: Route[]): IfaceAddr[] {
  const out: IfaceAddr[] = [];
  for (const a of parseFibLocal(fibTrie)) {
    const n = ipNumber(a);
    let best: Route | null = null;
    for (const r of routes) {
      if (r.gateway !== 0 || r.mask === 0) continue;
      if (((n & r.mask) >>> 0) !== r.dest) continue;
      if (!best || r.mask > best.mask) best = r;
    }
    if (!best) continue;
    out.push({
      iface: best.iface,
      address: a,
      netmask: ipString(best.mask),
      broadcast: ipString((best.dest | (~best.mask >>> 0)) >>> 0),
    });
  }
  return out;
}
