import assert from "node:assert/strict";
import { PeerAuth } from "../../lib/kv/mod.ts";

const KEY = btoa("0123456789abcdef0123456789abcdef");
const OTHER = btoa("fedcba9876543210fedcba9876543210");
const body = new TextEncoder().encode('{"items":[]}');

Deno.test("a signed request verifies; a changed body, path or method does not", async () => {
  const a = await PeerAuth.fromKeys([KEY]);
  const now = 1_700_000_000_000;
  const h = await a.sign("POST", "/kv-internal/apply", body, now);
  assert.equal(await a.verify("POST", "/kv-internal/apply", body, h, now + 1000), null);
  assert.match(
    (await a.verify("POST", "/kv-internal/apply", new Uint8Array([1]), h, now))!,
    /does not match/,
  );
  assert.match((await a.verify("POST", "/kv-internal/write", body, h, now))!, /does not match/);
  assert.match((await a.verify("GET", "/kv-internal/apply", body, h, now))!, /does not match/);
});

Deno.test("old timestamps, missing or malformed headers are refused", async () => {
  const a = await PeerAuth.fromKeys([KEY]);
  const now = 1_700_000_000_000;
  const h = await a.sign("GET", "/x", body, now);
  assert.match((await a.verify("GET", "/x", body, h, now + 60_000))!, /s off/);
  assert.match((await a.verify("GET", "/x", body, null, now))!, /missing/);
  assert.match((await a.verify("GET", "/x", body, "garbage", now))!, /malformed/);
});

Deno.test("any key of the keyring verifies; the first one signs", async () => {
  const old = await PeerAuth.fromKeys([OTHER]);
  const rotated = await PeerAuth.fromKeys([KEY, OTHER]);
  const stranger = await PeerAuth.fromKeys([KEY]);
  const now = Date.now();
  const h = await old.sign("GET", "/x", body, now);
  assert.equal(await rotated.verify("GET", "/x", body, h, now), null);
  assert.notEqual(await stranger.verify("GET", "/x", body, h, now), null);
});

Deno.test("no key: auth is off; bad keys are named", async () => {
  const off = await PeerAuth.fromKeys(["", ""]);
  assert.equal(off.enabled, false);
  assert.equal(await off.sign("GET", "/x", body, 0), null);
  assert.equal(await off.verify("GET", "/x", body, undefined, 0), null);
  await assert.rejects(PeerAuth.fromKeys([btoa("short")]), /key #1 is 5 bytes/);
  await assert.rejects(PeerAuth.fromKeys([KEY, "%%%"]), /key #2 is not valid base64/);
});
