/**
 * carbon's pickle protocol into a real agent: frames sent by CPython (pickle + struct over a
 * socket), and by a real carbon-relay (Debian's graphite-carbon) forwarding plaintext lines to
 * the agent's `graphite.pickle_port`; `/render` returns the points, `/agent/info` counts.
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { freePort, startAgent, tempDir, until } from "../helpers.ts";

const HOST = "127.0.0.16";
const RELAY = "/usr/bin/carbon-relay";
const hasRelay = existsSync(RELAY);
if (!hasRelay) {
  console.log(`skipped: the carbon-relay test needs ${RELAY} (Debian's graphite-carbon package)`);
}

type Render = Array<{ target: string; datapoints: Array<[number | null, number]> }>;

function agentParams(graphite: number, pickle: number) {
  return {
    graphite: { enabled: true, port: graphite, bind: HOST, udp: false, pickle_port: pickle },
    metrics: { flush_interval: "200ms" },
  };
}

async function render(base: string, target: string): Promise<Array<[number, number]>> {
  const res = await fetch(`${base}/render?target=${encodeURIComponent(target)}&from=-10min&format=json`);
  assert.equal(res.status, 200);
  const series = await res.json() as Render;
  return series.length ? series[0].datapoints.filter(([v]) => v !== null) as Array<[number, number]> : [];
}

/** Sends frames from CPython: protocol 2 split across writes, protocol 4, an os.system payload, protocol 0. */
const SENDER = `
import os, pickle, socket, struct, sys, time
port, now, marker = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
class Evil:
    def __reduce__(self):
        return (os.system, ("touch " + marker,))
def frame(obj, proto):
    p = pickle.dumps(obj, protocol=proto)
    return struct.pack("!L", len(p)) + p
s = socket.create_connection((sys.argv[4], port))
f = frame([("pk.e2e.a", (now - 60, 1)), ("pk.e2e.a", (now - 50, 2.5)), ("pk.e2e.b", (now - 50, 2**40))], 2)
for part in (f[:3], f[3:20], f[20:]):
    s.sendall(part)
    time.sleep(0.05)
s.sendall(frame([("pk.e2e.c", (float(now - 40), -7.25)), ("pk.e2e.c", (now - 30, float("nan")))], 4))
s.sendall(frame([Evil()], 2))
s.sendall(frame([("pk.e2e.d", (now - 20, 9))], 0))
s.close()
`;

Deno.test("agent: pickle frames from CPython land and /render returns them; a payload is refused, nothing runs", async () => {
  const [gp, pp] = [freePort(HOST), freePort(HOST)];
  const a = await startAgent({ name: "pk1", addr: HOST, params: agentParams(gp, pp) });
  const t = tempDir("kunai-pickle-e2e-");
  try {
    const now = Math.floor(Date.now() / 1000);
    const marker = join(t.dir, "ran");
    const sent = await new Deno.Command("/usr/bin/python3", {
      args: ["-c", SENDER, String(pp), String(now), marker, HOST],
      stderr: "piped",
    }).output();
    assert.ok(sent.success, new TextDecoder().decode(sent.stderr));
    const base = `http://${HOST}:${a.port}`;
    const bucket = (ts: number) => ts - (ts % 10);
    await until("pk.e2e.d rendered", async () => (await render(base, "pk.e2e.d")).length === 1, 10_000, 100);
    assert.deepEqual(await render(base, "pk.e2e.a"), [[1, bucket(now - 60)], [2.5, bucket(now - 50)]]);
    assert.deepEqual(await render(base, "pk.e2e.b"), [[2 ** 40, bucket(now - 50)]]);
    assert.deepEqual(await render(base, "pk.e2e.c"), [[-7.25, bucket(now - 40)]]);
    assert.deepEqual(await render(base, "pk.e2e.d"), [[9, bucket(now - 20)]]);
    const info = await (await fetch(`${base}/agent/info`)).json() as Record<string, Record<string, unknown>>;
    const g = info.graphite;
    assert.equal(g.enabled, true);
    assert.deepEqual(g.listening, { udp: 0, tcp: gp, pickle: pp });
    assert.equal(g.frames, 4);
    assert.equal(g.bad_frames, 1);
    assert.equal(g.bad_points, 1); // the NaN
    assert.equal(g.points, 5);
    assert.match(String(g.last_bad), /pickle frame refused: GLOBAL posix\.system refused/);
    assert.ok(!existsSync(marker), "the payload did not run");
  } finally {
    await a.stop();
    t.cleanup();
  }
});

Deno.test({
  name:
    "carbon-relay (graphite-carbon) forwards plaintext lines to the agent's pickle port; /render returns them",
  ignore: !hasRelay,
  async fn() {
    const [gp, pp, relayLine] = [freePort(HOST), freePort(HOST), freePort(HOST)];
    const a = await startAgent({ name: "pk2", addr: HOST, params: agentParams(gp, pp) });
    const t = tempDir("kunai-carbon-relay-");
    let relay: Deno.ChildProcess | null = null;
    try {
      const conf = join(t.dir, "carbon.conf");
      Deno.writeTextFileSync(
        conf,
        [
          "[relay]",
          `LINE_RECEIVER_INTERFACE = ${HOST}`,
          `LINE_RECEIVER_PORT = ${relayLine}`,
          "PICKLE_RECEIVER_PORT = 0",
          "RELAY_METHOD = rules",
          `DESTINATIONS = ${HOST}:${pp}:a`,
          "MAX_DATAPOINTS_PER_MESSAGE = 500",
          "MAX_QUEUE_SIZE = 10000", // its default of 1 000 drops the rest of a burst
          "",
        ].join("\n"),
      );
      Deno.writeTextFileSync(
        join(t.dir, "relay-rules.conf"),
        `[default]\ndefault = true\ndestinations = ${HOST}:${pp}:a\n`,
      );
      Deno.writeTextFileSync(
        join(t.dir, "storage-schemas.conf"),
        "[default]\npattern = .*\nretentions = 10s:1d\n",
      );
      // --nodaemon logs to stdout: into a file for the failure message (exec: the pid stays carbon-relay's)
      const relayArgs = [
        `--config=${conf}`,
        `--rules=${join(t.dir, "relay-rules.conf")}`,
        "--nodaemon",
        `--pidfile=${join(t.dir, "relay.pid")}`,
        "start",
      ];
      relay = new Deno.Command("/bin/sh", {
        args: ["-c", `exec "$0" "$@" >"${join(t.dir, "relay.log")}" 2>&1`, RELAY, ...relayArgs],
        env: { GRAPHITE_STORAGE_DIR: join(t.dir, "storage") },
        stdout: "null",
        stderr: "null",
      }).spawn();
      const conn = await until(
        "carbon-relay's line receiver",
        async () => {
          try {
            return await Deno.connect({ hostname: HOST, port: relayLine });
          } catch {
            return null;
          }
        },
        30_000,
        200,
      );
      // 1 200 points: carbon-relay sends them as frames of at most 500
      const now = Math.floor(Date.now() / 1000);
      const lines = Array.from(
        { length: 1200 },
        (_, i) => `relay.s${i % 300} ${i * 0.5} ${now - 60 + 10 * Math.floor(i / 300)}`,
      );
      await conn.write(new TextEncoder().encode(lines.join("\n") + "\n"));
      conn.close();
      const base = `http://${HOST}:${a.port}`;
      const info = async () =>
        (await (await fetch(`${base}/agent/info`)).json() as Record<string, Record<string, number>>).graphite;
      await until("1 200 points", async () => (await info()).points >= 1200, 30_000, 200);
      const g = await info();
      assert.equal(g.points, 1200);
      assert.ok(g.frames >= 3, `${g.frames} frames`);
      assert.equal(g.bad_frames, 0);
      assert.equal(g.bad_points, 0);
      const bucket = (ts: number) => ts - (ts % 10);
      await until(
        "relay.s7 rendered",
        async () => (await render(base, "relay.s7")).length === 4,
        10_000,
        100,
      );
      assert.deepEqual(
        await render(base, "relay.s7"),
        [0, 1, 2, 3].map((k) => [(7 + 300 * k) * 0.5, bucket(now - 60 + 10 * k)]),
      );
      assert.deepEqual(
        await render(base, "relay.s299"),
        [0, 1, 2, 3].map((k) => [
          (299 + 300 * k) * 0.5,
          bucket(now - 60 + 10 * k),
        ]),
      );
    } catch (err) {
      // carbon-relay's own logs tell why it did not forward
      for (const f of Deno.readDirSync(t.dir)) {
        if (f.name.endsWith(".log")) {
          console.log(f.name, Deno.readTextFileSync(join(t.dir, f.name)).slice(-3000));
        }
      }
      throw err;
    } finally {
      if (relay) {
        relay.kill("SIGTERM");
        const timer = setTimeout(() => relay?.kill("SIGKILL"), 10_000);
        await relay.status;
        clearTimeout(timer);
      }
      await a.stop();
      t.cleanup();
    }
  },
});
