import assert from "node:assert/strict";
import {
  decodeKey,
  generateKey,
  KeyError,
  Keyring,
  loadKeyring,
  saveKeyring,
  SEAL_OVERHEAD,
} from "../../lib/transport/mod.ts";

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

/** What agents before the node:crypto keyring sent and expected: WebCrypto AES-GCM, same layout. */
async function webCrypto(b64: string, label: string) {
  const key = await crypto.subtle.importKey(
    "raw",
    decodeKey(b64) as Uint8Array<ArrayBuffer>,
    "AES-GCM",
    false,
    [
      "encrypt",
      "decrypt",
    ],
  );
  const aad = new Uint8Array([1, ...enc.encode(label)]);
  return {
    async seal(plain: Uint8Array): Promise<Uint8Array> {
      const iv = crypto.getRandomValues(new Uint8Array(12));
      const ct = new Uint8Array(
        await crypto.subtle.encrypt(
          { name: "AES-GCM", iv, additionalData: aad },
          key,
          plain as Uint8Array<ArrayBuffer>,
        ),
      );
      return new Uint8Array([1, ...iv, ...ct]);
    },
    async open(sealed: Uint8Array): Promise<Uint8Array> {
      return new Uint8Array(
        await crypto.subtle.decrypt(
          { name: "AES-GCM", iv: sealed.subarray(1, 13) as Uint8Array<ArrayBuffer>, additionalData: aad },
          key,
          sealed.subarray(13) as Uint8Array<ArrayBuffer>,
        ),
      );
    },
  };
}

Deno.test("the wire is WebCrypto's AES-GCM: packets cross both ways with agents that sealed with it", async () => {
  for (const k of [k16, k24, generateKey()]) {
    const ring = await Keyring.create([k], "prod");
    const web = await webCrypto(k, "prod");
    for (const size of [0, 1, 15, 16, 17, 600, 65536]) {
      const plain = crypto.getRandomValues(new Uint8Array(size));
      assert.deepEqual(await web.open(await ring.seal(plain)), plain, `ours -> WebCrypto, ${size} bytes`);
      assert.deepEqual(await ring.open(await web.seal(plain)), plain, `WebCrypto -> ours, ${size} bytes`);
    }
    // another label's WebCrypto packet is still refused
    assert.equal(await ring.open(await (await webCrypto(k, "staging")).seal(enc.encode("x"))), null);
  }
});

Deno.test("a ring mixing key sizes opens what any of its keys sealed (node:crypto and WebCrypto keys)", async () => {
  const k32 = generateKey();
  const mixed = await Keyring.create([k32, k24, k16], "prod");
  for (const k of [k16, k24, k32]) {
    const sender = await Keyring.create([k], "prod");
    assert.deepEqual(await mixed.open(await sender.seal(enc.encode(k))), enc.encode(k));
  }
  assert.equal(
    await mixed.open(await (await Keyring.create([generateKey()], "prod")).seal(enc.encode("x"))),
    null,
  );
});

const esc = (t: string) => t.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");

Deno.test("keyring.json wins over the configuration: a key a rotation removed is not installed again from local.json", async () => {
  const dir = Deno.makeTempDirSync();
  try {
    const file = `${dir}/keyring.json`;
    const [old, fresh, extra] = [generateKey(), generateKey(), generateKey()];
    // no file: the configured keys are the ring (the first the primary)
    const said: string[] = [];
    const first = await loadKeyring({ file, configured: [old, extra], label: "", warn: (m) => said.push(m) });
    assert.deepEqual(first.list(), { primary: old, keys: [old, extra] });
    assert.equal(said.length, 0, said.join("\n"));
    // install fresh, use it, remove old and extra (what `kunai keys` does), saved
    await first.install(fresh);
    first.use(fresh);
    first.remove(old);
    first.remove(extra);
    saveKeyring(file, first);
    // the next start with the same local.json: old and extra stay out, and that is said
    const back = await loadKeyring({ file, configured: [old, extra], label: "", warn: (m) => said.push(m) });
    assert.deepEqual(back.list(), { primary: fresh, keys: [fresh] });
    assert.equal(said.length, 1);
    assert.match(
      said[0],
      new RegExp(`${esc(file)}.* wins .*${esc(old.slice(0, 6))}…, ${esc(extra.slice(0, 6))}… not installed`),
    );
    assert.ok(!said[0].includes(old), "the whole key is not logged");
    // a configured key the file holds is not worth a word
    said.length = 0;
    await loadKeyring({ file, configured: [fresh], label: "", warn: (m) => said.push(m) });
    assert.equal(said.length, 0, said.join("\n"));
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("keyring.json keeps when the primary's use was issued across a restart; older files load without it, damaged ones are refused", async () => {
  const dir = Deno.makeTempDirSync();
  try {
    const file = `${dir}/keyring.json`;
    const [k1, k2] = [generateKey(), generateKey()];
    const ring = await Keyring.create([k1, k2]);
    ring.use(k2);
    ring.primaryAt = 1_800_000_000_123;
    saveKeyring(file, ring);
    const back = await loadKeyring({ file, configured: [k1], label: "" });
    assert.deepEqual(back.list(), { primary: k2, keys: [k2, k1] });
    assert.equal(back.primaryAt, 1_800_000_000_123);
    Deno.writeTextFileSync(file, JSON.stringify({ keys: [k2] }));
    assert.equal((await loadKeyring({ file, configured: [], label: "" })).primaryAt, 0, "a file from before");
    Deno.writeTextFileSync(file, JSON.stringify({ keys: [k2], primary_at: "x" }));
    assert.equal((await loadKeyring({ file, configured: [], label: "" })).primaryAt, 0, "a damaged stamp");
    Deno.removeSync(file);
    assert.equal(
      (await loadKeyring({ file, configured: [k1], label: "" })).primaryAt,
      0,
      "configured keys only",
    );
    // a damaged file is not taken for none: the rotated keys would be lost without a word
    for (
      const [text, why] of [["", /damaged \(empty\)/], ['{"keys": ["', /damaged \(not a JSON/], [
        "[]",
        /damaged/,
      ]] as const
    ) {
      Deno.writeTextFileSync(file, text);
      await assert.rejects(
        loadKeyring({ file, configured: [k1], label: "" }),
        (err: Error) =>
          err.name === "KeyError" && err.message.startsWith(`${file}: `) && why.test(err.message),
        JSON.stringify(text),
      );
    }
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
