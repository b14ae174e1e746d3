/**
 * The DNS server out of file descriptors: a TCP client waits in the listen backlog while each accept
 * fails with EMFILE. The accept loop must pause between failures (not spin on them), keep UDP
 * answering, and accept the waiting client once descriptors are free. The server runs in a child
 * process under `prlimit --nofile` (the test process keeps its own limit), which fills its
 * descriptors with /dev/null when told to.
 */
import assert from "node:assert/strict";
import { freePort, until } from "../helpers.ts";
import { decode, query } from "./dns_helpers.ts";

/** Sends one framed DNS query over a TCP connection and reads its decoded answer. */
async function tcpQuery(conn: Deno.Conn, name: string): Promise<ReturnType<typeof decode>> {
  const q = query(name);
  const framed = new Uint8Array(2 + q.length);
  framed[0] = q.length >> 8;
  framed[1] = q.length & 255;
  framed.set(q, 2);
  await conn.write(framed);
  const buf = new Uint8Array(4096);
  let got = 0;
  while (got < 2 || got < 2 + ((buf[0] << 8) | buf[1])) {
    const n = await conn.read(buf.subarray(got));
    if (n === null) throw new Error("closed before the answer");
    got += n;
  }
  return decode(buf.subarray(2, got));
}

const accepts = (lines: string[]) => lines.filter((l) => l.startsWith("error tcp-accept")).length;

Deno.test({
  name:
    "dns server: out of file descriptors, accept pauses between failures; the waiting client is served once fds free",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const addr = "127.0.14.30";
    const port = freePort(addr);
    const child = new Deno.Command("prlimit", {
      args: [
        "--nofile=256:256",
        "--",
        Deno.execPath(),
        "run",
        "-A",
        "--no-check",
        new URL("./emfile_child.ts", import.meta.url).pathname,
        addr,
        String(port),
      ],
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    const lines: string[] = [];
    const reading = (async () => {
      let text = "";
      for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
        text += chunk;
        const parts = text.split("\n");
        text = parts.pop()!;
        lines.push(...parts);
      }
    })();
    const stdin = child.stdin.getWriter();
    const tell = (cmd: string) => stdin.write(new TextEncoder().encode(`${cmd}\n`));
    let conn: Deno.Conn | null = null;
    try {
      await until("the child listening", () => lines.includes("ready"), 30_000);
      await tell("fill");
      await until("its descriptors filled", () => lines.some((l) => l.startsWith("full ")));
      // the kernel completes the handshake; the server cannot accept it
      conn = await Deno.connect({ hostname: addr, port, transport: "tcp" });
      const answered = tcpQuery(conn, "web.tag.dc1.kunai");
      answered.catch(() => {}); // awaited below; a failed assertion before must not leave it unhandled
      await until("an accept failure", () => accepts(lines) > 0);
      assert.match(lines.find((l) => l.startsWith("error tcp-accept"))!, /Too many open files|os error 24/);
      // while out of descriptors, the loop pauses 100 ms between failures: ~10 a second, not thousands
      const before = accepts(lines);
      await new Promise((r) => setTimeout(r, 1000));
      const failures = accepts(lines) - before;
      assert.ok(failures >= 3 && failures <= 30, `${failures} accept failures in a second`);
      // UDP still answers (its socket is open already)
      const udp = Deno.listenDatagram({ hostname: addr, port: 0, transport: "udp" });
      try {
        await udp.send(query("web.tag.dc1.kunai"), { hostname: addr, port, transport: "udp" });
        const [bytes] = await udp.receive();
        assert.deepEqual(decode(bytes).answers.map((a: { data: string }) => a.data), ["10.1.2.3"]);
      } finally {
        udp.close();
      }
      // descriptors free again: the waiting client is accepted and answered
      await tell("free");
      const answer = await answered;
      assert.deepEqual(answer.answers.map((a: { data: string }) => a.data), ["10.1.2.3"]);
    } finally {
      try {
        conn?.close();
      } catch { /* closed */ }
      child.kill("SIGKILL");
      await child.status;
      await stdin.close().catch(() => {});
      await reading.catch(() => {});
    }
  },
});
