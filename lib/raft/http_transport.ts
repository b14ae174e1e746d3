/**
 * RAFT messages between agents: JSON sealed in the shared PeerEnvelope (keyring + replay window),
 * POSTed to the peer route `/raft/msg` of the target's HTTP port. Fire and forget: elections
 * tolerate loss, so a peer with too many messages in flight gets the next ones dropped (counted).
 */
import type { PeerEnvelope } from "../transport/mod.ts";
import { type RaftMsg, type RaftMsgType, TERM_MAX } from "./machine.ts";
import type { RaftTransport } from "./group.ts";
import { hostPort } from "../host_port.ts";

export const RAFT_PATH = "/raft/msg";
const MAX_IN_FLIGHT = 4;
const SEND_TIMEOUT_MS = 1000;
const TYPES = new Set<RaftMsgType>([
  "prevote",
  "prevote_reply",
  "vote",
  "vote_reply",
  "heartbeat",
  "heartbeat_reply",
]);

export interface HttpTransportOptions {
  envelope: PeerEnvelope;
  /** Where a member (by uuid) listens; null when unknown. */
  locate: (id: string) => { addr: string; port: number } | null;
  onDrop: (reason: string) => void;
}

export class HttpRaftTransport implements RaftTransport {
  #opts: HttpTransportOptions;
  #inFlight = new Map<string, number>();
  #client: Deno.HttpClient | null = Deno.createHttpClient({});

  constructor(opts: HttpTransportOptions) {
    this.#opts = opts;
  }

  send(to: string, msg: RaftMsg): void {
    const at = this.#opts.locate(to);
    if (!at || !this.#client) return this.#opts.onDrop("unknown-peer");
    const n = this.#inFlight.get(to) ?? 0;
    if (n >= MAX_IN_FLIGHT) return this.#opts.onDrop("backlog");
    this.#inFlight.set(to, n + 1);
    const host = hostPort(at.addr, at.port);
    const client = this.#client;
    this.#opts.envelope.seal(encodeMsg(msg))
      .then((body) =>
        fetch(`http://${host}${RAFT_PATH}`, {
          method: "POST",
          body: body as Uint8Array<ArrayBuffer>,
          headers: { "content-type": "application/octet-stream" },
          signal: AbortSignal.timeout(SEND_TIMEOUT_MS),
          client,
        })
      )
      .then(async (res) => {
        await res.body?.cancel();
        if (!res.ok) this.#opts.onDrop(`http-${res.status}`);
      })
      .catch(() => this.#opts.onDrop("unreachable"))
      .finally(() => {
        // a peer with nothing in flight has no entry (voters come and go: no entry is left behind)
        const left = (this.#inFlight.get(to) ?? 1) - 1;
        if (left > 0) this.#inFlight.set(to, left);
        else this.#inFlight.delete(to);
      });
  }

  close(): void {
    this.#client?.close();
    this.#client = null;
  }
}

export function encodeMsg(msg: RaftMsg): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(msg));
}

/** Parses and validates a received message; a string says what is wrong. */
export function decodeMsg(bytes: Uint8Array): RaftMsg | string {
  let v: unknown;
  try {
    v = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    return "not JSON";
  }
  if (!v || typeof v !== "object") return "not an object";
  const m = v as Record<string, unknown>;
  if (typeof m.type !== "string" || !TYPES.has(m.type as RaftMsgType)) return "bad type";
  if (typeof m.group !== "string" || m.group.length > 256) return "bad group";
  if (typeof m.from !== "string" || !m.from || m.from.length > 128) return "bad from";
  if (!Number.isSafeInteger(m.term) || (m.term as number) < 0 || (m.term as number) > TERM_MAX) {
    return "bad term";
  }
  if (m.granted !== undefined && typeof m.granted !== "boolean") return "bad granted";
  return {
    type: m.type as RaftMsgType,
    group: m.group,
    from: m.from,
    term: m.term as number,
    granted: m.granted,
  };
}
