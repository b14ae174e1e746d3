/** The front's view of a chunked body: where it ends, whatever its data holds or however it is cut. */
import assert from "node:assert/strict";
import { ChunkedBody } from "../../lib/http/chunked.ts";

const enc = new TextEncoder();

function feedAll(parts: string[]): string {
  const c = new ChunkedBody();
  let s = "more";
  for (const p of parts) s = c.feed(enc.encode(p));
  return s;
}

Deno.test("chunked: the end is the zero chunk and its trailers, found whatever the cuts", () => {
  const body = "5\r\nhello\r\n9;ext=1\r\nab\r\n0\r\n\r\n\r\n0\r\nX-Trailer: 1\r\n\r\n";
  assert.equal(feedAll([body]), "done");
  for (let cut = 1; cut < body.length; cut++) {
    assert.equal(feedAll([body.slice(0, cut), body.slice(cut)]), "done", `cut at ${cut}`);
    assert.equal(feedAll([body.slice(0, cut)]), "more", `only ${cut} bytes`);
  }
  assert.equal(feedAll(["0\r\n\r\n"]), "done");
  assert.equal(feedAll(["A\r\n", "0123456789", "\r\n0\r\n\r\n"]), "done", "hex sizes");
});

Deno.test("chunked: data that looks like the last chunk is data; malformed framing is said", () => {
  assert.equal(feedAll(["9\r\nab\r\n0\r\n\r\n\r\n"]), "more");
  assert.equal(feedAll(["zz\r\nab"]), "bad");
  assert.equal(feedAll(["2\r\nabc\r\n"]), "bad", "data longer than its size");
  assert.equal(feedAll(["5\nhello"]), "bad", "a bare LF");
  assert.equal(feedAll(["1".repeat(5000)]), "bad", "a size line without end");
});
