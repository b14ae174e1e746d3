/**
 * The statsd Worker parses whatever reaches its port: it runs with its UDP host only (and FFI to
 * libc for recvmmsg), not with every permission of the agent (its keyring, its token, processes).
 */
import assert from "node:assert/strict";
import { StatsdWorker } from "../../lib/metrics/statsd_worker_client.ts";
import { freePort, until } from "../helpers.ts";

const HOST = "127.0.0.19";
const PROBE = new URL("./probe_statsd_worker.ts", import.meta.url).href;
const OPTS = { intervalSeconds: 10, percentiles: [90], maxTimerValues: 100 };

Deno.test({
  name: "statsd worker: no files, environment, processes or other hosts; still counts and batches",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const errors: string[] = [];
    const probe = await StatsdWorker.start(
      HOST,
      freePort(HOST),
      OPTS,
      () => {},
      (m) => errors.push(m),
      PROBE,
    );
    try {
      await until("the probe answered", () => errors.some((e) => e.startsWith("probe ")), 5_000, 20);
      const got = JSON.parse(errors.find((e) => e.startsWith("probe "))!.slice(6));
      assert.deepEqual(got, {
        read: "NotCapable",
        write: "NotCapable",
        env: "NotCapable",
        run: "NotCapable",
        otherHost: "NotCapable",
      });
    } finally {
      await probe.stop();
    }

    // the real one: it counts what it receives, and takes queued datagrams in batches (Linux, 64-bit)
    const w = await StatsdWorker.start(HOST, freePort(HOST), OPTS, () => {}, (m) => errors.push(m));
    try {
      const s = Deno.listenDatagram({ hostname: HOST, port: 0, transport: "udp" });
      try {
        for (let i = 0; i < 50; i++) {
          await s.send(new TextEncoder().encode("a:1|c"), { hostname: HOST, port: w.port, transport: "udp" });
        }
      } finally {
        s.close();
      }
      await until("50 packets counted", () => w.stats.packets >= 50, 5_000, 20);
      if (Deno.build.os === "linux" && ["x86_64", "aarch64"].includes(Deno.build.arch)) {
        await until("batching", () => w.batching, 5_000, 20);
      }
    } finally {
      await w.stop();
    }
  },
});
