/**
 * A forwarded KV write's time limit with the two hosts' clocks apart (a clock step of minutes on
 * one node): the owner counts the time left from its own clock. It used the forwarder's absolute
 * deadline: 5 minutes behind, every write forwarded from that node expired at once on the owner.
 */
import assert from "node:assert/strict";
import { VirtualClock } from "../../lib/clock/mod.ts";
import { PeerClient } from "../../lib/kv/peers.ts";
import { peerServer, type PeerServerDeps } from "../../lib/kv/peer_server.ts";

const T = 1_700_000_000_000;
const SKEW = 5 * 60_000;
const peer = { uuid: "owner", name: "owner", addr: "127.0.0.1", port: 1 };

Deno.test("a forwarder 5 min behind: the owner gives the write the time left, on its own clock", async () => {
  // the forwarder, 5 minutes behind, sends a write whose client waits 7 s more
  const sent: unknown[] = [];
  const forwarder = new PeerClient(
    {
      call: (_p, _k, body) => {
        sent.push(body);
        return Promise.resolve({ results: [{ ok: true, index: 1 }] });
      },
    },
    new VirtualClock(T - SKEW),
    10_000,
  );
  await forwarder.forward(peer, { op: "put", key: "k", value: "dg==", deadline: T - SKEW + 7_000 });
  const wire = (sent[0] as { writes: Array<Record<string, unknown>> }).writes[0];
  assert.equal(wire.timeout_ms, 7_000);
  assert.equal(wire.deadline, T - SKEW + 7_000, "kept for agents that read only the deadline");

  // the owner, on the right time, coordinates it until now + 7 s (not 5 minutes ago)
  const untils: number[] = [];
  const serve = peerServer({
    clock: new VirtualClock(T),
    cfg: { max_key_bytes: 512, max_value_bytes: 1 << 20, request_timeout: 5_000 },
    coordinate: (_w: unknown, until: number) => {
      untils.push(until);
      return Promise.resolve({ ok: true, index: 1 });
    },
  } as unknown as PeerServerDeps);
  await serve("writes", { writes: [wire] });
  assert.deepEqual(untils, [T + 7_000]);
  // an agent before timeout_ms sends only its deadline: used as it is
  await serve("writes", { writes: [{ op: "put", key: "k", value: "dg==", deadline: T + 3_000 }] });
  assert.equal(untils[1], T + 3_000);
});
