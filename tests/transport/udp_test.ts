import assert from "node:assert/strict";
import { parsePeer, peerKey, PUSH_PULL_PATH, UdpTransport } from "../../lib/transport/mod.ts";

function pair() {
  const a = new UdpTransport({ bind: "127.0.0.1", port: 0, advertise: "127.0.0.1" });
  const b = new UdpTransport({ bind: "127.0.0.1", port: 0, advertise: "127.0.0.1" });
  return { a, b };
}

Deno.test("udp transport delivers datagrams with the sender's address", async () => {
  const { a, b } = pair();
  await a.start();
  await b.start();
  const got = Promise.withResolvers<[string, number]>();
  b.onPacket((data, from) => got.resolve([new TextDecoder().decode(data), from.port]));
  a.sendPacket(b.local, new TextEncoder().encode("hello"));
  const [text, port] = await got.promise;
  assert.equal(text, "hello");
  assert.equal(port, a.local.port);
  await a.close();
  await b.close();
});

Deno.test("a throwing handler and garbage datagrams never stop the receive loop", async () => {
  const { a, b } = pair();
  let errors = 0;
  const c = new UdpTransport({ bind: "127.0.0.1", port: 0, advertise: "127.0.0.1", onError: () => errors++ });
  await a.start();
  await c.start();
  let n = 0;
  const done = Promise.withResolvers<void>();
  c.onPacket((data) => {
    n++;
    if (data[0] === 0xff) throw new Error("handler bug");
    if (new TextDecoder().decode(data) === "last") done.resolve();
  });
  for (let i = 0; i < 50; i++) a.sendPacket(c.local, new Uint8Array([0xff, i]));
  a.sendPacket(c.local, new Uint8Array(0));
  a.sendPacket(c.local, new Uint8Array(60_000));
  await new Promise((r) => setTimeout(r, 50));
  a.sendPacket(c.local, new TextEncoder().encode("last"));
  await done.promise;
  assert.ok(n >= 3);
  assert.ok(errors >= 1, "handler errors are reported");
  await a.close();
  await b.close();
  await c.close();
});

Deno.test("push-pull requests go over HTTP POST to the peer's /gossip/push-pull", async () => {
  const { a, b } = pair();
  await b.start();
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    if (new URL(req.url).pathname !== PUSH_PULL_PATH || req.method !== "POST") {
      return new Response("nope", { status: 404 });
    }
    return new Response(`echo:${await req.text()}`);
  });
  const answer = await a.request(
    { addr: "127.0.0.1", port: server.addr.port },
    new TextEncoder().encode("x"),
    2000,
  );
  assert.equal(new TextDecoder().decode(answer), "echo:x");
  await assert.rejects(
    a.request({ addr: "127.0.0.1", port: 1 }, new Uint8Array(1), 2000),
    /request to 127.0.0.1:1 failed/,
  );
  await server.shutdown();
  await b.close();
});

Deno.test("peer addresses parse as addr[:port] with the default port", () => {
  assert.deepEqual(parsePeer("10.0.0.1", 6768), { addr: "10.0.0.1", port: 6768 });
  assert.deepEqual(parsePeer("10.0.0.1:7000", 6768), { addr: "10.0.0.1", port: 7000 });
  assert.deepEqual(parsePeer("[::1]:7000", 6768), { addr: "::1", port: 7000 });
  assert.deepEqual(parsePeer("node-1.example", 6768), { addr: "node-1.example", port: 6768 });
  assert.equal(parsePeer("10.0.0.1:x", 6768), null);
  assert.equal(parsePeer("10.0.0.1:70000", 6768), null);
  assert.equal(parsePeer("", 6768), null);
  assert.equal(parsePeer("a b", 6768), null);
  // bare IPv6 takes the default port; a zone is kept
  assert.deepEqual(parsePeer("fe80::1", 6768), { addr: "fe80::1", port: 6768 });
  assert.deepEqual(parsePeer("[fe80::1%eth0]:7000", 6768), { addr: "fe80::1%eth0", port: 7000 });
  assert.deepEqual(parsePeer("::ffff:10.0.0.1", 6768), { addr: "::ffff:10.0.0.1", port: 6768 });
  // two colons and letters that are not hex: neither host:port nor IPv6 (was taken as an address)
  assert.equal(parsePeer("bad:port:x", 6768), null);
  assert.equal(parsePeer("[node-1]:7000", 6768), null);
  assert.equal(parsePeer("[]:7000", 6768), null);
  // the shape of IPv6 but not an address: a port without brackets (a group of 5 digits), 9 groups,
  // two `::`
  for (const bad of ["::1:13592", "1:2:3:4:5:6:7:8:9", "fd00::1::2", "[::1:13592]:7000", "::1%"]) {
    assert.equal(parsePeer(bad, 6768), null, bad);
  }
  assert.deepEqual(parsePeer("fd00::1:6768", 6768), { addr: "fd00::1:6768", port: 6768 });
  assert.deepEqual(parsePeer("[fe80::1%br_lan]:7000", 6768), { addr: "fe80::1%br_lan", port: 7000 });
});

Deno.test("a peer's addr:port as printed parses back to the same peer, IPv6 in brackets", () => {
  // `::1:7000` is an IPv6 address of its own: printed so, a member's address read back (by a reader,
  // `kunai join`, the peers file) was ::1:7000 on the default port
  for (
    const p of [{ addr: "::1", port: 7000 }, { addr: "fe80::1%eth0", port: 1 }, {
      addr: "10.0.0.1",
      port: 80,
    }]
  ) {
    assert.deepEqual(parsePeer(peerKey(p), 6768), p);
  }
  assert.equal(peerKey({ addr: "fd00::5", port: 6768 }), "[fd00::5]:6768");
  assert.equal(peerKey({ addr: "db-1.example", port: 6768 }), "db-1.example:6768");
});

Deno.test("a taken UDP port is reported with the address", async () => {
  const a = new UdpTransport({ bind: "127.0.0.1", port: 0, advertise: "127.0.0.1" });
  await a.start();
  const b = new UdpTransport({ bind: "127.0.0.1", port: a.local.port, advertise: "127.0.0.1" });
  await assert.rejects(b.start(), new RegExp(`udp 127\\.0\\.0\\.1:${a.local.port}: address already in use`));
  await a.close();
});

Deno.test("udp transport: refused() is true for a closed TCP port, false for a listening one", async () => {
  const { a } = pair();
  await a.start();
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const open = (listener.addr as Deno.NetAddr).port;
  const accepted = (async () => {
    for await (const c of listener) c.close();
  })();
  assert.equal(await a.refused({ addr: "127.0.0.1", port: open }, 2000), false);
  listener.close();
  await accepted.catch(() => {});
  // the port just closed: nothing listens there any more
  assert.equal(await a.refused({ addr: "127.0.0.1", port: open }, 2000), true);
  await a.close();
});
