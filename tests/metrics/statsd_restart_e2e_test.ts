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
      // just after a tick's flush (its timer may fire a little late: a count sent in the first
      // milliseconds can still join it): the rest of the interval is left for the stop and the start
      await until(
        "the start of an interval",
        () => Date.now() % (EVERY * 1000) >= 400 && Date.now() % (EVERY * 1000) < 700,
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
      const total = (rows: Array<[number, number]>) => rows.reduce((n, [, v]) => n + v, 0);
      await until("both counts stored", async () => total(await stored()) >= 8, 20_000, 100);
      const got = await stored();
      const shape = JSON.stringify(got.map(([t, v]) => [t - got[0][0], v]));
      // a loaded machine moves the counts to later buckets (the flush before the tick late, so that
      // the 5 sent after it joined it; the start after the tick, so that the 3 went to the next one),
      // never counts one twice or loses it: 8 in one bucket, or 5 then 3 in a later one
      assert.ok(
        got[0][0] >= tick - EVERY &&
          (shape === "[[0,8]]" || (got.length === 2 && got[0][1] === 5 && got[1][1] === 3)),
        `${JSON.stringify(got)} (tick ${tick}); counted once whatever the timing\n${said()}`,
      );
      if (inTime && got[0][0] === tick) assert.deepEqual(got, [[tick, 8]], said());
    } finally {
      udp.close();
      await a.stop();
      Deno.removeSync(dir, { recursive: true });
    }
  },
});
