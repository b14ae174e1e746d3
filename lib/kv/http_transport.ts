/**
 * KV peer messages over HTTP: `POST http://<addr>:<port>/kv-internal/<kind>` with the JSON body
 * sealed in the agent's PeerEnvelope (keyring AES-GCM, send time and nonce: authenticated,
 * encrypted, replay-protected; plain JSON without a key). The answer is sealed the same way; an
 * error status carries a plain `{"error"}` body.
 */
import type { Clock } from "../clock/mod.ts";
import type { PeerEnvelope } from "../transport/mod.ts";
import type { RingNode } from "./ring.ts";
import { readCapped } from "../read_capped.ts";
import { fetchFailure } from "../fetch_failure.ts";
import { type KvMessage, type KvTransport, PeerRefused, PeerUnreachable } from "./transport.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
/** Longest single call (blocking reads wait at most 10 min plus a request timeout). */
export const MAX_CALL_MS = 15 * 60_000;
/** Largest answer read from a peer (the peer stream's message bound). */
const MAX_ANSWER_BYTES = 64 * 1024 * 1024;

export class HttpKvTransport implements KvTransport {
  #env: PeerEnvelope;
  #clock: Clock;

  constructor(envelope: PeerEnvelope, clock: Clock) {
    this.#env = envelope;
    this.#clock = clock;
  }

  async call(
    peer: RingNode,
    kind: KvMessage,
    body: unknown,
    deadline: number,
    signal?: AbortSignal,
  ): Promise<unknown> {
    const ms = Math.max(1, Math.min(deadline - this.#clock.now(), MAX_CALL_MS));
    const sealed = await this.#env.seal(encoder.encode(JSON.stringify(body)));
    // one controller and a timer cleared on completion: AbortSignal.timeout leaves a timer firing per
    // request long after its answer, and AbortSignal.any costs more than the request under load
    const ctl = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      ctl.abort();
    }, ms);
    const cancel = () => ctl.abort();
    signal?.addEventListener("abort", cancel, { once: true });
    let res: Response;
    let bytes: Uint8Array;
    try {
      res = await fetch(`http://${hostPart(peer.addr)}:${peer.port}/kv-internal/${kind}`, {
        method: "POST",
        headers: { "content-type": "application/octet-stream" },
        body: sealed as Uint8Array<ArrayBuffer>,
        signal: ctl.signal,
      });
      bytes = await readCapped(res, MAX_ANSWER_BYTES);
    } catch (err) {
      const why = timedOut ? `no answer within ${Math.round(ms)} ms` : fetchFailure(err as Error, signal);
      // a connection refused or a host unreachable took nothing; the rest may have been received
      throw new PeerUnreachable(peer, why, why === "connection refused" || why === "host unreachable");
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener("abort", cancel);
    }
    if (!res.ok) throw new PeerRefused(peer, res.status, parse(decoder.decode(bytes)));
    const opened = await this.#env.open(bytes);
    if (!opened.ok) throw new PeerRefused(peer, 502, { error: `answer refused: ${opened.reason}` });
    const text = decoder.decode(opened.plain);
    try {
      return text ? JSON.parse(text) : null;
    } catch {
      throw new PeerRefused(peer, 502, { error: "answer is not JSON" });
    }
  }
}

function parse(text: string): unknown {
  try {
    return text ? JSON.parse(text) : null;
  } catch {
    return text.slice(0, 200);
  }
}

function hostPart(addr: string): string {
  return addr.includes(":") && !addr.startsWith("[") ? `[${addr}]` : addr;
}
