/**
 * How KV nodes talk to each other: one request/answer message per call, named by its kind.
 * `HttpKvTransport` (http_transport.ts) posts it, sealed in the agent's PeerEnvelope, to the peer's
 * `/kv-internal/<kind>`; `SimKvNetwork` (sim_transport.ts) delivers it in-process on a virtual clock
 * with partitions and kills, so KV clusters run deterministically in tests.
 */
import type { RingNode } from "./ring.ts";
import { hostPort } from "../host_port.ts";

/** The kinds of KV peer messages (and the last segment of their route). */
export const KV_MESSAGES = ["writes", "apply", "reads", "get", "list", "changed"] as const;
export type KvMessage = typeof KV_MESSAGES[number];

/** The peer did not answer (refused, reset, timed out, partitioned). */
export class PeerUnreachable extends Error {
  /**
   * `notSent`: the message never left (refused connection, deadline passed in our queue), so
   * another owner may take it; otherwise the peer may have received and applied it.
   */
  constructor(readonly peer: RingNode, reason: string, readonly notSent = false) {
    super(`${peer.name || peer.uuid.slice(0, 8)} (${hostPort(peer.addr, peer.port)}): ${reason}`);
    this.name = "PeerUnreachable";
  }
}

/** The peer answered with an error status. */
export class PeerRefused extends Error {
  constructor(readonly peer: RingNode, readonly status: number, readonly body: unknown) {
    const msg = body && typeof body === "object" && "error" in body
      ? String(body.error)
      : JSON.stringify(body);
    super(`${peer.name || peer.uuid.slice(0, 8)} answered ${status}: ${msg}`);
    this.name = "PeerRefused";
  }
}

/** Carries KV peer messages; the answer is the peer's parsed JSON. */
export interface KvTransport {
  /**
   * Sends `body` to `peer` and resolves its answer; PeerUnreachable when nothing answers before
   * `deadline` (epoch ms on the node's clock), PeerRefused when it answers an error.
   */
  call(
    peer: RingNode,
    kind: KvMessage,
    body: unknown,
    deadline: number,
    signal?: AbortSignal,
  ): Promise<unknown>;
}

/** The serving side: answers one message (throws KvError/HttpError for a refusal). */
export type KvServe = (kind: KvMessage, body: unknown, signal?: AbortSignal) => Promise<unknown>;
