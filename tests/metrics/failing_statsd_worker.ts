/**
 * The statsd Worker with one bug added, for statsd_worker_restart_test.ts: a flush at ts 13 throws
 * out of the message handler, which ends the Worker as any uncaught error in it would.
 */
/// <reference lib="deno.worker" />
import "../../lib/metrics/statsd_worker.ts";

// statsd_worker.ts's handler is an arrow function: it needs no `this`
const real = self.onmessage as (e: MessageEvent) => void;
self.onmessage = (e: MessageEvent) => {
  if (e.data?.type === "flush" && e.data.ts === 13) throw new Error("a bug in the aggregator");
  real(e);
};
