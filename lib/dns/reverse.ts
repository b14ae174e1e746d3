/**
 * Reverse lookups, as Consul answers them: `4.3.2.1.in-addr.arpa` and the 32 nibbles of
 * `….ip6.arpa` name an address; a member (alive or suspect, in maintenance or not) with that
 * address answers PTR `<name>.node.<domain>.`, one record per such member (several agents may share
 * a host). An address no member has is not ours to answer: the caller refuses or forwards it.
 *
 * ```ts
 * reverseAddr("5.0.0.10.in-addr.arpa"); // "10.0.0.5"
 * answerReverse(members, "10.0.0.5", QTYPE.PTR, zone); // PTR n5.node.kunai, or null
 * ```
 */
import type { MemberRecord } from "../types.ts";
import { addrFamily, type Answer, encodeForQuestion, isDnsLabel, type ZoneInfo } from "./records.ts";
import { QTYPE } from "./wire.ts";

const V4 = ".in-addr.arpa";
const V6 = ".ip6.arpa";

/**
 * The address a lower-case reverse name (no trailing dot) designates, in the form `canonicalAddr`
 * gives; null for any other name, and for a partial one (a network, not a host).
 */
export function reverseAddr(name: string): string | null {
  if (name.endsWith(V4)) {
    const labels = name.slice(0, -V4.length).split(".");
    if (labels.length !== 4 || !labels.every((l) => /^(0|[1-9]\d{0,2})$/.test(l) && Number(l) <= 255)) {
      return null;
    }
    return labels.reverse().join(".");
  }
  if (name.endsWith(V6)) {
    const labels = name.slice(0, -V6.length).split(".");
    if (labels.length !== 32 || !labels.every((l) => /^[0-9a-f]$/.test(l))) return null;
    return labels.reverse().join("");
  }
  return null;
}

/**
 * An IP literal as reverseAddr gives it: IPv4 as is, IPv6 as its 32 hex digits (so `fd00::5` and
 * `fd00:0:0::0005` compare equal); null for anything else (see addrFamily).
 */
export function canonicalAddr(addr: string): string | null {
  const family = addrFamily(addr);
  if (family === 4) return addr;
  if (family !== 6) return null;
  let text = addr.toLowerCase();
  // an embedded IPv4 tail (::ffff:10.0.0.1) becomes two groups
  const v4 = text.match(/(\d+)\.(\d+)\.(\d+)\.(\d+)$/);
  if (v4) {
    const [a, b, c, d] = v4.slice(1).map(Number);
    text = text.slice(0, v4.index) + ((a << 8) | b).toString(16) + ":" + ((c << 8) | d).toString(16);
  }
  const [head, tail] = text.includes("::") ? text.split("::") : [text, null];
  const left = head ? head.split(":") : [];
  const right = tail ? tail.split(":") : [];
  const groups = tail === null
    ? left
    : [...left, ...Array(8 - left.length - right.length).fill("0"), ...right];
  return groups.map((g) => g.padStart(4, "0")).join("");
}

/**
 * The answer for a reverse name whose address is `addr` (reverseAddr's form), or null when no
 * member has it. PTR (or ANY) gives the members' node names; another type, NODATA.
 */
export function answerReverse(
  members: readonly MemberRecord[],
  addr: string,
  qtype: number,
  zone: ZoneInfo,
): Answer | null {
  const names: string[] = [];
  for (const m of members) {
    if (m.state !== "alive" && m.state !== "suspect") continue;
    // a name that is no DNS label cannot be a node name's first label: no record, never a bad one
    if (!isDnsLabel(m.name) || canonicalAddr(m.addr) !== addr) continue;
    const target = `${m.name.toLowerCase()}.node.${zone.domain}`;
    if (new TextEncoder().encode(target).length <= 253 && !names.includes(target)) names.push(target);
  }
  if (!names.length) return null;
  if (qtype !== QTYPE.PTR && qtype !== QTYPE.ANY) {
    return { rcode: 0, answers: [], authority: [], additional: [] };
  }
  const answers = names.map((data) => encodeForQuestion({ type: "PTR", ttl: zone.ttl, data }));
  return { rcode: 0, answers, authority: [], additional: [] };
}
