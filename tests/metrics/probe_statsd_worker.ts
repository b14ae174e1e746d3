/**
 * The statsd Worker with a probe, for statsd_sandbox_test.ts: at `start` it tries what a Worker
 * parsing untrusted datagrams must not do and says how each went (a non-fatal `error`), then runs.
 */
/// <reference lib="deno.worker" />
import "../../lib/metrics/statsd_worker.ts";

const real = self.onmessage as (e: MessageEvent) => void;
const attempt = (fn: () => unknown): string => {
  try {
    fn();
    return "allowed";
  } catch (err) {
    return (err as Error).name;
  }
};
self.onmessage = (e: MessageEvent) => {
  if (e.data?.type === "start") {
    const probe = {
      read: attempt(() => Deno.readTextFileSync(new URL(import.meta.url).pathname)),
      write: attempt(() => Deno.writeTextFileSync("/tmp/kunai-statsd-probe", "x")),
      env: attempt(() => Deno.env.get("HOME")),
      run: attempt(() => new Deno.Command("true").outputSync()),
      otherHost: attempt(() =>
        Deno.listenDatagram({ hostname: "127.0.0.1", port: 0, transport: "udp" }).close()
      ),
    };
    self.postMessage({ type: "error", message: `probe ${JSON.stringify(probe)}`, fatal: false });
  }
  real(e);
};
