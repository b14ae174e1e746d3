/**
 * The main-thread side of the statsd Worker: starts it on the configured address, relays its
 * counters for `/agent/info`, asks it for each interval's points and stops it. A Worker that dies
 * (an uncaught error in it) is started again on the same port, after 1 s and then up to a minute
 * while it keeps dying: its counters carry on from where they were, the interval it held is lost.
 */
import type { MgmtAnswer, MgmtKind, StatsdOptions, StatsdState, StatsdStats } from "./statsd_aggregator.ts";
import { type FromStatsdWorker, HANDOFF_ACK_EVERY, type ToStatsdWorker } from "./statsd_protocol.ts";
import { udpSocketFds } from "../udp_buffer.ts";
import { hostPort } from "../host_port.ts";

const FLUSH_TIMEOUT_MS = 5000;
/** First wait before a dead Worker is started again; doubled while it keeps dying, up to the max. */
const RESTART_MIN_MS = 1000;
const RESTART_MAX_MS = 60_000;
/** A Worker that lived this long before dying is restarted after the first wait again. */
const HEALTHY_MS = 60_000;
/** TCP lines kept for the next Worker while none runs; more are dropped (counted). */
const MAX_LINES_WHILE_DOWN = 10_000;

const WORKER_URL = new URL("./statsd_worker.ts", import.meta.url).href;

/**
 * What the Worker may do: it parses whatever reaches the port, so it gets its UDP socket's host (any
 * port: a restart binds the same one) and FFI, for recvmmsg; no files (its socket's descriptor comes
 * from this thread), no environment, no processes. FFI cannot be narrowed (a pointer to a buffer
 * needs all of it) and reaches native code: it is the one grant that amounts to more than it says,
 * kept because without it a flood costs one op per datagram; the Worker's code only declares
 * recvmmsg and sendmmsg.
 */
export function statsdPermissions(hostname: string): Deno.PermissionOptionsObject {
  return {
    env: false,
    ffi: true,
    import: false,
    net: [hostname.includes(":") && !hostname.startsWith("[") ? `[${hostname}]` : hostname],
    read: false,
    run: false,
    sys: false,
    write: false,
  };
}

/** A flush's points, and (when asked) the state before it. */
export interface FlushAnswer {
  points: Array<[string, number, number]>;
  state?: StatsdState;
}

const zero = (): StatsdStats => ({ packets: 0, metrics: 0, bad_lines: 0, dropped: 0, flushes: 0 });

export class StatsdWorker {
  lastBad = "";
  port = 0;
  /** Times a dead Worker was started again. */
  restarts = 0;
  /** TCP lines dropped because no Worker ran and MAX_LINES_WHILE_DOWN were waiting. */
  linesDropped = 0;
  /** The running Worker takes queued datagrams in batches (recvmmsg), as of its last stats. */
  batching = false;
  /** The running Worker's counters, and those of the Workers before it (summed). */
  #stats = zero();
  #base = { ...zero(), received: 0, handoffDropped: 0 };
  #received = 0;
  #handoffDropped = 0;
  /** Handed-over datagrams taken since the Worker was last told. */
  #taken = 0;
  #worker: Worker | null = null;
  #startedAt = 0;
  #restartWait = RESTART_MIN_MS;
  #restartTimer: ReturnType<typeof setTimeout> | undefined;
  #stopped = false;
  #local = true;
  #nextId = 1;
  #waiting = new Map<number, (answer: FlushAnswer) => void>();
  #mgmtWaiting = new Map<number, { resolve: (answer: MgmtAnswer) => void; reject: (err: Error) => void }>();
  #pendingLines: string[] = [];
  /** Lines handed over (`handLines`) while no Worker runs: sent ahead of the others to the next one. */
  #pendingHanded: string[] = [];
  #linesQueued = false;

  private constructor(
    readonly hostname: string,
    readonly opts: StatsdOptions,
    readonly onPacket: (bytes: Uint8Array) => void,
    readonly onError: (message: string) => void,
    readonly url: string,
  ) {}

  /**
   * Starts the Worker and waits until its socket is bound (rejects if it cannot bind). `url` is the
   * Worker's module (tests give one that can be made to fail).
   */
  static start(
    hostname: string,
    port: number,
    opts: StatsdOptions,
    onPacket: (bytes: Uint8Array) => void,
    onError: (message: string) => void,
    url = WORKER_URL,
  ): Promise<StatsdWorker> {
    const client = new StatsdWorker(hostname, opts, onPacket, onError, url);
    return new Promise((resolve, reject) => client.#spawn(port, resolve, reject));
  }

  /** Counters since the first Worker started (every 250 ms, at each flush and with each console answer). */
  get stats(): StatsdStats {
    const s = this.#stats, b = this.#base;
    return {
      packets: b.packets + s.packets,
      metrics: b.metrics + s.metrics,
      bad_lines: b.bad_lines + s.bad_lines,
      dropped: b.dropped + s.dropped,
      flushes: b.flushes + s.flushes,
    };
  }

  /** Datagrams and TCP line batches the Workers have taken (grows with every one). */
  get received(): number {
    return this.#base.received + this.#received;
  }

  /** Datagrams a Worker dropped because this thread had too many of them not yet taken. */
  get handoffDropped(): number {
    return this.#base.handoffDropped + this.#handoffDropped;
  }

  /** A new Worker bound to `port`; `ready` once it listens, `failed` if it cannot. */
  #spawn(port: number, ready: (c: StatsdWorker) => void, failed: (err: Error) => void): void {
    let worker: Worker;
    try {
      worker = new Worker(this.url, {
        type: "module",
        deno: { permissions: statsdPermissions(this.hostname) },
      });
    } catch (err) {
      failed(new Error(`statsd worker not started: ${(err as Error).message}`));
      return;
    }
    this.#worker = worker;
    this.#startedAt = Date.now();
    let listening = false;
    worker.onerror = (e) => {
      e.preventDefault();
      if (this.#worker !== worker) return;
      if (!listening) {
        this.#worker = null;
        worker.terminate();
        failed(new Error(`statsd worker failed: ${e.message}`));
      } else this.#died(worker, e.message);
    };
    worker.onmessage = (e: MessageEvent<FromStatsdWorker>) => {
      if (this.#worker !== worker) return;
      const m = e.data;
      switch (m.type) {
        case "listening": {
          listening = true;
          this.port = m.port;
          // its descriptor, which the Worker cannot look up (/proc/self is closed to it)
          const fds = udpSocketFds(m.port);
          if (fds.length === 1) this.#send({ type: "batch", fd: fds[0] });
          if (!this.#local) this.#send({ type: "mode", local: false });
          this.#sendLines();
          ready(this);
          break;
        }
        case "error":
          if (m.fatal) {
            this.#worker = null;
            worker.terminate();
            failed(
              new Error(`statsd.port: cannot listen on ${hostPort(this.hostname, port)} (udp): ${m.message}`),
            );
          } else this.onError(m.message);
          break;
        case "stats":
          this.batching = m.batching;
          this.#stats = m.stats;
          this.lastBad = m.lastBad || this.lastBad;
          this.#received = m.received;
          this.#handoffDropped = m.handoffDropped;
          break;
        case "mgmt":
          this.#received = m.received;
          this.#stats = m.stats;
          this.lastBad = m.lastBad || this.lastBad;
          this.#mgmtWaiting.get(m.id)?.resolve(m.answer);
          this.#mgmtWaiting.delete(m.id);
          break;
        case "packet":
          this.onPacket(m.bytes);
          if (++this.#taken >= HANDOFF_ACK_EVERY) {
            this.#send({ type: "taken", n: this.#taken });
            this.#taken = 0;
          }
          break;
        case "flushed":
          this.#stats = m.stats;
          this.#waiting.get(m.id)?.({ points: m.points, state: m.state });
          this.#waiting.delete(m.id);
          break;
      }
    };
    worker.postMessage(
      { type: "start", hostname: this.hostname, port, opts: this.opts } satisfies ToStatsdWorker,
    );
  }

  /**
   * The Worker died: its counters go to the base, whoever waits on it is answered now, and a new one
   * is started on the same port after a wait that doubles while Workers keep dying young.
   */
  #died(worker: Worker, message: string): void {
    worker.terminate();
    this.#worker = null;
    const b = this.#base, s = this.#stats;
    b.packets += s.packets;
    b.metrics += s.metrics;
    b.bad_lines += s.bad_lines;
    b.dropped += s.dropped;
    b.flushes += s.flushes;
    b.received += this.#received;
    b.handoffDropped += this.#handoffDropped;
    this.#stats = zero();
    this.#received = this.#handoffDropped = this.#taken = 0;
    for (const resolve of this.#waiting.values()) resolve({ points: [] });
    this.#waiting.clear();
    for (const w of this.#mgmtWaiting.values()) w.reject(new Error("statsd worker died"));
    this.#mgmtWaiting.clear();
    if (Date.now() - this.#startedAt >= HEALTHY_MS) this.#restartWait = RESTART_MIN_MS;
    const wait = this.#restartWait;
    this.#restartWait = Math.min(wait * 2, RESTART_MAX_MS);
    this.onError(
      `statsd worker died (${message}); the points of its interval are lost; restarting it on port ${this.port} in ${
        wait / 1000
      } s`,
    );
    this.#scheduleRestart(wait);
  }

  #scheduleRestart(wait: number): void {
    if (this.#stopped) return;
    this.#restartTimer = setTimeout(() => {
      this.#restartTimer = undefined;
      if (this.#stopped) return;
      this.#spawn(this.port, () => this.restarts++, (err) => {
        const next = this.#restartWait;
        this.#restartWait = Math.min(next * 2, RESTART_MAX_MS);
        this.onError(`statsd worker restart failed (${err.message}); trying again in ${next / 1000} s`);
        this.#scheduleRestart(next);
      });
    }, wait);
  }

  #send(m: ToStatsdWorker): void {
    this.#worker?.postMessage(m);
  }

  /** Aggregate in the Worker (true) or hand every datagram to the main thread (ts routing). */
  setLocal(local: boolean): void {
    this.#local = local;
    this.#send({ type: "mode", local });
  }

  /** Lines for this aggregator (statsd over TCP), sent in one message per event-loop turn. */
  line(line: string): void {
    if (!this.#worker && this.#pendingLines.length >= MAX_LINES_WHILE_DOWN) {
      this.linesDropped++;
      return;
    }
    this.#pendingLines.push(line);
    if (this.#linesQueued) return;
    this.#linesQueued = true;
    setTimeout(() => {
      this.#linesQueued = false;
      this.#sendLines();
    }, 0);
  }

  /**
   * What the main thread aggregated under ts routing, handed to this aggregator when it ends: not
   * counted again in its statsd.metrics (the main thread counted them). Sent now, after the lines
   * queued before them; while no Worker runs they wait (within MAX_LINES_WHILE_DOWN, as TCP lines do).
   */
  handLines(lines: string[]): void {
    if (!lines.length) return;
    if (this.#worker) {
      this.#sendLines();
      this.#send({ type: "lines", lines, handed: true });
      return;
    }
    const room = Math.max(0, MAX_LINES_WHILE_DOWN - this.#pendingHanded.length);
    this.#pendingHanded.push(...lines.slice(0, room));
    this.linesDropped += Math.max(0, lines.length - room);
  }

  /** The lines waiting, to the running Worker (none runs: they wait for the next one). */
  #sendLines(): void {
    if (!this.#worker) return;
    if (this.#pendingHanded.length) {
      this.#send({ type: "lines", lines: this.#pendingHanded, handed: true });
      this.#pendingHanded = [];
    }
    if (!this.#pendingLines.length) return;
    const lines = this.#pendingLines;
    this.#pendingLines = [];
    this.#send({ type: "lines", lines });
  }

  /** The interval's points at `ts` (empty if the Worker does not answer within 5 s or dies). */
  async flush(ts: number): Promise<Array<[string, number, number]>> {
    return (await this.flushWith(ts)).points;
  }

  /** Whether a Worker runs now (none between a death and its restart). */
  get running(): boolean {
    return this.#worker !== null;
  }

  /**
   * A flush that first adds `merge` to the Worker's state (what a stop handed over), and with
   * `keep` also answers the state as it was before the flush reset it (for the next process).
   * Empty (no state) if the Worker does not answer within 5 s or dies.
   */
  flushWith(ts: number, extra: { merge?: StatsdState; keep?: boolean } = {}): Promise<FlushAnswer> {
    if (!this.#worker) return Promise.resolve({ points: [] });
    const id = this.#nextId++;
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.#waiting.delete(id);
        this.onError("statsd worker did not answer a flush within 5 s");
        resolve({ points: [] });
      }, FLUSH_TIMEOUT_MS);
      this.#waiting.set(id, (answer) => {
        clearTimeout(t);
        resolve(answer);
      });
      this.#send({ type: "flush", id, ts, ...extra });
    });
  }

  /**
   * The management console's question to the aggregator: one kind's values, or (with `buckets`)
   * etsy's del* of them, or (kind null) only its sizes. Rejects if the Worker does not answer within
   * 5 s, dies, or is being restarted.
   */
  mgmt(kind: MgmtKind | null, buckets?: string[]): Promise<MgmtAnswer> {
    if (!this.#worker) return Promise.reject(new Error("statsd worker is restarting"));
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        this.#mgmtWaiting.delete(id);
        reject(new Error("statsd worker did not answer within 5 s"));
      }, FLUSH_TIMEOUT_MS);
      this.#mgmtWaiting.set(id, {
        resolve: (answer) => {
          clearTimeout(t);
          resolve(answer);
        },
        reject: (err) => {
          clearTimeout(t);
          reject(err);
        },
      });
      this.#send({ type: "mgmt", id, kind, buckets });
    });
  }

  /** Asks the Worker to close its socket, then ends it (and any restart planned). */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#restartTimer);
    const worker = this.#worker;
    this.#worker = null;
    if (worker) {
      worker.postMessage({ type: "stop" } satisfies ToStatsdWorker);
      await new Promise((r) => setTimeout(r, 20));
      worker.terminate();
    }
    this.port = 0;
  }
}
