/**
 * A statsd Worker that dies (an uncaught error in it) is started again on the same port: statsd
 * keeps working, its counters do not go back, and a stop cancels a planned restart.
 */
import assert from "node:assert/strict";
import { StatsdWorker } from "../../lib/metrics/statsd_worker_client.ts";
import { freePort, until } from "../helpers.ts";

const HOST = "127.0.0.18";
const FAILING = new URL("./failing_statsd_worker.ts", import.meta.url).href;

async function send(port: number, ...lines: string[]): Promise<void> {
  const s = Deno.listenDatagram({ hostname: HOST, port: 0, transport: "udp" });
  try {
    for (const l of lines) {
      await s.send(new TextEncoder().encode(l), { hostname: HOST, port, transport: "udp" });
    }
  } finally {
    s.close();
  }
}

Deno.test({
  name: "statsd worker: one that dies is restarted on its port; counters go on; stop cancels a restart",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const errors: string[] = [];
    const w = await StatsdWorker.start(
      HOST,
      freePort(HOST),
      { intervalSeconds: 10, percentiles: [90], maxTimerValues: 100 },
      () => {},
      (m) => errors.push(m),
      FAILING,
    );
    try {
      const port = w.port;
      await send(port, "a:1|c", "a:1|c", "a:1|c");
      await until("the Worker counted 3 packets", () => w.stats.packets >= 3, 5_000, 20);

      // the Worker dies during a flush: the flush is answered at once, empty
      const t0 = performance.now();
      assert.deepEqual(await w.flush(13), []);
      assert.ok(performance.now() - t0 < 4_000, "the flush waited for its timeout");
      assert.match(
        errors.join("\n"),
        /statsd worker died \(.*a bug in the aggregator.*restarting it on port \d+ in 1 s/,
      );
      assert.ok(w.stats.packets >= 3, `counters went back: ${w.stats.packets}`);
      const received = w.received;
      // what the main thread aggregated under ts routing, handed over while no Worker runs: it waits
      w.handLines(["h:7|c"]);

      await until("the Worker was started again", () => w.restarts === 1, 5_000, 20);
      assert.equal(w.port, port);
      // TCP lines and datagrams after the restart are aggregated
      w.line("c:5|c");
      await send(port, "b:2|c");
      await until("the new Worker counted its packet", () => w.stats.packets >= 4, 5_000, 20);
      assert.ok(w.received > received);
      await until("the TCP line counted", () => w.stats.metrics >= 5, 5_000, 20);
      await new Promise((r) => setTimeout(r, 300)); // the Worker's counts come every 250 ms
      assert.equal(w.stats.metrics, 5, "a, a, a, c, b: the line handed over was counted where it came in");
      const points = await w.flush(100);
      const names = points.map(([n]) => n);
      assert.ok(names.some((n) => /(^|\.)h(\.|$)/.test(n)), `no h in ${names}`);
      assert.ok(names.some((n) => /(^|\.)b(\.|$)/.test(n)), `no b in ${names}`);
      assert.ok(names.some((n) => /(^|\.)c(\.|$)/.test(n)), `no c in ${names}`);
      assert.ok(!names.some((n) => /(^|\.)a(\.|$)/.test(n)), `the dead Worker's a came back: ${names}`);

      // dying again at once doubles the wait; a stop meanwhile cancels the restart
      assert.deepEqual(await w.flush(13), []);
      assert.match(errors.at(-1)!, /restarting it on port \d+ in 2 s/);
      await w.stop();
      await new Promise((r) => setTimeout(r, 2_300));
      assert.equal(w.restarts, 1);
      assert.equal(w.port, 0);
    } finally {
      await w.stop();
    }
  },
});
