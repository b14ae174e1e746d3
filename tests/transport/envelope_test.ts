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
