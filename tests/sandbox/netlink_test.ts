/**
 * The broker's `listening` op: the LISTEN lines of /proc/net/tcp and tcp6 from the kernel's socket
 * diagnostics, in the files' own format (parsed by the same parser, the same entries).
 */
import assert from "node:assert/strict";
import { listeningText, listenRequest, parseListenReplies } from "../../lib/sandbox/netlink.ts";
import { fileOp } from "../../lib/sandbox/broker.ts";
import { parseProcNet } from "../../lib/collectors/parsers/sockets.ts";

/** One inet_diag reply message for a socket of `family` on `addr` (16 bytes, network order) and `port`. */
function reply(family: number, addr: number[], port: number): Uint8Array {
  const b = new Uint8Array(16 + 72);
  const v = new DataView(b.buffer);
  v.setUint32(0, b.length, true);
  v.setUint16(4, 20, true);
  b[16] = family;
  b[17] = 10; // LISTEN
  v.setUint16(20, port, false);
  b.set(addr, 24);
  return b;
}
const done = () => {
  const b = new Uint8Array(20);
  new DataView(b.buffer).setUint32(0, 20, true);
  new DataView(b.buffer).setUint16(4, 3, true);
  return b;
};
const concat = (...parts: Uint8Array[]) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) out.set(p, (off += p.length) - p.length);
  return out;
};

Deno.test("netlink listening: replies become /proc/net/tcp* lines, parsed like the files", () => {
  const req = listenRequest(10);
  const v = new DataView(req.buffer);
  assert.equal(v.getUint32(0, true), req.length);
  assert.equal(req[16], 10, "AF_INET6");
  assert.equal(req[17], 6, "TCP");
  assert.equal(v.getUint32(20, true), 1 << 10, "LISTEN only");

  const lines4 = ["header"];
  const batch4 = concat(reply(2, [127, 0, 0, 1], 6379), reply(2, [0, 0, 0, 0], 22));
  assert.equal(parseListenReplies(batch4, 2, lines4), false, "not done yet");
  assert.equal(parseListenReplies(done(), 2, lines4), true);
  assert.deepEqual(parseProcNet(lines4.join("\n") + "\n", "tcp"), [
    { proto: "tcp", source: "127.0.0.1:6379", dest: "0.0.0.0:*", state: "LISTEN" },
    { proto: "tcp", source: "0.0.0.0:22", dest: "0.0.0.0:*", state: "LISTEN" },
  ]);

  const lines6 = ["header"];
  const loop6 = [...Array(15).fill(0), 1];
  const mapped = [...Array(10).fill(0), 255, 255, 127, 0, 0, 1];
  assert.equal(
    parseListenReplies(concat(reply(10, loop6, 80), reply(10, mapped, 8080), done()), 10, lines6),
    true,
  );
  assert.deepEqual(parseProcNet(lines6.join("\n") + "\n", "tcp6").map((e) => e.source), [
    "::1:80",
    "::ffff:127.0.0.1:8080",
  ]);
  const err = new Uint8Array(36);
  new DataView(err.buffer).setUint32(0, 36, true);
  new DataView(err.buffer).setUint16(4, 2, true);
  new DataView(err.buffer).setInt32(16, -22, true);
  assert.throws(() => parseListenReplies(err, 2, []), /netlink error 22/);
  assert.throws(() => parseListenReplies(new Uint8Array(20).fill(255), 2, []), /malformed/);
});

Deno.test("netlink listening: the same listeners as the LISTEN lines of /proc/net/tcp and tcp6", async () => {
  if (Deno.build.os !== "linux" || listeningText(4) === null) return; // nothing to compare with
  const mine = [Deno.listen({ hostname: "127.0.0.1", port: 0 }), Deno.listen({ hostname: "::1", port: 0 })];
  try {
    for (const [version, proto] of [[4, "tcp"], [6, "tcp6"]] as const) {
      const ours = mine.map((l) => (l.addr as Deno.NetAddr).port);
      const key = (text: string) => parseProcNet(text, proto).map((e) => JSON.stringify(e)).sort();
      // other processes may open or close listeners between the two reads: compare again then
      let same = false, viaNetlink: string[] = [];
      for (let attempt = 0; attempt < 5 && !same; attempt++) {
        viaNetlink = key(await fileOp({ op: "listening", path: `/proc/net/${proto}` }) as string);
        same =
          JSON.stringify(viaNetlink) === JSON.stringify(key(Deno.readTextFileSync(`/proc/net/${proto}`)));
      }
      assert.ok(same, `${proto}: netlink and the file disagree`);
      const port = ours[version === 4 ? 0 : 1];
      assert.ok(
        viaNetlink.some((e) => e.includes(`:${port}"`)),
        `${proto}: our listener on ${port} is there`,
      );
    }
  } finally {
    for (const l of mine) l.close();
  }
  await assert.rejects(fileOp({ op: "listening", path: "/proc/net/udp" }), /not \/proc\/net\/tcp/);
});
