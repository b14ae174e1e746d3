/**
 * The compressed gossip datagram (lib/gossip/lz.ts): LZ4 blocks round-trip any input, shrink a
 * packet of member records several times, and a corrupt, truncated or hostile block gives null,
 * never an exception or more than the bound. The WebAssembly codec (lib/gossip/lz_block.wat) gives
 * the TypeScript one's bytes and refusals, and is what the committed module holds.
 */
import assert from "node:assert/strict";
import {
  isLzPacket,
  LZ_FORMAT,
  LZ_MARKER,
  lzCompress,
  lzCompressJs,
  lzDecompress,
  lzDecompressJs,
  lzEngine,
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
import { assemble, OUT, render } from "../../scripts/lz_wasm.ts";

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

/** Random inputs from long runs to noise, with back-references like JSON's repeats. */
function samples(seed: number, count: number, maxLen: number): Uint8Array[] {
  const rng = seededRandom(seed);
  return Array.from({ length: count }, () => {
    const b = new Uint8Array(Math.floor(rng() * maxLen));
    const alphabet = 1 + Math.floor(rng() * 255);
    for (let j = 0; j < b.length; j++) {
      b[j] = j > 8 && rng() < 0.3 ? b[j - 1 - Math.floor(rng() * 8)] : Math.floor(rng() * alphabet);
    }
    return b;
  });
}

Deno.test("lz: the WebAssembly codec makes the TypeScript one's bytes and refuses what it refuses", () => {
  assert.equal(lzEngine(), "wasm");
  const inputs = [
    ...samples(11, 400, 400),
    ...samples(12, 40, 70_000),
    encodePacket(alives(1)),
    encodePacket(alives(8)),
    encodePacket(alives(100)), // 56 KB of records: matches from far back
  ];
  const rng = seededRandom(13);
  let refused = 0;
  for (const input of inputs) {
    const block = lzCompress(input);
    assert.deepEqual(block, lzCompressJs(input), `compress, ${input.length} bytes`);
    for (const max of [65_507, input.length, Math.max(0, input.length - 1), 10]) {
      assert.deepEqual(lzDecompress(block, max), lzDecompressJs(block, max), `decompress, max ${max}`);
    }
    const flipped = block.slice();
    if (flipped.length) flipped[Math.floor(rng() * flipped.length)] ^= 1 << Math.floor(rng() * 8);
    const cut = block.subarray(0, Math.floor(rng() * block.length));
    const noise = new Uint8Array(Math.floor(rng() * 300)).map(() => Math.floor(rng() * 256));
    for (const bad of [flipped, cut, noise]) {
      const got = lzDecompress(bad, 65_507);
      assert.deepEqual(got, lzDecompressJs(bad, 65_507), `a damaged block of ${bad.length} bytes`);
      if (got === null) refused++;
    }
  }
  assert.ok(refused > 300, `damaged blocks refused: ${refused}`);
  // the bounds exactly: an offset of what was written and one more, a length to the last byte
  const edges: Array<[number[], string | null]> = [
    [[0x10, 97, 1, 0], "aaaaa"],
    [[0x10, 97, 2, 0], null],
    [[0x20, 97, 98, 2, 0], "ababab"],
    [[0x20, 97, 98, 3, 0], null],
    [[0x2f, 97, 98, 2, 0, 0], "ab".repeat(11).slice(0, 21)], // 2 literals, a match of 15 + 0 + 4
    [[0x2f, 97, 98, 2, 0], null], // the match length runs off the end
    [[0x30, 97, 98], null], // three literals, two present
    [[0x20, 97, 98, 2], null], // half an offset
  ];
  for (const [block, want] of edges) {
    const b = new Uint8Array(block);
    const got = lzDecompress(b, 100);
    assert.deepEqual(got === null ? null : new TextDecoder().decode(got), want, `block ${block}`);
    assert.deepEqual(got, lzDecompressJs(b, 100));
    if (want !== null) {
      assert.equal(new TextDecoder().decode(lzDecompress(b, want.length)!), want, "max = the output");
      assert.equal(lzDecompress(b, want.length - 1), null, "max one under the output");
    }
  }
});

Deno.test("lz: inputs and outputs over 1 MB (left to the TypeScript codec) come back byte for byte", () => {
  const big = new Uint8Array((1 << 20) + 5);
  for (let i = 0; i < big.length; i++) big[i] = (i * 7) % 251; // a pattern LZ4 finds
  const block = lzCompress(big);
  assert.deepEqual(block, lzCompressJs(big));
  assert.ok(block.length < big.length / 4, `${big.length} -> ${block.length}`);
  assert.deepEqual(lzDecompress(block, 2 << 20), big);
  assert.equal(lzDecompress(block, 1 << 20), null, "over the bound");
  assert.equal(lzDecompress(lzCompress(new Uint8Array(10)), -1), null, "a negative bound");
});

Deno.test("lz: the committed WebAssembly module is lz_block.wat assembled (scripts/lz_wasm.ts)", async () => {
  assert.equal(Deno.readTextFileSync(OUT), render(await assemble()), "run: deno run -A scripts/lz_wasm.ts");
});

Deno.test("lz: without WebAssembly (--jitless) the TypeScript codec runs and reads the same packets", async () => {
  const plain = encodePacket(alives(8));
  const wire = packLz(plain);
  const code = `import { lzEngine, packLz, unpackLz } from ${
    JSON.stringify(new URL("../../lib/gossip/lz.ts", import.meta.url).href)
  };
const plain = new Uint8Array(${JSON.stringify([...plain])});
const wire = new Uint8Array(${JSON.stringify([...wire])});
const back = unpackLz(wire, 65507);
const same = (a, b) => a !== null && a.length === b.length && a.every((x, i) => x === b[i]);
console.log(JSON.stringify({ engine: lzEngine(), wasm: typeof WebAssembly, read: same(back, plain), made: same(packLz(plain), wire) }));`;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--v8-flags=--jitless", "--ext=js", code],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  assert.deepEqual(JSON.parse(new TextDecoder().decode(out.stdout)), {
    engine: "js",
    wasm: "undefined",
    read: true,
    made: true,
  });
});
