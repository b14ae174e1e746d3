import assert from "node:assert/strict";
import { formatBytes, setUdpRecvBuffer, udpInodes, udpRecvBuffer } from "../lib/udp_buffer.ts";

const rmem = (name: string) => Number(Deno.readTextFileSync(`/proc/sys/net/core/${name}`).trim());

function withSocket(fn: (port: number) => void): void {
  const conn = Deno.listenDatagram({ hostname: "127.0.0.1", port: 0, transport: "udp" });
  try {
    fn((conn.addr as Deno.NetAddr).port);
  } finally {
    conn.close();
  }
}

Deno.test("a UDP socket gets the receive buffer asked for, up to net.core.rmem_max", () => {
  withSocket((port) => {
    assert.equal(udpRecvBuffer(port), rmem("rmem_default"), "a fresh socket has the system's default");
    const ask = 1 << 20;
    const r = setUdpRecvBuffer(port, ask);
    // Linux grants min(asked, rmem_max) and reports twice that
    const granted = Math.min(ask, rmem("rmem_max"));
    assert.equal(r.effective, 2 * granted);
    assert.equal(udpRecvBuffer(port), 2 * granted);
    assert.equal(r.requested, ask);
    assert.equal(r.note === undefined, granted === ask, r.note ?? "no note");
  });
});

Deno.test("a size over net.core.rmem_max is capped and the note says how to raise the cap", () => {
  withSocket((port) => {
    const max = rmem("rmem_max");
    if (max >= 1 << 30) return; // nothing above the cap to ask for on this host
    const r = setUdpRecvBuffer(port, max + 4096);
    assert.equal(r.effective, 2 * max);
    assert.match(
      r.note ?? "",
      /net\.core\.rmem_max caps the receive buffer at .*sysctl -w net\.core\.rmem_max=/,
    );
  });
});

Deno.test("0 keeps the system's default; a port without a socket of ours is left alone and named", () => {
  withSocket((port) => {
    assert.deepEqual(setUdpRecvBuffer(port, 0), { requested: 0, effective: rmem("rmem_default") });
    assert.equal(udpRecvBuffer(port), rmem("rmem_default"));
  });
  // a port some other process's socket may hold: never touched, because it is not among our fds
  const r = setUdpRecvBuffer(9, 1 << 20);
  assert.equal(r.effective, 0);
  assert.match(r.note ?? "", /no UDP socket of this process on port 9/);
});

Deno.test("/proc/net/udp lines are matched by their local port only, unbound rows skipped", () => {
  const v4 = [
    "   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops",
    "  123: 0F00007F:1FBD 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 5770657 2 0000000000000000 0",
    "  124: 0100007F:1FBE 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 5770658 2 0000000000000000 0",
    "  125: 0100007F:1FBD 0100007F:1FBE 01 00000000:00000000 00:00000000 00000000     0        0 0 2 0000000000000000 0",
  ].join("\n");
  const v6 = [
    "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops",
    "  10: 00000000000000000000000000000000:1FBD 00000000000000000000000000000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 99 2 0000000000000000 0",
  ].join("\n");
  assert.deepEqual([...udpInodes([v4, v6], 8125)].sort(), ["5770657", "99"]);
  assert.deepEqual([...udpInodes([v4], 8126)], ["5770658"]);
  assert.deepEqual([...udpInodes([v4, "", "garbage"], 53)], []);
  assert.equal(formatBytes(4 << 20), "4 MiB");
  assert.equal(formatBytes(212_992), "208 KiB");
});
