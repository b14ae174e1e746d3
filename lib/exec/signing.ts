/**
 * Signed exec requests (Ed25519 through WebCrypto): the asker signs the canonical JSON of the
 * request with the cluster's private key; targets verify it with the public key, then check
 * expiry, targeting and replay (pure, in `checkRequest`).
 *
 * ```ts
 * const priv = await importPrivateKey(pemText);
 * const signed = await signRequest(priv, { v: 1, cid, cmd: "uname -a", tag: "web", nonce, issued, expires });
 * const verdict = await verifyRequest(pub, signed); // true / false
 * ```
 */

/** What the asker signs. Every field is covered by the signature. */
export interface ExecRequest {
  v: 1;
  /** Command group id (32 hex chars): the KV results live under `__exec/<cid>/`. */
  cid: string;
  cmd: string;
  /** Nodes carrying this tag run it (`*`: every node). */
  tag: string;
  /** 16 random bytes, base64: with `cid`, what a target remembers to refuse replays. */
  nonce: string;
  /** Epoch ms when signed, and after which no node runs it. */
  issued: number;
  expires: number;
  /** uuid of the asking node. */
  from: string;
}

export interface SignedRequest {
  req: ExecRequest;
  /** base64 Ed25519 signature of `canonicalBytes(req)`. */
  sig: string;
}

/** The exact bytes signed: JSON with the fields in a fixed order. */
export function canonicalBytes(r: ExecRequest): Uint8Array {
  const ordered = [r.v, r.cid, r.cmd, r.tag, r.nonce, r.issued, r.expires, r.from];
  return new TextEncoder().encode(JSON.stringify(ordered));
}

export async function signRequest(key: CryptoKey, req: ExecRequest): Promise<SignedRequest> {
  const sig = new Uint8Array(
    await crypto.subtle.sign("Ed25519", key, canonicalBytes(req) as Uint8Array<ArrayBuffer>),
  );
  return { req, sig: b64(sig) };
}

/** True when `sig` is a valid signature of the request by the holder of the private key. */
export async function verifyRequest(key: CryptoKey, signed: SignedRequest): Promise<boolean> {
  const sig = unb64(signed.sig);
  if (!sig || sig.length !== 64) return false;
  try {
    return await crypto.subtle.verify(
      "Ed25519",
      key,
      sig as Uint8Array<ArrayBuffer>,
      canonicalBytes(signed.req) as Uint8Array<ArrayBuffer>,
    );
  } catch {
    return false; // a malformed signature is just a bad one
  }
}

/** Parses a PKCS#8 PEM ("PRIVATE KEY") Ed25519 key; throws naming what is wrong. */
export async function importPrivateKey(pem: string): Promise<CryptoKey> {
  const der = pemBody(pem, "PRIVATE KEY");
  return await crypto.subtle.importKey("pkcs8", der as Uint8Array<ArrayBuffer>, { name: "Ed25519" }, false, [
    "sign",
  ]);
}

/** Parses an SPKI PEM ("PUBLIC KEY") Ed25519 key; throws naming what is wrong. */
export async function importPublicKey(pem: string): Promise<CryptoKey> {
  const der = pemBody(pem, "PUBLIC KEY");
  return await crypto.subtle.importKey("spki", der as Uint8Array<ArrayBuffer>, { name: "Ed25519" }, false, [
    "verify",
  ]);
}

function pemBody(pem: string, label: string): Uint8Array {
  const m = new RegExp(`-----BEGIN ${label}-----([A-Za-z0-9+/=\\s]+)-----END ${label}-----`).exec(pem);
  if (!m) throw new Error(`expected a PEM block "-----BEGIN ${label}-----"`);
  const der = unb64(m[1].replace(/\s+/g, ""));
  if (!der) throw new Error(`the ${label} PEM block is not valid base64`);
  return der;
}

export function b64(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s);
}

export function unb64(text: string): Uint8Array | null {
  try {
    return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
  } catch {
    return null;
  }
}

/** Why a target refuses a request. */
export type Refusal =
  | "malformed"
  | "no-public-key"
  | "bad-signature"
  | "expired"
  | "not-yet-valid"
  | "replay"
  | "not-targeted";

/** Accepted distance between the asker's clock and ours for `issued`. */
export const CLOCK_SKEW_MS = 30_000;
/** Longest lifetime a request may claim (a signed request is not a standing order). */
export const MAX_LIFETIME_MS = 10 * 60_000;

/** Longest command and tag a request may carry (every node refuses a longer one). */
export const MAX_EXEC_CMD = 8192;
export const MAX_EXEC_TAG = 256;
/**
 * What `from` may be: the sender's node uuid (40 hex characters), or a short name. It is logged with
 * every refusal, before the signature is checked: 8 MB of it made 32 MB log lines.
 */
const FROM_RE = /^[\w.:-]{1,64}$/;

/** Structural validation of what arrived (before the signature check). */
export function parseSigned(v: unknown): SignedRequest | null {
  if (!v || typeof v !== "object") return null;
  const { req, sig } = v as { req?: Record<string, unknown>; sig?: unknown };
  if (!req || typeof req !== "object" || typeof sig !== "string") return null;
  const ok = req.v === 1 && typeof req.cid === "string" && /^[0-9a-f]{32}$/.test(req.cid) &&
    typeof req.cmd === "string" && req.cmd.length > 0 && req.cmd.length <= MAX_EXEC_CMD &&
    typeof req.tag === "string" && req.tag.length > 0 && req.tag.length <= MAX_EXEC_TAG &&
    typeof req.nonce === "string" && req.nonce.length <= 64 && typeof req.from === "string" &&
    FROM_RE.test(req.from) &&
    Number.isSafeInteger(req.issued) && Number.isSafeInteger(req.expires);
  if (!ok) return null;
  const r = req as unknown as ExecRequest;
  return {
    req: {
      v: 1,
      cid: r.cid,
      cmd: r.cmd,
      tag: r.tag,
      nonce: r.nonce,
      issued: r.issued,
      expires: r.expires,
      from: r.from,
    },
    sig,
  };
}

/** The checks after a valid signature: time window, lifetime, targeting, replay. */
export function checkRequest(
  req: ExecRequest,
  at: { now: number; tags: string[]; seen: (key: string) => boolean },
): Refusal | null {
  if (req.expires < at.now) return "expired";
  if (req.issued > at.now + CLOCK_SKEW_MS || req.expires - req.issued > MAX_LIFETIME_MS) {
    return "not-yet-valid";
  }
  if (req.tag !== "*" && !at.tags.includes(req.tag)) return "not-targeted";
  if (at.seen(replayKey(req))) return "replay";
  return null;
}

export function replayKey(req: ExecRequest): string {
  return `${req.cid}/${req.nonce}`;
}
