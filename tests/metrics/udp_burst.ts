/**
 * For the listeners' burst tests: a metrics subsystem with `listeners` (its config file) on a free
 * port of `host`, a client UDP socket, and `burst()`, which starts every send in one turn of the
 * event loop so the kernel has them all queued before the listener runs again.
 */
import { freePort, makeTestCtx } from "../helpers.ts";
import { createMetrics } from "../../lib/metrics/mod.ts";
import { VirtualClock } from "../../lib/clock/mod.ts";

export async function udpListening(host: string, listeners: (port: number) => Record<string, unknown>) {
  const port = freePort(host);
  const clock = new VirtualClock(1_700_000_000_000);
  const ctx = makeTestCtx({ clock, files: { "listeners.json": listeners(port) } });
  const m = createMetrics(ctx);
  await m.start();
  const udp = Deno.listenDatagram({ hostname: host, port: 0, transport: "udp" });
  const to = { hostname: host, port, transport: "udp" as const };
  const enc = new TextEncoder();
  return {
    clock,
    svc: m.service,
    burst: (datagrams: Array<string | Uint8Array>) =>
      Promise.all(datagrams.map((d) => udp.send(typeof d === "string" ? enc.encode(d) : d, to))),
    async close() {
      udp.close();
      await m.stop();
      ctx.cleanup();
    },
  };
}
