/**
 * The query handler: bytes in → bytes out, no sockets. Answers for our domain come from the
 * membership table through a per-name cache that is cleared whenever membership changes; the
 * answer records are shuffled per query. Names outside the domain are REFUSED, or handed back to
 * the server for forwarding when recursors are configured. Reverse names of members' addresses
 * are answered too (reverse.ts).
 *
 * A UDP answer is small whatever the question (its source may be spoofed: a 40-byte query must not
 * send kilobytes to someone else): at most UDP_ANSWER_LIMIT records, chosen at random, with TC set
 * when there are more (a client that wants them all asks again over TCP, as dig and glibc do), and
 * ANY gets the addresses only (RFC 8482 §4.2: a subset of the RRsets); over TCP, every record.
 *
 * ```ts
 * const h = new DnsHandler({ domain: ".kunai", ttl: 60, members: () => view.members(), forward: false });
 * const out = h.handle(packet, "udp"); // { kind: "reply", bytes } | { kind: "drop" } | { kind: "forward" }
 * ```
 */
import type { MemberRecord } from "../types.ts";
import { type Answer, answerFor, classifyName, type NameClass, normalizeDomain } from "./records.ts";
import { answerReverse, reverseAddr } from "./reverse.ts";
import {
  buildErrorReply,
  buildReply,
  parseQuery,
  QCLASS_ANY,
  QCLASS_IN,
  QTYPE,
  type Query,
  RCODE,
  replyLimit,
} from "./wire.ts";

export interface HandlerOptions {
  domain: string;
  ttl: number;
  members: () => readonly MemberRecord[];
  /** Names outside the domain go to recursors (else REFUSED). */
  forward: boolean;
  /** Shuffles answers (tests pass a seeded one). */
  random?: () => number;
  /**
   * True while the agent's start has not joined the cluster yet: it knows itself alone, so a name
   * in our domain it cannot answer gets SERVFAIL (asked again) rather than NXDOMAIN or an empty
   * answer, which resolvers cache for the SOA's minimum (`ttl`, 60 s) after every restart.
   */
  joining?: () => boolean;
}

export type HandleResult =
  | { kind: "reply"; bytes: Uint8Array }
  | { kind: "drop" }
  | { kind: "forward"; query: Query };

/** Plain counters (the subsystem copies them into /metrics): cheap to bump at line rate. */
export interface DnsStats {
  queries: { udp: number; tcp: number };
  rcodes: Record<string, number>;
  /** Malformed queries answered FORMERR/NOTIMP, by reason. */
  malformed: Record<string, number>;
  /** Packets not answered, by reason. */
  dropped: Record<string, number>;
  truncated: number;
  cache_hits: number;
}

const RCODE_NAMES: Record<number, string> = {
  0: "NOERROR",
  1: "FORMERR",
  2: "SERVFAIL",
  3: "NXDOMAIN",
  4: "NOTIMP",
  5: "REFUSED",
  16: "BADVERS",
};
/** Records a UDP answer carries at most (Consul's `udp_answer_limit` is 3). */
export const UDP_ANSWER_LIMIT = 8;
/** Cached (name, type) answers kept at most; the cache is cleared when it is full. */
const CACHE_MAX = 10_000;

export class DnsHandler {
  readonly domain: string;
  readonly stats: DnsStats = {
    queries: { udp: 0, tcp: 0 },
    rcodes: {},
    malformed: {},
    dropped: {},
    truncated: 0,
    cache_hits: 0,
  };
  #opts: HandlerOptions;
  #cache = new Map<string, Answer>();
  /** Bumped on every membership change; also the SOA serial. */
  #generation = 1;
  #random: () => number;

  constructor(opts: HandlerOptions) {
    this.#opts = opts;
    this.domain = normalizeDomain(opts.domain);
    this.#random = opts.random ?? Math.random;
  }

  /** Membership changed: forget every cached answer. */
  invalidate(): void {
    this.#cache.clear();
    this.#generation++;
  }

  /** Answers one packet received over `proto`. Never throws. */
  handle(packet: Uint8Array, proto: "udp" | "tcp"): HandleResult {
    this.stats.queries[proto]++;
    const q = parseQuery(packet);
    if (q.kind === "drop") {
      bump(this.stats.dropped, q.reason);
      return { kind: "drop" };
    }
    if (q.kind === "error") {
      bump(this.stats.malformed, q.reason);
      return this.#reply(buildErrorReply(q), q.rcode);
    }
    if (q.edns && q.edns.version !== 0) {
      return this.#reply(buildReply(q, { rcode: 16, limit: replyLimit(q, proto) }).bytes, 16);
    }
    const cls = classifyName(q.name, this.domain);
    if (cls.kind === "outside") {
      const ptr = this.#reverse(q);
      if (ptr) return this.#send(q, proto, ptr, true);
      if (this.#opts.forward) return { kind: "forward", query: q };
      return this.#send(
        q,
        proto,
        { rcode: RCODE.REFUSED, answers: [], authority: [], additional: [] },
        false,
      );
    }
    if (q.qclass !== QCLASS_IN && q.qclass !== QCLASS_ANY) {
      return this.#send(
        q,
        proto,
        { rcode: RCODE.REFUSED, answers: [], authority: [], additional: [] },
        false,
      );
    }
    if (q.qtype === QTYPE.ANY && proto === "udp" && cls.kind !== "apex") {
      // the addresses, or the IPv6 ones when there are no others (or NXDOMAIN, as for A)
      const a = this.#answer(cls, QTYPE.A, q.name);
      const addrs = a.rcode === 0 && !a.answers.length ? this.#answer(cls, QTYPE.AAAA, q.name) : a;
      return this.#send(q, proto, this.#unlessJoining(addrs), true);
    }
    return this.#send(q, proto, this.#unlessJoining(this.#answer(cls, q.qtype, q.name)), true);
  }

  /** `ans`, or SERVFAIL in its place when it says "no such name/record" before the start's join. */
  #unlessJoining(ans: Answer): Answer {
    if ((ans.rcode === RCODE.NXDOMAIN || ans.rcode === 0 && !ans.answers.length) && this.#opts.joining?.()) {
      return { rcode: RCODE.SERVFAIL, answers: [], authority: [], additional: [] };
    }
    return ans;
  }

  /** The answer to (name, type) in our domain, from the cache when it is there. */
  #answer(cls: NameClass, qtype: number, name: string): Answer {
    const key = `${qtype}|${name}`;
    let ans = this.#cache.get(key);
    if (ans) this.stats.cache_hits++;
    else {
      ans = answerFor(this.#opts.members(), cls, qtype, this.#zone());
      this.#remember(key, ans);
    }
    return ans;
  }

  /** A reverse name (`….in-addr.arpa`, `….ip6.arpa`) of a member's address: its answer; else null. */
  #reverse(q: Query): Answer | null {
    if (q.qclass !== QCLASS_IN && q.qclass !== QCLASS_ANY) return null;
    const addr = reverseAddr(q.name);
    if (addr === null) return null;
    const key = `${q.qtype}|${q.name}`;
    const hit = this.#cache.get(key);
    if (hit) {
      this.stats.cache_hits++;
      return hit;
    }
    const ans = answerReverse(this.#opts.members(), addr, q.qtype, this.#zone());
    if (ans) this.#remember(key, ans);
    return ans;
  }

  #zone() {
    return { domain: this.domain, ttl: this.#opts.ttl, serial: this.#generation };
  }

  #remember(key: string, ans: Answer): void {
    if (this.#cache.size >= CACHE_MAX) this.#cache.clear();
    this.#cache.set(key, ans);
  }

  /** Counts a packet the server dropped before it reached the handler (e.g. a bad TCP frame). */
  countDrop(reason: string): void {
    bump(this.stats.dropped, reason);
  }

  /** A SERVFAIL for a query we could not forward. */
  servfail(q: Query, proto: "udp" | "tcp"): Uint8Array {
    const r = this.#send(
      q,
      proto,
      { rcode: RCODE.SERVFAIL, answers: [], authority: [], additional: [] },
      false,
    );
    return (r as { bytes: Uint8Array }).bytes;
  }

  #send(q: Query, proto: "udp" | "tcp", ans: Answer, aa: boolean): HandleResult {
    let answers = ans.answers.length > 1 ? shuffled(ans.answers, this.#random) : ans.answers;
    const partial = proto === "udp" && answers.length > UDP_ANSWER_LIMIT;
    if (partial) answers = answers.slice(0, UDP_ANSWER_LIMIT);
    const { bytes, truncated } = buildReply(q, {
      rcode: ans.rcode,
      answers,
      authority: ans.authority,
      // (an SRV answer's addresses: those of the records left out too, so none)
      additional: partial ? [] : ans.additional,
      limit: replyLimit(q, proto),
      aa,
      ra: this.#opts.forward,
      partial,
    });
    if (truncated || partial) this.stats.truncated++;
    return this.#reply(bytes, ans.rcode);
  }

  #reply(bytes: Uint8Array, rcode: number): HandleResult {
    bump(this.stats.rcodes, RCODE_NAMES[rcode] ?? String(rcode));
    return { kind: "reply", bytes };
  }
}

function bump(o: Record<string, number>, k: string): void {
  o[k] = (o[k] ?? 0) + 1;
}

/** Fisher–Yates on a copy (the cached array stays as it was). */
function shuffled<T>(list: readonly T[], random: () => number): T[] {
  const a = list.slice();
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    const t = a[i];
    a[i] = a[j];
    a[j] = t;
  }
  return a;
}
