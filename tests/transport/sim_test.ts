import assert from "node:assert/strict";
import { VirtualClock } from "../../lib/clock/mod.ts";
import { SimNetwork } from "../../lib/transport/mod.ts";

const A = { addr: "10.0.0.1", port: 1 };
const B = { addr: "10.0.0.2", port: 1 };
const bytes = (s: string) => new TextEncoder().encode(s);

function setup(seed = 1, link = {}) {
  const clock = new VirtualClock(0);
  const net = new SimNetwork({ clock, seed, link });
  const a = net.attach(A);
  const b = net.attach(B);
  void a.transport.start();
  void b.transport.start();
  return { clock, net, a, b };
}

Deno.test("sim: datagrams arrive after the link delay", async () => {
  const { clock, a, b } = setup(1, { delayMs: 10, jitterMs: 0 });
  const at: number[] = [];
  b.transport.onPacket(() => at.push(clock.now()));
  a.transport.sendPacket(B, bytes("x"));
  await clock.advance(9);
  assert.equal(at.length, 0);
  await clock.advance(1);
  assert.deepEqual(at, [10]);
});

Deno.test("sim: loss drops about the configured share, deterministically from the seed", async () => {
  const run = async (seed: number) => {
    const { clock, a, b } = setup(seed, { loss: 0.2 });
    let n = 0;
    b.transport.onPacket(() => n++);
    for (let i = 0; i < 5000; i++) a.transport.sendPacket(B, bytes("x"));
    await clock.advance(100);
    return n;
  };
  const n = await run(42);
  assert.ok(n > 3800 && n < 4200, `delivered ${n}`);
  assert.equal(await run(42), n);
});

Deno.test("sim: partitions cut traffic both ways until healed", async () => {
  const { clock, net, a, b } = setup();
  let n = 0;
  b.transport.onPacket(() => n++);
  a.transport.onPacket(() => n++);
  net.partition([[A], [B]]);
  a.transport.sendPacket(B, bytes("x"));
  b.transport.sendPacket(A, bytes("x"));
  await clock.advance(50);
  assert.equal(n, 0);
  await assert.rejects(
    (async () => {
      const p = a.transport.request(B, bytes("x"), 100);
      await clock.advance(200);
      return await p;
    })(),
    /no answer within 100 ms/,
  );
  net.heal();
  a.transport.sendPacket(B, bytes("x"));
  await clock.advance(50);
  assert.equal(n, 1);
});

Deno.test("sim: a paused node runs neither timers nor handlers until it resumes, then catches up", async () => {
  const { clock, net, a, b } = setup(1, { delayMs: 1, jitterMs: 0 });
  const log: string[] = [];
  b.transport.onPacket(() => log.push(`pkt@${clock.now()}`));
  b.clock.setTimeout(() => log.push(`timer@${clock.now()}`), 500);
  net.pause(B, 2000);
  a.transport.sendPacket(B, bytes("x"));
  await clock.advance(1999);
  assert.deepEqual(log, []);
  await clock.advance(1);
  assert.deepEqual(log, ["timer@2000", "pkt@2000"]);
});

Deno.test("sim: request/response round trip and refused connections", async () => {
  const { clock, net, a, b } = setup(1, { delayMs: 5, jitterMs: 0 });
  b.transport.onRequest((d) => Promise.resolve(bytes(`re:${new TextDecoder().decode(d)}`)));
  const p = a.transport.request(B, bytes("q"), 1000);
  await clock.advance(20);
  assert.equal(new TextDecoder().decode(await p), "re:q");
  net.kill(B);
  const q = a.transport.request(B, bytes("q"), 1000);
  await clock.advance(20);
  await assert.rejects(q, /refused/);
});

Deno.test("sim: refused() is true only for an address nobody is attached at, never across a partition", async () => {
  const { clock, net, a } = setup(1, { delayMs: 5, jitterMs: 0 });
  const C = { addr: "10.0.0.3", port: 1 };
  const ask = async (to: typeof A) => {
    const p = a.transport.refused(to, 100);
    await clock.advance(100);
    return await p;
  };
  assert.equal(await ask(B), false, "B listens");
  assert.equal(await ask(C), true, "nobody at C");
  net.kill(B);
  assert.equal(await ask(B), true, "B was killed");
  net.partition([[A], [C]]);
  assert.equal(await ask(C), false, "no answer across a partition is no evidence");
});
