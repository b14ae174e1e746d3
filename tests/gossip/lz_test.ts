/**
 * The compressed gossip datagram (lib/gossip/lz.ts): LZ4 blocks round-trip any input, shrink a
 * packet of member records several times, and a corrupt, truncated or hostile block gives null,
 * never an exception or more than the bound.
 */
import assert from "node:assert/strict";
import {
  isLzPacket,
  LZ_FORMAT,
  LZ_MARKER,
  lzCompress,
  lzDecompress,
  packLz,
  unpackLz,
} from "../../lib/gossip/lz.ts";
import {
  aliveOf,
  decodePacket,
  decodePushPull,
  encodePacket,
  type GossipMsg,
} from "../../lib/gossip/codec.ts";
import { seededRandom } from "../../lib/transport/mod.ts";
import { AGENT_SERVICES } from "../sim/gossip_harness.ts";

const enc = new TextEncoder();

/** `n` alive messages of default agents (one service each), as a join storm queues them. */
function alives(n: number): GossipMsg[] {
  const rng = seededRandom(n);
  return Array.from({ length: n }, (_, i) => {
    let uuid = "";
    while (uuid.length < 40) uuid += Math.floor(rng() * 16).toString(16);
    return aliveOf({
      uuid,
      name: `n${i}`,
      addr: "127.0.0.1",
      port: 17800 + i,
      incarnation: 4,
      state: "alive",
      tags: ["linux", "redis", "debian"],
      services: AGENT_SERVICES,
      zone: "",
      proto: 3,
    });
  });
}

Deno.test("lz: any input comes back byte for byte (random, runs, text, empty, the end conditions)", () => {
  const rng = seededRandom(7);
  const inputs: Uint8Array[] = [
    new Uint8Array(0),
    new Uint8Array([1]),
    new Uint8Array(12),
    new Uint8Array(13),
  ];
  for (let i = 0; i < 300; i++) {
    const n = Math.floor(rng() * 6000);
    const b = new Uint8Array(n);
    const alphabet = 1 + Math.floor(rng() * 255); // from long runs to noise
    for (let k = 0; k < n; k++) b[k] = Math.floor(rng() * alphabet);
    inputs.push(b);
  }
  inputs.push(new Uint8Array(70_000).fill(97)); // a run longer than one length byte chain
  inputs.push(encodePacket(alives(10)));
  for (const input of inputs) {
    const back = lzDecompress(lzCompress(input), 1 << 20);
    assert.ok(back, `length ${input.length}`);
    assert.deepEqual(back, input, `length ${input.length}`);
  }
});

Deno.test("lz: a packet of member records shrinks several times", () => {
  const ten = encodePacket(alives(10));
  const two = encodePacket(alives(2));
  const ratio10 = ten.length / packLz(ten).length;
  const ratio2 = two.length / packLz(two).length;
  assert.ok(ratio10 > 4, `ten records: ${ten.length} -> ${packLz(ten).length}`);
  assert.ok(ratio2 > 1.5, `two records: ${two.length} -> ${packLz(two).length}`);
});

Deno.test("lz: the packet header marks the format, and decodePacket reads both forms alike", () => {
  const plain = encodePacket(alives(5));
  const wire = packLz(plain);
  assert.equal(wire[0], LZ_MARKER);
  assert.equal(wire[1], LZ_FORMAT);
  assert.ok(isLzPacket(wire));
  assert.ok(!isLzPacket(plain)); // a JSON packet starts with "[" or "{"
  assert.deepEqual(unpackLz(wire, 65_507), plain);
  assert.deepEqual(decodePacket(wire), decodePacket(plain));
  const other = wire.slice();
  other[1] = 2; // a format this agent does not know
  assert.equal(unpackLz(other, 65_507), null);
  const d = decodePacket(other);
  assert.ok(!d.ok && /compressed packet/.test(d.error));
});

Deno.test("lz: an expansion past the bound is refused (a 'zip bomb' of a few bytes)", () => {
  // one literal "a", then a match of offset 1 repeating it 15 + 255 * 300 + 4 times
  const bomb = new Uint8Array([0x1f, 97, 1, 0, ...new Array(300).fill(255), 0]);
  assert.equal(lzDecompress(bomb, 65_507), null);
  assert.equal(lzDecompress(bomb, 1 << 20)!.length, 1 + 15 + 255 * 300 + 4);
  const d = decodePacket(new Uint8Array([LZ_MARKER, LZ_FORMAT, ...bomb]));
  assert.ok(!d.ok && /over 65507 bytes/.test(d.error));
});

Deno.test("lz: corrupt, truncated and random blocks give null or at most the bound, never an exception", () => {
  const rng = seededRandom(20261203);
  const valid = lzCompress(encodePacket(alives(8)));
  // truncations of a valid block
  let nulls = 0;
  for (let cut = 0; cut < valid.length; cut++) {
    const r = lzDecompress(valid.subarray(0, cut), 65_507);
    if (r === null) nulls++;
    else assert.ok(r.length <= 65_507);
  }
  assert.ok(nulls > 0, "some truncation must be refused");
  // offsets past the start, lengths past the end
  assert.equal(lzDecompress(new Uint8Array([0x10, 97, 9, 0]), 100), null); // offset 9 > 1 byte written
  assert.equal(lzDecompress(new Uint8Array([0x10, 97, 0, 0]), 100), null); // offset 0
  assert.equal(lzDecompress(new Uint8Array([0xf0, 255]), 100), null); // literal length runs off the end
  assert.equal(lzDecompress(new Uint8Array([0x50, 97]), 100), null); // 5 literals, 1 present
  // random bytes and random mutations of the valid block
  for (let i = 0; i < 10_000; i++) {
    let b: Uint8Array;
    if (i % 2) {
      b = new Uint8Array(1 + Math.floor(rng() * 400));
      for (let k = 0; k < b.length; k++) b[k] = Math.floor(rng() * 256);
    } else {
      b = valid.slice();
      for (let m = 0; m < 1 + Math.floor(rng() * 4); m++) {
        b[Math.floor(rng() * b.length)] = Math.floor(rng() * 256);
      }
    }
    const r = lzDecompress(b, 4096);
    assert.ok(r === null || r.length <= 4096);
    const d = decodePacket(new Uint8Array([LZ_MARKER, LZ_FORMAT, ...b]));
    assert.equal(typeof d.ok, "boolean");
  }
  // a text that merely starts with the marker byte is a compressed packet to the decoder: refused, not thrown
  assert.equal(decodePacket(enc.encode("\0[]")).ok, false);
});

Deno.test("codec: a record's proto travels in alive messages and push-pull records; without it nothing changes", () => {
  const rec = {
    uuid: "a".repeat(40),
    name: "n",
    addr: "127.0.0.1",
    port: 1,
    incarnation: 2,
    state: "alive" as const,
    tags: [],
    services: {},
    zone: "",
  };
  // an agent that predates the field: its alive and record have no proto key at all
  assert.equal("proto" in aliveOf(rec), false);
  assert.equal(JSON.stringify(aliveOf(rec)).includes("proto"), false);
  const d = decodePacket(encodePacket([aliveOf({ ...rec, proto: 3 })]));
  assert.ok(d.ok);
  assert.equal((d.value[0] as { proto?: number }).proto, 3);
  const old = decodePacket(encodePacket([aliveOf(rec)]));
  assert.ok(old.ok && !("proto" in old.value[0]));
  const pp = decodePushPull(enc.encode(JSON.stringify({
    type: "push-pull-msg",
    protocol: 2,
    join: false,
    nodes: { [rec.uuid]: { ...rec, proto: 3 }, ["b".repeat(40)]: { ...rec, uuid: "b".repeat(40) } },
  })));
  assert.ok(pp.ok);
  assert.equal(pp.value.nodes[rec.uuid].proto, 3);
  assert.equal("proto" in pp.value.nodes["b".repeat(40)], false);
  const bad = decodePacket(enc.encode(JSON.stringify([{ ...aliveOf(rec), proto: "3" }])));
  assert.ok(!bad.ok && /\[0\]\.proto/.test(bad.error));
});
