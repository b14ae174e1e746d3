/**
 * SHA-1 and SHA-256 of small inputs, synchronous, in plain TypeScript (floor 0, pure), and a
 * constant-time comparison of two digests.
 *
 * Why not `node:crypto`: importing it loads Deno's Node compatibility layer for crypto, streams,
 * fs and process (~110 polyfill modules): ~1.2 MB more V8 heap and ~2.5 MB more RSS in every agent
 * (docs/benchmarks.md, "Footprint (perf-rss5)"), for hashes of a KV key, a series name or an API
 * token — tens of bytes, where this code is as fast as the polyfill's `createHash` (which builds a
 * stream object per call). WebCrypto's digest is asynchronous, and ring placement is not. Large
 * inputs (snapshot files) still go through `node:crypto`, imported when a snapshot is written.
 *
 * ```ts
 * toHex(sha1("abc")); // "a9993e364706816aba3e25717850c26c9cd0d89d"
 * digestEqual(sha256(candidate), want); // same length: every byte compared
 * ```
 */

const encoder = new TextEncoder();

/** Reused for messages up to SCRATCH - 72 bytes (keys, series names, tokens): no allocation. */
const SCRATCH = 1024;
const scratch = new Uint8Array(SCRATCH);
const scratchView = new DataView(scratch.buffer);

/**
 * The message padded to a multiple of 64 bytes with its bit length (big-endian) at the end; returns
 * the view and the padded length (the view may be longer: the scratch buffer). Only valid until the
 * next call.
 */
function padded(input: Uint8Array | string): [DataView, number] {
  let buf: Uint8Array, view: DataView, len: number;
  if (typeof input === "string" && input.length * 3 <= SCRATCH - 72) {
    len = encoder.encodeInto(input, scratch).written;
    buf = scratch;
    view = scratchView;
  } else {
    const msg = typeof input === "string" ? encoder.encode(input) : input;
    len = msg.length;
    if (len <= SCRATCH - 72) {
      buf = scratch;
      view = scratchView;
    } else {
      buf = new Uint8Array((((len + 8) >>> 6) + 1) << 6);
      view = new DataView(buf.buffer);
    }
    buf.set(msg);
  }
  const total = (((len + 8) >>> 6) + 1) << 6;
  buf.fill(0, len, total);
  buf[len] = 0x80;
  const bits = len * 8;
  view.setUint32(total - 8, Math.floor(bits / 0x100000000));
  view.setUint32(total - 4, bits >>> 0);
  return [view, total];
}

const w1 = new Int32Array(80);

/** SHA-1 (FIPS 180-4) of `input` (a string is hashed as UTF-8): 20 bytes. */
export function sha1(input: Uint8Array | string): Uint8Array {
  const [v, total] = padded(input);
  let h0 = 0x67452301, h1 = 0xefcdab89 | 0, h2 = 0x98badcfe | 0, h3 = 0x10325476, h4 = 0xc3d2e1f0 | 0;
  const w = w1;
  for (let off = 0; off < total; off += 64) {
    for (let i = 0; i < 16; i++) w[i] = v.getInt32(off + i * 4);
    for (let i = 16; i < 80; i++) {
      const x = w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16];
      w[i] = (x << 1) | (x >>> 31);
    }
    let a = h0, b = h1, c = h2, d = h3, e = h4;
    for (let i = 0; i < 80; i++) {
      let f: number, k: number;
      if (i < 20) {
        f = (b & c) | (~b & d);
        k = 0x5a827999;
      } else if (i < 40) {
        f = b ^ c ^ d;
        k = 0x6ed9eba1;
      } else if (i < 60) {
        f = (b & c) | (b & d) | (c & d);
        k = 0x8f1bbcdc | 0;
      } else {
        f = b ^ c ^ d;
        k = 0xca62c1d6 | 0;
      }
      const t = (((a << 5) | (a >>> 27)) + f + e + k + w[i]) | 0;
      e = d;
      d = c;
      c = (b << 30) | (b >>> 2);
      b = a;
      a = t;
    }
    h0 = (h0 + a) | 0;
    h1 = (h1 + b) | 0;
    h2 = (h2 + c) | 0;
    h3 = (h3 + d) | 0;
    h4 = (h4 + e) | 0;
  }
  const out = new Uint8Array(20);
  const o = new DataView(out.buffer);
  o.setInt32(0, h0);
  o.setInt32(4, h1);
  o.setInt32(8, h2);
  o.setInt32(12, h3);
  o.setInt32(16, h4);
  return out;
}

const K256 = new Int32Array([
  0x428a2f98,
  0x71374491,
  0xb5c0fbcf,
  0xe9b5dba5,
  0x3956c25b,
  0x59f111f1,
  0x923f82a4,
  0xab1c5ed5,
  0xd807aa98,
  0x12835b01,
  0x243185be,
  0x550c7dc3,
  0x72be5d74,
  0x80deb1fe,
  0x9bdc06a7,
  0xc19bf174,
  0xe49b69c1,
  0xefbe4786,
  0x0fc19dc6,
  0x240ca1cc,
  0x2de92c6f,
  0x4a7484aa,
  0x5cb0a9dc,
  0x76f988da,
  0x983e5152,
  0xa831c66d,
  0xb00327c8,
  0xbf597fc7,
  0xc6e00bf3,
  0xd5a79147,
  0x06ca6351,
  0x14292967,
  0x27b70a85,
  0x2e1b2138,
  0x4d2c6dfc,
  0x53380d13,
  0x650a7354,
  0x766a0abb,
  0x81c2c92e,
  0x92722c85,
  0xa2bfe8a1,
  0xa81a664b,
  0xc24b8b70,
  0xc76c51a3,
  0xd192e819,
  0xd6990624,
  0xf40e3585,
  0x106aa070,
  0x19a4c116,
  0x1e376c08,
  0x2748774c,
  0x34b0bcb5,
  0x391c0cb3,
  0x4ed8aa4a,
  0x5b9cca4f,
  0x682e6ff3,
  0x748f82ee,
  0x78a5636f,
  0x84c87814,
  0x8cc70208,
  0x90befffa,
  0xa4506ceb,
  0xbef9a3f7,
  0xc67178f2,
]);
const H256 = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19];
const w256 = new Int32Array(64);

/** SHA-256 (FIPS 180-4) of `input` (a string is hashed as UTF-8): 32 bytes. */
export function sha256(input: Uint8Array | string): Uint8Array {
  const [v, total] = padded(input);
  const h = Int32Array.from(H256);
  const w = w256;
  for (let off = 0; off < total; off += 64) {
    for (let i = 0; i < 16; i++) w[i] = v.getInt32(off + i * 4);
    for (let i = 16; i < 64; i++) {
      const x = w[i - 15], y = w[i - 2];
      const s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3);
      const s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10);
      w[i] = (w[i - 16] + s0 + w[i - 7] + s1) | 0;
    }
    let a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7];
    for (let i = 0; i < 64; i++) {
      const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
      const ch = (e & f) ^ (~e & g);
      const t1 = (hh + S1 + ch + K256[i] + w[i]) | 0;
      const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
      const maj = (a & b) ^ (a & c) ^ (b & c);
      const t2 = (S0 + maj) | 0;
      hh = g;
      g = f;
      f = e;
      e = (d + t1) | 0;
      d = c;
      c = b;
      b = a;
      a = (t1 + t2) | 0;
    }
    h[0] = (h[0] + a) | 0;
    h[1] = (h[1] + b) | 0;
    h[2] = (h[2] + c) | 0;
    h[3] = (h[3] + d) | 0;
    h[4] = (h[4] + e) | 0;
    h[5] = (h[5] + f) | 0;
    h[6] = (h[6] + g) | 0;
    h[7] = (h[7] + hh) | 0;
  }
  const out = new Uint8Array(32);
  const o = new DataView(out.buffer);
  for (let i = 0; i < 8; i++) o.setInt32(i * 4, h[i]);
  return out;
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

/** Lowercase hexadecimal. */
export function toHex(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i++) s += HEX[bytes[i]];
  return s;
}

/** The first 6 bytes, big-endian, as a number (exact: 48 bits). */
export function first48(bytes: Uint8Array): number {
  return bytes[0] * 2 ** 40 + bytes[1] * 2 ** 32 +
    ((bytes[2] << 24) >>> 0) + (bytes[3] << 16) + (bytes[4] << 8) + bytes[5];
}

/**
 * True when `a` and `b` hold the same bytes; for equal lengths every byte is compared whatever
 * differs (compare digests, so the length is not secret).
 */
export function digestEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}
