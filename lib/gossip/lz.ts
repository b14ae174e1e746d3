/**
 * Compressed gossip datagrams: a JSON packet in LZ4's block format behind a two-byte header.
 *
 * Why: a member's record carries its services (a default agent's is ~550 bytes), so a 1 400-byte
 * datagram holds two of them, and the re-broadcasts that follow a join storm kept 20 agents sending
 * full packets for 5 s (50 agents: 12 s; `deno task bench gossip_tail`). Records of one cluster
 * repeat each other (the same keys, services and checks), so a packet filled by its compressed size
 * holds five to six times as many. LZ4's block format is small enough to write here: synchronous,
 * no allocation but its output, nothing loaded from npm (Deno's `node:zlib` costs ~30 MB of RSS) and
 * a decoder that only copies bytes, checked at every step (a corrupt or hostile block gives null).
 *
 * Both directions run as a small WebAssembly module (lz_block.wat: the same algorithm, the same
 * bytes and the same refusals as `lzCompressJs` and `lzDecompressJs` below, which stay as the
 * fallback where WebAssembly is off, e.g. `--jitless`, and for inputs or outputs over 1 MB): V8
 * compiles it once, at its first use (1.3-2.7 ms on a 2-core EPYC, where it is the process's first
 * WebAssembly, and ~1 ms more for the first call), and it runs at full speed from then on. In
 * TypeScript the byte loops ran in the interpreter for an agent's first packets, then went through V8's
 * optimizing compilers (Maglev, on-stack replacements, Turbofan): ~3 ms of CPU per agent in the
 * middle of a join storm, paid again by every agent (docs/benchmarks.md, 2026-12-04 16:00).
 *
 * ```ts
 * const wire = packLz(encodePacket(msgs));        // [0x00, 0x01, ...block]
 * const plain = isLzPacket(wire) ? unpackLz(wire, 65_507) : wire;   // null: corrupt or too large
 * ```
 */

import { LZ_BLOCK_WASM_BASE64 } from "./lz_block_wasm.ts";

/** First byte of a compressed packet: no JSON text starts with it. */
export const LZ_MARKER = 0x00;
/** Second byte: the format (1 = LZ4 block). */
export const LZ_FORMAT = 0x01;
/** Bytes before the block. */
export const LZ_HEADER = 2;

const MIN_MATCH = 4;
const HASH_BITS = 12;
/** LZ4's end conditions: the last 5 bytes are literals, no match starts in the last 12. */
const LAST_LITERALS = 5;
const MATCH_FIND_LIMIT = 12;
const MAX_OFFSET = 65_535;

/** Last position of each 4-byte hash (allocated at the first compression: 16 KB). */
let table: Int32Array | null = null;

function writeLength(out: Uint8Array, op: number, n: number): number {
  while (n >= 255) {
    out[op++] = 255;
    n -= 255;
  }
  out[op++] = n;
  return op;
}

/**
 * `src` as an LZ4 block (greedy matches, one hash probe per position). A match is extended four
 * bytes a compare (the `DataView` reads), then byte by byte: gossip's JSON repeats itself in long
 * runs (~57 bytes a match in a packet of alive records), and a loop turn per byte made this the
 * function V8 recompiled with its optimizing compilers in every agent of a join storm.
 *
 * The reference of lz_block.wat's compress, and what runs where WebAssembly does not.
 */
export function lzCompressJs(src: Uint8Array): Uint8Array {
  const n = src.length;
  const out = new Uint8Array(n + Math.ceil(n / 255) + 16);
  const seen = table ??= new Int32Array(1 << HASH_BITS);
  seen.fill(-1);
  const view = new DataView(src.buffer, src.byteOffset, src.byteLength);
  let op = 0;
  let anchor = 0;
  let ip = 0;
  const limit = n - MATCH_FIND_LIMIT;
  while (ip < limit) {
    const word = src[ip] | (src[ip + 1] << 8) | (src[ip + 2] << 16) | (src[ip + 3] << 24);
    const h = Math.imul(word, 2654435761) >>> (32 - HASH_BITS);
    const ref = seen[h];
    seen[h] = ip;
    if (
      ref < 0 || ip - ref > MAX_OFFSET || src[ref] !== src[ip] || src[ref + 1] !== src[ip + 1] ||
      src[ref + 2] !== src[ip + 2] || src[ref + 3] !== src[ip + 3]
    ) {
      ip++;
      continue;
    }
    let len = MIN_MATCH;
    const maxLen = n - LAST_LITERALS - ip;
    while (len + 4 <= maxLen && view.getUint32(ref + len, true) === view.getUint32(ip + len, true)) len += 4;
    while (len < maxLen && src[ref + len] === src[ip + len]) len++;
    const literals = ip - anchor;
    const token = op++;
    out[token] = (Math.min(literals, 15) << 4) | Math.min(len - MIN_MATCH, 15);
    if (literals >= 15) op = writeLength(out, op, literals - 15);
    out.set(src.subarray(anchor, ip), op);
    op += literals;
    const offset = ip - ref;
    out[op++] = offset & 255;
    out[op++] = offset >> 8;
    if (len - MIN_MATCH >= 15) op = writeLength(out, op, len - MIN_MATCH - 15);
    ip += len;
    anchor = ip;
  }
  const literals = n - anchor;
  out[op++] = Math.min(literals, 15) << 4;
  if (literals >= 15) op = writeLength(out, op, literals - 15);
  out.set(src.subarray(anchor), op);
  op += literals;
  return out.subarray(0, op);
}

/** Where the WebAssembly compressor reads its source (after its 16 KB hash table). */
const WASM_SRC = 16_384;
const WASM_PAGE = 65_536;
/**
 * Inputs and outputs larger than this are left to the TypeScript codec: the module's memory grows
 * to hold the largest input and output it was given and keeps that size (a datagram holds, and
 * unpacks to, at most 65 507 bytes).
 */
const MAX_WASM_SIZE = 1 << 20;

interface WasmLz {
  memory: WebAssembly.Memory;
  compress(n: number): number;
  /** The output's length, or -1: malformed, or over max. */
  decompress(n: number, max: number): number;
}

/** The codec's instance (made at its first use), or null where WebAssembly is off. */
let wasm: WasmLz | null | undefined;

/** Base64 to bytes: V8's own decoder where it has one (~25 µs), else `atob` (its first use ~1 ms). */
function fromBase64(b64: string): Uint8Array<ArrayBuffer> {
  const native =
    (Uint8Array as unknown as { fromBase64?: (s: string) => Uint8Array<ArrayBuffer> }).fromBase64;
  if (native) return native(b64);
  const s = atob(b64);
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

/** Which codec runs here: "wasm", or "js" where WebAssembly is off. */
export function lzEngine(): "wasm" | "js" {
  return wasmLz() === null ? "js" : "wasm";
}

function wasmLz(): WasmLz | null {
  if (wasm !== undefined) return wasm;
  try {
    const bytes = fromBase64(LZ_BLOCK_WASM_BASE64);
    wasm = new WebAssembly.Instance(new WebAssembly.Module(bytes)).exports as unknown as WasmLz;
  } catch {
    wasm = null;
  }
  return wasm;
}

/** `src` as an LZ4 block: the same bytes as `lzCompressJs`, made by the WebAssembly module when it runs. */
export function lzCompress(src: Uint8Array): Uint8Array {
  const w = wasmLz();
  const n = src.length;
  if (w === null || n > MAX_WASM_SIZE) return lzCompressJs(src);
  let heap: Uint8Array;
  try {
    heap = wasmInput(w, src, n + Math.ceil(n / 255) + 16);
  } catch {
    return lzCompressJs(src); // memory that cannot grow
  }
  const len = w.compress(n);
  return heap.slice(WASM_SRC + n, WASM_SRC + n + len);
}

/** The module's memory, grown to hold `src` and `room` bytes after it, with `src` copied in. */
function wasmInput(w: WasmLz, src: Uint8Array, room: number): Uint8Array {
  const need = WASM_SRC + src.length + room;
  const have = w.memory.buffer.byteLength;
  if (need > have) w.memory.grow(Math.ceil((need - have) / WASM_PAGE));
  const heap = new Uint8Array(w.memory.buffer);
  heap.set(src, WASM_SRC);
  return heap;
}

/**
 * `out` grown to hold at least `need` bytes (its first `op` kept), the same array when it already
 * does, or null past `max`.
 */
function room(out: Uint8Array, op: number, need: number, max: number): Uint8Array | null {
  if (need > max) return null;
  if (need <= out.length) return out;
  const bigger = new Uint8Array(Math.min(max, Math.max(need, out.length * 2)));
  bigger.set(out.subarray(0, op));
  return bigger;
}

/**
 * The bytes of an LZ4 block, or null when it is malformed (a length or offset past its bounds,
 * truncated) or would exceed `max` bytes. Linear in its output; never throws.
 *
 * Literals and matches are copied by the engine (`set`, `copyWithin`), a byte at a time only for
 * a match that overlaps what it copies: the loop turns once per sequence, not once per byte. Such a
 * byte loop made this function hot enough for V8's optimizing compilers within an agent's first
 * few datagrams, a compile each agent paid in the middle of a join storm.
 *
 * The reference of lz_block.wat's decompress, and what runs where WebAssembly does not.
 */
export function lzDecompressJs(src: Uint8Array, max: number): Uint8Array | null {
  const n = src.length;
  let out: Uint8Array | null = new Uint8Array(Math.min(max, Math.max(64, n * 4)));
  let ip = 0;
  let op = 0;
  while (ip < n) {
    const token = src[ip++];
    let literals = token >> 4;
    if (literals === 15) {
      let b = 255;
      while (b === 255) {
        if (ip >= n) return null;
        b = src[ip++];
        literals += b;
      }
    }
    if (ip + literals > n) return null;
    out = room(out, op, op + literals, max);
    if (out === null) return null;
    out.set(src.subarray(ip, ip + literals), op);
    ip += literals;
    op += literals;
    if (ip === n) break; // the last sequence holds literals only
    if (ip + 2 > n) return null;
    const offset = src[ip] | (src[ip + 1] << 8);
    ip += 2;
    if (offset === 0 || offset > op) return null;
    let len = token & 15;
    if (len === 15) {
      let b = 255;
      while (b === 255) {
        if (ip >= n) return null;
        b = src[ip++];
        len += b;
      }
    }
    len += MIN_MATCH;
    out = room(out, op, op + len, max);
    if (out === null) return null;
    if (offset >= len) {
      out.copyWithin(op, op - offset, op - offset + len);
      op += len;
    } else {
      // the match overlaps what it copies (offset < length repeats a run): byte by byte
      for (let from = op - offset, end = op + len; op < end;) out[op++] = out[from++];
    }
  }
  return out.slice(0, op);
}

/**
 * The bytes of an LZ4 block, or null when it is malformed or would exceed `max` bytes (the same as
 * `lzDecompressJs`, by the WebAssembly module when it runs). Never throws.
 */
export function lzDecompress(src: Uint8Array, max: number): Uint8Array | null {
  if (!(max >= 0)) return null; // nothing fits
  const w = wasmLz();
  if (w === null || max > MAX_WASM_SIZE || src.length > MAX_WASM_SIZE) return lzDecompressJs(src, max);
  const n = src.length;
  let heap: Uint8Array;
  try {
    heap = wasmInput(w, src, max);
  } catch {
    return lzDecompressJs(src, max); // memory that cannot grow, as in lzCompress
  }
  try {
    const len = w.decompress(n, max);
    return len < 0 ? null : heap.slice(WASM_SRC + n, WASM_SRC + n + len);
  } catch {
    return null; // a trap (an access out of bounds): never reached while its checks hold
  }
}

/** True when a datagram's payload is a compressed packet. */
export function isLzPacket(data: Uint8Array): boolean {
  return data.length >= LZ_HEADER && data[0] === LZ_MARKER;
}

/** A packet's JSON bytes behind the compressed packet header. */
export function packLz(plain: Uint8Array): Uint8Array {
  const block = lzCompress(plain);
  const out = new Uint8Array(LZ_HEADER + block.length);
  out[0] = LZ_MARKER;
  out[1] = LZ_FORMAT;
  out.set(block, LZ_HEADER);
  return out;
}

/** The JSON bytes of a compressed packet; null for an unknown format, a bad block or over `max` bytes. */
export function unpackLz(data: Uint8Array, max: number): Uint8Array | null {
  if (!isLzPacket(data) || data[1] !== LZ_FORMAT) return null;
  return lzDecompress(data.subarray(LZ_HEADER), max);
}
