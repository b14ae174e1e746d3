/**
 * Authentication of agent-to-agent KV traffic (`/kv-internal/...`). When the cluster has an
 * encryption key, each request carries `X-Kunai-Peer-Auth: <epoch ms>.<hex HMAC-SHA256>` over
 * `method \n path \n timestamp \n body`, keyed by HKDF-SHA256(encryption key, "kunai-kv-peer").
 * Receivers accept any key of the keyring and a clock skew of `maxSkewMs`. Without a key,
 * requests go plain (a trusted network is assumed, as for the reference).
 *
 * ```ts
 * const auth = await PeerAuth.fromKeys(["<base64 key>"]);
 * const h = await auth.sign("POST", "/kv-internal/apply", body, Date.now());
 * await auth.verify("POST", "/kv-internal/apply", body, h, Date.now()); // null when fine
 * ```
 */
export const PEER_AUTH_HEADER = "x-kunai-peer-auth";
const encoder = new TextEncoder();

async function deriveKey(secret: Uint8Array): Promise<CryptoKey> {
  const base = await crypto.subtle.importKey("raw", secret as BufferSource, "HKDF", false, ["deriveKey"]);
  return await crypto.subtle.deriveKey(
    {
      name: "HKDF",
      hash: "SHA-256",
      salt: encoder.encode("kunai-kv-peer"),
      info: encoder.encode("kv-internal v1"),
    },
    base,
    { name: "HMAC", hash: "SHA-256", length: 256 },
    false,
    ["sign", "verify"],
  );
}

function decodeKey(b64: string, index: number): Uint8Array {
  let bin: string;
  try {
    bin = atob(b64.trim());
  } catch {
    throw new Error(`encryption key #${index + 1} is not valid base64`);
  }
  if (![16, 24, 32].includes(bin.length)) {
    throw new Error(`encryption key #${index + 1} is ${bin.length} bytes; expected 16, 24 or 32`);
  }
  return Uint8Array.from(bin, (c) => c.charCodeAt(0));
}

function message(method: string, path: string, body: Uint8Array, ts: string): Uint8Array {
  const head = encoder.encode(`${method.toUpperCase()}\n${path}\n${ts}\n`);
  const out = new Uint8Array(head.length + body.length);
  out.set(head);
  out.set(body, head.length);
  return out;
}

function hex(b: ArrayBuffer): string {
  return [...new Uint8Array(b)].map((x) => x.toString(16).padStart(2, "0")).join("");
}

function unhex(s: string): Uint8Array | null {
  if (!/^[0-9a-f]{64}$/.test(s)) return null;
  const out = new Uint8Array(32);
  for (let i = 0; i < 32; i++) out[i] = parseInt(s.slice(i * 2, i * 2 + 2), 16);
  return out;
}

/** Signs outgoing and verifies incoming internal requests; `enabled` is false without a key. */
export class PeerAuth {
  /** First key signs; every key verifies (rotation). */
  #keys: CryptoKey[];
  readonly maxSkewMs: number;

  private constructor(keys: CryptoKey[], maxSkewMs: number) {
    this.#keys = keys;
    this.maxSkewMs = maxSkewMs;
  }

  /** From base64 keys (primary first); empty strings are skipped. Throws naming a bad key. */
  static async fromKeys(keys: string[], maxSkewMs = 30_000): Promise<PeerAuth> {
    const raw = keys.map((k, i) => ({ k, i })).filter(({ k }) => k.trim() !== "");
    const derived = await Promise.all(raw.map(({ k, i }) => deriveKey(decodeKey(k, i))));
    return new PeerAuth(derived, maxSkewMs);
  }

  /** Plain traffic (no key configured). */
  static disabled(): PeerAuth {
    return new PeerAuth([], 30_000);
  }

  get enabled(): boolean {
    return this.#keys.length > 0;
  }

  /** The header value for a request, or null when auth is off. */
  async sign(method: string, path: string, body: Uint8Array, nowMs: number): Promise<string | null> {
    if (!this.enabled) return null;
    const ts = String(Math.floor(nowMs));
    const mac = await crypto.subtle.sign(
      "HMAC",
      this.#keys[0],
      message(method, path, body, ts) as BufferSource,
    );
    return `${ts}.${hex(mac)}`;
  }

  /** Null when the request is authentic (or auth is off), else the reason it is refused. */
  async verify(
    method: string,
    path: string,
    body: Uint8Array,
    header: string | null | undefined,
    nowMs: number,
  ): Promise<string | null> {
    if (!this.enabled) return null;
    if (!header) return `missing ${PEER_AUTH_HEADER} header`;
    const m = /^(\d{1,16})\.([0-9a-f]{64})$/.exec(header.trim());
    if (!m) return `malformed ${PEER_AUTH_HEADER} header`;
    const ts = Number(m[1]);
    if (Math.abs(nowMs - ts) > this.maxSkewMs) return `timestamp is ${Math.round((nowMs - ts) / 1000)} s off`;
    const mac = unhex(m[2])!;
    const msg = message(method, path, body, m[1]);
    for (const k of this.#keys) {
      if (await crypto.subtle.verify("HMAC", k, mac as BufferSource, msg as BufferSource)) return null;
    }
    return "signature does not match any key of the keyring";
  }
}
