import assert from "node:assert/strict";
import {
  aliveOf,
  decodePacket,
  decodePushPull,
  encodePacket,
  encodePushPull,
  type GossipMsg,
  LIMITS,
  PROTOCOL_MAX,
  PROTOCOL_MIN,
  PROTOCOL_VERSION,
  recordOf,
} from "../../lib/gossip/codec.ts";
import { seededRandom } from "../../lib/transport/rng.ts";

const SAMPLES: GossipMsg[] = [
  { type: "ping", seqno: 7, node: "a".repeat(40), from: "b".repeat(40) },
  {
    type: "ping-relay",
    seqno: 8,
    tgt: "c".repeat(40),
    addr: "10.0.0.3",
    port: 6768,
    from: "b".repeat(40),
    nack: true,
  },
  { type: "ack", seqno: 7 },
  { type: "nack", seqno: 8 },
  {
    type: "alive",
    uuid: "d".repeat(40),
    name: "web-1",
    addr: "10.0.0.4",
    port: 6768,
    incarnation: 3,
    tags: ["linux", "kv"],
    services: { http: { port: 80 } },
    zone: "eu",
  },
  { type: "suspect", uuid: "d".repeat(40), incarnation: 3, from: "a".repeat(40) },
  { type: "dead", uuid: "d".repeat(40), incarnation: 3, from: "a".repeat(40) },
  { type: "leave", uuid: "d".repeat(40), incarnation: 4 },
  { type: "keyop", op: "install", key: "AAAAAAAAAAAAAAAAAAAAAA==", id: "x1" },
  { type: "keyop", op: "use", key: "AAAAAAAAAAAAAAAAAAAAAA==", id: "x2", at: 1_800_000_000_000 },
  { type: "user", kind: "event", id: "e1", payload: { a: [1, 2, 3] } },
  { type: "detect", nonce: "n1", from: "a".repeat(40), pad: "   " },
  {
    type: "detect-reply",
    nonce: "n1",
    uuid: "d".repeat(40),
    name: "web-1",
    addr: "10.0.0.4",
    port: 6768,
    zone: "",
    members: 3,
  },
  {
    type: "push",
    from: "a".repeat(40),
    of: 12,
    node: {
      uuid: "d".repeat(40),
      name: "web-1",
      addr: "10.0.0.4",
      port: 6768,
      incarnation: 3,
      state: "suspect",
      tags: ["linux"],
      services: {},
      zone: "",
      proto: 4,
    },
  },
];

Deno.test("every message type survives an encode/decode round trip", () => {
  const d = decodePacket(encodePacket(SAMPLES));
  assert.ok(d.ok);
  assert.deepEqual(d.value, SAMPLES);
  const pp = {
    type: "push-pull-msg" as const,
    protocol: PROTOCOL_VERSION,
    join: true,
    from: "a".repeat(40),
    nodes: {
      ["d".repeat(40)]: {
        uuid: "d".repeat(40),
        name: "n",
        addr: "1.2.3.4",
        port: 1,
        incarnation: 0,
        state: "suspect" as const,
        tags: [],
        services: {},
        zone: "",
      },
    },
  };
  const p = decodePushPull(encodePushPull(pp));
  assert.ok(p.ok);
  assert.deepEqual(p.value, pp);
});

Deno.test("push-pull carries a protocol version; a peer outside the supported range is refused, naming both", () => {
  const body = (protocol?: number) =>
    new TextEncoder().encode(JSON.stringify({ type: "push-pull-msg", protocol, join: false, nodes: {} }));
  assert.ok(decodePushPull(body(PROTOCOL_VERSION)).ok);
  for (const v of [undefined, 1, PROTOCOL_MAX + 1]) {
    const d = decodePushPull(body(v));
    assert.equal(d.ok, false, `version ${v}`);
    assert.match(
      (d as { error: string }).error,
      new RegExp(`protocol version ${v ?? 1} not supported.*${PROTOCOL_MIN}\\.\\.${PROTOCOL_MAX}`),
    );
  }
  assert.match((decodePushPull(body(-1)) as { error: string }).error, /push-pull\.protocol/);
});

Deno.test("push-pull: a catch-up push says so; only a literal true counts, and its absence is a plain exchange", () => {
  const body = (extra: Record<string, unknown>) =>
    new TextEncoder().encode(
      JSON.stringify({ type: "push-pull-msg", protocol: PROTOCOL_VERSION, join: false, nodes: {}, ...extra }),
    );
  const pushed = decodePushPull(body({ push: true }));
  assert.ok(pushed.ok);
  assert.equal(pushed.value.push, true);
  for (const extra of [{}, { push: false }, { push: "true" }, { push: 1 }]) {
    const d = decodePushPull(body(extra));
    assert.ok(d.ok);
    assert.equal("push" in d.value, false, JSON.stringify(extra));
  }
});

Deno.test("one converter between alive messages and records, both ways", () => {
  const rec = {
    uuid: "u",
    name: "n",
    addr: "10.0.0.1",
    port: 6768,
    incarnation: 3,
    state: "suspect" as const,
    tags: ["a"],
    services: { s: 1 },
    zone: "z",
  };
  const alive = aliveOf(rec);
  assert.equal(alive.type, "alive");
  assert.equal("state" in alive, false);
  assert.deepEqual(recordOf(alive, "suspect"), rec);
  assert.equal(recordOf(alive).state, "alive");
});

Deno.test("a record's addr may be an IPv4 or IPv6 literal or a host name", () => {
  for (
    const addr of ["10.0.0.1", "fd00::1", "::ffff:10.0.0.1", "fe80::1%eth0", "node-1.example.org", "n_1"]
  ) {
    const d = decodePacket(
      new TextEncoder().encode(
        JSON.stringify([{ type: "alive", uuid: "a", name: "n", addr, port: 1, incarnation: 1 }]),
      ),
    );
    assert.ok(d.ok, `${addr}: ${!d.ok && d.error}`);
    if (d.ok) assert.equal((d.value[0] as { addr: string }).addr, addr);
  }
});

Deno.test("malformed packets are rejected with a reason naming the field", () => {
  const enc = new TextEncoder();
  const cases: Array<[string, RegExp]> = [
    ["", /not JSON/],
    ["[]", /empty packet/],
    ["{", /not JSON/],
    ['[{"type":"ping","seqno":-1,"node":"a","from":"b"}]', /\[0\]\.seqno/],
    ['[{"type":"alive","uuid":"a","name":"n","addr":"x","port":70000,"incarnation":1}]', /\[0\]\.port/],
    [
      '[{"type":"alive","uuid":"a","name":"n","addr":"x","port":1,"incarnation":1,"tags":"x"}]',
      /\[0\]\.tags/,
    ],
    ['[{"type":"teleport"}]', /unknown message type/],
    // a uuid names files and Nagios hosts: no path, no separators, no control characters
    [
      '[{"type":"alive","uuid":"../../etc/x","name":"n","addr":"x","port":1,"incarnation":1}]',
      /\[0\]\.uuid: not a node uuid/,
    ],
    [
      '[{"type":"alive","uuid":"a\\nb","name":"n","addr":"x","port":1,"incarnation":1}]',
      /\[0\]\.uuid: not a node uuid/,
    ],
    [
      '[{"type":"alive","uuid":"a;b","name":"n","addr":"x","port":1,"incarnation":1}]',
      /\[0\]\.uuid: not a node uuid/,
    ],
    // an addr goes into http://<addr>:<port>/... URLs and config lines: an IP or a host name only
    ...["evil.example/x#", "u@h", "a b", "h\n", "h?q", "[::1]", "1.2.3.4\\"].map((addr): [string, RegExp] => [
      `[{"type":"alive","uuid":"a","name":"n","addr":${JSON.stringify(addr)},"port":1,"incarnation":1}]`,
      /\[0\]\.addr: not an IP address or host name/,
    ]),
    [
      '[{"type":"detect-reply","nonce":"x","uuid":"a","name":"n","addr":"h/p","port":1,"members":1}]',
      /\[0\]\.addr: not an IP address or host name/,
    ],
    [`[{"type":"leave","uuid":"${"u".repeat(65)}","incarnation":1}]`, /longer than 64/],
    ["[" + Array(300).fill('{"type":"ack","seqno":1}').join(",") + "]", /more than 256 messages/],
    ["7", /expected an object/],
    ['[{"type":"keyop","op":"use","key":"k","id":"i","at":-5}]', /\[0\]\.at: expected an integer/],
    ['[{"type":"keyop","op":"use","key":"k","id":"i","at":"soon"}]', /\[0\]\.at: expected an integer/],
    // a catch-up record: the seed's uuid, its member count and a whole record (with its state)
    ['[{"type":"push","of":3,"node":{}}]', /\[0\]\.from/],
    ['[{"type":"push","from":"s","of":-1,"node":{}}]', /\[0\]\.of/],
    ['[{"type":"push","from":"s","of":3}]', /\[0\]\.node/],
    [
      '[{"type":"push","from":"s","of":3,"node":{"uuid":"a","name":"n","addr":"x","port":1,"incarnation":1}}]',
      /\[0\]\.node\.state/,
    ],
  ];
  for (const [text, re] of cases) {
    const d = decodePacket(enc.encode(text));
    assert.equal(d.ok, false, text.slice(0, 60));
    if (!d.ok) assert.match(d.error, re);
  }
  const big = decodePacket(new Uint8Array(70_000));
  assert.ok(!big.ok && /exceeds/.test(big.error));
  const bad = decodePacket(new Uint8Array([0xff, 0xfe, 0x5b]));
  assert.ok(!bad.ok && /UTF-8/.test(bad.error));
});

Deno.test("fuzz: 100 000 random and mutated packets never throw out of the decoder", () => {
  const rng = seededRandom(20261126);
  const seeds = [encodePacket(SAMPLES), ...SAMPLES.map((m) => encodePacket([m]))];
  const tokens = [
    "{",
    "}",
    "[",
    "]",
    ",",
    ":",
    '"',
    "null",
    "true",
    "-1",
    "1e999",
    '"type"',
    '"alive"',
    '"ping"',
    "\\u0000",
    "9007199254740993",
  ]
    .map((t) => new TextEncoder().encode(t));
  let ok = 0;
  let rejected = 0;
  for (let i = 0; i < 100_000; i++) {
    let pkt: Uint8Array;
    const mode = i % 4;
    if (mode === 0) {
      // pure random bytes
      pkt = new Uint8Array(Math.floor(rng() * 300));
      for (let j = 0; j < pkt.length; j++) pkt[j] = Math.floor(rng() * 256);
    } else {
      const base = seeds[Math.floor(rng() * seeds.length)];
      const bytes = Array.from(base);
      const edits = 1 + Math.floor(rng() * 6);
      for (let e = 0; e < edits; e++) {
        const at = Math.floor(rng() * (bytes.length + 1));
        const kind = mode === 1 ? Math.floor(rng() * 3) : mode;
        if (kind === 0) bytes[at] = Math.floor(rng() * 256); // flip
        else if (kind === 1) bytes.splice(at, 1 + Math.floor(rng() * 8)); // delete / truncate
        else bytes.splice(at, 0, ...tokens[Math.floor(rng() * tokens.length)]); // insert a token
      }
      if (mode === 3 && rng() < 0.3) bytes.length = Math.floor(rng() * bytes.length); // truncate
      pkt = new Uint8Array(bytes);
    }
    const d = decodePacket(pkt);
    const p = decodePushPull(pkt);
    assert.equal(typeof d.ok, "boolean");
    assert.equal(typeof p.ok, "boolean");
    if (d.ok) {
      ok++;
      // whatever is accepted is well-typed and re-encodes
      for (const m of d.value) assert.equal(typeof m.type, "string");
      assert.ok(decodePacket(encodePacket(d.value)).ok);
    } else {
      rejected++;
      assert.ok(!d.error.startsWith("decoder failure"), `internal decoder failure: ${d.error}`);
    }
  }
  assert.equal(ok + rejected, 100_000);
  console.log(`fuzz: ${ok} accepted, ${rejected} rejected, 0 crashes`);
});

Deno.test("codec: services and event payloads nested deeper than LIMITS.jsonDepth are refused, named; any depth is a clean refusal", () => {
  const nest = (depth: number): Record<string, unknown> => {
    let v: Record<string, unknown> = { port: 80 };
    for (let i = 1; i < depth; i++) v = { x: v };
    return v;
  };
  const sample = SAMPLES.find((m) => m.type === "alive")!;
  const alive = (services: Record<string, unknown>): GossipMsg => ({ ...sample, services } as GossipMsg);
  const enc = (m: unknown) => new TextEncoder().encode(JSON.stringify([m]));
  // as deep as allowed: accepted, and it re-encodes
  const okPkt = decodePacket(enc(alive(nest(LIMITS.jsonDepth))));
  assert.ok(okPkt.ok, okPkt.ok ? "" : okPkt.error);
  const one = decodePacket(enc(alive(nest(LIMITS.jsonDepth + 1))));
  assert.equal(one.ok, false);
  assert.match(one.ok ? "" : one.error, /\[0\]\.services: nested deeper than 64/);
  // through a push-pull too (a member record of its nodes)
  const pp = decodePushPull(
    new TextEncoder().encode(JSON.stringify({
      type: "push-pull-msg",
      protocol: PROTOCOL_VERSION,
      nodes: { ["d".repeat(40)]: { ...alive(nest(70)), type: undefined, state: "alive" } },
    })),
  );
  assert.equal(pp.ok, false);
  assert.match(pp.ok ? "" : pp.error, /services: nested deeper than 64/, pp.ok ? "" : pp.error);
  // a user event's payload, nested in lists
  let payload: unknown = 1;
  for (let i = 0; i < 70; i++) payload = [payload];
  const ev = decodePacket(enc({ type: "user", kind: "deploy", id: "e1", payload }));
  assert.equal(ev.ok, false);
  assert.match(ev.ok ? "" : ev.error, /payload: nested deeper than 64/);
  // as deep as a datagram can hold: refused as bad input, never a decoder failure
  const deep = "[".repeat(30_000) + "]".repeat(30_000);
  for (const text of [deep, `[{"type":"user","kind":"k","id":"i","payload":${deep}}]`]) {
    const d = decodePacket(new TextEncoder().encode(text));
    assert.equal(d.ok, false);
    assert.ok(!d.ok && !d.error.startsWith("decoder failure"), d.ok ? "" : d.error);
  }
});
