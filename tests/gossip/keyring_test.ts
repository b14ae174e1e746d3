import assert from "node:assert/strict";
import { decodeKey, generateKey, KeyError, Keyring, SEAL_OVERHEAD } from "../../lib/transport/mod.ts";

const enc = new TextEncoder();
const k16 = btoa(String.fromCharCode(...new Uint8Array(16).fill(1)));
const k24 = btoa(String.fromCharCode(...new Uint8Array(24).fill(2)));

Deno.test("sealed packets open with the same key and carry the version header", async () => {
  const ring = await Keyring.create([generateKey()], "prod");
  const sealed = await ring.seal(enc.encode("hello"));
  assert.equal(sealed[0], 1);
  assert.equal(sealed.length, 5 + SEAL_OVERHEAD);
  assert.equal(new TextDecoder().decode((await ring.open(sealed))!), "hello");
});

Deno.test("16, 24 and 32 byte keys are accepted; other sizes and bad base64 are refused", async () => {
  for (const k of [k16, k24, generateKey()]) {
    const ring = await Keyring.create([k]);
    assert.ok(await ring.open(await ring.seal(enc.encode("x"))));
  }
  assert.throws(() => decodeKey(btoa("short")), KeyError);
  assert.throws(() => decodeKey("not base64!!"), /base64/);
  assert.throws(() => decodeKey(btoa("x".repeat(20))), /16, 24 or 32 bytes \(got 20\)/);
});

Deno.test("a packet sealed with another key, another label or tampered bytes is refused", async () => {
  const a = await Keyring.create([generateKey()], "prod");
  const b = await Keyring.create([generateKey()], "prod");
  const sealed = await a.seal(enc.encode("secret"));
  assert.equal(await b.open(sealed), null);
  const sameKeyOtherLabel = await Keyring.create([a.list().primary!], "staging");
  assert.equal(await sameKeyOtherLabel.open(sealed), null);
  const tampered = sealed.slice();
  tampered[tampered.length - 1] ^= 1;
  assert.equal(await a.open(tampered), null);
  const badVersion = sealed.slice();
  badVersion[0] = 2;
  assert.equal(await a.open(badVersion), null);
  assert.equal(await a.open(new Uint8Array(5)), null);
  assert.equal(await a.open(enc.encode('[{"type":"ping"}]')), null);
});

Deno.test("rotation: install, use, remove keeps old and new senders readable in between", async () => {
  const oldKey = generateKey();
  const newKey = generateKey();
  const x = await Keyring.create([oldKey]);
  const y = await Keyring.create([oldKey]);
  await y.install(newKey);
  // y still sends with the old key, x reads it
  assert.ok(await x.open(await y.seal(enc.encode("1"))));
  await x.install(newKey);
  y.use(newKey);
  assert.equal(y.list().primary, newKey);
  assert.ok(await x.open(await y.seal(enc.encode("2"))));
  assert.throws(() => y.remove(newKey), /primary/);
  y.remove(oldKey);
  assert.deepEqual(y.list().keys, [newKey]);
  assert.throws(() => y.use(oldKey), /not installed/);
  x.use(newKey);
  x.remove(oldKey);
  assert.ok(await y.open(await x.seal(enc.encode("3"))));
});

Deno.test("an empty keyring passes packets through unchanged", async () => {
  const ring = await Keyring.create([]);
  assert.equal(ring.enabled, false);
  const data = enc.encode("plain");
  assert.equal(await ring.seal(data), data);
  assert.equal(await ring.open(data), data);
});
