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

interface Client {
  conn: Deno.TcpConn;
  lastActive: number;
}

/** The management console's TCP server. */
export class MgmtServer {
  #listener: Deno.TcpListener;
  #clients = new Set<Client>();
  #closed = false;
  #sweep: number;
  /** One aggregator question at a time, whatever the number of connections. */
  #queue: Promise<unknown> = Promise.resolve();
  #startedSec: number;
  /** Unix seconds of the last statsd message seen (etsy: the start until one comes). */
  #lastSeenSec: number;
  #lastMessages: number;
  readonly port: number;
  readonly done: Promise<void>;
  /** `health` as set by `health up|down`; only reported (etsy: for load balancers). */
  health: "up" | "down" = "up";
  readonly counts = { commands: 0, errors: 0, refused: 0, idle_closed: 0 };
  readonly maxConnections: number;
  readonly maxLine: number;
  readonly idleTimeout: number;

  /** Binds now (throws if the port is taken) and starts accepting. */
  constructor(readonly opts: MgmtOptions) {
    this.maxConnections = opts.maxConnections ?? 64;
    this.maxLine = opts.maxLine ?? 65_536;
    this.idleTimeout = opts.idleTimeout ?? 60_000;
    this.#listener = Deno.listen({ hostname: opts.hostname, port: opts.port, transport: "tcp" });
    this.port = (this.#listener.addr as Deno.NetAddr).port;
    this.#startedSec = this.#lastSeenSec = this.#nowSec();
    this.#lastMessages = opts.backend.messages();
    this.#sweep = opts.clock.setInterval(() => this.#tick(), Math.min(1000, this.idleTimeout));
    this.done = this.#accept();
  }

  get connections(): number {
    return this.#clients.size;
  }

  #nowSec(): number {
    return Math.round(this.opts.clock.now() / 1000);
  }

  /** Every second: notes whether a statsd message came, closes idle connections. */
  #tick(): void {
    this.#noteMessages();
    const limit = this.opts.clock.now() - this.idleTimeout;
    for (const c of this.#clients) {
      if (c.lastActive < limit) {
        this.counts.idle_closed++;
        try {
          c.conn.close();
        } catch { /* already closed */ }
      }
    }
  }

  #noteMessages(): void {
    const m = this.opts.backend.messages();
    if (m !== this.#lastMessages) {
      this.#lastMessages = m;
      this.#lastSeenSec = this.#nowSec();
    }
  }

  async #accept(): Promise<void> {
    while (!this.#closed) {
      let conn: Deno.TcpConn;
      try {
        conn = await this.#listener.accept();
      } catch (err) {
        if (this.#closed) return;
        this.opts.onError(err as Error);
        await new Promise((r) => setTimeout(r, 10));
        continue;
      }
      if (this.#clients.size >= this.maxConnections) {
        this.counts.refused++;
        conn.close();
        continue;
      }
      const c: Client = { conn, lastActive: this.opts.clock.now() };
      this.#clients.add(c);
      this.#serve(c).finally(() => this.#clients.delete(c));
    }
  }

  async #serve(c: Client): Promise<void> {
    const buf = new Uint8Array(4096);
    let partial = "";
    let skipping = false; // inside a line over maxLine
    try {
      while (true) {
        const n = await c.conn.read(buf);
        c.lastActive = this.opts.clock.now();
        // etsy reads the socket as 'ascii': each byte's low 7 bits
        let text = "";
        if (n !== null) { for (let i = 0; i < n; i++) text += String.fromCharCode(buf[i] & 0x7f); }
        else text = "\n"; // the client is done sending: a last line without newline still counts
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
            this.counts.errors++;
            if (!await this.#answer(c, "ERROR\n")) return;
            continue;
          }
          if (!await this.#command(c, line)) return;
        }
        if (n === null) return;
        if (!skipping) {
          partial += text.slice(start);
          if (partial.length > this.maxLine) {
            partial = "";
            skipping = true;
            this.counts.errors++;
            if (!await this.#answer(c, "ERROR\n")) return;
          }
        }
      }
    } catch (err) {
      if (
        !this.#closed && !(err instanceof Deno.errors.BadResource) &&
        !(err instanceof Deno.errors.ConnectionReset) && !(err instanceof Deno.errors.BrokenPipe)
      ) {
        this.opts.onError(err as Error);
      }
    } finally {
      try {
        c.conn.close();
      } catch { /* closed by the idle sweep or stop */ }
    }
  }

  /** Writes an answer; false when the connection is gone. */
  async #answer(c: Client, text: string): Promise<boolean> {
    const bytes = new TextEncoder().encode(text);
    for (let off = 0; off < bytes.length;) {
      off += await c.conn.write(bytes.subarray(off, off + 65_536));
      c.lastActive = this.opts.clock.now();
    }
    return true;
  }

  /** Asks the aggregators after the questions already queued. */
  #ask(kind: MgmtKind | null, buckets?: string[]): Promise<MgmtAnswer> {
    const p = this.#queue.then(() => this.opts.backend.ask(kind, buckets));
    this.#queue = p.catch(() => {});
    return p;
  }

  /** One command line, as etsy splits it (`trim()`, then single spaces); false: close the connection. */
  async #command(c: Client, line: string): Promise<boolean> {
    const words = line.trim().split(" ");
    const cmd = words.shift()!;
    if (cmd === "") return true; // a blank line (`echo -e "health\n"`): etsy answers such a read with nothing more
    this.counts.commands++;
    switch (cmd) {
      case "help":
        return this.#answer(c, MGMT_HELP);
      case "config":
        return this.#answer(c, configText(this.opts.backend.config()));
      case "health": {
        const action = words[0]?.toLowerCase();
        if (action === "up" || action === "down") this.health = action;
        return this.#answer(c, `health: ${this.health}\n`);
      }
      case "stats":
        return this.#answer(c, await this.#statsText());
      case "counters":
      case "timers":
      case "gauges":
        return this.#answer(c, await this.#listing(cmd));
      case "delcounters":
      case "deltimers":
      case "delgauges":
        return this.#answer(c, await this.#delete(cmd.slice(3) as MgmtKind, words));
      case "quit":
        return false;
      default:
        this.counts.errors++;
        return this.#answer(c, "ERROR\n");
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
      this.counts.errors++;
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
      this.counts.errors++;
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
    if (this.#closed) return;
    this.#closed = true;
    this.opts.clock.clearInterval(this.#sweep);
    this.#listener.close();
    for (const c of this.#clients) {
      try {
        c.conn.close();
      } catch { /* already closed */ }
    }
    await this.done;
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
