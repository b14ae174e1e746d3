import assert from "node:assert/strict";
import { KvError, utf8Length, validateKey } from "../../lib/kv/keys.ts";

Deno.test("utf8Length counts what TextEncoder writes, lone surrogates included", () => {
  const parts = ["a", "é", "€", "😀", "\ud800", "\udc00", "/", "\u007f"];
  const enc = new TextEncoder();
  let seed = 7;
  const rnd = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  for (let i = 0; i < 5000; i++) {
    let s = "";
    for (let j = Math.floor(rnd() * 10); j > 0; j--) s += parts[Math.floor(rnd() * parts.length)];
    assert.equal(utf8Length(s), enc.encode(s).length, JSON.stringify(s));
  }
});

Deno.test("validateKey: each kind of bad key is refused with its status and the same words", () => {
  const refused = (key: string, max: number) => {
    try {
      validateKey(key, max);
    } catch (err) {
      assert.ok(err instanceof KvError);
      return `${err.status} ${err.message}`;
    }
    return "ok";
  };
  assert.equal(refused("a/b/c", 10), "ok");
  assert.equal(refused("a/b/", 10), "ok", "a trailing slash is a directory-like key");
  assert.equal(refused("", 10), "400 invalid key: the key is empty");
  assert.equal(refused("😀😀😀", 11), "413 key is 12 bytes, longer than kv.max_key_bytes (11)");
  assert.equal(refused("😀😀😀", 12), "ok");
  assert.equal(refused("a\u0001b", 10), "400 invalid key: control character 0x01 at position 1");
  assert.equal(refused("ab\u007f", 10), "400 invalid key: control character 0x7f at position 2");
  assert.equal(refused("a\u0080b", 10), "ok", "only C0 and DEL are control characters here");
  assert.equal(refused("/a", 10), "400 invalid key: it starts with '/'");
  assert.equal(refused("a//b", 10), "400 invalid key: empty segment 2 ('//')");
  assert.equal(refused("a/./b", 10), "400 invalid key: segment 2 is '.'");
  assert.equal(refused("a/b/..", 10), "400 invalid key: segment 3 is '..'");
  assert.equal(refused("..a/b", 10), "ok", "only whole segments count");
});
