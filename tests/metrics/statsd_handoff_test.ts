/**
 * Under ts routing the statsd Worker hands every datagram to the main thread; a main thread that
 * falls behind a flood must not let the queue between them grow without end.
 */
import assert from "node:assert/strict";
import { StatsdWorker } from "../../lib/metrics/statsd_worker_client.ts";
import { HANDOFF_MAX } from "../../lib/metrics/statsd_protocol.ts";
import { freePort, until } from "../helpers.ts";

const HOST = "127.0.0.17";

Deno.test({
  name:
    `statsd handoff: at most ${HANDOFF_MAX} datagrams wait for a busy main thread; the rest are dropped, counted`,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    let got = 0;
    const w = await StatsdWorker.start(
      HOST,
      freePort(HOST),
      { intervalSeconds: 10, percentiles: [90], maxTimerValues: 100 },
      () => got++,
      () => {},
    );
    try {
      w.setLocal(false);
      await new Promise((r) => setTimeout(r, 100)); // the mode reaches the Worker
      const total = HANDOFF_MAX + 10_000;
      const sender = new Deno.Command("python3", {
        args: [
          "-c",
          `import socket,time\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n` +
          `for i in range(${total}):\n  s.sendto(b"a:1|c",("${HOST}",${w.port}))\n  if i % 200 == 199: time.sleep(0.005)`,
        ],
      }).spawn();
      // the main thread busy elsewhere while the flood comes in
      const end = performance.now() + 3000;
      while (performance.now() < end) { /* busy */ }
      assert.ok((await sender.status).success);
      await until(
        "the Worker reports drops",
        () => w.handoffDropped > 0,
        10_000,
        50,
      ).catch((err) => {
        throw new Error(`${err.message} (handed over ${got}, taken by the Worker ${w.received})`);
      });
      await until(
        "the queue drained",
        () => got >= HANDOFF_MAX - 1 || w.handoffDropped + got >= total,
        10_000,
        50,
      );
      assert.ok(got <= HANDOFF_MAX, `${got} datagrams handed over while the main thread was busy`);
      assert.ok(got + w.handoffDropped <= total);
      // the main thread keeps up again: nothing more is dropped
      const dropped = w.handoffDropped;
      const before = got;
      const more = new Deno.Command("python3", {
        args: [
          "-c",
          `import socket\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\ns.sendto(b"b:1|c",("${HOST}",${w.port}))`,
        ],
      }).spawn();
      assert.ok((await more.status).success);
      await until("a datagram after the flood", () => got > before, 5_000, 20);
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(w.handoffDropped, dropped);
    } finally {
      await w.stop();
    }
  },
});
