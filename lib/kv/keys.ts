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

/**
 * UTF-8 length of `s` without encoding it (a lone surrogate counts 3 bytes, as TextEncoder's U+FFFD).
 * Runs on every write on every copy: TextEncoder allocated a buffer per key.
 */
export function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n += 4;
        i++;
      } else n += 3;
    } else n += 3;
  }
  return n;
}

/**
 * Throws KvError 400 for an empty key, a `..` or empty path segment, control characters or a
 * leading slash; 413 when longer than `maxBytes` (UTF-8). Allocates nothing for a valid key.
 */
export function validateKey(key: string, maxBytes: number): void {
  if (key.length === 0) throw new KvError(400, "invalid key: the key is empty");
  // a UTF-16 unit is 1 to 3 bytes: only keys that may be too long are measured
  if (key.length * 3 > maxBytes) {
    const len = utf8Length(key);
    if (len > maxBytes) {
      throw new KvError(413, `key is ${len} bytes, longer than kv.max_key_bytes (${maxBytes})`);
    }
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
  if (key.charCodeAt(0) === 0x2f) throw new KvError(400, "invalid key: it starts with '/'");
  // the segments between slashes, without splitting: "." and ".." anywhere, "" except the last
  let start = 0, segment = 1;
  while (true) {
    const slash = key.indexOf("/", start);
    const end = slash < 0 ? key.length : slash;
    const len = end - start;
    if (len === 0 && slash >= 0) {
      throw new KvError(400, `invalid key: empty segment ${segment} ('//')`);
    }
    if (
      (len === 1 && key.charCodeAt(start) === 0x2e) ||
      (len === 2 && key.charCodeAt(start) === 0x2e && key.charCodeAt(start + 1) === 0x2e)
    ) {
      throw new KvError(400, `invalid key: segment ${segment} is '${key.slice(start, end)}'`);
    }
    if (slash < 0) return;
    start = slash + 1;
    segment++;
  }
}

/** Throws KvError 400 for a prefix with control characters or `..` segments (an empty prefix is fine). */
export function validatePrefix(prefix: string, maxBytes: number): void {
  if (prefix === "") return;
  validateKey(prefix.endsWith("/") ? prefix + "x" : prefix, maxBytes + 1);
}
