/**
 * Wire format of gossip: a datagram is a JSON array of messages (one or more), each with a
 * `type`. Push-pull bodies are one `push-pull-msg` object. Decoding validates every field with
 * caps on every length and never throws: it returns `{ok: false, error}` for anything odd.
 */
import { INCARNATION_MAX, type Maintenance, type MemberRecord, type MemberState } from "../types.ts";
import { isLzPacket, unpackLz } from "./lz.ts";
import { isHostAddr } from "../transport/types.ts";

export const LIMITS = {
  datagram: 65507,
  pushPull: 16 * 1024 * 1024,
  messagesPerPacket: 256,
  uuid: 64,
  name: 255,
  addr: 255,
  tags: 256,
  tag: 255,
  members: 100_000,
  servicesJson: 64 * 1024,
  /**
   * Deepest nesting of a member's services or an event's payload (objects and lists). JSON.parse
   * takes any depth; what this agent later does with the value (encodes it again for other members,
   * serialises it for the API, walks it for templates) recurses, and a value nested thousands deep
   * that passed here could throw there, in a deeper stack. The limit of configuration files and API
   * bodies, so services a configuration accepts are never refused by the other members.
   */
  jsonDepth: 64,
  userKind: 64,
  userPayloadJson: 32 * 1024,
  detectPad: 2048,
  maintenanceReason: 256,
};

export interface PingMsg {
  type: "ping";
  seqno: number;
  /** uuid of the node this ping is for (a node ignores pings meant for another uuid). */
  node: string;
  from: string;
}
/**
 * Indirect probe request: ping `tgt` for me. `addr`/`port` are kept on the wire for older peers but
 * ignored: a relay pings the target at the address it holds for that member (no reflection).
 */
export interface PingRelayMsg {
  type: "ping-relay";
  seqno: number;
  tgt: string;
  addr: string;
  port: number;
  from: string;
  /** Lifeguard: the relay answers `nack` if the target stays silent. */
  nack: boolean;
}
export interface AckMsg {
  type: "ack";
  seqno: number;
}
export interface NackMsg {
  type: "nack";
  seqno: number;
}
/** A node's full record at an incarnation. */
export interface AliveMsg {
  type: "alive";
  uuid: string;
  name: string;
  addr: string;
  port: number;
  incarnation: number;
  tags: string[];
  services: Record<string, unknown>;
  zone: string;
  /** The node's gossip protocol (see GOSSIP_PROTO); absent from agents that predate it. */
  proto?: number;
  /** Present while the node is in maintenance (older agents drop it: they see the node as usual). */
  maintenance?: Maintenance;
}
export interface SuspectMsg {
  type: "suspect" | "dead";
  uuid: string;
  incarnation: number;
  /** Who suspects (Lifeguard counts independent confirmations). */
  from: string;
}
export interface LeaveMsg {
  type: "leave";
  uuid: string;
  incarnation: number;
}
/** Cluster-wide keyring operation (only accepted inside an encrypted cluster). */
export interface KeyOpMsg {
  type: "keyop";
  op: "install" | "use" | "remove";
  key: string;
  id: string;
  /**
   * For `use`: when it was issued (epoch ms, never below the issuer's last use + 1), so a late
   * copy of an older use cannot undo a newer one. Absent from agents before it existed.
   */
  at?: number;
}
/** Payload of another subsystem, carried and de-duplicated by id. */
export interface UserMsg {
  type: "user";
  kind: string;
  id: string;
  payload: unknown;
}
/**
 * One member record of a seed's catch-up sent as datagrams (see PushPull's catch-up): merged like
 * a push-pull's record, without being gossiped on. `from` is the seed's uuid, `of` how many members
 * it held (a joiner that holds fewer after the push lost some of it).
 */
export interface PushMsg {
  type: "push";
  from: string;
  of: number;
  node: MemberRecord;
}
/**
 * `kunai agent detect`: who answers on this network? Broadcast (or sent) to the gossip port; every
 * agent that answers detection replies with a `detect-reply` naming the same `nonce`. `pad` makes
 * the request at least as large as any reply (no agent sends more than it received: a spoofed
 * source cannot turn agents into amplifiers).
 */
export interface DetectMsg {
  type: "detect";
  nonce: string;
  from: string;
  pad?: string;
}
/** An agent's answer to a detection: who it is and how large its cluster is. */
export interface DetectReplyMsg {
  type: "detect-reply";
  nonce: string;
  uuid: string;
  name: string;
  addr: string;
  port: number;
  zone: string;
  /** Members it knows as alive or suspect (itself included): 1 = not in a cluster yet. */
  members: number;
}
export type GossipMsg =
  | DetectMsg
  | DetectReplyMsg
  | PingMsg
  | PingRelayMsg
  | AckMsg
  | NackMsg
  | AliveMsg
  | SuspectMsg
  | LeaveMsg
  | KeyOpMsg
  | UserMsg
  | PushMsg;

/** One record in a push-pull exchange. */
export type PushPullRecord = MemberRecord;

/**
 * Protocol version of push-pull bodies (memberlist checks its own the same way): a peer whose
 * version is outside [PROTOCOL_MIN, PROTOCOL_MAX] is refused with a message naming both.
 * 1 = the first wire format (no `protocol` field); 2 = sealed in the replay-protected envelope.
 */
export const PROTOCOL_VERSION = 2;
export const PROTOCOL_MIN = 2;
export const PROTOCOL_MAX = 2;

export interface PushPullMsg {
  type: "push-pull-msg";
  /** Wire protocol version of the sender (absent = 1). */
  protocol: number;
  join: boolean;
  /**
   * A seed's catch-up: `nodes` holds only what the receiver was not told yet (and the sender's own
   * record), and the receiver answers with its own record alone instead of its whole table. Agents
   * that predate the field ignore it and answer in full.
   */
  push?: boolean;
  /** Sender uuid: its own record counts as strong evidence that it is alive. */
  from?: string;
  nodes: Record<string, PushPullRecord>;
}

/**
 * The gossip protocol this agent speaks, carried as `proto` in its record: 3 = it reads compressed
 * datagrams (lib/gossip/lz.ts), 4 = also `push` messages (a seed's catch-up as datagrams). Packets
 * to a member are compressed only when its record says 3 or more, and a seed catches a joiner up
 * with datagrams only when it says 4 or more (else with a push-pull exchange); agents that predate
 * the field drop its unknown key and are sent plain JSON.
 */
export const GOSSIP_PROTO = 4;
/** The first protocol that reads compressed datagrams. */
export const PROTO_LZ = 3;
/** The first protocol that reads `push` messages. */
export const PROTO_PUSH = 4;

/** The alive message announcing a record (its state left out). */
export function aliveOf(rec: MemberRecord): AliveMsg {
  const { uuid, name, addr, port, incarnation, tags, services, zone } = rec;
  const msg: AliveMsg = {
    type: "alive",
    uuid,
    name,
    addr,
    port,
    incarnation,
    tags,
    services,
    zone: zone ?? "",
  };
  if (rec.proto !== undefined) msg.proto = rec.proto;
  if (rec.maintenance) msg.maintenance = rec.maintenance;
  return msg;
}

/** The record an alive message describes, in `state`. */
export function recordOf(msg: AliveMsg, state: MemberState = "alive"): MemberRecord {
  const { uuid, name, addr, port, incarnation, tags, services, zone } = msg;
  const rec: MemberRecord = { uuid, name, addr, port, incarnation, state, tags, services, zone: zone ?? "" };
  if (msg.proto !== undefined) rec.proto = msg.proto;
  if (msg.maintenance) rec.maintenance = msg.maintenance;
  return rec;
}

export type Decoded<T> = { ok: true; value: T } | { ok: false; error: string };

const enc = new TextEncoder();
const dec = new TextDecoder("utf-8", { fatal: true });

/** Serialises messages (and already serialised ones) into one datagram payload. */
export function encodePacket(msgs: GossipMsg[], serialised: string[] = []): Uint8Array {
  const parts = msgs.map((m) => JSON.stringify(m));
  for (const s of serialised) parts.push(s);
  return enc.encode(`[${parts.join(",")}]`);
}

/** Size in bytes of one message once inside a packet (for the datagram budget). */
export function encodedSize(msg: GossipMsg): number {
  return enc.encode(JSON.stringify(msg)).length;
}

export function encodePushPull(msg: PushPullMsg): Uint8Array {
  return enc.encode(JSON.stringify(msg));
}

class Bad extends Error {}

function parseJson(bytes: Uint8Array, max: number): unknown {
  if (bytes.length > max) throw new Bad(`packet of ${bytes.length} bytes exceeds ${max}`);
  let text: string;
  try {
    text = dec.decode(bytes);
  } catch {
    throw new Bad("not UTF-8");
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new Bad(`not JSON: ${(err as Error).message}`);
  }
}

/**
 * Decodes a datagram (array of messages or a single message object), compressed (lz.ts) or not; a
 * compressed one may not unpack to more than a plain datagram could hold.
 */
export function decodePacket(bytes: Uint8Array): Decoded<GossipMsg[]> {
  try {
    if (bytes.length > LIMITS.datagram) {
      throw new Bad(`packet of ${bytes.length} bytes exceeds ${LIMITS.datagram}`);
    }
    if (isLzPacket(bytes)) {
      const plain = unpackLz(bytes, LIMITS.datagram);
      if (plain === null) {
        throw new Bad(`compressed packet: unknown format, corrupt, or over ${LIMITS.datagram} bytes`);
      }
      bytes = plain;
    }
    const raw = parseJson(bytes, LIMITS.datagram);
    const list = Array.isArray(raw) ? raw : [raw];
    if (list.length === 0) throw new Bad("empty packet");
    if (list.length > LIMITS.messagesPerPacket) {
      throw new Bad(`more than ${LIMITS.messagesPerPacket} messages`);
    }
    return { ok: true, value: list.map((m, i) => checkMsg(m, `[${i}]`)) };
  } catch (err) {
    return { ok: false, error: err instanceof Bad ? err.message : `decoder failure: ${String(err)}` };
  }
}

/** Decodes a push-pull body. */
export function decodePushPull(bytes: Uint8Array): Decoded<PushPullMsg> {
  try {
    const raw = parseJson(bytes, LIMITS.pushPull);
    const o = obj(raw, "push-pull");
    if (o.type !== "push-pull-msg") throw new Bad("push-pull: type must be push-pull-msg");
    const protocol = o.protocol === undefined ? 1 : uint(o, "protocol", 255, "push-pull");
    if (protocol < PROTOCOL_MIN || protocol > PROTOCOL_MAX) {
      throw new Bad(
        `push-pull: protocol version ${protocol} not supported (this agent speaks ${PROTOCOL_MIN}..${PROTOCOL_MAX})`,
      );
    }
    const nodes = obj(o.nodes, "push-pull.nodes");
    const keys = Object.keys(nodes);
    if (keys.length > LIMITS.members) throw new Bad(`push-pull: more than ${LIMITS.members} nodes`);
    const out: Record<string, PushPullRecord> = {};
    for (const k of keys) {
      const r = checkRecord(nodes[k], `push-pull.nodes.${k.slice(0, 64)}`);
      out[r.uuid] = r;
    }
    const from = typeof o.from === "string" && o.from.length <= LIMITS.uuid ? o.from : undefined;
    const value: PushPullMsg = { type: "push-pull-msg", protocol, join: o.join === true, from, nodes: out };
    if (o.push === true) value.push = true;
    return { ok: true, value };
  } catch (err) {
    return { ok: false, error: err instanceof Bad ? err.message : `decoder failure: ${String(err)}` };
  }
}

function obj(v: unknown, path: string): Record<string, unknown> {
  if (!v || typeof v !== "object" || Array.isArray(v)) throw new Bad(`${path}: expected an object`);
  return v as Record<string, unknown>;
}

function str(o: Record<string, unknown>, k: string, max: number, path: string, allowEmpty = false): string {
  const v = o[k];
  if (typeof v !== "string") throw new Bad(`${path}.${k}: expected a string`);
  if (v.length > max) throw new Bad(`${path}.${k}: longer than ${max}`);
  if (!allowEmpty && !v) throw new Bad(`${path}.${k}: empty`);
  return v;
}

/**
 * A record's uuid names files (the Shinken export's `<uuid>.cfg`), KV keys and Nagios host names: what
 * the network sends must be a plain token (ours are 40 hex digits, the original's 32).
 */
const UUID_SHAPE = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

function nodeUuid(o: Record<string, unknown>, path: string): string {
  const v = str(o, "uuid", LIMITS.uuid, path);
  if (!UUID_SHAPE.test(v) || v.includes("..")) {
    throw new Bad(`${path}.uuid: not a node uuid (letters, digits, _ . -)`);
  }
  return v;
}

/**
 * A node's address goes into `http://<addr>:<port>/...` URLs (KV, exec, queries, metrics, raft), DNS
 * answers, Nagios and generated config files: an IP or a host name, nothing that would change a URL's
 * host or path (`/`, `#`, `@`) or a config line (spaces, control characters).
 */
function hostAddr(o: Record<string, unknown>, path: string): string {
  const v = str(o, "addr", LIMITS.addr, path);
  if (!isHostAddr(v)) throw new Bad(`${path}.addr: not an IP address or host name`);
  return v;
}

function uint(o: Record<string, unknown>, k: string, max: number, path: string): number {
  const v = o[k];
  if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v > max) {
    throw new Bad(`${path}.${k}: expected an integer 0..${max}`);
  }
  return v;
}

const SEQ_MAX = 2 ** 32;
/** Incarnations and stamps: above it, one more would be refused by this very decoder (see INCARNATION_MAX). */
const INC_MAX = INCARNATION_MAX;

function tagsOf(o: Record<string, unknown>, path: string): string[] {
  const v = o.tags ?? [];
  if (!Array.isArray(v)) throw new Bad(`${path}.tags: expected a list`);
  if (v.length > LIMITS.tags) throw new Bad(`${path}.tags: more than ${LIMITS.tags}`);
  return v.map((t, i) => {
    if (typeof t !== "string" || t.length > LIMITS.tag) throw new Bad(`${path}.tags[${i}]: bad tag`);
    return t;
  });
}

/** True when a parsed JSON value nests objects or lists more than `max` deep (walked without recursion). */
export function deeperThan(v: unknown, max: number): boolean {
  const stack: Array<[unknown, number]> = [[v, 0]];
  while (stack.length) {
    const [x, d] = stack.pop()!;
    if (!x || typeof x !== "object") continue;
    if (d >= max) return true;
    for (const c of Array.isArray(x) ? x : Object.values(x)) {
      if (c && typeof c === "object") stack.push([c, d + 1]);
    }
  }
  return false;
}

function servicesOf(o: Record<string, unknown>, path: string): Record<string, unknown> {
  const v = o.services ?? {};
  const s = obj(v, `${path}.services`);
  if (deeperThan(s, LIMITS.jsonDepth)) {
    throw new Bad(`${path}.services: nested deeper than ${LIMITS.jsonDepth}`);
  }
  if (JSON.stringify(s).length > LIMITS.servicesJson) {
    throw new Bad(`${path}.services: larger than ${LIMITS.servicesJson}`);
  }
  return s;
}

const STATES: MemberState[] = ["alive", "suspect", "dead", "leave"];

function checkRecord(raw: unknown, path: string): PushPullRecord {
  const o = obj(raw, path);
  const state = o.state;
  if (typeof state !== "string" || !STATES.includes(state as MemberState)) {
    throw new Bad(`${path}.state: expected alive|suspect|dead|leave`);
  }
  const rec: PushPullRecord = {
    uuid: nodeUuid(o, path),
    name: str(o, "name", LIMITS.name, path),
    addr: hostAddr(o, path),
    port: uint(o, "port", 65535, path),
    incarnation: uint(o, "incarnation", INC_MAX, path),
    state: state as MemberState,
    tags: tagsOf(o, path),
    services: servicesOf(o, path),
    zone: o.zone === undefined || o.zone === null ? "" : str(o, "zone", LIMITS.name, path, true),
  };
  if (o.proto !== undefined && o.proto !== null) rec.proto = uint(o, "proto", 255, path);
  if (o.maintenance !== undefined && o.maintenance !== null) rec.maintenance = maintenanceOf(o, path);
  return rec;
}

function maintenanceOf(o: Record<string, unknown>, path: string): Maintenance {
  const m = obj(o.maintenance, `${path}.maintenance`);
  const p = `${path}.maintenance`;
  return {
    reason: str(m, "reason", LIMITS.maintenanceReason, p, true),
    since: uint(m, "since", INC_MAX, p),
    until: m.until === null || m.until === undefined ? null : uint(m, "until", INC_MAX, p),
  };
}

function checkMsg(raw: unknown, path: string): GossipMsg {
  const o = obj(raw, path);
  const type = o.type;
  switch (type) {
    case "ping":
      return {
        type,
        seqno: uint(o, "seqno", SEQ_MAX, path),
        node: str(o, "node", LIMITS.uuid, path),
        from: str(o, "from", LIMITS.uuid, path),
      };
    case "ping-relay":
      return {
        type,
        seqno: uint(o, "seqno", SEQ_MAX, path),
        tgt: str(o, "tgt", LIMITS.uuid, path),
        addr: str(o, "addr", LIMITS.addr, path),
        port: uint(o, "port", 65535, path),
        from: str(o, "from", LIMITS.uuid, path),
        nack: o.nack === true,
      };
    case "ack":
    case "nack":
      return { type, seqno: uint(o, "seqno", SEQ_MAX, path) };
    case "alive":
      return aliveOf(checkRecord({ ...o, state: "alive" }, path));
    case "suspect":
    case "dead":
      return {
        type,
        uuid: str(o, "uuid", LIMITS.uuid, path),
        incarnation: uint(o, "incarnation", INC_MAX, path),
        from: str(o, "from", LIMITS.uuid, path),
      };
    case "leave":
      return {
        type,
        uuid: str(o, "uuid", LIMITS.uuid, path),
        incarnation: uint(o, "incarnation", INC_MAX, path),
      };
    case "keyop": {
      const op = o.op;
      if (op !== "install" && op !== "use" && op !== "remove") {
        throw new Bad(`${path}.op: expected install|use|remove`);
      }
      const msg: KeyOpMsg = { type, op, key: str(o, "key", 64, path), id: str(o, "id", 64, path) };
      if (o.at !== undefined) msg.at = uint(o, "at", INC_MAX, path);
      return msg;
    }
    case "push":
      return {
        type,
        from: str(o, "from", LIMITS.uuid, path),
        of: uint(o, "of", LIMITS.members, path),
        node: checkRecord(o.node, `${path}.node`),
      };
    case "detect":
      return {
        type,
        nonce: str(o, "nonce", LIMITS.uuid, path),
        from: str(o, "from", LIMITS.uuid, path),
        pad: o.pad === undefined ? undefined : str(o, "pad", LIMITS.detectPad, path, true),
      };
    case "detect-reply":
      return {
        type,
        nonce: str(o, "nonce", LIMITS.uuid, path),
        uuid: str(o, "uuid", LIMITS.uuid, path),
        name: str(o, "name", LIMITS.name, path),
        addr: hostAddr(o, path),
        port: uint(o, "port", 65535, path),
        zone: o.zone === undefined || o.zone === null ? "" : str(o, "zone", LIMITS.name, path, true),
        members: uint(o, "members", LIMITS.members, path),
      };
    case "user": {
      const payload = o.payload ?? null;
      if (deeperThan(payload, LIMITS.jsonDepth)) {
        throw new Bad(`${path}.payload: nested deeper than ${LIMITS.jsonDepth}`);
      }
      if (JSON.stringify(payload).length > LIMITS.userPayloadJson) {
        throw new Bad(`${path}.payload: too large`);
      }
      return { type, kind: str(o, "kind", LIMITS.userKind, path), id: str(o, "id", 64, path), payload };
    }
    default:
      throw new Bad(`${path}.type: unknown message type ${JSON.stringify(String(type).slice(0, 32))}`);
  }
}
