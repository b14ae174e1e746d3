import assert from "node:assert/strict";
import { generateKey, Keyring, PeerEnvelope } from "../../lib/transport/mod.ts";

Deno.test("envelope: a sealed message opens once, a replay and a stale copy are dropped", async () => {
  let now = 1_000_000;
  const ring = await Keyring.create([generateKey()]);
  const env = new PeerEnvelope(ring, { now: () => now, windowMs: 30_000 });
  const wire = await env.seal(new TextEncoder().encode("hello"));
  const first = await env.open(wire);
  assert.ok(first.ok);
  assert.equal(new TextDecoder().decode(first.plain), "hello");
  assert.deepEqual(await env.open(wire), { ok: false, reason: "replay" });
  const old = await env.seal(new TextEncoder().encode("old"));
  now += 31_000;
  assert.deepEqual(await env.open(old), { ok: false, reason: "stale" });
  assert.deepEqual(env.dropped.replay, 1);
  assert.deepEqual(env.dropped.stale, 1);
});

Deno.test("envelope: a message sealed with another key or tampered with is refused", async () => {
  const now = () => 5_000;
  const a = new PeerEnvelope(await Keyring.create([generateKey()]), { now });
  const b = new PeerEnvelope(await Keyring.create([generateKey()]), { now });
  const wire = await a.seal(new Uint8Array([1, 2, 3]));
  assert.deepEqual(await b.open(wire), { ok: false, reason: "auth" });
  const bad = wire.slice();
  bad[bad.length - 1] ^= 1;
  assert.deepEqual(await a.open(bad), { ok: false, reason: "auth" });
  assert.deepEqual(await a.open(new Uint8Array(3)), { ok: false, reason: "malformed" });
});

Deno.test("envelope: without a key messages pass unchanged", async () => {
  const env = new PeerEnvelope(await Keyring.create([]), { now: () => 0 });
  const r = await env.open(await env.seal(new Uint8Array([9])));
  assert.ok(r.ok);
  assert.deepEqual([...r.plain], [9]);
});

Deno.test("envelope: a message sent from further than the window in the future is stale too", async () => {
  let senderNow = 1_000_000;
  const ring = await Keyring.create([generateKey()]);
  const sender = new PeerEnvelope(ring, { now: () => senderNow, windowMs: 30_000 });
  const receiver = new PeerEnvelope(ring, { now: () => 1_000_000, windowMs: 30_000 });
  senderNow = 1_000_000 + 30_001;
  assert.deepEqual(await receiver.open(await sender.seal(new Uint8Array([1]))), {
    ok: false,
    reason: "stale",
  });
  senderNow = 1_000_000 + 30_000; // at the edge: still inside the window
  assert.ok((await receiver.open(await sender.seal(new Uint8Array([2])))).ok);
  // a send time that is not a number is never inside any window
  senderNow = NaN;
  assert.deepEqual(await receiver.open(await sender.seal(new Uint8Array([3]))), {
    ok: false,
    reason: "stale",
  });
});

Deno.test("envelope: a message from a clock ahead by the whole window cannot be replayed once it is forgotten", async () => {
  // the sender is 30 s ahead: its message is accepted now and stays inside the window for 60 s of the
  // receiver's clock, so its nonce must be remembered that long
  const ring = await Keyring.create([generateKey()]);
  let now = 1_000_000;
  const sender = new PeerEnvelope(ring, { now: () => 1_000_000 + 30_000, windowMs: 30_000 });
  const receiver = new PeerEnvelope(ring, { now: () => now, windowMs: 30_000 });
  const wire = await sender.seal(new TextEncoder().encode("ahead"));
  assert.ok((await receiver.open(wire)).ok);
  for (const later of [30_001, 45_000, 59_999, 60_000]) {
    now = 1_000_000 + later;
    assert.deepEqual(await receiver.open(wire), { ok: false, reason: "replay" }, `${later} ms later`);
  }
  now = 1_000_000 + 60_001;
  assert.deepEqual(await receiver.open(wire), { ok: false, reason: "stale" });
});

Deno.test("envelope: past maxRemembered nonces the oldest are forgotten (memory stays bounded)", async () => {
  const ring = await Keyring.create([generateKey()]);
  const env = new PeerEnvelope(ring, { now: () => 1_000_000, windowMs: 30_000, maxRemembered: 4 });
  const wires = [];
  for (let i = 0; i < 6; i++) wires.push(await env.seal(new Uint8Array([i])));
  for (const w of wires) assert.ok((await env.open(w)).ok);
  // the newest are still known as replays; the first were forgotten early to keep the bound
  assert.deepEqual(await env.open(wires[5]), { ok: false, reason: "replay" });
  assert.ok((await env.open(wires[0])).ok, "the oldest nonce was forgotten");
});
