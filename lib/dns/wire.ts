/**
 * DNS wire format for the server side (pure): a strict, bounded parser of one query (header,
 * one question, at most one EDNS0 OPT) and the assembly of a reply from pre-encoded records.
 * Decoding never throws: every malformed input becomes a verdict the caller counts.
 *
 * ```ts
 * const q = parseQuery(bytes);
 * if (q.kind === "query") buildReply(q, { rcode: RCODE.NOERROR, answers, limit: 512 });
 * ```
 */

export const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 } as const;
export const QTYPE = { A: 1, NS: 2, SOA: 6, PTR: 12, AAAA: 28, SRV: 33, OPT: 41, ANY: 255 } as const;
export const QCLASS_IN = 1;
export const QCLASS_ANY = 255;
const HEADER = 12;
/** Longest query we read: a question and an OPT with a few options fit well under it. */
export const MAX_QUERY_BYTES = 1024;
/** Largest EDNS payload we honour (RFC 6891 suggests capping; 4096 is the common ceiling). */
export const MAX_EDNS_PAYLOAD = 4096;
/** Our advertised EDNS UDP payload size. */
export const OUR_EDNS_PAYLOAD = 4096;

/** A well-formed query. */
export interface Query {
  kind: "query";
  id: number;
  /** Recursion desired bit, echoed. */
  rd: boolean;
  /** Checking disabled bit, echoed. */
  cd: boolean;
  /** Lower-case name without the trailing dot ("" for the root). */
  name: string;
  qtype: number;
  qclass: number;
  /** Offset just after the question: bytes [12, questionEnd) are echoed verbatim. */
  questionEnd: number;
  /** EDNS0 OPT of the query, if any. */
  edns: { payload: number; version: number; dnssecOk: boolean } | null;
  /** The raw query (a view; copy before keeping it across awaits). */
  raw: Uint8Array;
}

/** A query we must answer with an error code and no question parsed (FORMERR, NOTIMP). */
export interface Refusal {
  kind: "error";
  id: number;
  rcode: number;
  flags: number;
  reason: string;
}

/** Not worth an answer: too short to carry an id, or a response (answering would loop). */
export interface Drop {
  kind: "drop";
  reason: string;
}

export type Parsed = Query | Refusal | Drop;

/** Parses one query; `maxBytes` caps what is read (oversized input is an error, not a read). */
export function parseQuery(buf: Uint8Array, maxBytes = MAX_QUERY_BYTES): Parsed {
  if (buf.length < HEADER) return { kind: "drop", reason: "short" };
  const id = (buf[0] << 8) | buf[1];
  const flags = (buf[2] << 8) | buf[3];
  if (flags & 0x8000) return { kind: "drop", reason: "response" };
  const err = (rcode: number, reason: string): Refusal => ({ kind: "error", id, rcode, flags, reason });
  if (buf.length > maxBytes) return err(RCODE.FORMERR, "oversized");
  const opcode = (flags >> 11) & 0xf;
  if (opcode !== 0) return err(RCODE.NOTIMP, "opcode");
  const qd = (buf[4] << 8) | buf[5], an = (buf[6] << 8) | buf[7];
  const ns = (buf[8] << 8) | buf[9], ar = (buf[10] << 8) | buf[11];
  if (qd !== 1) return err(RCODE.FORMERR, "qdcount");
  if (an !== 0 || ns !== 0) return err(RCODE.FORMERR, "counts");
  if (ar > 1) return err(RCODE.FORMERR, "arcount");
  const qn = readQuestionName(buf, HEADER);
  if (typeof qn === "string") return err(RCODE.FORMERR, qn);
  let off = qn.end;
  if (off + 4 > buf.length) return err(RCODE.FORMERR, "truncated");
  const qtype = (buf[off] << 8) | buf[off + 1];
  const qclass = (buf[off + 2] << 8) | buf[off + 3];
  off += 4;
  const questionEnd = off;
  let edns: Query["edns"] = null;
  if (ar === 1) {
    // the only additional record a query may carry here: OPT, owner = root
    if (off + 11 > buf.length) return err(RCODE.FORMERR, "truncated");
    if (buf[off] !== 0) return err(RCODE.FORMERR, "additional");
    const type = (buf[off + 1] << 8) | buf[off + 2];
    if (type !== QTYPE.OPT) return err(RCODE.FORMERR, "additional");
    const payload = (buf[off + 3] << 8) | buf[off + 4];
    const version = buf[off + 6];
    const dnssecOk = (buf[off + 7] & 0x80) !== 0;
    const rdlen = (buf[off + 9] << 8) | buf[off + 10];
    off += 11;
    if (off + rdlen > buf.length) return err(RCODE.FORMERR, "truncated");
    // options: code(2) len(2) data, must tile rdata exactly
    let o = off;
    const end = off + rdlen;
    while (o < end) {
      if (o + 4 > end) return err(RCODE.FORMERR, "opt");
      const olen = (buf[o + 2] << 8) | buf[o + 3];
      o += 4 + olen;
      if (o > end) return err(RCODE.FORMERR, "opt");
    }
    off = end;
    edns = { payload, version, dnssecOk };
  }
  if (off !== buf.length) return err(RCODE.FORMERR, "trailing");
  return {
    kind: "query",
    id,
    rd: (flags & 0x0100) !== 0,
    cd: (flags & 0x0010) !== 0,
    name: qn.name,
    qtype,
    qclass,
    questionEnd,
    edns,
    raw: buf,
  };
}

/**
 * Reads the question name at `off`. A question is the first thing after the header, so a
 * compression pointer could only point backwards into the header: refused outright, which also
 * rules out loops. Returns an error reason string on failure.
 */
function readQuestionName(buf: Uint8Array, off: number): { name: string; end: number } | string {
  let name = "";
  let total = 0;
  for (let labels = 0; labels < 128; labels++) {
    if (off >= buf.length) return "truncated";
    const len = buf[off++];
    if (len === 0) return { name, end: off };
    if ((len & 0xc0) === 0xc0) return "pointer";
    if (len & 0xc0) return "label";
    if (off + len > buf.length) return "truncated";
    total += len + 1;
    if (total > 254) return "name-too-long";
    let label = "";
    for (let i = off; i < off + len; i++) {
      let c = buf[i];
      if (c >= 0x41 && c <= 0x5a) c += 0x20; // ASCII lower-case
      // bytes that cannot appear in our names still decode (escaped) so the lookup just misses
      label += c === 0x2e || c < 0x21 || c > 0x7e
        ? `\\${c.toString().padStart(3, "0")}`
        : String.fromCharCode(c);
    }
    name += name ? "." + label : label;
    off += len;
  }
  return "name-too-long";
}

export interface ReplyParts {
  rcode: number;
  /** Answer records, each already encoded (owner is a pointer to the question: 0xC00C). */
  answers?: Uint8Array[];
  authority?: Uint8Array[];
  additional?: Uint8Array[];
  /** Largest reply allowed (512, the EDNS size, or 65535 over TCP); above it: TC and no records. */
  limit: number;
  /** Authoritative answer bit. */
  aa?: boolean;
  /** Recursion available bit. */
  ra?: boolean;
  /** `answers` are some of the records only: TC is set, the records kept (all of them come over TCP). */
  partial?: boolean;
}

/** Assembles a reply to `q`: id, RD/CD and the question echoed, OPT added when the query had one. */
export function buildReply(q: Query, parts: ReplyParts): { bytes: Uint8Array; truncated: boolean } {
  const answers = parts.answers ?? [], authority = parts.authority ?? [], additional = parts.additional ?? [];
  const opt = q.edns ? optRecord(parts.rcode) : null;
  const question = q.raw.subarray(HEADER, q.questionEnd);
  let size = HEADER + question.length + (opt ? opt.length : 0);
  for (const r of answers) size += r.length;
  for (const r of authority) size += r.length;
  let extra = 0;
  for (const r of additional) extra += r.length;
  let truncated = size > parts.limit;
  // additional records are optional: drop them before truncating the answer
  const withAdditional = !truncated && size + extra <= parts.limit;
  if (withAdditional) size += extra;
  if (truncated) size = HEADER + question.length + (opt ? opt.length : 0);
  if (size > 65535) {
    truncated = true;
    size = HEADER + question.length + (opt ? opt.length : 0);
  }
  const out = new Uint8Array(size);
  out[0] = q.id >> 8;
  out[1] = q.id & 0xff;
  out[2] = 0x80 | (parts.aa ? 0x04 : 0) | (truncated || parts.partial ? 0x02 : 0) | (q.rd ? 0x01 : 0);
  out[3] = (parts.ra ? 0x80 : 0) | (q.cd ? 0x10 : 0) | (parts.rcode & 0xf);
  out[5] = 1;
  let off = HEADER;
  out.set(question, off);
  off += question.length;
  if (!truncated) {
    off = writeSection(out, 6, answers, off);
    off = writeSection(out, 8, authority, off);
    if (withAdditional) off = writeSection(out, 10, additional, off, opt ? 1 : 0);
  }
  if (opt) {
    out.set(opt, off);
    const ar = ((out[10] << 8) | out[11]) + (withAdditional && !truncated ? 0 : 1);
    out[10] = ar >> 8;
    out[11] = ar & 0xff;
  }
  return { bytes: out, truncated };
}

function writeSection(out: Uint8Array, countAt: number, recs: Uint8Array[], off: number, plus = 0): number {
  const n = recs.length + plus;
  out[countAt] = n >> 8;
  out[countAt + 1] = n & 0xff;
  for (const r of recs) {
    out.set(r, off);
    off += r.length;
  }
  return off;
}

/** An error reply with no question (FORMERR, NOTIMP): id and opcode echoed. */
export function buildErrorReply(e: Refusal): Uint8Array {
  const out = new Uint8Array(HEADER);
  out[0] = e.id >> 8;
  out[1] = e.id & 0xff;
  out[2] = 0x80 | ((e.flags >> 8) & 0x79); // QR + opcode + RD
  out[3] = e.rcode & 0xf;
  return out;
}

/** Our OPT record: root owner, our payload size, version 0; extended rcode bits from `rcode`. */
export function optRecord(rcode = 0): Uint8Array {
  const b = new Uint8Array(11);
  b[1] = 0;
  b[2] = QTYPE.OPT;
  b[3] = OUR_EDNS_PAYLOAD >> 8;
  b[4] = OUR_EDNS_PAYLOAD & 0xff;
  b[5] = (rcode >> 4) & 0xff;
  return b;
}

/** Reply size limit for a query received over `proto` (RFC 1035 512 bytes, or the EDNS size). */
export function replyLimit(q: Query, proto: "udp" | "tcp"): number {
  if (proto === "tcp") return 65535;
  if (!q.edns) return 512;
  return Math.max(512, Math.min(q.edns.payload, MAX_EDNS_PAYLOAD));
}
