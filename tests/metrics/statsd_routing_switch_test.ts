/**
 * When ts routing starts (a second `ts` node), the statsd Worker stops aggregating and hands every
 * datagram to the main thread, which routes each name to its owner. What the Worker held then goes
 * to the main thread as lines: before, it kept its gauges and wrote them again at every flush,
 * after the owner's newer values of the same names and tick, so the stale value won for good.
 */
import assert from "node:assert/strict";
import { StatsdAggregator, type StatsdOptions } from "../../lib/metrics/statsd_aggregator.ts";
import { StatsdWorker } from "../../lib/metrics/statsd_worker_client.ts";
import { freePort, until } from "../helpers.ts";

const T = 1_700_000_010;
const OPTS: StatsdOptions = { intervalSeconds: 10, percentiles: [90, 50], maxTimerValues: 1000 };
const HOST = "127.0.0.31";

const sorted = (points: Array<[string, number, number]>) =>
  [...points].sort((a, b) => a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0);

function fed(lines: string[], opts = OPTS): StatsdAggregator {
  const a = new StatsdAggregator(opts);
  for (const l of lines) a.ingestLine(l);
  return a;
}

Deno.test("drained lines build the same interval again elsewhere, and the drained aggregator holds nothing", () => {
  const lines = [
    "hits:5|c",
    "hits:2|c|@0.5",
    "rt:10|ms",
    "rt:30|ms",
    "rt:20|ms|@0.5",
    "users:alice|s",
    "users:bob|s",
    "temp:7|g",
    "temp:+2|g",
    "cold:-4|g",
    "tagged;env=prod:1|c",
  ];
  const original = fed(lines);
  const copy = fed(lines);
  const drained = copy.drainLines();
  assert.ok(
    drained.includes("cold:0|g") && drained.includes("cold:-4|g"),
    "a negative gauge is set through 0",
  );
  const rebuilt = fed(drained);
  assert.equal(rebuilt.stats.bad_lines, 0, rebuilt.lastBad);
  assert.deepEqual(sorted(rebuilt.flush(T)), sorted(original.flush(T)));
  assert.deepEqual(copy.flush(T), [], "nothing left to write, gauges included");
  assert.deepEqual(copy.flush(T + 10), []);
});

Deno.test("a timer holding a sample of its values is drained at the rate that keeps its count", () => {
  const opts = { ...OPTS, maxTimerValues: 10 };
  const a = fed(Array.from({ length: 40 }, (_, i) => `rt:${i}|ms`), opts);
  const rebuilt = fed(a.drainLines(), opts);
  const count = (agg: StatsdAggregator) => agg.flush(T).find(([n]) => n === "stats.timers.rt.count")?.[1];
  assert.equal(count(rebuilt), 40);
});

Deno.test({
  name:
    "statsd Worker: ts routing starts, what it held goes to the main thread and none of it is written again",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const packets: string[] = [];
    const w = await StatsdWorker.start(
      HOST,
      freePort(HOST),
      OPTS,
      (b) => packets.push(new TextDecoder().decode(b)),
      () => {},
    );
    const udp = Deno.listenDatagram({ hostname: HOST, port: 0, transport: "udp" });
    const send = (t: string) =>
      udp.send(new TextEncoder().encode(t), { hostname: HOST, port: w.port, transport: "udp" });
    try {
      await send("level:42|g\nhits:3|c");
      await until("the Worker took the datagram", () => w.received >= 1, 5_000, 20);
      // routing on: the held state is handed over, ahead of the datagrams that follow
      w.setLocal(false);
      await send("level:43|g");
      await until("two packets handed over", () => packets.length >= 2, 5_000, 20);
      assert.deepEqual(packets[0].split("\n").sort(), ["hits:3|c", "level:42|g"]);
      // the main thread counts the two lines it routes: the Worker gives its count of them back
      await until("the Worker's count given back", () => w.stats.metrics === 0, 5_000, 20);
      assert.equal(packets[1], "level:43|g", "a datagram after the switch comes after the hand-over");
      assert.deepEqual(await w.flush(T), [], "the Worker writes nothing of what it gave away");
      assert.deepEqual(await w.flush(T + 10), [], "nor its gauges at the next interval");
      // routing off again: the Worker aggregates from then on
      w.setLocal(true);
      await send("level:44|g");
      await until(
        "taken",
        async () => (await w.flush(T + 20)).some(([n, v]) => n === "stats.gauges.level" && v === 44),
        5_000,
        50,
      );
      assert.equal(packets.length, 2);
    } finally {
      udp.close();
      await w.stop();
    }
  },
});
