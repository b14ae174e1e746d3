/**
 * Replay-protected peer envelope over the keyring: every agent-to-agent message (gossip datagrams,
 * push-pull, KV peer traffic, RAFT, exec) is sealed as `keyring.seal([8-byte send time ms][payload])`.
 * AES-GCM authenticates the send time with the payload; the receiver drops a message whose time is
 * outside `windowMs` of its own clock (stale or from the future) or whose GCM nonce it has already
 * seen inside the window (replay). Without a key nothing can be authenticated: messages pass as
 * plain bytes (the agent warns loudly at start).
 *
 * ```ts
 * const env = new PeerEnvelope(await Keyring.create([key]), { now: () => Date.now() });
 * const wire = await env.seal(payload);
 * const r = await env.open(wire); // { ok: true, plain } or { ok: false, reason: "replay" | ... }
 * ```
 */
import { Keyring, SEAL_OVERHEAD } from "./keyring.ts";

/** Why an envelope was dropped. */
export type DropReason = "auth" | "stale" | "replay" | "malformed";

/** A drop reason in an operator's words (for a failed join or exchange). */
export function explainDrop(reason: string): string {
  switch (reason) {
    case "auth":
      return "not sealed with a key the receiver holds (encryption_key differs between the two agents, or only one has one)";
    case "stale":
      return "its send time is outside the receiver's clock window (are both hosts' clocks in sync?)";
    case "replay":
      return "already seen (a replay)";
    case "malformed":
      return "malformed";
    default:
      return reason;
  }
}

export type OpenResult = { ok: true; plain: Uint8Array } | { ok: false; reason: DropReason };

/** Bytes the envelope adds to a payload when encryption is on. */
export const ENVELOPE_OVERHEAD = SEAL_OVERHEAD + 8;

/** Default accepted clock skew between agents. */
export const DEFAULT_WINDOW_MS = 30_000;

export interface EnvelopeOptions {
  now(): number;
  /** Accepted distance between the sender's clock and ours (default 30 s). */
  windowMs?: number;
  /** Most nonces remembered; past it the oldest are forgotten early (default 200 000). */
  maxRemembered?: number;
}

/** Seals and opens peer messages; counts what it drops. */
export class PeerEnvelope {
  readonly #keyring: Keyring;
  readonly #now: () => number;
  readonly #window: number;
  readonly #max: number;
  /** GCM nonce (as a 12-char string) → time after which it can be forgotten; insertion order = expiry order. */
  readonly #seen = new Map<string, number>();
  /** Dropped messages by reason (for /metrics). */
  readonly dropped: Record<DropReason, number> = { auth: 0, stale: 0, replay: 0, malformed: 0 };

  constructor(keyring: Keyring, opts: EnvelopeOptions) {
    this.#keyring = keyring;
    this.#now = opts.now;
    this.#window = opts.windowMs ?? DEFAULT_WINDOW_MS;
    this.#max = opts.maxRemembered ?? 200_000;
  }

  /** True when messages are authenticated (a key is installed). */
  get enabled(): boolean {
    return this.#keyring.enabled;
  }

  /** The keyring behind the envelope (rotation goes through it). */
  get keyring(): Keyring {
    return this.#keyring;
  }

  async seal(payload: Uint8Array): Promise<Uint8Array> {
    if (!this.#keyring.enabled) return payload;
    const framed = new Uint8Array(8 + payload.length);
    new DataView(framed.buffer).setFloat64(0, this.#now());
    framed.set(payload, 8);
    return await this.#keyring.seal(framed);
  }

  async open(wire: Uint8Array): Promise<OpenResult> {
    if (!this.#keyring.enabled) return { ok: true, plain: wire };
    if (wire.length < ENVELOPE_OVERHEAD) return this.#drop("malformed");
    const framed = await this.#keyring.open(wire);
    if (!framed) return this.#drop("auth");
    if (framed.length < 8) return this.#drop("malformed");
    const sent = new DataView(framed.buffer, framed.byteOffset, 8).getFloat64(0);
    const now = this.#now();
    if (!Number.isFinite(sent) || Math.abs(now - sent) > this.#window) return this.#drop("stale");
    const nonce = String.fromCharCode(...wire.subarray(1, 13));
    this.#forget(now);
    if (this.#seen.has(nonce)) return this.#drop("replay");
    this.#seen.set(nonce, now + 2 * this.#window);
    return { ok: true, plain: framed.subarray(8) };
  }

  #drop(reason: DropReason): OpenResult {
    this.dropped[reason]++;
    return { ok: false, reason };
  }

  #forget(now: number): void {
    for (const [k, until] of this.#seen) {
      // kept through `until` itself: a message dated a whole window ahead is still inside it then
      if (until >= now && this.#seen.size < this.#max) break;
      this.#seen.delete(k);
    }
  }
}
