/**
 * The statsd Worker: receives datagrams with `Deno.listenDatagram` + `receive(oneReusedBuffer)`,
 * aggregates them (or, under ts routing, hands them to the main thread), and answers flushes.
 * Datagrams already queued when a receive() wakes it are taken in batches (lib/udp_mmsg.ts).
 * Imports only its message protocol, the pure aggregator and the batch receiver. Runs with its
 * UDP host and FFI only (statsd_worker_client.ts says why).
 */
/// <reference lib="deno.worker" />
import { StatsdAggregator } from "./statsd_aggregator.ts";
import { type FromStatsdWorker, HANDOFF_MAX, type ToStatsdWorker } from "./statsd_protocol.ts";
import { UdpBatch } from "../udp_mmsg.ts";

let agg: StatsdAggregator | null = null;
let conn: Deno.DatagramConn | null = null;
let local = true;
let closing = false;
/** Datagrams and TCP line batches taken: the main thread sees from it when the last one came. */
let received = 0;
/** Datagrams handed to the main thread and not yet taken by it, and those dropped at HANDOFF_MAX. */
let handedOver = 0;
let handoffDropped = 0;
/** recvmmsg on our socket, once the main thread told us its descriptor (`batch`). */
let batch: UdpBatch | null = null;

function post(m: FromStatsdWorker, transfer: Transferable[] = []): void {
  self.postMessage(m, transfer);
}

async function receiveLoop(c: Deno.DatagramConn, a: StatsdAggregator): Promise<void> {
  const buf = new Uint8Array(65_536);
  while (!closing) {
    let bytes: Uint8Array;
    try {
      [bytes] = await c.receive(buf);
    } catch (err) {
      if (closing) return;
      post({ type: "error", message: (err as Error).message, fatal: false });
      await new Promise((r) => setTimeout(r, 10));
      continue;
    }
    take(bytes, a);
    // the datagrams queued meanwhile, by one system call per 32 rather than an op each; bounded, so
    // that flushes and stats requests are answered during a flood
    const b = batch;
    b?.drain(16, () => closing, (i) => take(b.datagram(i), a));
  }
}

/** One datagram: aggregated here, or (ts routing) handed to the main thread as a copy. */
function take(bytes: Uint8Array, a: StatsdAggregator): void {
  received++;
  if (local) a.ingestBytes(bytes);
  else if (handedOver >= HANDOFF_MAX) {
    handoffDropped++; // a flood faster than the main thread routes: the queue between them stays bounded
  } else {
    handedOver++;
    const copy = bytes.slice();
    post({ type: "packet", bytes: copy }, [copy.buffer]);
  }
}

/** Lines to the main thread as datagrams of at most ~60 000 characters (what it routes as received). */
function handOver(lines: string[]): void {
  const enc = new TextEncoder();
  for (let i = 0; i < lines.length;) {
    let n = 0, j = i;
    while (j < lines.length && (j === i || n + lines[j].length < 60_000)) n += lines[j++].length + 1;
    const bytes = enc.encode(lines.slice(i, j).join("\n"));
    handedOver++;
    post({ type: "packet", bytes }, [bytes.buffer]);
    i = j;
  }
}

self.onmessage = (e: MessageEvent<ToStatsdWorker>) => {
  const m = e.data;
  switch (m.type) {
    case "start": {
      agg = new StatsdAggregator(m.opts);
      try {
        conn = Deno.listenDatagram({ hostname: m.hostname, port: m.port, transport: "udp" });
      } catch (err) {
        post({ type: "error", message: (err as Error).message, fatal: true });
        return;
      }
      post({ type: "listening", port: (conn.addr as Deno.NetAddr).port });
      const a = agg;
      setInterval(
        () =>
          post({
            type: "stats",
            stats: { ...a.stats },
            lastBad: a.lastBad,
            received,
            handoffDropped,
            batching: batch !== null,
          }),
        250,
      );
      void receiveLoop(conn, a);
      break;
    }
    case "mode":
      // ts routing starts: what was aggregated here goes to the main thread as lines, ahead of the
      // datagrams that follow, to be routed to each name's owner; kept here, its gauges would be
      // written again at every flush, over the owner's newer values
      // (the main thread counts each line it routes in statsd.metrics: the Worker's count gives them
      // back, so that the two together count each metric received once)
      if (local && !m.local && agg) {
        const lines = agg.drainLines();
        agg.stats.metrics -= lines.length;
        handOver(lines);
      }
      local = m.local;
      break;
    case "taken":
      handedOver = Math.max(0, handedOver - m.n);
      break;
    case "batch":
      // 64 KiB slots: no UDP datagram is longer, so none is cut
      if (!closing && conn) batch = UdpBatch.onFd(m.fd, 32, 65_536);
      break;
    case "lines":
      if (!agg) break;
      if (m.handed) {
        // the main thread's aggregate when ts routing ends: its metrics are counted there already
        const counted = agg.stats.metrics;
        for (const l of m.lines) agg.ingestLine(l);
        agg.stats.metrics = counted;
        break;
      }
      received++;
      for (const l of m.lines) agg.ingestLine(l);
      break;
    case "mgmt":
      if (agg) {
        const answer = agg.mgmt(m.kind, m.buckets);
        post({ type: "mgmt", id: m.id, answer, received, stats: { ...agg.stats }, lastBad: agg.lastBad });
      }
      break;
    case "flush": {
      if (agg && m.merge) agg.mergeState(m.merge);
      const state = agg && m.keep ? agg.exportState() : undefined;
      post({
        type: "flushed",
        id: m.id,
        points: agg ? agg.flush(m.ts) : [],
        stats: { ...agg!.stats },
        state,
      });
      break;
    }
    case "stop":
      closing = true;
      try {
        conn?.close();
      } catch { /* already closed */ }
      self.close();
      break;
  }
};
