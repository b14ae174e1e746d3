/**
 * Answer bodies read with a bound. `Response.arrayBuffer()` and `text()` take whatever comes until
 * the deadline: a peer, a webhook or a status page that answers without end (or with more than any
 * answer of its kind holds) would fill the agent's memory at the speed of the link. These read at
 * most `max` bytes and cancel the rest.
 */
import { concatBytes } from "./bytes.ts";

/** An answer longer than its bound (the call fails; the connection is dropped). */
export class BodyTooLarge extends Error {
  override name = "BodyTooLarge";
}

/** The whole body, or a `BodyTooLarge` once it (or its declared length) passes `max` bytes. */
export async function readCapped(res: Response, max: number): Promise<Uint8Array> {
  const declared = Number(res.headers.get("content-length"));
  if (declared > max) {
    await res.body?.cancel().catch(() => {});
    throw new BodyTooLarge(`answer of ${declared} bytes, more than the ${max} accepted`);
  }
  if (!res.body) return new Uint8Array(0);
  const reader = res.body.getReader();
  const parts: Uint8Array[] = [];
  let total = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.length;
      if (total > max) throw new BodyTooLarge(`answer larger than the ${max} bytes accepted`);
      parts.push(value);
    }
  } catch (err) {
    await reader.cancel().catch(() => {});
    throw err;
  }
  return concatBytes(parts);
}

/** The body's first `max` bytes at most (what a log line quotes); the rest is not read. */
export async function readHead(res: Response, max: number): Promise<Uint8Array> {
  if (!res.body) return new Uint8Array(0);
  const reader = res.body.getReader();
  const out = new Uint8Array(max);
  let n = 0;
  try {
    while (n < max) {
      const { done, value } = await reader.read();
      if (done) return out.subarray(0, n);
      const take = Math.min(value.length, max - n);
      out.set(value.subarray(0, take), n);
      n += take;
    }
  } catch {
    // a reset or the deadline mid-body: what came is the head
  }
  await reader.cancel().catch(() => {});
  return out.subarray(0, n);
}
