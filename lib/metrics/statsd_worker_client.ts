/**
 * The main-thread side of the statsd Worker: starts it on the configured address, relays its
 * counters for `/agent/info`, asks it for each interval's points and stops it.
 */
import type { MgmtAnswer, MgmtKind, StatsdOptions, StatsdStats } from "./statsd_aggregator.ts";
import { type FromStatsdWorker, HANDOFF_ACK_EVERY, type ToStatsdWorker } from "./statsd_protocol.ts";

const FLUSH_TIMEOUT_MS = 5000;

export class StatsdWorker {
  /** Latest counters reported by the Worker (every 250 ms, at each flush and with each console answer). */
  stats: StatsdStats = { packets: 0, metrics: 0, bad_lines: 0, dropped: 0, flushes: 0 };
  lastBad = "";
  port = 0;
  /** Datagrams and TCP line batches the Worker has taken (grows with every one). */
  received = 0;
  /** Datagrams the Worker dropped because this thread had too many of them not yet taken. */
  handoffDropped = 0;
  /** Handed-over datagrams taken since the Worker was last told. */
  #taken = 0;
  #worker: Worker;
  #nextId = 1;
  #waiting = new Map<number, (points: Array<[string, number, number]>) => void>();
  #mgmtWaiting = new Map<number, (answer: MgmtAnswer) => void>();
  #pendingLines: string[] = [];
  #linesQueued = false;

  private constructor(
    worker: Worker,
    readonly onPacket: (bytes: Uint8Array) => void,
    readonly onError: (message: string) => void,
  ) {
    this.#worker = worker;
  }

  /** Starts the Worker and waits until its socket is bound (rejects if it cannot bind). */
  static start(
    hostname: string,
    port: number,
    opts: StatsdOptions,
    onPacket: (bytes: Uint8Array) => void,
    onError: (message: string) => void,
  ): Promise<StatsdWorker> {
    const worker = new Worker(new URL("./statsd_worker.ts", import.meta.url).href, { type: "module" });
    const client = new StatsdWorker(worker, onPacket, onError);
    return new Promise((resolve, reject) => {
      worker.onerror = (e) => {
        e.preventDefault();
        reject(new Error(`statsd worker failed: ${e.message}`));
        onError(`statsd worker failed: ${e.message}`);
      };
      worker.onmessage = (e: MessageEvent<FromStatsdWorker>) => {
        const m = e.data;
        switch (m.type) {
          case "listening":
            client.port = m.port;
            resolve(client);
            break;
          case "error":
            if (m.fatal) {
              worker.terminate();
              reject(new Error(`statsd.port: cannot listen on ${hostname}:${port} (udp): ${m.message}`));
            } else onError(m.message);
            break;
          case "stats":
            client.stats = m.stats;
            client.lastBad = m.lastBad;
            client.received = m.received;
            client.handoffDropped = m.handoffDropped;
            break;
          case "mgmt":
            client.received = m.received;
            client.stats = m.stats;
            client.lastBad = m.lastBad;
            client.#mgmtWaiting.get(m.id)?.(m.answer);
            client.#mgmtWaiting.delete(m.id);
            break;
          case "packet":
            onPacket(m.bytes);
            if (++client.#taken >= HANDOFF_ACK_EVERY) {
              client.#send({ type: "taken", n: client.#taken });
              client.#taken = 0;
            }
            break;
          case "flushed":
            client.stats = m.stats;
            client.#waiting.get(m.id)?.(m.points);
            client.#waiting.delete(m.id);
            break;
        }
      };
      client.#send({ type: "start", hostname, port, opts });
    });
  }

  #send(m: ToStatsdWorker): void {
    this.#worker.postMessage(m);
  }

  /** Aggregate in the Worker (true) or hand every datagram to the main thread (ts routing). */
  setLocal(local: boolean): void {
    this.#send({ type: "mode", local });
  }

  /** Lines for this aggregator (statsd over TCP), sent in one message per event-loop turn. */
  line(line: string): void {
    this.#pendingLines.push(line);
    if (this.#linesQueued) return;
    this.#linesQueued = true;
    setTimeout(() => {
      this.#linesQueued = false;
      const lines = this.#pendingLines;
      this.#pendingLines = [];
      if (lines.length) this.#send({ type: "lines", lines });
    }, 0);
  }

  /** The interval's points at `ts` (empty if the Worker does not answer within 5 s). */
  flush(ts: number): Promise<Array<[string, number, number]>> {
    const id = this.#nextId++;
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.#waiting.delete(id);
        this.onError("statsd worker did not answer a flush within 5 s");
        resolve([]);
      }, FLUSH_TIMEOUT_MS);
      this.#waiting.set(id, (points) => {
        clearTimeout(t);
        resolve(points);
      });
      this.#send({ type: "flush", id, ts });
    });
  }

  /**
   * The management console's question to the aggregator: one kind's values, or (with `buckets`)
   * etsy's del* of them, or (kind null) only its sizes. Rejects if the Worker does not answer within 5 s.
   */
  mgmt(kind: MgmtKind | null, buckets?: string[]): Promise<MgmtAnswer> {
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        this.#mgmtWaiting.delete(id);
        reject(new Error("statsd worker did not answer within 5 s"));
      }, FLUSH_TIMEOUT_MS);
      this.#mgmtWaiting.set(id, (answer) => {
        clearTimeout(t);
        resolve(answer);
      });
      this.#send({ type: "mgmt", id, kind, buckets });
    });
  }

  /** Asks the Worker to close its socket, then ends it. */
  async stop(): Promise<void> {
    this.#send({ type: "stop" });
    await new Promise((r) => setTimeout(r, 20));
    this.#worker.terminate();
    this.port = 0;
  }
}
