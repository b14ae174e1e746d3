/**
 * The TCP front's own WebSocket server side (lib/http/ws_front.ts), without sockets: frames fed
 * byte by byte, answers framed, close codes, and the backlog that lets the front stop reading a
 * peer that does not read its answers.
 */
import assert from "node:assert/strict";
import { FRAME_COST, serverFrameHeader, WsFrontConn } from "../../lib/http/ws_front.ts";
import type { FastSocketPeer, FastSocketRoute, RouteDoc } from "../../lib/routing/mod.ts";

const doc: RouteDoc = { method: "GET", path: "/s", access: "peer", summary: "s", owner: "t" };

/** A masked client frame (key 9 8 7 6). */
function frame(op: number, payload: Uint8Array, fin = true): Uint8Array {
  const mask = [9, 8, 7, 6];
  const out = new Uint8Array(2 + 4 + payload.length);
  out[0] = (fin ? 0x80 : 0) | op;
  out[1] = 0x80 | payload.length;
  out.set(mask, 2);
  payload.forEach((b, i) => out[6 + i] = b ^ mask[i & 3]);
  return out;
}

function echo(maxMessage = 100) {
  const written: Uint8Array[] = [];
  const pending: Array<() => void> = [];
  let ended = 0;
  let hold = false;
  const route: FastSocketRoute = {
    doc,
    maxMessage,
    open: (peer: FastSocketPeer) => (msg) => peer.send(msg),
  };
  const conn = new WsFrontConn(route, undefined, (b) => {
    written.push(b);
    return hold ? new Promise<void>((r) => pending.push(r)) : Promise.resolve();
  }, () => ended++);
  return {
    conn,
    written,
    get ended() {
      return ended;
    },
    hold(on: boolean) {
      hold = on;
    },
    release() {
      for (const r of pending.splice(0)) r();
    },
  };
}

const tick = () => new Promise((r) => setTimeout(r, 0));

Deno.test("ws front: a message fed byte by byte and in fragments is answered in one framed write", async () => {
  const e = echo();
  const bytes = new Uint8Array([
    ...frame(2, new TextEncoder().encode("he"), false),
    ...frame(0, new TextEncoder().encode("llo")),
  ]);
  for (const b of bytes) assert.equal(e.conn.feed(Uint8Array.of(b)), true);
  await tick();
  assert.equal(e.written.length, 1);
  assert.deepEqual([...e.written[0]], [...serverFrameHeader(2, 5), ...new TextEncoder().encode("hello")]);
});

Deno.test("ws front: text frames, oversized messages and unmasked frames close with their codes", async () => {
  for (
    const [bytes, code] of [
      [frame(1, Uint8Array.of(1)), 1003],
      [frame(2, new Uint8Array(101)), 1009],
      [Uint8Array.of(0x82, 1, 0), 1002],
      [frame(9, new Uint8Array(126).subarray(0, 0)), 0],
    ] as const
  ) {
    const e = echo();
    e.conn.feed(bytes);
    await tick();
    if (code === 0) {
      // a ping is answered with a pong, nothing closes
      assert.equal(e.ended, 0);
      assert.equal(e.written[0][0], 0x8a);
      continue;
    }
    assert.equal(e.ended, 1, `close ${code}`);
    const out = e.written[0];
    assert.equal(out[0], 0x88);
    assert.equal((out[2] << 8) | out[3], code);
    assert.equal(e.conn.feed(frame(2, Uint8Array.of(1))), false, "nothing is read after a close");
  }
});

Deno.test("ws front: empty fragments count their cost against the message limit (a flood of them closes 1009)", async () => {
  const e = echo(10_000);
  e.conn.feed(frame(2, new Uint8Array(0), false));
  let fed = 0;
  for (; fed < 1000 && e.conn.feed(frame(0, new Uint8Array(0), false)); fed++) { /* until closed */ }
  await tick();
  assert.ok(fed < 200, `${fed} empty fragments taken`);
  assert.equal(e.ended, 1);
  assert.equal((e.written[0][2] << 8) | e.written[0][3], 1009);
  // a message in a few fragments is still whole
  const ok = echo(10_000);
  ok.conn.feed(frame(2, Uint8Array.of(1, 2), false));
  ok.conn.feed(frame(0, Uint8Array.of(3), false));
  ok.conn.feed(frame(0, Uint8Array.of(4)));
  await tick();
  assert.equal(ok.conn.messages, 1);
  assert.deepEqual([...ok.written[0].subarray(2)], [1, 2, 3, 4]);
});

Deno.test("ws front: answers not yet written count in the backlog until drained", async () => {
  const e = echo(1000);
  e.hold(true);
  e.conn.feed(frame(2, new Uint8Array(100)));
  e.conn.feed(frame(2, new Uint8Array(100)));
  await tick();
  assert.ok(e.conn.backlog >= 204, `backlog ${e.conn.backlog}`);
  let drained = false;
  const d = e.conn.drained().then(() => drained = true);
  await tick();
  assert.equal(drained, false);
  e.hold(false);
  e.release();
  await d;
  assert.equal(e.conn.backlog, 0);
});

Deno.test("ws front: a client that pings without reading gets one pong queued, the latest; tiny frames count their cost", async () => {
  const e = echo(1000);
  e.hold(true);
  e.conn.feed(frame(9, Uint8Array.of(1))); // its pong is being written (held)
  await tick();
  for (let i = 0; i < 10_000; i++) e.conn.feed(frame(9, Uint8Array.of(i & 255, i >> 8)));
  assert.ok(e.conn.backlog <= 2 * (4 + FRAME_COST), `backlog ${e.conn.backlog} after 10 000 pings`);
  assert.equal(e.conn.messages, 0, "pings are not messages");
  e.hold(false);
  e.release();
  await e.conn.drained();
  await tick();
  const last = e.written.at(-1)!;
  assert.deepEqual([...last], [...serverFrameHeader(10, 2), 9999 & 255, 9999 >> 8], "the latest ping's pong");
  assert.equal(e.conn.backlog, 0);
  // a message's frame counts its bytes and FRAME_COST until written
  e.hold(true);
  e.conn.feed(frame(2, new Uint8Array(3)));
  await tick();
  assert.equal(e.conn.messages, 1);
  assert.equal(e.conn.backlog, 2 + 3 + FRAME_COST);
  e.hold(false);
  e.release();
  await e.conn.drained();
  assert.equal(e.conn.backlog, 0);
});
