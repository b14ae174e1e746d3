/**
 * A forwarded write's answer from the network: a stamp that is not an object of the right fields
 * rejects that write with a 502 naming the field (the forwarder stores nothing from it); a good
 * one is handed over as it came.
 */
import assert from "node:assert/strict";
import { VirtualClock } from "../../lib/clock/mod.ts";
import { PeerClient, PeerRefused } from "../../lib/kv/peers.ts";
import type { KvTransport } from "../../lib/kv/transport.ts";

const peer = { uuid: "u-owner", name: "owner", addr: "127.0.0.1", port: 1 };
const write = {
  op: "put" as const,
  key: "k",
  value: "AQ==",
  deadline: 1_800_000_005_000,
  carry: "me",
  lean: true,
};

function client(answer: unknown): PeerClient {
  const transport: KvTransport = {
    call: () => Promise.resolve({ results: [answer] }),
    close: () => {},
  } as unknown as KvTransport;
  return new PeerClient(transport, new VirtualClock(1_800_000_000_000), 5000);
}

Deno.test("a malformed stamp in a forwarded write's answer is a 502 naming the field", async () => {
  const good = { origin: "u-owner", modify_time: 1_800_000_000_000, expires: 0 };
  const ok = await client({ ok: true, index: 7, stamp: good, copies: 1, need: 2 }).forward(peer, write);
  assert.deepEqual(ok, { ok: true, index: 7, stamp: good, copies: 1, need: 2 });
  for (
    const [stamp, field] of [
      ["yes", "stamp"],
      [null, "stamp"],
      [{ modify_time: 1, expires: 0 }, "stamp.origin"],
      [{ origin: "o", modify_time: "1", expires: 0 }, "stamp.modify_time"],
      [{ origin: "o", modify_time: 1 }, "stamp.expires"],
    ] as const
  ) {
    await assert.rejects(
      client({ ok: true, index: 7, stamp, copies: 1, need: 2 }).forward(peer, write),
      (err: Error) => err instanceof PeerRefused && err.status === 502 && err.message.includes(field),
      JSON.stringify(stamp),
    );
  }
});
