import assert from "node:assert/strict";
import { freePort, makeTestCtx } from "../helpers.ts";
import { createMetrics, GraphiteRelay } from "../../lib/metrics/mod.ts";
import { RealClock } from "../../lib/clock/mod.ts";

const HOST = "127.0.0.19";

function carbonStub(port: number): { lines: string[]; close(): void } {
  const lines: string[] = [];
  const l = Deno.listen({ hostname: HOST, port });
  (async () => {
    for await (const conn of l) {
      (async () => {
        let buf = "";
        for await (const chunk of conn.readable) {
          buf += new TextDecoder().decode(chunk);
          const parts = buf.split("\n");
          buf = parts.pop()!;
          lines.push(...parts);
        }
      })();
    }
  })().catch(() => {/* listener closed at the end of the test */});
  return { lines, close: () => l.close() };
}

/** Metrics with a Graphite listener on `gp` relaying to carbon on `cp` (nothing listens there yet), started. */
async function relayingAgent() {
  const [gp, cp] = [freePort(HOST), freePort(HOST)];
  const ctx = makeTestCtx({
    clock: new RealClock(),
    files: {
      "g.json": {
        graphite: { enabled: true, port: gp, bind: HOST, udp: false, forward_to: `${HOST}:${cp}` },
      },
    },
    params: { metrics: { flush_interval: "50ms" } },
  });
  const m = createMetrics(ctx);
  await m.start();
  return { gp, cp, ctx, m };
}

Deno.test("graphite.forward_to copies every received point to an external carbon", async () => {
  const { gp, cp, ctx, m } = await relayingAgent();
  const carbon = carbonStub(cp);
  try {
    const now = Math.floor(Date.now() / 1000);
    const conn = await Deno.connect({ hostname: HOST, port: gp });
    await conn.write(new TextEncoder().encode(`fw.a 1 ${now}\nfw.b 2.5 ${now}\nbad\n`));
    conn.close();
    for (let i = 0; i < 100 && carbon.lines.length < 2; i++) await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(carbon.lines, [`fw.a 1 ${now}`, `fw.b 2.5 ${now}`]);
    assert.ok(m.service.store.has("fw.a"), "stored locally too");
  } finally {
    await m.stop();
    carbon.close();
    ctx.cleanup();
  }
});

Deno.test("the relay keeps points while carbon is down (bounded) and refuses a bad target", async () => {
  using ctx = makeTestCtx();
  const log = ctx.log;
  assert.throws(() => new GraphiteRelay("nohostport", log), /forward_to/);
  const relay = new GraphiteRelay(`${HOST}:${freePort(HOST)}`, log, 3);
  for (let i = 0; i < 5; i++) relay.point(`x.${i}`, i, 1);
  assert.equal(relay.dropped, 2);
  await relay.flush(); // nothing listens: connection refused
  assert.equal(relay.errors, 1);
  assert.equal(relay.waiting, 3);
});

Deno.test("a carbon that accepts and stops reading does not hold the relay: the write is given up, its points kept", async () => {
  const ctx = makeTestCtx();
  const port = freePort(HOST);
  const stuck = Deno.listen({ hostname: HOST, port });
  const held: Deno.Conn[] = [];
  const accepting = (async () => {
    for await (const c of stuck) held.push(c); // never read
  })();
  try {
    const relay = new GraphiteRelay(`${HOST}:${port}`, ctx.log, 1_000_000, 300);
    const name = "x".repeat(200);
    for (let i = 0; i < 200_000; i++) relay.point(name, i, 1); // ~42 MB: more than the socket buffers
    await relay.flush();
    assert.equal(relay.errors, 1);
    assert.equal(relay.sending, false, "free for the next flush");
    assert.equal(relay.waiting, 200_000, "kept for the next try");
    assert.equal(relay.sent, 0);
  } finally {
    stuck.close();
    await accepting.catch(() => {});
    for (const c of held) c.close();
    ctx.cleanup();
  }
});

Deno.test("points the relay could not send go out once carbon is back, with no new point to wake the write timer", async () => {
  const { cp, ctx, m } = await relayingAgent();
  let carbon: ReturnType<typeof carbonStub> | null = null;
  try {
    const now = Math.floor(Date.now() / 1000);
    m.service.ingest("late.a", 1, now); // carbon is down: the relay keeps it
    const info = () => m.service.info().write_ticks as number;
    for (let i = 0; i < 100 && info() < 3; i++) await new Promise((r) => setTimeout(r, 20));
    assert.ok(info() >= 3, "the write timer keeps ticking while the relay holds points");
    carbon = carbonStub(cp);
    for (let i = 0; i < 150 && carbon.lines.length < 1; i++) await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(carbon.lines, [`late.a 1 ${now}`]);
  } finally {
    await m.stop();
    carbon?.close();
    ctx.cleanup();
  }
});

Deno.test("relay: stop waits for a write in progress, then sends what came meanwhile (nothing lost)", async () => {
  // a carbon that reads nothing for 300 ms: the first flush's write (a few MB) is still in progress
  const port = freePort(HOST);
  const l = Deno.listen({ hostname: HOST, port });
  const got: string[] = [];
  const serving = (async () => {
    for await (const conn of l) {
      await new Promise((r) => setTimeout(r, 300));
      let buf = "";
      for await (const chunk of conn.readable) buf += new TextDecoder().decode(chunk);
      got.push(...buf.split("\n").filter(Boolean));
      return;
    }
  })();
  using ctx = makeTestCtx();
  const relay = new GraphiteRelay(`${HOST}:${port}`, ctx.log);
  const first = 100_000;
  for (let i = 0; i < first; i++) relay.point(`load.host${i}.value_with_a_long_name`, i, 1_700_000_000);
  const flushing = relay.flush();
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(relay.sending, true, "the first write is blocked on the carbon that does not read");
  relay.point("late.point", 1, 1_700_000_001); // queued during the write
  await relay.drain(); // what metrics.stop() does before close()
  relay.close();
  await flushing;
  await serving; // (its loop's return closed the listener)
  assert.equal(got.length, first + 1);
  assert.equal(got.at(-1), "late.point 1 1700000001");
  assert.equal(relay.sent, first + 1);
  assert.equal(relay.errors, 0);
});
