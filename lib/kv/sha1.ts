/**
 * SHA-1 for ring positions (lib/digest, synchronous: the hot path places every key and
 * WebCrypto's digest is async; not node:crypto, whose polyfills cost ~2.5 MB of RSS). Not used for
 * security.
 *
 * ```ts
 * sha1Hex("abc"); // "a9993e364706816aba3e25717850c26c9cd0d89d"
 * ```
 */
import { first48, sha1, toHex } from "../digest/mod.ts";

/** SHA-1 as 40 lowercase hex characters. */
export function sha1Hex(input: Uint8Array | string): string {
  return toHex(sha1(input));
}

/** The first 48 bits of SHA-1 as a number: a ring position that compares with `<`. */
export function ringPosition(input: string): number {
  return first48(sha1(input));
}
