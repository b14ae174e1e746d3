/**
 * Signed exec requests (WebCrypto): the asker signs the canonical JSON of the request with the
 * cluster's private key; targets verify it with the public key, then check expiry, targeting and
 * replay (pure, in `checkRequest`). Keys are Ed25519 (`kunai keygen --exec`: PKCS#8 / SPKI PEM), or
 * the original's RSA pair (PKCS#1 PEM, "RSA PRIVATE KEY" / "RSA PUBLIC KEY", as its `rsa` module
 * saved them; or PKCS#8 / SPKI RSA), so a cluster moved from the Python kunai keeps its keys: with
 * RSA the signature is RSASSA-PKCS1-v1_5 over SHA-256 (the original's challenge exchange is gone).
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
  /** base64 signature of `canonicalBytes(req)` (Ed25519, or RSASSA-PKCS1-v1_5 SHA-256 with an RSA key). */
  sig: string;
}

/** The exact bytes signed: JSON with the fields in a fixed order. */
export function canonicalBytes(r: ExecRequest): Uint8Array {
  const ordered = [r.v, r.cid, r.cmd, r.tag, r.nonce, r.issued, r.expires, r.from];
  return new TextEncoder().encode(JSON.stringify(ordered));
}

const RSA: RsaHashedImportParams = { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" };

export async function signRequest(key: CryptoKey, req: ExecRequest): Promise<SignedRequest> {
  const sig = new Uint8Array(
    await crypto.subtle.sign(key.algorithm.name, key, canonicalBytes(req) as Uint8Array<ArrayBuffer>),
  );
  return { req, sig: b64(sig) };
}

/** True when `sig` is a valid signature of the request by the holder of the private key. */
export async function verifyRequest(key: CryptoKey, signed: SignedRequest): Promise<boolean> {
  const sig = unb64(signed.sig);
  if (!sig) return false;
  const rsa = key.algorithm.name === RSA.name;
  // an RSA signature is as long as the modulus; Ed25519's is 64 bytes
  const want = rsa ? Math.ceil((key.algorithm as RsaHashedKeyAlgorithm).modulusLength / 8) : 64;
  if (sig.length !== want) return false;
  try {
    return await crypto.subtle.verify(
      key.algorithm.name,
      key,
      sig as Uint8Array<ArrayBuffer>,
      canonicalBytes(signed.req) as Uint8Array<ArrayBuffer>,
    );
  } catch {
    return false; // a malformed signature is just a bad one
  }
}

/**
 * Parses the signing key: an Ed25519 or RSA PKCS#8 PEM ("PRIVATE KEY"), or the original's PKCS#1
 * RSA PEM ("RSA PRIVATE KEY"); throws naming what is wrong.
 */
export async function importPrivateKey(pem: string): Promise<CryptoKey> {
  if (pem.includes("-----BEGIN RSA PRIVATE KEY-----")) {
    const der = wrapRsa(pemBody(pem, "RSA PRIVATE KEY"), "private");
    return await importRsa("pkcs8", der, "sign");
  }
  const der = pemBody(pem, "PRIVATE KEY");
  try {
    return await crypto.subtle.importKey(
      "pkcs8",
      der as Uint8Array<ArrayBuffer>,
      { name: "Ed25519" },
      false,
      [
        "sign",
      ],
    );
  } catch {
    return await importRsa("pkcs8", der, "sign");
  }
}

/**
 * Parses the verifying key: an Ed25519 or RSA SPKI PEM ("PUBLIC KEY"), or the original's PKCS#1
 * RSA PEM ("RSA PUBLIC KEY"); throws naming what is wrong.
 */
export async function importPublicKey(pem: string): Promise<CryptoKey> {
  if (pem.includes("-----BEGIN RSA PUBLIC KEY-----")) {
    const der = wrapRsa(pemBody(pem, "RSA PUBLIC KEY"), "public");
    return await importRsa("spki", der, "verify");
  }
  const der = pemBody(pem, "PUBLIC KEY");
  try {
    return await crypto.subtle.importKey("spki", der as Uint8Array<ArrayBuffer>, { name: "Ed25519" }, false, [
      "verify",
    ]);
  } catch {
    return await importRsa("spki", der, "verify");
  }
}

async function importRsa(
  format: "pkcs8" | "spki",
  der: Uint8Array,
  use: "sign" | "verify",
): Promise<CryptoKey> {
  let key: CryptoKey;
  try {
    key = await crypto.subtle.importKey(format, der as Uint8Array<ArrayBuffer>, RSA, false, [use]);
  } catch {
    throw new Error(
      "neither an Ed25519 nor an RSA key (make a pair with kunai keygen --exec, or keep the original's RSA pair)",
    );
  }
  const bits = (key.algorithm as RsaHashedKeyAlgorithm).modulusLength;
  if (bits < 2048) {
    throw new Error(
      `an RSA key of ${bits} bits: at least 2048 are needed (make a pair with kunai keygen --exec)`,
    );
  }
  return key;
}

/** DER length octets. */
function derLength(n: number): number[] {
  if (n < 0x80) return [n];
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return [0x80 | bytes.length, ...bytes];
}

function der(tag: number, ...parts: Array<Uint8Array | number[]>): Uint8Array {
  const body = parts.flatMap((p) => [...p]);
  return Uint8Array.from([tag, ...derLength(body.length), ...body]);
}

/** AlgorithmIdentifier { rsaEncryption (1.2.840.113549.1.1.1), NULL }. */
const RSA_ALGORITHM = [
  0x30,
  0x0d,
  0x06,
  0x09,
  0x2a,
  0x86,
  0x48,
  0x86,
  0xf7,
  0x0d,
  0x01,
  0x01,
  0x01,
  0x05,
  0x00,
];

/** A PKCS#1 RSA key (what the original's `rsa` module saved) as PKCS#8 or SPKI, which WebCrypto reads. */
function wrapRsa(pkcs1: Uint8Array, kind: "private" | "public"): Uint8Array {
  if (kind === "private") return der(0x30, [0x02, 0x01, 0x00], RSA_ALGORITHM, der(0x04, pkcs1));
  return der(0x30, RSA_ALGORITHM, der(0x03, [0x00], pkcs1));
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
