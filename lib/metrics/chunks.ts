/**
 * Compacted history (pure): once a span of a level is complete, its points move from one row
 * each to one blob per (series, level, span) — CHUNK_POINTS float64 values, NaN for "no point".
 * A day of 10 s points is then 24 rows instead of 8 640: reads and rollups scan a few blobs, and
 * the file holds 8 bytes per point instead of a B-tree row.
 *
 * ```ts
 * const blob = encodeChunk(3600, 10, [[3600, 1], [3610, 2]]);
 * decodeChunk(3600, 10, blob); // [[3600, 1], [3610, 2]]
 * ```
 */

/** Points per chunk: 1 h at 10 s, 6 h at 1 min, 15 days at 1 h. */
export const CHUNK_POINTS = 360;

/** Seconds a chunk of a level spans. */
export function chunkSpan(step: number): number {
  return step * CHUNK_POINTS;
}

/** Levels whose chunks are short against their retention get compacted (others stay rows). */
export function compactable(step: number, keep: number): boolean {
  return chunkSpan(step) * 4 <= keep;
}

/** A blob of CHUNK_POINTS little-endian float64 (NaN = empty) from `[ts, value]` rows of one chunk. */
export function encodeChunk(
  start: number,
  step: number,
  rows: Array<[number, number]>,
  base?: Uint8Array,
): Uint8Array {
  const values = new Float64Array(CHUNK_POINTS).fill(NaN);
  if (base) values.set(toFloats(base).subarray(0, CHUNK_POINTS));
  for (const [ts, v] of rows) {
    const i = Math.floor((ts - start) / step);
    if (i >= 0 && i < CHUNK_POINTS) values[i] = v;
  }
  return new Uint8Array(values.buffer);
}

/** The CHUNK_POINTS values of a blob (NaN = no point). */
export function chunkValues(blob: Uint8Array): Float64Array {
  if (blob.length === CHUNK_POINTS * 8 && blob.byteOffset % 8 === 0) {
    return new Float64Array(blob.buffer, blob.byteOffset, CHUNK_POINTS);
  }
  return toFloats(blob);
}

function toFloats(blob: Uint8Array): Float64Array {
  const copy = new Uint8Array(CHUNK_POINTS * 8);
  copy.set(blob.subarray(0, Math.min(blob.length, copy.length)));
  if (blob.length < copy.length) new Float64Array(copy.buffer, blob.length - (blob.length % 8)).fill(NaN);
  return new Float64Array(copy.buffer);
}

/** The `[ts, value]` pairs of a chunk within [from, to), in time order. */
export function decodeChunk(
  start: number,
  step: number,
  blob: Uint8Array,
  from = -Infinity,
  to = Infinity,
): Array<[number, number]> {
  const values = toFloats(blob);
  const out: Array<[number, number]> = [];
  for (let i = 0; i < CHUNK_POINTS; i++) {
    const v = values[i];
    if (Number.isNaN(v)) continue;
    const ts = start + i * step;
    if (ts >= from && ts < to) out.push([ts, v]);
  }
  return out;
}

/** Time-ordered union of two time-ordered row lists; on the same ts, `newer` wins. */
export function mergeRows(
  older: Array<[number, number]>,
  newer: Array<[number, number]>,
): Array<[number, number]> {
  if (older.length === 0) return newer;
  if (newer.length === 0) return older;
  const out: Array<[number, number]> = [];
  let i = 0, j = 0;
  while (i < older.length || j < newer.length) {
    if (j >= newer.length || (i < older.length && older[i][0] < newer[j][0])) out.push(older[i++]);
    else {
      if (i < older.length && older[i][0] === newer[j][0]) i++;
      out.push(newer[j++]);
    }
  }
  return out;
}
