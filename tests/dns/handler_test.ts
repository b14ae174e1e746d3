import assert from "node:assert/strict";
import { DnsHandler, type HandleResult, UDP_ANSWER_LIMIT } from "../../lib/dns/mod.ts";
import type { MemberRecord } from "../../lib/types.ts";
import { decode, type Decoded, member, query, type QueryOpts } from "./dns_helpers.ts";

function handler(members: MemberRecord[], o: { ttl?: number; forward?: boolean; domain?: string } = {}) {
  return new DnsHandler({
    domain: o.domain ?? ".kunai",
    ttl: o.ttl ?? 60,
    members: () => members,
    forward: !!o.forward,
  });
}

function ask(h: DnsHandler, name: string, o: QueryOpts & { proto?: "udp" | "tcp" } = {}): Decoded {
  const r: HandleResult = h.handle(query(name, o), o.proto ?? "udp");
  assert.equal(r.kind, "reply");
  return decode((r as { bytes: Uint8Array }).bytes);
}

const addrs = (d: Decoded, type = "A") =>
  d.answers.filter((a: Decoded) => a.type === type).map((a: Decoded) => a.data).sort();

const CLUSTER = [
  member("a", "10.0.0.1", ["redis", "web"]),
  member("b", "10.0.0.2", ["redis"], { services: { redis: { state_id: 2, port: 6379 } } }),
  member("c", "10.0.0.3", ["redis"], { state: "dead" }),
  member("d", "10.0.0.4", ["redis"], { state: "suspect" }),
  member("e", "fd00::5", ["redis", "v6"]),
  member("f", "10.0.0.6", ["db"], { services: { pg: { state_id: 0, port: 5432 } } }),
  member("g", "10.0.0.7", ["db"], { services: { pg: { state_id: 1, port: 5432 } } }),
  member("h", "10.0.0.8", ["db"], { services: { pg: { state_id: 0, port: 5433 } } }),
];

Deno.test("tag lookup answers the alive nodes with the tag, minus those whose same-name service fails", () => {
  const h = handler(CLUSTER);
  const d = ask(h, "redis.tag.dc1.kunai");
  assert.equal(d.rcode, "NOERROR");
  assert.deepEqual(addrs(d), ["10.0.0.1"]);
  assert.ok(d.flag_aa);
  assert.equal(d.answers[0].ttl, 60);
  assert.deepEqual(addrs(ask(h, "redis.tag.dc1.kunai", { type: "AAAA" }), "AAAA"), ["fd00::5"]);
  // the original's looser form: any second label
  assert.deepEqual(addrs(ask(h, "redis.whatever.dc1.kunai")), ["10.0.0.1"]);
  assert.deepEqual(addrs(ask(h, "db.tag.dc2.kunai")), ["10.0.0.6", "10.0.0.7", "10.0.0.8"]);
});

Deno.test("a node in maintenance is left out of tag and service answers, not of its own name", () => {
  const maintenance = { reason: "disk swap", since: 1, until: null };
  const h = handler([
    member("a", "10.0.0.1", ["web"], { services: { http: { state_id: 0, port: 80 } } }),
    { ...member("b", "10.0.0.2", ["web"], { services: { http: { state_id: 0, port: 80 } } }), maintenance },
  ]);
  assert.deepEqual(addrs(ask(h, "web.tag.dc1.kunai")), ["10.0.0.1"]);
  assert.deepEqual(addrs(ask(h, "http.service.dc1.kunai")), ["10.0.0.1"]);
  assert.deepEqual(addrs(ask(h, "b.node.dc1.kunai")), ["10.0.0.2"]);
});

Deno.test("a service port outside 1..65535 gives no SRV record (its address still answers)", () => {
  const h = handler([
    member("a", "10.0.0.1", [], { services: { odd: { state_id: 0, port: 70000 } } }),
    member("b", "10.0.0.2", [], { services: { odd: { state_id: 0, port: 0 } } }),
    member("c", "10.0.0.3", [], { services: { odd: { state_id: 0, port: 8080 } } }),
  ]);
  const d = ask(h, "odd.service.dc1.kunai", { type: "SRV" });
  assert.deepEqual(d.answers.map((a: Decoded) => `${a.data.target}:${a.data.port}`), [
    "c.node.dc1.kunai:8080",
  ]);
  assert.deepEqual(addrs(ask(h, "odd.service.dc1.kunai")), ["10.0.0.1", "10.0.0.2", "10.0.0.3"]);
});

Deno.test("names are case-insensitive; the id and the question (with its case) are echoed", () => {
  const h = handler(CLUSTER);
  const d = ask(h, "ReDiS.TAG.Dc1.KUNAI", { id: 777 });
  assert.equal(d.id, 777);
  assert.equal(d.questions[0].name, "ReDiS.TAG.Dc1.KUNAI");
  assert.equal(d.answers[0].name, "ReDiS.TAG.Dc1.KUNAI");
  assert.deepEqual(addrs(d), ["10.0.0.1"]);
  assert.ok(d.flag_rd);
});

Deno.test("node lookup answers one node (alive or suspect), NXDOMAIN once dead", () => {
  const h = handler(CLUSTER);
  assert.deepEqual(addrs(ask(h, "d.node.dc1.kunai")), ["10.0.0.4"]);
  assert.deepEqual(addrs(ask(h, "e.node.dc1.kunai", { type: "AAAA" }), "AAAA"), ["fd00::5"]);
  assert.equal(ask(h, "c.node.dc1.kunai").rcode, "NXDOMAIN");
});

Deno.test("service lookup: A of passing nodes, SRV with the service port and target addresses", () => {
  const h = handler(CLUSTER);
  assert.deepEqual(addrs(ask(h, "pg.service.dc1.kunai")), ["10.0.0.6", "10.0.0.8"]);
  const d = ask(h, "pg.service.dc1.kunai", { type: "SRV" });
  const srv = d.answers.map((a: Decoded) => `${a.data.target}:${a.data.port}`).sort();
  assert.deepEqual(srv, ["f.node.dc1.kunai:5432", "h.node.dc1.kunai:5433"]);
  const extra = d.additionals.filter((a: Decoded) => a.type === "A").map((a: Decoded) =>
    `${a.name}=${a.data}`
  );
  assert.deepEqual(extra.sort(), ["f.node.dc1.kunai=10.0.0.6", "h.node.dc1.kunai=10.0.0.8"]);
  // a failing-only or unknown service does not exist
  assert.equal(ask(h, "redis.service.dc1.kunai").rcode, "NXDOMAIN");
});

Deno.test("names and addresses from the network that are no DNS label or IP give no record, never a bad one", () => {
  // a record's name becomes an SRV target: a label over 63 bytes wrote a length byte read as a
  // compression pointer, an empty label (`a..b`) ended the name early; an addr of hex digits and
  // colons that is no IPv6 address was answered as some other address
  const pg = { services: { pg: { state_id: 0, port: 5432 } } };
  const h = handler([
    member("f", "10.0.0.6", ["db"], pg),
    member("x".repeat(200), "10.0.0.9", ["db"], pg),
    member("a..b", "10.0.0.10", ["db"], pg),
    member("web.tag", "10.0.0.11", ["db"], pg),
    member("v6bad", "1:2:3:4:5:6:7:8:9", ["db"], pg),
    member("v6zone", "fe80::1%eth0", ["db"], pg),
    member("v6ok", "fd00::7", ["db"], pg),
  ]);
  const d = ask(h, "pg.service.dc1.kunai", { type: "SRV" });
  const srv = d.answers.map((a: Decoded) => `${a.data.target}:${a.data.port}`).sort();
  assert.deepEqual(srv, ["f.node.dc1.kunai:5432", "v6ok.node.dc1.kunai:5432"]);
  assert.deepEqual(
    d.additionals.map((a: Decoded) => `${a.name}=${a.data}`).sort(),
    ["f.node.dc1.kunai=10.0.0.6", "v6ok.node.dc1.kunai=fd00::7"],
  );
  // the nodes without a valid label are still answered by address
  assert.deepEqual(addrs(ask(h, "pg.service.dc1.kunai")), ["10.0.0.10", "10.0.0.11", "10.0.0.6", "10.0.0.9"]);
  assert.deepEqual(addrs(ask(h, "pg.service.dc1.kunai", { type: "AAAA" }), "AAAA"), ["fd00::7"]);
  assert.equal(ask(h, "v6bad.node.kunai", { type: "AAAA" }).rcode, "NXDOMAIN");
  // a 63-byte name is a label, but under a long datacenter its target would pass 253 bytes
  const long = handler([
    member("f", "10.0.0.6", ["db"], pg),
    member("y".repeat(63), "10.0.0.12", ["db"], pg),
  ]);
  const dc = Array.from({ length: 4 }, () => "d".repeat(50)).join(".");
  const far = ask(long, `pg.service.${dc}.kunai`, { type: "SRV" });
  assert.deepEqual(far.answers.map((a: Decoded) => a.data.target), [`f.node.${dc}.kunai`]);
});

Deno.test("the datacenter label is optional, as in Consul, for the tag, node and service kinds only", () => {
  const h = handler(CLUSTER);
  assert.deepEqual(addrs(ask(h, "pg.service.kunai")), addrs(ask(h, "pg.service.dc1.kunai")));
  assert.deepEqual(addrs(ask(h, "d.node.kunai")), ["10.0.0.4"]);
  assert.deepEqual(addrs(ask(h, "redis.tag.kunai")), addrs(ask(h, "redis.tag.dc1.kunai")));
  const srv = ask(h, "pg.service.kunai", { type: "SRV" });
  assert.deepEqual(srv.answers.map((a: Decoded) => a.data.target).sort(), ["f.node.kunai", "h.node.kunai"]);
  // a target answered for the SRV resolves by itself
  assert.deepEqual(addrs(ask(h, "f.node.kunai")), ["10.0.0.6"]);
  // the original's loose `<tag>.<anything>.<dc>` still needs its three labels
  assert.equal(ask(h, "redis.x.kunai").rcode, "NXDOMAIN");
});

Deno.test("unknown names in the domain: NXDOMAIN with the SOA; existing name, other type: NODATA", () => {
  const h = handler(CLUSTER, { ttl: 30 });
  for (const n of ["nope.tag.dc1.kunai", "x.kunai", "a.b.kunai"]) {
    const d = ask(h, n);
    assert.equal(d.rcode, "NXDOMAIN", n);
    assert.equal(d.answers.length, 0);
    assert.equal(d.authorities[0].type, "SOA");
    assert.equal(d.authorities[0].name, "kunai");
    assert.equal(d.authorities[0].data.minimum, 30);
  }
  const nodata = ask(h, "redis.tag.dc1.kunai", { type: "MX" });
  assert.equal(nodata.rcode, "NOERROR");
  assert.equal(nodata.answers.length, 0);
  assert.equal(nodata.authorities[0].type, "SOA");
  const apex = ask(h, "kunai", { type: "SOA" });
  assert.equal(apex.answers[0].type, "SOA");
  assert.equal(ask(h, "redis.tag.dc1.kunai").answers[0].ttl, 30);
});

Deno.test("before the start's join, a name the agent cannot answer gets SERVFAIL (not a cached NXDOMAIN); what it knows answers", () => {
  let joining = true;
  const self = member("a", "10.0.0.1", ["web"]);
  let members = [self];
  const h = new DnsHandler({
    domain: ".kunai",
    ttl: 60,
    members: () => members,
    forward: false,
    joining: () => joining,
  });
  assert.equal(ask(h, "pg.service.kunai").rcode, "SERVFAIL");
  assert.equal(ask(h, "f.node.kunai").rcode, "SERVFAIL");
  assert.equal(ask(h, "web.tag.kunai", { type: "MX" }).rcode, "SERVFAIL", "no record of this type yet");
  assert.deepEqual(addrs(ask(h, "a.node.kunai")), ["10.0.0.1"], "itself");
  assert.equal(ask(h, "kunai", { type: "SOA" }).answers[0].type, "SOA");
  // joined: the members are known, the answers are theirs
  joining = false;
  members = CLUSTER;
  h.invalidate();
  assert.deepEqual(addrs(ask(h, "pg.service.kunai")), ["10.0.0.6", "10.0.0.8"]);
  assert.equal(ask(h, "nope.node.kunai").rcode, "NXDOMAIN");
});

Deno.test("names outside the domain are REFUSED, or handed to the forwarder when recursors exist", () => {
  assert.equal(ask(handler(CLUSTER), "example.com").rcode, "REFUSED");
  assert.equal(ask(handler(CLUSTER), "kunai.example.com").rcode, "REFUSED");
  const r = handler(CLUSTER, { forward: true }).handle(query("example.com"), "udp");
  assert.equal(r.kind, "forward");
  // a name of our domain in another class than IN (CHAOS, HESIOD): not ours to answer
  for (const qclass of [3, 4]) {
    const q = query("redis.tag.dc1.kunai");
    q[q.length - 1] = qclass; // the question's class, its last two bytes
    const d = decode((handler(CLUSTER).handle(q, "udp") as { bytes: Uint8Array }).bytes);
    assert.equal(d.rcode, "REFUSED", `class ${qclass}`);
    assert.equal(d.answers.length, 0);
  }
  // a custom domain
  const h = handler(CLUSTER, { domain: "Cluster.Example." });
  assert.deepEqual(addrs(ask(h, "redis.tag.dc1.cluster.example")), ["10.0.0.1"]);
  assert.equal(ask(h, "redis.tag.dc1.kunai").rcode, "REFUSED");
});

Deno.test("RFC 2782 service names: _<service>._tcp.service[.<dc>] answer as <service>.service", () => {
  const h = handler(CLUSTER);
  const srv = (name: string) =>
    ask(h, name, { type: "SRV" }).answers.map((a: Decoded) => `${a.data.port} ${a.data.target}`).sort();
  assert.deepEqual(srv("_pg._tcp.service.dc1.kunai"), ["5432 f.node.dc1.kunai", "5433 h.node.dc1.kunai"]);
  assert.deepEqual(srv("_PG._udp.service.kunai"), ["5432 f.node.kunai", "5433 h.node.kunai"]);
  assert.deepEqual(addrs(ask(h, "_pg._tcp.service.kunai")), ["10.0.0.6", "10.0.0.8"]);
  const add = ask(h, "_pg._tcp.service.kunai", { type: "SRV" }).additionals.map((a: Decoded) => a.name)
    .sort();
  assert.deepEqual(add, ["f.node.kunai", "h.node.kunai"]);
  // another protocol label, or no `service` label: not this form
  assert.equal(ask(h, "_pg._sctp.service.kunai", { type: "SRV" }).rcode, "NXDOMAIN");
  assert.equal(ask(h, "_pg._tcp.kunai", { type: "SRV" }).rcode, "NXDOMAIN");
  assert.equal(ask(h, "_nope._tcp.service.kunai", { type: "SRV" }).rcode, "NXDOMAIN");
});

Deno.test("Consul's <tag>.<service>.service: the nodes whose passing service carries that tag", () => {
  const h = handler([
    member("p1", "10.2.0.1", [], { services: { pg: { state_id: 0, port: 5432, tags: ["primary", "v15"] } } }),
    member("p2", "10.2.0.2", [], { services: { pg: { state_id: 0, port: 5432, tags: ["Replica"] } } }),
    member("p3", "10.2.0.3", [], { services: { pg: { state_id: 2, port: 5432, tags: ["replica"] } } }),
    member("p4", "10.2.0.4", [], { services: { pg: { state_id: 0, port: 5432, tags: "replica" } } }), // not a list
    member("r1", "10.2.0.9", ["replica"], { services: { pg: { state_id: 0, port: 5432 } } }), // a node tag only
  ]);
  assert.deepEqual(addrs(ask(h, "primary.pg.service.kunai")), ["10.2.0.1"]);
  assert.deepEqual(addrs(ask(h, "replica.pg.service.dc1.kunai")), ["10.2.0.2"]);
  assert.deepEqual(addrs(ask(h, "pg.service.kunai")), ["10.2.0.1", "10.2.0.2", "10.2.0.4", "10.2.0.9"]);
  const srv = ask(h, "primary.pg.service.dc1.kunai", { type: "SRV" }).answers.map((a: Decoded) =>
    a.data.target
  );
  assert.deepEqual(srv, ["p1.node.dc1.kunai"]);
  assert.equal(ask(h, "v14.pg.service.kunai").rcode, "NXDOMAIN");
  // the original's looser tag lookup stays for everything else: <tag>.<anything>.<dc>
  assert.deepEqual(addrs(ask(h, "replica.x.dc1.kunai")), ["10.2.0.9"]);
});

Deno.test("reverse names of members' addresses answer PTR <name>.node.<domain>; other addresses are not ours", () => {
  const members = [
    ...CLUSTER,
    member("twin", "10.0.0.1", []), // a second agent on a's host
    member("bad.name", "10.0.0.9", []), // no DNS label: no record
    member("v6full", "2001:db8:0:0:0:0:0:42", []),
    member("mapped", "::ffff:10.9.8.7", []),
  ];
  const h = handler(members, { ttl: 30 });
  const ptrs = (name: string) =>
    ask(h, name, { type: "PTR" }).answers.map((a: Decoded) => `${a.name} ${a.ttl} ${a.data}`).sort();
  assert.deepEqual(ptrs("1.0.0.10.in-addr.arpa"), [
    "1.0.0.10.in-addr.arpa 30 a.node.kunai",
    "1.0.0.10.in-addr.arpa 30 twin.node.kunai",
  ]);
  assert.deepEqual(ptrs("4.0.0.10.IN-ADDR.ARPA"), ["4.0.0.10.IN-ADDR.ARPA 30 d.node.kunai"]); // suspect
  const v6 = (addr: string) => [...addr].reverse().join(".") + ".ip6.arpa";
  assert.deepEqual(ptrs(v6("fd000000000000000000000000000005")), [
    `${v6("fd000000000000000000000000000005")} 30 e.node.kunai`,
  ]);
  assert.deepEqual(ptrs(v6("20010db8000000000000000000000042")).length, 1);
  assert.deepEqual(ptrs(v6("00000000000000000000ffff0a090807")).length, 1);
  const ok = ask(h, "1.0.0.10.in-addr.arpa", { type: "PTR" });
  assert.equal(ok.rcode, "NOERROR");
  assert.ok(ok.flags & (1 << 10), "authoritative");
  // the same name asked for another type: NODATA
  const nodata = ask(h, "1.0.0.10.in-addr.arpa", { type: "A" });
  assert.equal(nodata.rcode, "NOERROR");
  assert.equal(nodata.answers.length, 0);
  // not a member's address (a dead one, a bad name's, unknown), partial names, bad labels: REFUSED
  for (
    const name of [
      "3.0.0.10.in-addr.arpa",
      "9.0.0.10.in-addr.arpa",
      "99.0.0.10.in-addr.arpa",
      "0.0.10.in-addr.arpa",
      "01.0.0.10.in-addr.arpa",
      "256.0.0.10.in-addr.arpa",
      "x.0.0.10.in-addr.arpa",
      "in-addr.arpa",
      "5.0.0.d.f.ip6.arpa",
    ]
  ) assert.equal(ask(h, name, { type: "PTR" }).rcode, "REFUSED", name);
  // with recursors, an address that is not a member's goes to them
  const fwd = handler(members, { forward: true });
  assert.equal(fwd.handle(query("9.9.9.9.in-addr.arpa", { type: "PTR" }), "udp").kind, "forward");
  assert.equal(fwd.handle(query("1.0.0.10.in-addr.arpa", { type: "PTR" }), "udp").kind, "reply");
});

Deno.test("100 nodes: UDP carries 8 of them at random with TC, with or without EDNS; TCP carries them all", () => {
  const big: MemberRecord[] = [];
  for (let i = 0; i < 100; i++) big.push(member(`n${i}`, `10.1.${i >> 8}.${i & 255}`, ["big"]));
  const h = handler(big);
  const r = h.handle(query("big.tag.dc1.kunai"), "udp") as { bytes: Uint8Array };
  assert.ok(r.bytes.length <= 512);
  const d = decode(r.bytes);
  assert.ok(d.flag_tc);
  assert.equal(d.answers.length, UDP_ANSWER_LIMIT);
  assert.equal(d.id, 4242);
  const tcp = ask(h, "big.tag.dc1.kunai", { proto: "tcp" });
  assert.ok(!tcp.flag_tc);
  assert.equal(new Set(addrs(tcp)).size, 100);
  // a 4 KB EDNS size does not make a 4 KB answer (the query's source may be spoofed)
  const edns = h.handle(query("big.tag.dc1.kunai", { edns: 4096 }), "udp") as { bytes: Uint8Array };
  assert.ok(edns.bytes.length < 300, `${edns.bytes.length} bytes`);
  const ed = decode(edns.bytes);
  assert.ok(ed.flag_tc);
  assert.equal(ed.answers.length, UDP_ANSWER_LIMIT);
  assert.equal(ed.additionals.at(-1).type, "OPT");
  // the 8 differ from one query to the next
  const seen = new Set<string>();
  for (let i = 0; i < 20; i++) for (const a of ask(h, "big.tag.dc1.kunai").answers) seen.add(a.data);
  assert.ok(seen.size > 2 * UDP_ANSWER_LIMIT, `${seen.size} addresses in 20 answers`);
  // 8 fit in any UDP answer, with TC: no answer loses them all
  assert.equal(h.stats.truncated, 22);
  const eight = handler(big.slice(0, 8));
  assert.ok(!ask(eight, "big.tag.dc1.kunai").flag_tc, "8 records: all there, no TC");
});

Deno.test("a partial UDP SRV answer carries no additional addresses, even with room for them all", () => {
  const big: MemberRecord[] = [];
  for (let i = 0; i < 100; i++) {
    big.push(member(`n${i}`, `10.1.0.${i}`, [], { services: { api: { state_id: 0, port: 443 } } }));
  }
  const h = handler(big);
  const r = h.handle(query("api.service.dc1.kunai", { type: "SRV", edns: 4096 }), "udp") as {
    bytes: Uint8Array;
  };
  const d = decode(r.bytes);
  assert.ok(d.flag_tc);
  assert.equal(d.answers.length, UDP_ANSWER_LIMIT);
  assert.deepEqual(d.additionals.map((a: Decoded) => a.type), ["OPT"]);
  assert.ok(r.bytes.length < 600, `${r.bytes.length} bytes`);
  // whole over TCP: every SRV with its address
  const tcp = ask(h, "api.service.dc1.kunai", { type: "SRV", proto: "tcp" });
  assert.equal(tcp.answers.length, 100);
  assert.equal(tcp.additionals.filter((a: Decoded) => a.type === "A").length, 100);
});

Deno.test("the answer cache is bounded: a flood of distinct names does not keep every answer", () => {
  const h = handler(CLUSTER);
  ask(h, "redis.tag.dc1.kunai");
  ask(h, "redis.tag.dc1.kunai");
  assert.equal(h.stats.cache_hits, 1);
  for (let i = 0; i < 10_000; i++) ask(h, `n${i}.node.dc1.kunai`);
  // the cache filled up and started over: the first name is computed again
  const hits = h.stats.cache_hits;
  ask(h, "redis.tag.dc1.kunai");
  assert.equal(h.stats.cache_hits, hits);
});

Deno.test("ANY over UDP answers the addresses only (RFC 8482); over TCP every record", () => {
  const h = handler(CLUSTER);
  const udp = ask(h, "f.node.dc1.kunai", { type: "ANY" });
  assert.deepEqual(udp.answers.map((a: Decoded) => [a.type, a.data]), [["A", "10.0.0.6"]]);
  assert.deepEqual(addrs(ask(h, "e.node.dc1.kunai", { type: "ANY" }), "AAAA"), ["fd00::5"]);
  assert.equal(ask(h, "zz.node.dc1.kunai", { type: "ANY" }).rcode, "NXDOMAIN");
  // a service: A records over UDP, A and SRV over TCP
  const svc = ask(h, "pg.service.dc1.kunai", { type: "ANY" });
  assert.deepEqual(svc.answers.map((a: Decoded) => a.type), ["A", "A"]);
  const tcp = ask(h, "pg.service.dc1.kunai", { type: "ANY", proto: "tcp" });
  assert.deepEqual(tcp.answers.map((a: Decoded) => a.type).sort(), ["A", "A", "SRV", "SRV"]);
  // the apex keeps its SOA
  assert.equal(ask(h, "kunai", { type: "ANY" }).answers[0].type, "SOA");
});

Deno.test("EDNS: OPT answered with our size; an unknown EDNS version gets BADVERS", () => {
  const h = handler(CLUSTER);
  const d = ask(h, "redis.tag.dc1.kunai", { edns: 1232 });
  const opt = d.additionals.find((a: Decoded) => a.type === "OPT");
  assert.equal(opt.udpPayloadSize, 4096);
  const bad = ask(h, "redis.tag.dc1.kunai", { edns: 1232, ednsVersion: 1 });
  const bopt = bad.additionals.find((a: Decoded) => a.type === "OPT");
  assert.equal(bopt.extendedRcode, 1); // 16 >> 4: BADVERS
  assert.equal(bad.answers.length, 0);
});

Deno.test("answers are shuffled per query", () => {
  const many: MemberRecord[] = [];
  for (let i = 0; i < 8; i++) many.push(member(`n${i}`, `10.2.0.${i + 1}`, ["s"]));
  const h = handler(many);
  const firsts = new Set<string>();
  for (let i = 0; i < 60; i++) firsts.add(ask(h, "s.tag.dc1.kunai").answers[0].data);
  assert.ok(firsts.size > 2, `first answer took ${firsts.size} values`);
  assert.ok(h.stats.cache_hits >= 59);
});

Deno.test("a membership change shows after invalidate(), not before", () => {
  const ms = [member("a", "10.0.0.1", ["x"])];
  const h = handler(ms);
  assert.deepEqual(addrs(ask(h, "x.tag.dc1.kunai")), ["10.0.0.1"]);
  ms.push(member("b", "10.0.0.2", ["x"]));
  assert.deepEqual(addrs(ask(h, "x.tag.dc1.kunai")), ["10.0.0.1"]); // cached
  h.invalidate();
  assert.deepEqual(addrs(ask(h, "x.tag.dc1.kunai")), ["10.0.0.1", "10.0.0.2"]);
  ms[0] = { ...ms[0], state: "dead" };
  h.invalidate();
  assert.deepEqual(addrs(ask(h, "x.tag.dc1.kunai")), ["10.0.0.2"]);
});

Deno.test("malformed queries: FORMERR or NOTIMP with the id, or dropped; every one counted", () => {
  const h = handler(CLUSTER);
  const good = query("redis.tag.dc1.kunai", { id: 0x1234 });
  const cases: Array<[string, Uint8Array, string | null]> = [
    ["short", good.slice(0, 5), null],
    [
      "response",
      (() => {
        const b = good.slice();
        b[2] |= 0x80;
        return b;
      })(),
      null,
    ],
    ["truncated question", good.slice(0, 20), "FORMERR"],
    [
      "qdcount 2",
      (() => {
        const b = good.slice();
        b[5] = 2;
        return b;
      })(),
      "FORMERR",
    ],
    [
      "ancount 1",
      (() => {
        const b = good.slice();
        b[7] = 1;
        return b;
      })(),
      "FORMERR",
    ],
    [
      "compression pointer loop",
      new Uint8Array([0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12, 0, 1, 0, 1]),
      "FORMERR",
    ],
    ["oversized", new Uint8Array([...good, ...new Uint8Array(2000)]), "FORMERR"],
    [
      // well-formed, but longer than any query needs to be: an OPT padded with 1200 bytes
      "oversized OPT",
      (() => {
        const b = new Uint8Array(good.length + 11 + 4 + 1200);
        b.set(good);
        b[11] = 1; // arcount
        b.set(
          [0, 0, 41, 16, 0, 0, 0, 0, 0, (1204 >> 8) & 255, 1204 & 255, 0, 12, 1200 >> 8, 1200 & 255],
          good.length,
        );
        return b;
      })(),
      "FORMERR",
    ],
    ["trailing garbage", new Uint8Array([...good, 1, 2, 3]), "FORMERR"],
    [
      "opcode 2",
      (() => {
        const b = good.slice();
        b[2] = (b[2] & 0x87) | (2 << 3);
        return b;
      })(),
      "NOTIMP",
    ],
  ];
  for (const [what, bytes, rcode] of cases) {
    const r = h.handle(bytes, "udp");
    if (rcode === null) {
      assert.equal(r.kind, "drop", what);
      continue;
    }
    assert.equal(r.kind, "reply", what);
    const d = decode((r as { bytes: Uint8Array }).bytes);
    assert.equal(d.rcode, rcode, what);
    assert.equal(d.id, 0x1234, what);
    assert.ok(d.flag_qr, what);
  }
  const malformed = Object.values(h.stats.malformed).reduce((a, b) => a + b, 0);
  const dropped = Object.values(h.stats.dropped).reduce((a, b) => a + b, 0);
  assert.equal(malformed, cases.filter((c) => c[2] !== null).length);
  assert.equal(dropped, 2);
  assert.equal(h.stats.malformed.pointer, 1);
  assert.equal(h.stats.malformed.oversized, 2);
});
