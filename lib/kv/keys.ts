/**
 * Key validation (pure): what a key may look like before it reaches the ring or the store.
 */

/** A rejected request, with the HTTP status it maps to (400 bad input, 413 too large, 503 unavailable). */
export class KvError extends Error {
  constructor(readonly status: 400 | 404 | 413 | 503 | 504, message: string, readonly detail?: unknown) {
    super(message);
    this.name = "KvError";
  }
}

const encoder = new TextEncoder();

/**
 * Throws KvError 400 for an empty key, a `..` or empty path segment, control characters or a
 * leading slash; 413 when longer than `maxBytes` (UTF-8).
 */
export function validateKey(key: string, maxBytes: number): void {
  if (key.length === 0) throw new KvError(400, "invalid key: the key is empty");
  const len = encoder.encode(key).length;
  if (len > maxBytes) {
    throw new KvError(413, `key is ${len} bytes, longer than kv.max_key_bytes (${maxBytes})`);
  }
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) {
      throw new KvError(
        400,
        `invalid key: control character 0x${c.toString(16).padStart(2, "0")} at position ${i}`,
      );
    }
  }
  if (key.startsWith("/")) throw new KvError(400, "invalid key: it starts with '/'");
  const segments = key.split("/");
  segments.forEach((s, i) => {
    if (s === ".." || s === ".") throw new KvError(400, `invalid key: segment ${i + 1} is '${s}'`);
    if (s === "" && i < segments.length - 1) {
      throw new KvError(400, `invalid key: empty segment ${i + 1} ('//')`);
    }
  });
}

/** Throws KvError 400 for a prefix with control characters or `..` segments (an empty prefix is fine). */
export function validatePrefix(prefix: string, maxBytes: number): void {
  if (prefix === "") return;
  validateKey(prefix.endsWith("/") ? prefix + "x" : prefix, maxBytes + 1);
}
