/**
 * etsy statsd's management console (`mgmt_port`, 8126 in etsy) over TCP: one command per line —
 * `help`, `config`, `health [up|down]`, `stats`, `counters`, `timers`, `gauges`, `delcounters`,
 * `deltimers`, `delgauges`, `quit` — answered in etsy 0.9.0's words (lib/mgmt_server.js,
 * stats.js): the same lines, `END` markers and `util.inspect` listings (etsy_inspect.ts).
 * The statsd state lives in the Worker: listings and deletions ask it through its message channel
 * (`MgmtBackend`), one question at a time for all connections, so the console never holds up the
 * statsd socket. Bounded: connections, line length, idle (or unread) connections.
 */
import type { Clock } from "../clock/mod.ts";
import type { MgmtAnswer, MgmtKind } from "./statsd_aggregator.ts";
import { inspectArrays, inspectNumbers, MAX_ARRAY_SHOWN } from "./etsy_inspect.ts";
import { type StreamPeer, type StreamSink, TcpStreamServer } from "./listeners.ts";

/** etsy's answer to `help`, word for word. */
export const MGMT_HELP =
  "Commands: stats, counters, timers, gauges, delcounters, deltimers, delgauges, health, config, quit\n\n";

/** What the console asks of the statsd aggregators. */
export interface MgmtBackend {
  /** A listing or deletion (or, kind null, the sizes): the Worker's and the main thread's together. */
  ask(kind: MgmtKind | null, buckets?: string[]): Promise<MgmtAnswer>;
  /** A number that grows with every statsd datagram or TCP line received (last_msg_seen). */
  messages(): number;
  /** Bad lines seen since the start (messages.bad_lines_seen). */
  badLines(): number;
  /** kunai's own `name: value` lines after etsy's; a name starting `last_` holds Unix seconds. */
  status(sizes: MgmtAnswer["sizes"] | null): Array<[string, number]>;
  /** The `statsd` settings, for `config`. */
  config(): Record<string, unknown>;
}

export interface MgmtOptions {
  hostname: string;
  port: number;
  clock: Clock;
  backend: MgmtBackend;
  /** Open connections at most (more are closed at once). */
  maxConnections?: number;
  /** Longest command line (a longer one is answered ERROR and skipped). */
  maxLine?: number;
  /** Milliseconds without a read or a write's progress before a connection is closed. */
  idleTimeout?: number;
  onError: (err: Error) => void;
}

/** The management console: a `TcpStreamServer` whose connections answer their command lines. */
export class MgmtServer {
  #server: TcpStreamServer;
  #poll: number;
  /** One aggregator question at a time, whatever the number of connections. */
  #queue: Promise<unknown> = Promise.resolve();
  #startedSec: number;
  /** Unix seconds of the last statsd message seen (etsy: the start until one comes). */
  #lastSeenSec: number;
  #lastMessages: number;
  #commands = 0;
  #errors = 0;
  readonly port: number;
  readonly done: Promise<void>;
  /** `health` as set by `health up|down`; only reported (etsy: for load balancers). */
  health: "up" | "down" = "up";
  readonly maxConnections: number;
  readonly maxLine: number;
  readonly idleTimeout: number;

  /** Binds now (throws if the port is taken) and starts accepting. */
  constructor(readonly opts: MgmtOptions) {
    this.maxConnections = opts.maxConnections ?? 64;
    this.maxLine = opts.maxLine ?? 65_536;
    this.idleTimeout = opts.idleTimeout ?? 60_000;
    this.#server = new TcpStreamServer({
      hostname: opts.hostname,
      port: opts.port,
      idleTimeout: this.idleTimeout,
      maxConnections: this.maxConnections,
      clock: opts.clock,
      sink: (peer) => this.#session(peer),
      onError: opts.onError,
    });
    this.port = this.#server.port;
    this.#startedSec = this.#lastSeenSec = this.#nowSec();
    this.#lastMessages = opts.backend.messages();
    // as often as the server's idle sweep
    this.#poll = opts.clock.setInterval(() => this.#noteMessages(), Math.min(1000, this.idleTimeout));
    this.done = this.#server.done;
  }

  get connections(): number {
    return this.#server.connections;
  }

  /** What /agent/info reports under `statsd.mgmt` (after health and connections). */
  get counts(): { commands: number; errors: number; refused: number; idle_closed: number } {
    return {
      commands: this.#commands,
      errors: this.#errors,
      refused: this.#server.refused,
      idle_closed: this.#server.idleClosed,
    };
  }

  #nowSec(): number {
    return Math.round(this.opts.clock.now() / 1000);
  }

  /** Every second: notes whether a statsd message came. */
  #noteMessages(): void {
    const m = this.opts.backend.messages();
    if (m !== this.#lastMessages) {
      this.#lastMessages = m;
      this.#lastSeenSec = this.#nowSec();
    }
  }

  /** One connection: its command lines, each answered before the next read. */
  #session(peer: StreamPeer): StreamSink {
    let partial = "";
    let skipping = false; // inside a line over maxLine
    /** The lines in `text` answered; false: close the connection. */
    const lines = async (text: string): Promise<boolean> => {
      let start = 0;
      for (let nl = text.indexOf("\n"); nl >= 0; nl = text.indexOf("\n", start)) {
        const piece = text.slice(start, nl);
        start = nl + 1;
        if (skipping) {
          skipping = false;
          continue;
        }
        const line = partial + piece;
        partial = "";
        if (line.length > this.maxLine) {
          this.#errors++;
          await this.#answer(peer, "ERROR\n");
          continue;
        }
        if (!await this.#command(peer, line)) return false;
      }
      if (!skipping) {
        partial += text.slice(start);
        if (partial.length > this.maxLine) {
          partial = "";
          skipping = true;
          this.#errors++;
          await this.#answer(peer, "ERROR\n");
        }
      }
      return true;
    };
    return {
      push: (bytes) => {
        // etsy reads the socket as 'ascii': each byte's low 7 bits
        let text = "";
        for (let i = 0; i < bytes.length; i++) text += String.fromCharCode(bytes[i] & 0x7f);
        return lines(text);
      },
      // the client is done sending: a last line without newline still counts
      end: async (clean) => {
        if (clean) await lines("\n");
      },
    };
  }

  /** Writes an answer; true (the connection stays). */
  async #answer(peer: StreamPeer, text: string): Promise<boolean> {
    await peer.write(new TextEncoder().encode(text));
    return true;
  }

  /** Asks the aggregators after the questions already queued. */
  #ask(kind: MgmtKind | null, buckets?: string[]): Promise<MgmtAnswer> {
    const p = this.#queue.then(() => this.opts.backend.ask(kind, buckets));
    this.#queue = p.catch(() => {});
    return p;
  }

  /** One command line, as etsy splits it (`trim()`, then single spaces); false: close the connection. */
  async #command(peer: StreamPeer, line: string): Promise<boolean> {
    const words = line.trim().split(" ");
    const cmd = words.shift()!;
    if (cmd === "") return true; // a blank line (`echo -e "health\n"`): etsy answers such a read with nothing more
    this.#commands++;
    switch (cmd) {
      case "help":
        return this.#answer(peer, MGMT_HELP);
      case "config":
        return this.#answer(peer, configText(this.opts.backend.config()));
      case "health": {
        const action = words[0]?.toLowerCase();
        if (action === "up" || action === "down") this.health = action;
        return this.#answer(peer, `health: ${this.health}\n`);
      }
      case "stats":
        return this.#answer(peer, await this.#statsText());
      case "counters":
      case "timers":
      case "gauges":
        return this.#answer(peer, await this.#listing(cmd));
      case "delcounters":
      case "deltimers":
      case "delgauges":
        return this.#answer(peer, await this.#delete(cmd.slice(3) as MgmtKind, words));
      case "quit":
        return false;
      default:
        this.#errors++;
        return this.#answer(peer, "ERROR\n");
    }
  }

  async #statsText(): Promise<string> {
    let sizes: MgmtAnswer["sizes"] | null = null;
    try {
      sizes = (await this.#ask(null)).sizes;
    } catch (err) {
      this.opts.onError(err as Error); // the rest of the answer still comes
    }
    this.#noteMessages();
    const now = this.#nowSec();
    const line = (name: string, v: number) =>
      `${name}: ${/^last_/.test(name.split(".").pop()!) ? now - v : v}\n`;
    let out = `uptime: ${now - this.#startedSec}\n` + line("messages.last_msg_seen", this.#lastSeenSec) +
      line("messages.bad_lines_seen", this.opts.backend.badLines());
    for (const [name, v] of this.opts.backend.status(sizes)) out += line(name, v);
    return out + "END\n\n";
  }

  async #listing(kind: MgmtKind): Promise<string> {
    let dump;
    try {
      dump = (await this.#ask(kind)).dump;
    } catch (err) {
      this.opts.onError(err as Error);
    }
    if (!dump) {
      this.#errors++;
      return "ERROR\n";
    }
    const text = dump.kind === "timers" ? inspectArrays(dump.entries) : inspectNumbers(dump.entries);
    return `${text}\nEND\n\n`;
  }

  async #delete(kind: MgmtKind, buckets: string[]): Promise<string> {
    let deleted;
    try {
      deleted = (await this.#ask(kind, buckets)).deleted;
    } catch (err) {
      this.opts.onError(err as Error);
    }
    if (!deleted) {
      this.#errors++;
      return "ERROR\n";
    }
    let out = "";
    buckets.forEach((b, i) => {
      const names = deleted[i] ?? [];
      if (names.length === 0) out += `metric ${b} not found\n`;
      for (const n of names) out += `deleted: ${n}\n`;
    });
    return out + "END\n\n";
  }

  async close(): Promise<void> {
    this.opts.clock.clearInterval(this.#poll);
    await this.#server.close();
  }
}

/**
 * The Worker's and the main thread's answers as one (the main thread aggregates under ts routing and
 * for lines forwarded by other nodes): counters add up, the Worker's gauge wins, timers' values join.
 */
export function mergeAnswers(main: MgmtAnswer, worker: MgmtAnswer): MgmtAnswer {
  const sizes = { ...main.sizes };
  for (const k of Object.keys(sizes) as Array<keyof typeof sizes>) sizes[k] += worker.sizes[k];
  const out: MgmtAnswer = { sizes };
  if (main.deleted && worker.deleted) {
    const w = worker.deleted;
    out.deleted = main.deleted.map((
      names,
      i,
    ) => [...names, ...(w[i] ?? []).filter((n) => !names.includes(n))]);
  }
  const a = main.dump, b = worker.dump;
  if (a?.kind === "timers" && b?.kind === "timers") {
    const m = new Map(a.entries.map(([n, v, seen]) => [n, [v, seen] as [number[], number]]));
    for (const [n, v, seen] of b.entries) {
      const cur = m.get(n);
      m.set(n, cur ? [[...cur[0], ...v].slice(0, MAX_ARRAY_SHOWN), cur[1] + seen] : [v, seen]);
    }
    out.dump = { kind: "timers", entries: [...m].map(([n, [v, seen]]) => [n, v, seen]) };
  } else if (a && b && a.kind !== "timers" && b.kind !== "timers") {
    const m = new Map(a.entries);
    for (const [n, v] of b.entries) m.set(n, a.kind === "counters" ? (m.get(n) ?? 0) + v : v);
    out.dump = { kind: a.kind, entries: [...m] };
  } else out.dump = a ?? b;
  return out;
}

/** etsy's `config` (helpers.writeConfig): a blank line, `key: value`, `key > sub: value` for objects. */
export function configText(config: Record<string, unknown>): string {
  let out = "\n";
  for (const [k, v] of Object.entries(config)) {
    if (v === undefined) continue;
    if (typeof v !== "object" || v === null) out += `${k}: ${v}\n`;
    else for (const [sk, sv] of Object.entries(v)) out += `${k} > ${sk}: ${sv}\n`;
  }
  return out;
}
