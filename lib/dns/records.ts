/**
 * What a name means (pure): `<tag>.tag.<dc>.<domain>` (and the original's looser
 * `<tag>.<anything>.<dc>.<domain>`), `<node>.node.<dc>.<domain>`, `<service>.service.<dc>.<domain>`,
 * the datacenter label optional as in Consul (`<tag>.tag.<domain>`, `<node>.node.<domain>`...),
 * RFC 2782's `_<service>._tcp.service[.<dc>].<domain>`, Consul's `<tag>.<service>.service[.<dc>]`,
 * looked up in a membership table, and the records that answer it, encoded once with dns-packet.
 */
import dnsPacket from "dns-packet";
import type { MemberRecord } from "../types.ts";
import { isIPv6 } from "node:net";
import { QTYPE } from "./wire.ts";

/** Where a question name falls relative to our domain. */
export type NameClass =
  | { kind: "outside" }
  | { kind: "apex" }
  /** Inside the domain but not a name we know how to read (fewer than 3 labels, or 2 not naming a kind). */
  | { kind: "unknown" }
  | { kind: "tag" | "node" | "service"; key: string; dc: string; tag?: string };

/** Normalises `.kunai`, `kunai.`, `KUNAI` to `kunai`. */
export function normalizeDomain(domain: string): string {
  return domain.toLowerCase().replace(/^\.+|\.+$/g, "");
}

/** Classifies a lower-case question name (no trailing dot) against a normalised domain. */
export function classifyName(name: string, domain: string): NameClass {
  if (name === domain) return { kind: "apex" };
  if (!name.endsWith("." + domain)) return { kind: "outside" };
  const labels = name.slice(0, -(domain.length + 1)).split(".");
  const [key, word] = labels;
  // RFC 2782's form, which HAProxy's server-template and SRV-aware clients build (Consul's too):
  // `_<service>._tcp.service[.<dc>].<domain>` (or `_udp`)
  if (
    labels.length >= 3 && key.startsWith("_") && (word === "_tcp" || word === "_udp") &&
    labels[2] === "service"
  ) {
    return { kind: "service", key: key.slice(1), dc: labels.slice(3).join(".") };
  }
  // without a datacenter only the explicit kinds: `web.x.kunai` stays unknown, as in the original
  if (labels.length === 2 && (word === "tag" || word === "node" || word === "service")) {
    return { kind: word, key, dc: "" };
  }
  if (labels.length < 3) return { kind: "unknown" };
  const dc = labels.slice(2).join(".");
  if (word === "node") return { kind: "node", key, dc };
  if (word === "service") return { kind: "service", key, dc };
  // Consul's service lookup filtered by one of the service's tags: `<tag>.<service>.service[.<dc>]`
  if (labels[2] === "service") return { kind: "service", key: word, dc: labels.slice(3).join("."), tag: key };
  return { kind: "tag", key, dc };
}

/** One node's address for an answer. */
export interface Target {
  name: string;
  addr: string;
  family: 4 | 6;
  /** Service port (SRV), when the lookup is a service with a port. */
  port?: number;
}

/**
 * IPv4 or IPv6 literal → family; anything else (hostnames, and from the network any text: a string of
 * hex digits and colons that is no address, a scoped `fe80::1%eth0`) → null.
 */
export function addrFamily(addr: string): 4 | 6 | null {
  if (/^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}$/.test(addr)) return 4;
  if (isIPv6(addr) && !addr.includes("%")) return 6;
  return null;
}

const utf8 = new TextEncoder();

/**
 * True when a node name can be the first label of an SRV target: not empty, no dot, at most 63 bytes.
 * Names come from the network; dns-packet writes each label's byte length as is, so a longer one
 * turns into a compression pointer and an empty one (`a..b`) ends the name in the middle.
 */
export function isDnsLabel(name: string): boolean {
  return name.length > 0 && !name.includes(".") && utf8.encode(name).length <= 63;
}

/** A service's own tags (its `tags` list, from the network: anything else is none), lower-cased. */
function serviceTags(m: MemberRecord, service: string): string[] {
  const tags = (m.services[service] as { tags?: unknown }).tags;
  return Array.isArray(tags) ? tags.filter((t) => typeof t === "string").map((t) => t.toLowerCase()) : [];
}

function serviceStateId(m: MemberRecord, service: string): number | null {
  const s = m.services?.[service];
  if (!s || typeof s !== "object") return null;
  const id = (s as { state_id?: unknown }).state_id;
  return typeof id === "number" ? id : 3;
}

/**
 * The nodes a name designates: alive nodes with the tag (those whose service of the same name is
 * failing are left out, as the original did); alive nodes whose service passes; nodes in
 * maintenance in neither; one node by name (alive or suspect, maintenance or not). Nodes whose address is not an IP literal are skipped.
 */
export function lookupTargets(members: readonly MemberRecord[], cls: NameClass): Target[] {
  const out: Target[] = [];
  if (cls.kind !== "tag" && cls.kind !== "node" && cls.kind !== "service") return out;
  for (const m of members) {
    let port: number | undefined;
    if (cls.kind === "tag") {
      if (m.state !== "alive" || m.maintenance || !m.tags.some((t) => t.toLowerCase() === cls.key)) continue;
      const sid = serviceStateId(m, cls.key);
      if (sid !== null && sid !== 0) continue;
    } else if (cls.kind === "node") {
      if ((m.state !== "alive" && m.state !== "suspect") || m.name.toLowerCase() !== cls.key) continue;
    } else {
      const name = Object.keys(m.services ?? {}).find((n) => n.toLowerCase() === cls.key);
      if (m.state !== "alive" || m.maintenance || !name || serviceStateId(m, name) !== 0) continue;
      if (cls.tag !== undefined && !serviceTags(m, name).includes(cls.tag)) continue;
      const p = (m.services[name] as { port?: unknown }).port;
      if (typeof p === "number" && p > 0 && p < 65536) port = p;
    }
    const family = addrFamily(m.addr);
    if (!family) continue;
    out.push({ name: m.name, addr: m.addr, family, port });
  }
  return out;
}

/** The encoded records answering one (name, type): rcode, answers, authority, additional. */
export interface Answer {
  rcode: number;
  answers: Uint8Array[];
  authority: Uint8Array[];
  additional: Uint8Array[];
}

export interface ZoneInfo {
  domain: string;
  ttl: number;
  /** SOA serial (changes when the membership does). */
  serial: number;
}

/** Computes the answer for a name inside our domain (outside names are the caller's business). */
export function answerFor(
  members: readonly MemberRecord[],
  cls: NameClass,
  qtype: number,
  zone: ZoneInfo,
): Answer {
  const soa = () => [encodeSoa(zone)];
  if (cls.kind === "apex") {
    if (qtype === QTYPE.SOA || qtype === QTYPE.ANY) return ok([encodeSoa(zone, true)], [], []);
    return ok([], soa(), []);
  }
  const targets = lookupTargets(members, cls);
  if (!targets.length) return { rcode: 3, answers: [], authority: soa(), additional: [] };
  const answers: Uint8Array[] = [];
  const additional: Uint8Array[] = [];
  const any = qtype === QTYPE.ANY;
  for (const t of targets) {
    if (t.family === 4 && (qtype === QTYPE.A || any)) answers.push(encodeAddr(t, zone.ttl));
    if (t.family === 6 && (qtype === QTYPE.AAAA || any)) answers.push(encodeAddr(t, zone.ttl));
    // a node whose name is no DNS label has no name to point at: answered by address only (the A/AAAA
    // records above come first, so `continue` below drops only the SRV)
    if (
      cls.kind === "service" && t.port !== undefined && (qtype === QTYPE.SRV || any) && isDnsLabel(t.name)
    ) {
      const dc = (cls as { dc: string }).dc;
      const target = `${t.name.toLowerCase()}.node.${dc ? `${dc}.` : ""}${zone.domain}`;
      if (utf8.encode(target).length > 253) continue; // longer than a DNS name may be
      answers.push(
        encodeForQuestion({
          type: "SRV",
          ttl: zone.ttl,
          data: { priority: 1, weight: 1, port: t.port, target },
        }),
      );
      if (!any) additional.push(encodeAddr(t, zone.ttl, target));
    }
  }
  // the name exists (it has addresses) but not of this type: NODATA, with the SOA for negative caching
  return answers.length ? ok(answers, [], additional) : ok([], soa(), []);
}

function ok(answers: Uint8Array[], authority: Uint8Array[], additional: Uint8Array[]): Answer {
  return { rcode: 0, answers, authority, additional };
}

function encodeAddr(t: Target, ttl: number, owner?: string): Uint8Array {
  const rec = { type: t.family === 4 ? "A" : "AAAA", ttl, data: t.addr } as const;
  return owner ? encodeNamed(owner, rec) : encodeForQuestion(rec);
}

function encodeSoa(zone: ZoneInfo, asAnswer = false): Uint8Array {
  const rec = {
    type: "SOA",
    ttl: zone.ttl,
    data: {
      mname: `ns.${zone.domain}`,
      rname: `hostmaster.${zone.domain}`,
      serial: zone.serial >>> 0,
      refresh: 3600,
      retry: 600,
      expire: 86400,
      minimum: zone.ttl,
    },
  } as const;
  // as an answer to an apex query the owner is the question name: use the pointer form
  return asAnswer ? encodeForQuestion(rec) : encodeNamed(zone.domain, rec);
}

type Rec = Parameters<typeof dnsPacket.answer.encode>[0];

/** Encodes a record whose owner is the question name: a compression pointer to offset 12. */
export function encodeForQuestion(rec: Omit<Rec, "name">): Uint8Array {
  const full = dnsPacket.answer.encode({ ...rec, name: "." } as Rec);
  const out = new Uint8Array(full.length + 1);
  out[0] = 0xc0;
  out[1] = 0x0c;
  out.set(full.subarray(1), 2);
  return out;
}

function encodeNamed(owner: string, rec: Omit<Rec, "name">): Uint8Array {
  return new Uint8Array(dnsPacket.answer.encode({ ...rec, name: owner } as Rec));
}
