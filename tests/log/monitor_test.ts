/**
 * `kunai monitor`: the sink's taps get every line of their level whatever the sink's own (without
 * the file or the counts seeing the extra lines); `GET /agent/monitor` streams them, is a write
 * route, refuses a ninth reader and a bad level, and ends when the agent stops.
 */
import assert from "node:assert/strict";
import { boundedLine, LogSink, MAX_LINE_CHARS } from "../../lib/log/mod.ts";
import { startLiveAgent } from "../security/sec_helpers.ts";

Deno.test("log taps: their own level, nothing more in the file's counts, untapped for good", () => {
  const sink = new LogSink({ level: "INFO", stderr: false, node: "n", now: () => 0 });
  const debug: string[] = [];
  const errors: string[] = [];
  const untap = sink.tap("DEBUG", (l) => debug.push(l));
  sink.tap("ERROR", (l) => errors.push(l));
  const log = sink.logger("part");
  log.debug("d1");
  log.info("i1");
  log.error("e1");
  assert.deepEqual(debug, [
    "n [1970-01-01T00:00:00.000Z][part] DEBUG: d1",
    "n [1970-01-01T00:00:00.000Z][part] INFO: i1",
    "n [1970-01-01T00:00:00.000Z][part] ERROR: e1",
  ]);
  assert.deepEqual(errors, ["n [1970-01-01T00:00:00.000Z][part] ERROR: e1"]);
  assert.equal(sink.counts.DEBUG, 0, "the sink itself still logs at INFO");
  untap();
  log.debug("d2");
  assert.equal(debug.length, 3);
});

Deno.test("a message cannot forge a log line or reach the reader's terminal: control characters escaped", () => {
  // node names, tags and check output come from other agents and are logged as they came
  const dir = Deno.makeTempDirSync({ prefix: "kunai-log-" });
  try {
    const sink = new LogSink({
      level: "INFO",
      stderr: false,
      node: "n",
      now: () => 0,
      file: `${dir}/daemon.log`,
    });
    const tapped: string[] = [];
    sink.tap("INFO", (l) => tapped.push(l));
    const name =
      "web\nn [1970-01-01T00:00:00.000Z][gossip] ERROR: forged\r\u001b]0;owned\u0007\u009b2J\u0000";
    sink.logger("gossip").info(`member ${name} joined\tok`, "extra\u001b[31m");
    sink.close();
    const want =
      "n [1970-01-01T00:00:00.000Z][gossip] INFO: member web\\nn [1970-01-01T00:00:00.000Z][gossip] " +
      "ERROR: forged\\r\\x1b]0;owned\\x07\\x9b2J\\x00 joined\tok extra\\x1b[31m";
    assert.deepEqual(tapped, [want]);
    assert.equal(Deno.readTextFileSync(`${dir}/daemon.log`), want + "\n");
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

async function readUntil(reader: ReadableStreamDefaultReader<Uint8Array>, re: RegExp): Promise<string> {
  const dec = new TextDecoder();
  let text = "";
  const deadline = Date.now() + 10_000;
  while (!re.test(text)) {
    if (Date.now() > deadline) throw new Error(`not seen ${re}; got: ${text}`);
    const { done, value } = await reader.read();
    if (done) throw new Error(`stream ended before ${re}; got: ${text}`);
    text += dec.decode(value, { stream: true });
  }
  return text;
}

Deno.test({
  name: "GET /agent/monitor streams the log live and ends when the agent stops",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const a = await startLiveAgent("mon");
    let closed = false;
    try {
      const res = await a.unix("/agent/monitor?level=debug", { signal: AbortSignal.timeout(60_000) });
      assert.equal(res.status, 200);
      const reader = res.body!.getReader();
      await readUntil(reader, /kunai monitor: mon, log lines at DEBUG and above\n/);
      await (await a.unix("/agent/events/deploy", { method: "POST", body: "v1" })).body?.cancel();
      await readUntil(reader, /\[gossip\] INFO: event deploy from mon/);

      for (const [path, status] of [["/agent/monitor?level=LOUD", 400]] as const) {
        const r = await a.unix(path);
        assert.equal(r.status, status);
        await r.body?.cancel();
      }
      const tcp = await a.tcp("/agent/monitor");
      assert.ok([401, 403].includes(tcp.status), `over TCP without a token: ${tcp.status}`);
      await tcp.body?.cancel();
      // seven more readers are served, a ninth is not
      const more = await Promise.all(Array.from({ length: 7 }, () => a.unix("/agent/monitor")));
      assert.ok(more.every((r) => r.status === 200));
      const ninth = await a.unix("/agent/monitor");
      assert.equal(ninth.status, 429);
      await ninth.body?.cancel();
      for (const r of more) await r.body?.cancel();
      await new Promise((r) => setTimeout(r, 50));
      const again = await a.unix("/agent/monitor");
      assert.equal(again.status, 200, "a reader that went frees its place");
      await again.body?.cancel();

      const stopping = a.close();
      closed = true;
      await readUntil(reader, /stopping: test over/);
      const dec = new TextDecoder();
      let tail = "";
      while (true) {
        const { done, value } = await reader.read();
        if (done) break;
        tail += dec.decode(value);
      }
      assert.doesNotMatch(tail, /kunai monitor/);
      await stopping;
    } finally {
      if (!closed) await a.close();
    }
  },
});

Deno.test("a line carries at most MAX_LINE_CHARS of its message, and says it was cut", () => {
  const sink = new LogSink({ level: "INFO", stderr: false, node: "n", now: () => 0 });
  const log = sink.logger("exec");
  // 1 MB of DEL characters: 4 MB escaped, once kept 20 times for /agent/info
  log.warn(`refused from ${"\x7f".repeat(1_000_000)}`);
  log.warn("a", "b".repeat(MAX_LINE_CHARS));
  log.warn(`${"x".repeat(MAX_LINE_CHARS - 1)}\u{1F600}`);
  log.warn("short");
  const [del, extra, pair, short] = sink.recent.WARNING;
  const head = "n [1970-01-01T00:00:00.000Z][exec] WARNING: ";
  assert.ok(del.startsWith(`${head}refused from \\x7f\\x7f`));
  assert.ok(del.endsWith(" … (cut: the message had 1000013 characters)"), del.slice(-80));
  assert.ok(del.length < head.length + MAX_LINE_CHARS + 60, `${del.length} characters`);
  assert.ok(extra.endsWith(`bbb … (cut: the message had ${MAX_LINE_CHARS + 2} characters)`));
  assert.ok(pair.endsWith(`xxx … (cut: the message had ${MAX_LINE_CHARS + 1} characters)`), "no half pair");
  assert.equal(short, `${head}short`);
  assert.equal(boundedLine("x".repeat(MAX_LINE_CHARS)), "x".repeat(MAX_LINE_CHARS));
});
