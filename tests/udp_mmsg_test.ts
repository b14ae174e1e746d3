/**
 * lib/udp_mmsg.ts on real loopback sockets: queued datagrams taken by one recvmmsg with their
 * senders, replies sent by one sendmmsg to each sender, nothing queued answered at once, slots and
 * their lengths as bounds, a reply too big for the arena sent by the DatagramConn, and the
 * sockaddr decoding.
 */
import assert from "node:assert/strict";
import { decodeSockaddr, UdpBatch } from "../lib/udp_mmsg.ts";

const supported = Deno.build.os === "linux" && ["x86_64", "aarch64"].includes(Deno.build.arch);
const enc = new TextEncoder(), dec = new TextDecoder();

function pair(hostname = "127.0.0.1") {
  const server = Deno.listenDatagram({ hostname, port: 0, transport: "udp" });
  const client = Deno.listenDatagram({ hostname, port: 0, transport: "udp" });
  return { server, client, to: server.addr as Deno.NetAddr, from: client.addr as Deno.NetAddr };
}

/** Receives until `want` datagrams were taken (they may still be on their way), at most 2 s. */
async function takeAll(batch: UdpBatch, want: number): Promise<number[]> {
  const counts: number[] = [];
  const end = Date.now() + 2000;
  let total = 0;
  while (total < want && Date.now() < end) {
    const n = batch.receive();
    if (n > 0) counts.push(n);
    total += n;
    if (total < want) await new Promise((r) => setTimeout(r, 5));
  }
  return counts;
}

async function receiveN(sock: Deno.DatagramConn, n: number): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const [bytes] = await Promise.race([
      sock.receive(),
      new Promise<never>((_, rej) => setTimeout(() => rej(new Error(`${i} replies of ${n}`)), 3000)),
    ]);
    out.push(dec.decode(bytes));
  }
  return out;
}

Deno.test({
  name:
    "udp batch: queued datagrams are taken in one call with their senders, and each sender gets its reply",
  ignore: !supported,
  async fn() {
    const { server, client, to, from } = pair();
    try {
      const batch = UdpBatch.open(server);
      assert.ok(batch, "batching is available on Linux 64-bit");
      await Promise.all(Array.from({ length: 10 }, (_, i) => client.send(enc.encode(`q${i}`), to)));
      const counts = await takeAll(batch, 10);
      assert.equal(counts.reduce((a, b) => a + b, 0), 10);
      // the datagrams of the last receive() are readable until the next one: take them again in one go
      await Promise.all(Array.from({ length: 10 }, (_, i) => client.send(enc.encode(`r${i}`), to)));
      await new Promise((r) => setTimeout(r, 50));
      const n = batch.receive();
      assert.equal(n, 10, "all ten queued datagrams in one call");
      const got = Array.from({ length: n }, (_, i) => dec.decode(batch.datagram(i))).sort();
      assert.deepEqual(got, Array.from({ length: 10 }, (_, i) => `r${i}`).sort());
      for (let i = 0; i < n; i++) {
        const s = batch.sender(i);
        assert.deepEqual({ host: s?.hostname, port: s?.port }, { host: "127.0.0.1", port: from.port });
        batch.reply(i, enc.encode(`re:${dec.decode(batch.datagram(i))}`), server);
      }
      batch.flush(server);
      assert.equal(batch.sent, 10);
      assert.equal(batch.fallbackSends, 0);
      const replies = await receiveN(client, 10);
      assert.deepEqual(replies.sort(), got.map((g) => `re:${g}`).sort());
    } finally {
      server.close();
      client.close();
    }
  },
});

Deno.test({
  name: "udp batch: nothing queued answers 0 at once; more than the slots waits for the next call",
  ignore: !supported,
  async fn() {
    const { server, client, to } = pair();
    try {
      const batch = UdpBatch.open(server, 4)!;
      assert.equal(batch.receive(), 0); // MSG_DONTWAIT: a blocking call would hang this test
      // more replies than slots before a flush: the batch sends what it holds and goes on
      await client.send(enc.encode("once"), to);
      assert.equal(batch.receive(), 1);
      for (let k = 0; k < 6; k++) batch.reply(0, enc.encode(`r${k}`), server);
      batch.flush(server);
      assert.equal(batch.sent, 6);
      assert.deepEqual((await receiveN(client, 6)).sort(), ["r0", "r1", "r2", "r3", "r4", "r5"]);
      await Promise.all(Array.from({ length: 10 }, (_, i) => client.send(enc.encode(`q${i}`), to)));
      await new Promise((r) => setTimeout(r, 50));
      assert.deepEqual([batch.receive(), batch.receive(), batch.receive(), batch.receive()], [4, 4, 2, 0]);
    } finally {
      server.close();
      client.close();
    }
  },
});

Deno.test({
  name: "udp batch: a datagram longer than a slot is cut to the slot (the caller sees it over-long)",
  ignore: !supported,
  async fn() {
    const { server, client, to } = pair();
    try {
      const batch = UdpBatch.open(server, 2, 64)!;
      await client.send(new Uint8Array(100).fill(7), to);
      await client.send(new Uint8Array(10).fill(9), to);
      await new Promise((r) => setTimeout(r, 50));
      assert.equal(batch.receive(), 2);
      assert.deepEqual([batch.datagram(0).length, batch.datagram(1).length], [64, 10]);
      assert.ok(batch.datagram(0).every((b) => b === 7));
    } finally {
      server.close();
      client.close();
    }
  },
});

Deno.test({
  name: "udp batch: a reply bigger than the reply arena goes by the DatagramConn's send, over IPv6 too",
  ignore: !supported,
  async fn() {
    let p: ReturnType<typeof pair>;
    try {
      p = pair("::1");
    } catch {
      return; // no IPv6 loopback on this machine
    }
    const { server, client, to } = p;
    try {
      const batch = UdpBatch.open(server, 2)!; // arena: 2 × 1024 bytes
      await client.send(enc.encode("big?"), to);
      await client.send(enc.encode("small?"), to);
      await new Promise((r) => setTimeout(r, 50));
      assert.equal(batch.receive(), 2);
      assert.equal(batch.sender(0)?.port, (client.addr as Deno.NetAddr).port);
      batch.reply(0, new Uint8Array(3000).fill(65), server);
      batch.reply(1, enc.encode("small!"), server);
      batch.flush(server);
      assert.equal(batch.fallbackSends, 1);
      assert.equal(batch.sent, 1);
      const replies = await receiveN(client, 2);
      assert.deepEqual(replies.map((r) => r.length).sort((a, b) => a - b), [6, 3000]);
    } finally {
      server.close();
      client.close();
    }
  },
});

Deno.test("udp batch: sockaddr_in and sockaddr_in6 decode to the sender's address; other families to null", () => {
  const v4 = new Uint8Array(16);
  v4.set([2, 0, 0x1f, 0x90, 127, 0, 0, 9]);
  assert.deepEqual(decodeSockaddr(v4), { transport: "udp", hostname: "127.0.0.9", port: 8080 });
  const v6 = new Uint8Array(28);
  v6.set([10, 0, 0x00, 0x35]);
  v6.set([0x20, 0x01, 0x0d, 0xb8], 8);
  v6[23] = 1;
  assert.deepEqual(decodeSockaddr(v6), { transport: "udp", hostname: "2001:db8:0:0:0:0:0:1", port: 53 });
  assert.equal(decodeSockaddr(new Uint8Array([1, 0, 0, 0])), null); // AF_UNIX
});

Deno.test({
  name: "udp batch: a reply the socket cannot send is counted and reported, not lost in silence",
  ignore: !supported,
  async fn() {
    const { server, client, to } = pair();
    try {
      const batch = UdpBatch.open(server);
      assert.ok(batch);
      await client.send(enc.encode("q"), to);
      assert.deepEqual(await takeAll(batch, 1), [1]);
      const errors: unknown[] = [];
      batch.onSendError = (err) => errors.push(err);
      batch.reply(0, new Uint8Array(70_000), server); // over UDP's 65 507 bytes: EMSGSIZE
      batch.reply(0, enc.encode("fits"), server);
      batch.flush(server);
      const end = Date.now() + 2000;
      while (errors.length === 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 5));
      assert.equal(batch.sendFailures, 1);
      assert.equal(errors.length, 1);
      assert.deepEqual(await receiveN(client, 1), ["fits"], "the next reply still goes");
    } finally {
      server.close();
      client.close();
    }
  },
});
