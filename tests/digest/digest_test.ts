import assert from "node:assert/strict";
import { createHash, timingSafeEqual } from "node:crypto";
import { digestEqual, first48, sha1, sha256, toHex } from "../../lib/digest/mod.ts";

Deno.test("digest: FIPS 180 test vectors", () => {
  assert.equal(toHex(sha1("abc")), "a9993e364706816aba3e25717850c26c9cd0d89d");
  assert.equal(toHex(sha1("")), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
  assert.equal(
    toHex(sha1("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")),
    "84983e441c3bd26ebaae4aa1f95129e5e54670f1",
  );
  assert.equal(toHex(sha256("abc")), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  assert.equal(toHex(sha256("")), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  assert.equal(
    toHex(sha256("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")),
    "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
  );
});

Deno.test("digest: same bytes as node:crypto for lengths 0..300, around the scratch buffer's limit and beyond, strings as UTF-8", () => {
  let seed = 7;
  const rnd = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) & 0xff;
  const lengths = [
    ...Array.from({ length: 301 }, (_, i) => i),
    ...Array.from({ length: 30 }, (_, i) => 940 + i),
    5000,
  ];
  for (const n of lengths) {
    const b = Uint8Array.from({ length: n }, rnd);
    assert.equal(toHex(sha1(b)), createHash("sha1").update(b).digest("hex"), `sha1 length ${n}`);
    assert.equal(toHex(sha256(b)), createHash("sha256").update(b).digest("hex"), `sha256 length ${n}`);
  }
  for (
    const s of [
      "kunai/é/€/𝄞",
      "service:web",
      "n".repeat(1000),
      "€".repeat(317),
      "€".repeat(318),
      "𝄞".repeat(240),
    ]
  ) {
    assert.equal(toHex(sha1(s)), createHash("sha1").update(s).digest("hex"));
    assert.equal(toHex(sha256(s)), createHash("sha256").update(s).digest("hex"));
  }
  // a long input between two short ones: the scratch buffer holds no leftover
  const short = "k";
  const want = toHex(sha1(short));
  sha1("x".repeat(900));
  assert.equal(toHex(sha1(short)), want);
});

Deno.test("digest: first48 is readUIntBE(0, 6)", () => {
  for (const s of ["a", "key/1", "series.cpu.idle", "zz"]) {
    const d = sha1(s);
    assert.equal(first48(d), createHash("sha1").update(s).digest().readUIntBE(0, 6));
  }
  assert.equal(first48(new Uint8Array([255, 255, 255, 255, 255, 255, 1])), 2 ** 48 - 1);
});

Deno.test("digest: digestEqual agrees with timingSafeEqual and refuses other lengths", () => {
  const a = sha256("token-a"), b = sha256("token-b");
  assert.equal(digestEqual(a, sha256("token-a")), true);
  assert.equal(digestEqual(a, b), timingSafeEqual(a, b));
  assert.equal(digestEqual(a, b), false);
  assert.equal(digestEqual(a, a.subarray(0, 31)), false);
  const c = Uint8Array.from(a);
  c[31] ^= 1;
  assert.equal(digestEqual(a, c), false);
});
