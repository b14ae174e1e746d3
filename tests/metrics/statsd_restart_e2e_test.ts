/**
 * A real agent stopped (SIGTERM) and started again within one statsd interval, counts sent over UDP
 * before and after: each is counted once (the stop hands its state to the start, statsd_carryover.ts).
 */
import assert from "node:assert/strict";
import { freePort, startAgent, until } from "../helpers.ts";

const HOST = "127.0.0.24";
/** statsd.interval, and the finest retention step, so that two ticks are two buckets. */
const EVERY = 5;

Deno.test({
  name: "agent: a restart within the statsd interval keeps the counts of both processes (real UDP)",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const sp = freePort(HOST);
    const params = {
      statsd: { enabled: true, port: sp, bind: HOST, interval: EVERY },
      metrics: { flush_interval: "200ms", retentions: `${EVERY}s:1h,1m:1d` },
    };
    let a = await startAgent({ name: "carry", addr: HOST, params });
    const { dir, port } = a;
    const udp = Deno.listenDatagram({ hostname: HOST, port: 0, transport: "udp" });
    const send = (t: string) =>
      udp.send(new TextEncoder().encode(t), { hostname: HOST, port: sp, transport: "udp" });
    const received = async () =>
      ((await (await fetch(`http://${HOST}:${port}/agent/info`)).json()) as { statsd: { metrics: number } })
        .statsd.metrics >= 1;
    const stored = async (): Promise<Array<[number, number]>> => {
      const url = `http://${HOST}:${port}/render?target=stats.gauges.e2e.restart.count&from=-2min`;
      const [s] = (await (await fetch(url)).json()) as Array<{ datapoints: Array<[number | null, number]> }>;
      return (s?.datapoints ?? []).flatMap(([v, t]) => v === null ? [] : [[t, v] as [number, number]]);
    };
    const said = () => a.stderr().split("\n").filter((l) => l.includes("[metrics]")).join("\n");
    try {
      // just after a tick: the rest of the interval is left for the stop and the start
      await until(
        "the start of an interval",
        () => Date.now() % (EVERY * 1000) < 300,
        EVERY * 1000 + 1000,
        10,
      );
      const tick = (Math.floor(Date.now() / 1000 / EVERY) + 1) * EVERY;
      await send("e2e.restart:5|c");
      await until("5 received", received);
      await a.stop();
      a = await startAgent({ name: "carry", addr: HOST, params, dir, port });
      await send("e2e.restart:3|c");
      await until("3 received", received);
      // the start took the state before the tick, and the 3 reached the Worker before it: 8 at the tick
      const inTime = Date.now() < tick * 1000 && a.stderr().includes(`join the flush at ${tick}`);
      await until(
        "the flush at the tick",
        async () => (await stored()).some(([t]) => t === tick),
        15_000,
        100,
      );
      let got = await stored();
      if (inTime) assert.deepEqual(got, [[tick, 8]], said());
      else if (got.length === 1 && got[0][1] === 5) {
        // a slow machine: the start came after the tick, or its Worker did: the 3 are in the next one
        await until("the next tick", async () => (await stored()).length === 2, 15_000, 100);
        got = await stored();
      }
      assert.ok(
        JSON.stringify(got) === JSON.stringify([[tick, 8]]) ||
          JSON.stringify(got) === JSON.stringify([[tick, 5], [tick + EVERY, 3]]),
        `${JSON.stringify(got)}; counted once whatever the timing\n${said()}`,
      );
    } finally {
      udp.close();
      await a.stop();
      Deno.removeSync(dir, { recursive: true });
    }
  },
});
