/**
 * One agent-to-agent call over the peers' HTTP port: a JSON payload sealed with the shared
 * `PeerEnvelope` (keyring + replay window) POSTed to a `peer` route, its sealed answer opened and
 * parsed. Used by the subsystems that ask another agent (metrics' reads and forwards, another node's
 * checks for `/agent/state/<node>`).
 */
import type { PeerEnvelope } from "./transport/mod.ts";
import type { MemberRecord } from "./types.ts";
import { readCapped } from "./read_capped.ts";
import { hostPort } from "./host_port.ts";
import { fetchFailure } from "./fetch_failure.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Largest answer a peer call reads (a series fetch has its own, larger bound). */
export const PEER_ANSWER_MAX = 64 * 1024 * 1024;

/** A peer answered with an HTTP error status (the call reached it: it is up, the request was not taken). */
export class PeerStatusError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

/**
 * Sends `payload` to `path` on `node` and returns its parsed (opened) answer; an answer longer than
 * `maxBytes` fails the call (it is read before it can be authenticated). An error status is a
 * `PeerStatusError`; a peer that cannot be reached or does not answer in `timeoutMs` is another error.
 */
export async function peerCall(
  envelope: PeerEnvelope | undefined,
  node: Pick<MemberRecord, "addr" | "port" | "name">,
  path: string,
  payload: unknown,
  timeoutMs = 5000,
  maxBytes = PEER_ANSWER_MAX,
): Promise<unknown> {
  const plain = encoder.encode(JSON.stringify(payload));
  const body = envelope ? await envelope.seal(plain) : plain;
  const signal = AbortSignal.timeout(timeoutMs);
  let res: Response;
  try {
    res = await fetch(`http://${hostPort(node.addr, node.port)}${path}`, {
      method: "POST",
      body: body as Uint8Array<ArrayBuffer>,
      headers: { "content-type": "application/octet-stream" },
      signal,
    });
  } catch (err) {
    throw new Error(signal.aborted ? `no answer within ${timeoutMs} ms` : fetchFailure(err as Error));
  }
  const bytes = await readCapped(res, maxBytes).catch((err) => {
    throw new Error(`${node.name} on ${path}: ${(err as Error).message}`);
  });
  if (!res.ok) {
    throw new PeerStatusError(
      res.status,
      `${node.name} answered ${res.status} on ${path}: ${decoder.decode(bytes).slice(0, 200)}`,
    );
  }
  let answer: Uint8Array = bytes;
  if (envelope) {
    const opened = await envelope.open(bytes);
    if (!opened.ok) throw new Error(`${node.name}: answer refused (${opened.reason})`);
    answer = opened.plain;
  }
  return JSON.parse(decoder.decode(answer));
}
