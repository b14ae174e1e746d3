/**
 * AES-GCM keyring: the primary key seals what we send, every installed key is tried on what we
 * receive, so keys rotate without a flag day (install everywhere, use, remove old).
 *
 * The cipher is `node:crypto`'s, called synchronously: WebCrypto's `encrypt`/`decrypt` run on
 * Deno's blocking thread pool, a thread hop per call that cost ~70 µs of CPU per seal+open of a
 * 600-byte message (node:crypto: ~18 µs) and made a replicated KV write 2.4× as expensive with a
 * key as without. Deno's node:crypto has no AES-192-GCM: 24-byte keys stay on WebCrypto. The
 * bytes are the same either way (ciphertext then tag).
 *
 * Sealed packet: `[version=1][12-byte nonce][ciphertext + 16-byte tag]`; the additional
 * authenticated data is the version byte followed by the cluster label, so agents of another
 * cluster (other label) cannot talk to us even with the same key.
 *
 * ```ts
 * const ring = await Keyring.create(["<base64 32 bytes>"], "prod");
 * const sealed = await ring.seal(bytes);
 * const opened = await ring.open(sealed); // null when no key authenticates it
 * ```
 */

import { createCipheriv, createDecipheriv } from "node:crypto";

export const KEYRING_VERSION = 1;
const NONCE = 12;
const TAG = 16;
/** Bytes added to every sealed packet. */
export const SEAL_OVERHEAD = 1 + NONCE + TAG;

/** A key that is not base64 of 16, 24 or 32 bytes. */
export class KeyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "KeyError";
  }
}

/** Decodes and checks a base64 key; throws KeyError naming the problem. */
export function decodeKey(b64: string): Uint8Array {
  const t = b64.trim();
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(t) || t.length % 4 !== 0) {
    throw new KeyError("encryption key is not valid base64");
  }
  const raw = Uint8Array.from(atob(t), (c) => c.charCodeAt(0));
  if (![16, 24, 32].includes(raw.length)) {
    throw new KeyError(`encryption key must decode to 16, 24 or 32 bytes (got ${raw.length})`);
  }
  return raw;
}

/** A fresh random 32-byte key, base64 (what `kunai keygen` prints). */
export function generateKey(): string {
  return btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(32))));
}

interface Entry {
  b64: string;
  key: Uint8Array;
  /** node:crypto's cipher for the key's length, or null: WebCrypto's `web` (192-bit keys). */
  cipher: "aes-128-gcm" | "aes-256-gcm" | null;
  web: CryptoKey | null;
}

export class Keyring {
  /** Installed keys; index 0 is the primary. */
  #keys: Entry[] = [];
  #aad: Uint8Array;
  /**
   * When the `use` that made the current primary was issued (epoch ms; 0: unknown). A cluster's
   * older use arriving late does not replace the primary (see gossip's ClusterMessages).
   */
  primaryAt = 0;

  private constructor(label: string) {
    const l = new TextEncoder().encode(label);
    this.#aad = new Uint8Array(1 + l.length);
    this.#aad[0] = KEYRING_VERSION;
    this.#aad.set(l, 1);
  }

  /** Builds a keyring; the first key is the primary. No keys = encryption off. */
  static async create(keys: string[], label = ""): Promise<Keyring> {
    const ring = new Keyring(label);
    for (const k of keys) await ring.install(k);
    return ring;
  }

  /** True when packets are sealed (at least one key). */
  get enabled(): boolean {
    return this.#keys.length > 0;
  }

  /** Installed keys (base64), primary first. */
  list(): { primary: string | null; keys: string[] } {
    return { primary: this.#keys[0]?.b64 ?? null, keys: this.#keys.map((e) => e.b64) };
  }

  /** Adds a key for receiving (primary too if the ring was empty). Idempotent. */
  async install(b64: string): Promise<void> {
    const raw = decodeKey(b64);
    const norm = btoa(String.fromCharCode(...raw));
    if (this.#keys.some((e) => e.b64 === norm)) return;
    const cipher = raw.length === 16 ? "aes-128-gcm" : raw.length === 32 ? "aes-256-gcm" : null;
    const web = cipher ? null : await crypto.subtle.importKey(
      "raw",
      raw as Uint8Array<ArrayBuffer>,
      "AES-GCM",
      false,
      ["encrypt", "decrypt"],
    );
    if (this.#keys.some((e) => e.b64 === norm)) return; // installed meanwhile
    this.#keys.push({ b64: norm, key: raw, cipher, web });
  }

  /** Makes an installed key the primary. */
  use(b64: string): void {
    const norm = normalise(b64);
    const i = this.#keys.findIndex((e) => e.b64 === norm);
    if (i < 0) throw new KeyError("key is not installed; install it first");
    const [e] = this.#keys.splice(i, 1);
    this.#keys.unshift(e);
  }

  /** Removes a key; the primary cannot be removed. */
  remove(b64: string): void {
    const norm = normalise(b64);
    const i = this.#keys.findIndex((e) => e.b64 === norm);
    if (i < 0) throw new KeyError("key is not installed");
    if (i === 0) throw new KeyError("cannot remove the primary key; use another key first");
    this.#keys.splice(i, 1);
  }

  /** Encrypts with the primary key; returns the input unchanged when encryption is off. */
  async seal(plain: Uint8Array): Promise<Uint8Array> {
    const primary = this.#keys[0];
    if (!primary) return plain;
    const out = new Uint8Array(SEAL_OVERHEAD + plain.length);
    out[0] = KEYRING_VERSION;
    const nonce = crypto.getRandomValues(out.subarray(1, 1 + NONCE));
    let parts: Uint8Array[];
    if (primary.cipher) {
      const c = createCipheriv(primary.cipher, primary.key, nonce, { authTagLength: TAG });
      c.setAAD(this.#aad);
      parts = [c.update(plain), c.final(), c.getAuthTag()];
    } else {
      parts = [
        new Uint8Array(
          await crypto.subtle.encrypt(
            { name: "AES-GCM", iv: nonce.slice(), additionalData: this.#aad as Uint8Array<ArrayBuffer> },
            primary.web!,
            plain as Uint8Array<ArrayBuffer>,
          ),
        ),
      ];
    }
    let at = 1 + NONCE;
    for (const part of parts) {
      out.set(part, at);
      at += part.length;
    }
    return out;
  }

  /**
   * Decrypts with any installed key; null when the version byte is wrong, the packet is too
   * short or no key authenticates it. Returns the input unchanged when encryption is off.
   */
  async open(sealed: Uint8Array): Promise<Uint8Array | null> {
    if (!this.#keys.length) return sealed;
    if (sealed.length < SEAL_OVERHEAD || sealed[0] !== KEYRING_VERSION) return null;
    const nonce = sealed.subarray(1, 1 + NONCE);
    for (const e of this.#keys) {
      try {
        if (!e.cipher) {
          return new Uint8Array(
            await crypto.subtle.decrypt(
              { name: "AES-GCM", iv: nonce.slice(), additionalData: this.#aad as Uint8Array<ArrayBuffer> },
              e.web!,
              sealed.subarray(1 + NONCE) as Uint8Array<ArrayBuffer>,
            ),
          );
        }
        const d = createDecipheriv(e.cipher, e.key, nonce, { authTagLength: TAG });
        d.setAAD(this.#aad);
        d.setAuthTag(sealed.subarray(sealed.length - TAG));
        const body = d.update(sealed.subarray(1 + NONCE, sealed.length - TAG));
        const tail = d.final(); // throws when the tag does not authenticate
        // a fresh array (node's Buffers may be views of a shared pool)
        const out = new Uint8Array(body.length + tail.length);
        out.set(body);
        out.set(tail, body.length);
        return out;
      } catch { /* try the next key */ }
    }
    return null;
  }
}

function normalise(b64: string): string {
  return btoa(String.fromCharCode(...decodeKey(b64)));
}
