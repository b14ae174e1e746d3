/**
 * One `runMany` message for several collectors of one Worker (main thread side): the replies are
 * handed out per collector, so each run is recorded as if it had been asked alone.
 */
import { type Clock, gridDelay, type TimerId, WAKE_GRID_MS } from "../clock/mod.ts";
import type { MethodServer } from "../sandbox/mod.ts";
import type { RunManyReply, RunManyRequest, RunReply } from "./protocol.ts";

/**
 * Sends `req` and returns, per collector, how to get its reply (or the error its run threw). The
 * whole call is bounded by `limitMs` (each run also by `req.timeoutMs` in the Worker); `settled`
 * runs when the Worker answered or failed, even after the limit.
 */
export function askMany(
  w: MethodServer,
  req: RunManyRequest,
  limitMs: number,
  clock: Clock,
  settled: () => void,
): Map<string, () => Promise<RunReply>> {
  const call = w.call<RunManyReply>("runMany", req, (req.timeoutMs ?? limitMs) * 3);
  call.then(settled, settled);
  let timer: TimerId | undefined;
  const timedOut = new Promise<never>((_, reject) => {
    // on the wake grid (see gridDelay), and a tick after the runs' own limits: on the same tick it
    // could fire first and fail the runs that answered along with the one that did not
    const now = clock.now();
    const inner = req.timeoutMs ?? 0;
    const after = inner >= WAKE_GRID_MS / 2 ? gridDelay(now, inner) + WAKE_GRID_MS : 0;
    timer = clock.setTimeout(
      () => reject(new Error(`run took longer than ${limitMs} ms`)),
      Math.max(gridDelay(now, limitMs), after),
    );
  });
  const replies = Promise.race([call, timedOut]).finally(() => clock.clearTimeout(timer!));
  replies.catch(() => {}); // each collector's run gets the failure through its own ask
  return new Map(req.names.map((name) => [name, async () => {
    const r = (await replies)[name];
    if (r && "error" in r) {
      const e = new Error(r.error.message);
      e.name = r.error.name;
      throw e;
    }
    if (!r) throw new Error(`the Worker did not answer for ${name}`);
    return r;
  }]));
}
