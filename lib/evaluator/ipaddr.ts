/**
 * IPv4/IPv6 parsing and CIDR membership for `ip_in_range` (floor 0, pure).
 */
import { EvalError } from "./errors.ts";
import { pyRepr } from "./pystr.ts";
import { type PyValue, typeName } from "./values.ts";

/** A parsed address: 32 or 128 bits. */
export interface IpAddress {
  version: 4 | 6;
  value: bigint;
}

/** Parses dotted IPv4 (four decimal parts, no leading zeros) or IPv6 (with `::`, embedded IPv4, zone dropped). */
export function parseIp(text: string): IpAddress | null {
  const t = text.trim();
  if (t.includes(":")) return parseIpv6(t);
  const v4 = parseIpv4(t);
  return v4 === null ? null : { version: 4, value: v4 };
}

function parseIpv4(t: string): bigint | null {
  const parts = t.split(".");
  if (parts.length !== 4) return null;
  let v = 0n;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p) || (p.length > 1 && p[0] === "0")) return null;
    const n = Number(p);
    if (n > 255) return null;
    v = (v << 8n) | BigInt(n);
  }
  return v;
}

function parseIpv6(input: string): IpAddress | null {
  const t = input.replace(/%[^%]*$/, "");
  const halves = t.split("::");
  if (halves.length > 2) return null;
  const groups = (h: string): bigint[] | null => {
    if (h === "") return [];
    const out: bigint[] = [];
    const parts = h.split(":");
    for (let i = 0; i < parts.length; i++) {
      const p = parts[i];
      if (i === parts.length - 1 && p.includes(".")) {
        const v4 = parseIpv4(p);
        if (v4 === null) return null;
        out.push(v4 >> 16n, v4 & 0xffffn);
      } else if (/^[0-9a-fA-F]{1,4}$/.test(p)) out.push(BigInt(parseInt(p, 16)));
      else return null;
    }
    return out;
  };
  const head = groups(halves[0]);
  const tail = halves.length === 2 ? groups(halves[1]) : [];
  if (head === null || tail === null) return null;
  const count = head.length + tail.length;
  if (halves.length === 2 ? count > 7 : count !== 8) return null;
  const all = [...head, ...Array(8 - count).fill(0n), ...tail];
  let v = 0n;
  for (const g of all) v = (v << 16n) | g;
  return { version: 6, value: v };
}

/** A parsed `addr/prefix` network (host bits ignored). */
export interface IpNetwork {
  version: 4 | 6;
  base: bigint;
  prefix: number;
}

/** Parses `10.0.2.0/24`, `fe80::/10`, or a bare address (a /32 or /128). */
export function parseCidr(text: string): IpNetwork | null {
  const [addr, prefixText, extra] = text.trim().split("/");
  if (extra !== undefined) return null;
  const ip = parseIp(addr);
  if (!ip) return null;
  const bits = ip.version === 4 ? 32 : 128;
  let prefix = bits;
  if (prefixText !== undefined) {
    if (!/^\d{1,3}$/.test(prefixText)) return null;
    prefix = Number(prefixText);
    if (prefix > bits) return null;
  }
  return { version: ip.version, base: ip.value, prefix };
}

/** True when `ip` lies inside `net` (same family; an IPv4-mapped IPv6 address matches IPv4 nets). */
export function ipInNetwork(ip: IpAddress, net: IpNetwork): boolean {
  let value = ip.value;
  let version = ip.version;
  if (version === 6 && net.version === 4 && (value >> 32n) === 0xffffn) {
    value &= 0xffffffffn;
    version = 4;
  }
  if (version !== net.version) return false;
  const bits = BigInt(version === 4 ? 32 : 128);
  const shift = bits - BigInt(net.prefix);
  return (value >> shift) === (net.base >> shift);
}

function needStr(arg: string, v: PyValue): string {
  if (typeof v !== "string") {
    throw new EvalError("type", `ip_in_range() argument '${arg}' must be str, not ${typeName(v)}`);
  }
  return v;
}

/** `ip_in_range(ip, cidr)`: IPv4 and IPv6; False for an address of the other family. */
export function ipInRange(ip: PyValue, cidr: PyValue): boolean {
  const ipText = needStr("ip", ip);
  const cidrText = needStr("cidr", cidr);
  const a = parseIp(ipText);
  if (!a) throw new EvalError("runtime", `${pyRepr(ip)} does not appear to be an IPv4 or IPv6 address`);
  const net = parseCidr(cidrText);
  if (!net) throw new EvalError("runtime", `${pyRepr(cidr)} does not appear to be an IPv4 or IPv6 network`);
  return ipInNetwork(a, net);
}
