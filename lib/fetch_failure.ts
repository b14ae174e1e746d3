/**
 * Why a `fetch` to a peer failed, in the words a log reader wants: Deno's `TypeError` says
 * "fetch failed" or "error sending request ..." and keeps the system's reason in its `cause`.
 *
 * @example fetchFailure(err) // "connection refused"
 */
export function fetchFailure(e: Error, signal?: AbortSignal): string {
  if (signal?.aborted) return "request cancelled";
  const msg = `${e.message} ${(e.cause as Error | undefined)?.message ?? ""}`;
  if (/refused|os error 111/i.test(msg)) return "connection refused";
  if (/reset|os error 104/i.test(msg)) return "connection reset";
  if (/unreachable|os error 113|os error 101/i.test(msg)) return "host unreachable";
  if (/timed out|os error 110/i.test(msg)) return "connection timed out";
  return msg.split("\n")[0].slice(0, 200);
}
