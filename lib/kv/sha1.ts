/**
 * Synchronous SHA-1 (FIPS 180-4) for ring positions: the hot path places every key, and
 * WebCrypto's digest is async. Not used for security.
 *
 * ```ts
 * sha1Hex("abc"); // "a9993e364706816aba3e25717850c26c9cd0d89d"
 * ```
 */
const encoder = new TextEncoder();

/** SHA-1 digest of bytes (or a UTF-8 string) as 20 bytes. */
export function sha1(input: Uint8Array | string): Uint8Array {
  const msg = typeof input === "string" ? encoder.encode(input) : input;
  const len = msg.length;
  const blocks = ((len + 8) >>> 6) + 1;
  const words = new Uint32Array(blocks * 16);
  for (let i = 0; i < len; i++) words[i >>> 2] |= msg[i] << (24 - (i & 3) * 8);
  words[len >>> 2] |= 0x80 << (24 - (len & 3) * 8);
  const bits = len * 8;
  words[blocks * 16 - 1] = bits >>> 0;
  words[blocks * 16 - 2] = Math.floor(bits / 0x100000000);
  let h0 = 0x67452301, h1 = 0xefcdab89, h2 = 0x98badcfe, h3 = 0x10325476, h4 = 0xc3d2e1f0;
  const w = new Uint32Array(80);
  for (let b = 0; b < blocks; b++) {
    for (let t = 0; t < 16; t++) w[t] = words[b * 16 + t];
    for (let t = 16; t < 80; t++) {
      const x = w[t - 3] ^ w[t - 8] ^ w[t - 14] ^ w[t - 16];
      w[t] = (x << 1) | (x >>> 31);
    }
    let a = h0, bb = h1, c = h2, d = h3, e = h4;
    for (let t = 0; t < 80; t++) {
      let f: number, k: number;
      if (t < 20) {
        f = (bb & c) | (~bb & d);
        k = 0x5a827999;
      } else if (t < 40) {
        f = bb ^ c ^ d;
        k = 0x6ed9eba1;
      } else if (t < 60) {
        f = (bb & c) | (bb & d) | (c & d);
        k = 0x8f1bbcdc;
      } else {
        f = bb ^ c ^ d;
        k = 0xca62c1d6;
      }
      const tmp = (((a << 5) | (a >>> 27)) + f + e + k + w[t]) >>> 0;
      e = d;
      d = c;
      c = (bb << 30) | (bb >>> 2);
      bb = a;
      a = tmp;
    }
    h0 = (h0 + a) >>> 0;
    h1 = (h1 + bb) >>> 0;
    h2 = (h2 + c) >>> 0;
    h3 = (h3 + d) >>> 0;
    h4 = (h4 + e) >>> 0;
  }
  const out = new Uint8Array(20);
  const dv = new DataView(out.buffer);
  [h0, h1, h2, h3, h4].forEach((h, i) => dv.setUint32(i * 4, h));
  return out;
}

/** SHA-1 as 40 lowercase hex characters. */
export function sha1Hex(input: Uint8Array | string): string {
  let s = "";
  for (const b of sha1(input)) s += b.toString(16).padStart(2, "0");
  return s;
}

/** The first 48 bits of SHA-1 as a number: a ring position that compares with `<`. */
export function ringPosition(input: string): number {
  const d = sha1(input);
  return ((d[0] << 16 | d[1] << 8 | d[2]) >>> 0) * 0x1000000 + ((d[3] << 16 | d[4] << 8 | d[5]) >>> 0);
}
