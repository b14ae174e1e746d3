/**
 * The set of connected websocket clients and the fan-out of feed messages to them.
 * Sending never blocks and never queues without bound: a client whose socket has more than
 * `maxBuffered` bytes waiting (it stopped reading) is closed and dropped, so a slow or dead
 * browser costs at most that much memory.
 */
import type { Counters } from "../counters.ts";
import type { Logger } from "../log/mod.ts";

/** The channels of the feed (reference §10.5 has `gossip`; the others are ours). */
export type Channel = "gossip" | "check" | "kv" | "leader" | "event" | "pong" | "hello";

export interface HubOptions {
  /** Bytes allowed to wait in one client's send buffer before it is dropped. */
  maxBuffered: number;
  /** Seconds without a pong before the runtime closes the socket (ping sent at half of it). */
  idleTimeout: number;
  /** Clients at most (each holds a socket and up to `maxBuffered`); more are refused with 503. */
  maxClients?: number;
  counters: Counters;
  log: Logger;
}

/** One feed message as the client receives it. */
export function feedMessage(channel: Channel, payload: unknown): string {
  return JSON.stringify({ channel, payload });
}

/** True when a client must be dropped rather than sent `next` more bytes. */
export function overBudget(buffered: number, next: number, maxBuffered: number): boolean {
  return buffered + next > maxBuffered;
}

interface Client {
  socket: WebSocket;
  /** Where the connection came from (log lines). */
  from: string;
}

export class WsHub {
  #clients = new Set<Client>();
  #opts: HubOptions;
  /** Largest send buffer seen on any client (proves the bound in tests and /metrics). */
  maxBufferedSeen = 0;
  dropped = 0;

  constructor(opts: HubOptions) {
    this.#opts = opts;
    opts.counters.describe("websocket_connections", "gauge", "Open websocket feed connections");
    opts.counters.describe("websocket_messages_total", "counter", "Feed messages sent, by channel");
    opts.counters.describe(
      "websocket_dropped_total",
      "counter",
      "Websocket clients closed by the agent, by reason",
    );
    opts.counters.set("websocket_connections", 0);
  }

  get size(): number {
    return this.#clients.size;
  }

  /** Upgrades an HTTP request (any path) to a feed connection; 426 when it is not an upgrade. */
  upgrade(req: Request, from = "?"): Response {
    if (req.headers.get("upgrade")?.toLowerCase() !== "websocket") {
      return new Response(
        JSON.stringify({ error: "this endpoint speaks websocket only (send Upgrade: websocket)" }),
        { status: 426, headers: { "content-type": "application/json", upgrade: "websocket" } },
      );
    }
    if (this.#clients.size >= (this.#opts.maxClients ?? Infinity)) {
      this.#opts.counters.inc("websocket_dropped_total", { reason: "full" });
      return new Response(
        JSON.stringify({ error: `${this.#clients.size} websocket clients already: try again later` }),
        { status: 503, headers: { "content-type": "application/json", "retry-after": "10" } },
      );
    }
    let upgraded: { socket: WebSocket; response: Response };
    try {
      upgraded = Deno.upgradeWebSocket(req, { idleTimeout: this.#opts.idleTimeout });
    } catch (err) {
      // an incomplete upgrade (a proxy that forwards Upgrade but not `Connection: Upgrade`, no
      // Sec-WebSocket-Key): the client's mistake, said as one
      return new Response(
        JSON.stringify({ error: `not a websocket upgrade: ${(err as Error).message}` }),
        { status: 400, headers: { "content-type": "application/json" } },
      );
    }
    const { socket, response } = upgraded;
    const client: Client = { socket, from };
    socket.onopen = () => {
      this.#clients.add(client);
      this.#gauge();
      this.#send(client, feedMessage("hello", { time: Date.now() / 1000 }));
    };
    socket.onmessage = (e) => {
      // Clients only ever say "ping" (browsers cannot send protocol pings); anything else is ignored.
      if (e.data === "ping") this.#send(client, feedMessage("pong", { time: Date.now() / 1000 }));
    };
    socket.onclose = () => this.#remove(client);
    socket.onerror = (e) => {
      this.#opts.log.debug(`websocket client ${from} error: ${(e as ErrorEvent).message ?? e.type}`);
      this.#remove(client);
    };
    return response;
  }

  /** Sends one message to every client; drops those that fell behind. */
  broadcast(channel: Channel, payload: unknown): void {
    if (!this.#clients.size) return;
    const text = feedMessage(channel, payload);
    for (const c of [...this.#clients]) this.#send(c, text);
    this.#opts.counters.inc("websocket_messages_total", { channel });
  }

  #send(c: Client, text: string): void {
    if (c.socket.readyState !== WebSocket.OPEN) return;
    const buffered = c.socket.bufferedAmount;
    if (buffered > this.maxBufferedSeen) this.maxBufferedSeen = buffered;
    if (overBudget(buffered, text.length, this.#opts.maxBuffered)) {
      this.#drop(c, "slow", `${buffered} bytes not read`);
      return;
    }
    try {
      c.socket.send(text);
    } catch (err) {
      this.#drop(c, "error", (err as Error).message);
    }
  }

  #drop(c: Client, reason: string, why: string): void {
    this.#opts.log.warn(`dropping websocket client ${c.from}: ${why}`);
    this.#opts.counters.inc("websocket_dropped_total", { reason });
    this.dropped++;
    this.#remove(c);
    try {
      c.socket.close(1008, "too slow");
    } catch (err) {
      this.#opts.log.debug(`closing websocket client ${c.from}: ${(err as Error).message}`);
    }
  }

  #remove(c: Client): void {
    if (this.#clients.delete(c)) this.#gauge();
  }

  #gauge(): void {
    this.#opts.counters.set("websocket_connections", this.#clients.size);
  }

  /** Closes every client (agent stop). */
  closeAll(): void {
    for (const c of [...this.#clients]) {
      this.#remove(c);
      try {
        c.socket.close(1001, "agent stopping");
      } catch (err) {
        this.#opts.log.debug(`closing websocket client ${c.from}: ${(err as Error).message}`);
      }
    }
  }
}
