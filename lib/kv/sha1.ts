/**
 * SHA-1 for ring positions (node:crypto, synchronous: the hot path places every key and
 * WebCrypto's digest is async). Not used for security.
 *
 * ```ts
 * sha1Hex("abc"); // "a9993e364706816aba3e25717850c26c9cd0d89d"
 * ```
 */
import { createHash } from "node:crypto";

/** SHA-1 as 40 lowercase hex characters. */
export function sha1Hex(input: Uint8Array | string): string {
  return createHash("sha1").update(input).digest("hex");
}

/** The first 48 bits of SHA-1 as a number: a ring position that compares with `<`. */
export function ringPosition(input: string): number {
  return createHash("sha1").update(input).digest().readUIntBE(0, 6);
}
