/**
 * Fuzz of the query handler (a pure function: bytes in, bytes out): random packets and mutations
 * of valid queries never throw, and every reply is a well-formed DNS response (decoded by
 * dns-packet) that echoes the query id, fits the UDP limit, and is counted.
 */
import assert from "node:assert/strict";
import { DnsHandler } from "../../lib/dns/mod.ts";
import { randomInt, seededRandom } from "../../lib/transport/mod.ts";
import type { MemberRecord } from "../../lib/types.ts";
import { decode, member, query } from "./dns_helpers.ts";

const members: MemberRecord[] = [];
for (let i = 0; i < 40; i++) {
  members.push(member(`n${i}`, i % 7 === 0 ? `fd00::${i + 1}` : `10.3.0.${i + 1}`, [i % 2 ? "odd" : "even"], {
    services: { web: { state_id: i % 3 === 0 ? 2 : 0, port: 8000 + i } },
  }));
}

const SEEDS = [
  query("odd.tag.dc1.kunai"),
  query("even.tag.dc1.kunai", { type: "AAAA", edns: 1232 }),
  query("web.service.dc1.kunai", { type: "SRV", edns: 512 }),
  query("n3.node.dc1.kunai", { type: "ANY" }),
  query("nope.tag.dc1.kunai"),
  query("example.org"),
  query("kunai", { type: "SOA", edns: 4096 }),
];

function check(h: DnsHandler, packet: Uint8Array, proto: "udp" | "tcp"): void {
  const before = h.stats.queries[proto];
  const r = h.handle(packet, proto);
  assert.equal(h.stats.queries[proto], before + 1);
  if (r.kind !== "reply") return;
  const b = r.bytes;
  assert.ok(b.length >= 12);
  if (proto === "udp") assert.ok(b.length <= 4096, `reply of ${b.length} bytes over UDP`);
  assert.equal(b[0], packet[0]);
  assert.equal(b[1], packet[1]);
  assert.ok(b[2] & 0x80, "QR bit set");
  // every reply must decode
  const d = decode(b);
  assert.equal(d.type, "response");
}

Deno.test("fuzz: 20 000 random packets never throw and every reply is well formed", () => {
  const rng = seededRandom(1414);
  const h = new DnsHandler({
    domain: ".kunai",
    ttl: 60,
    members: () => members,
    forward: false,
    random: rng,
  });
  for (let i = 0; i < 20_000; i++) {
    const len = randomInt(rng, 80);
    const p = new Uint8Array(len);
    for (let j = 0; j < len; j++) p[j] = randomInt(rng, 256);
    if (len > 3 && rng() < 0.8) p[2] &= 0x7f; // mostly queries, so they reach the parser
    if (len > 5 && rng() < 0.5) {
      p[4] = 0;
      p[5] = 1;
    }
    check(h, p, rng() < 0.8 ? "udp" : "tcp");
  }
  const s = h.stats;
  const malformed = Object.values(s.malformed).reduce((a, b) => a + b, 0);
  const dropped = Object.values(s.dropped).reduce((a, b) => a + b, 0);
  assert.ok(malformed > 1000, `malformed ${malformed}`);
  assert.ok(dropped > 1000, `dropped ${dropped}`);
});

Deno.test("fuzz: 30 000 mutations of valid queries never throw and every reply is well formed", () => {
  const rng = seededRandom(1717);
  const h = new DnsHandler({
    domain: ".kunai",
    ttl: 60,
    members: () => members,
    forward: false,
    random: rng,
  });
  let answered = 0;
  for (let i = 0; i < 30_000; i++) {
    const base = SEEDS[randomInt(rng, SEEDS.length)];
    let p = base.slice();
    const ops = 1 + randomInt(rng, 4);
    for (let k = 0; k < ops; k++) {
      const op = randomInt(rng, 5);
      if (op === 0 && p.length) p[randomInt(rng, p.length)] = randomInt(rng, 256); // flip a byte
      else if (op === 1) p = p.slice(0, randomInt(rng, p.length + 1)); // truncate
      else if (op === 2) { // insert bytes
        const at = randomInt(rng, p.length + 1);
        const ins = Uint8Array.from({ length: 1 + randomInt(rng, 8) }, () => randomInt(rng, 256));
        p = new Uint8Array([...p.subarray(0, at), ...ins, ...p.subarray(at)]);
      } else if (op === 3 && p.length > 13) { // a compression pointer somewhere in the question
        const at = 12 + randomInt(rng, p.length - 13);
        p[at] = 0xc0 | randomInt(rng, 64);
      } else if (op === 4 && p.length > 11) p[4 + randomInt(rng, 8)] = randomInt(rng, 4); // counts
    }
    const before = h.stats.rcodes.NOERROR ?? 0;
    check(h, p, rng() < 0.7 ? "udp" : "tcp");
    if ((h.stats.rcodes.NOERROR ?? 0) > before) answered++;
  }
  assert.ok(answered > 1000, `only ${answered} mutated queries were still answered`);
  assert.ok((h.stats.malformed.pointer ?? 0) > 100);
});
