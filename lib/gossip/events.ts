/**
 * Cluster events (Serf's `serf event`, opsbro's `gossip events add/wait`): a name and a small payload
 * sent once to every member through gossip's de-duplicated broadcasts, kept by each agent in a
 * bounded log that `GET /agent/events` and `kunai event list` read and `kunai wait event` watches.
 * They are signals for scripts and operators (`kunai wait event deploy-done && ...`) and for the
 * `event_handler` objects an administrator configured (lib/handlers/event_handlers.ts), which run
 * only for authenticated events: sent here, or sealed with the cluster key.
 *
 * What arrives from the network is checked like any packet: a malformed event is dropped and
 * counted, and the log holds at most LOG_SIZE events whatever the rate.
 */
import type { EngineCore } from "./core.ts";
import type { ClusterEventRecord } from "../types.ts";

/** Kind of the gossip `user` message that carries an event. */
export const EVENT_KIND = "event";
/** Events kept (the oldest go first). */
export const LOG_SIZE = 512;
/** Largest payload, in UTF-8 bytes (one datagram carries it with its envelope). */
export const MAX_PAYLOAD = 1024;
/** An event name: what a script can pass on a command line. */
export const EVENT_NAME = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/;

/**
 * Names of membership events (`member-join`...) and of queries (`query:NAME`), which event handlers
 * also run for: never sent as events.
 */
export const RESERVED_PREFIXES = ["member-", "query:"];

/** `from`/`from_uuid`: the sender; `at`: sent at (its clock, epoch ms); `received`: here (epoch ms). */
export type ClusterEvent = ClusterEventRecord;

type Wire = Pick<ClusterEvent, "name" | "payload" | "from" | "from_uuid" | "at">;

const bytes = (s: string) => new TextEncoder().encode(s).length;

/** The wire form of an event from another agent, or why it is refused. */
function checkWire(p: unknown): Wire | string {
  if (!p || typeof p !== "object" || Array.isArray(p)) return "not an object";
  const o = p as Record<string, unknown>;
  if (typeof o.name !== "string" || !EVENT_NAME.test(o.name)) return "bad name";
  if (RESERVED_PREFIXES.some((p) => (o.name as string).startsWith(p))) return "reserved name";
  if (typeof o.payload !== "string" || bytes(o.payload) > MAX_PAYLOAD) return "bad payload";
  if (typeof o.from !== "string" || o.from.length > 255) return "bad from";
  if (typeof o.from_uuid !== "string" || o.from_uuid.length > 64) return "bad from_uuid";
  if (typeof o.at !== "number" || !Number.isFinite(o.at)) return "bad at";
  return { name: o.name, payload: o.payload, from: o.from, from_uuid: o.from_uuid, at: o.at };
}

export class ClusterEvents {
  #core: EngineCore;
  #log: ClusterEvent[] = [];
  #onEvent: (e: ClusterEvent) => void;
  #off: () => void;

  /** `onEvent`: every event logged here, ours included (the agent publishes it on its bus). */
  constructor(
    core: EngineCore,
    messages: { on(kind: string, fn: (payload: unknown, id: string) => void): () => void },
    onEvent: (e: ClusterEvent) => void = () => {},
  ) {
    this.#core = core;
    this.#onEvent = onEvent;
    this.#off = messages.on(EVENT_KIND, (payload, id) => {
      const w = checkWire(payload);
      if (typeof w === "string") {
        core.deps.counters.inc("gossip_events_dropped_total", { why: w.replaceAll(" ", "_") });
        return;
      }
      // with a keyring every datagram that reached us opened with the cluster key
      this.#record(id, w, core.deps.envelope.enabled);
    });
  }

  /**
   * Sends an event to every member and logs it here; throws an Error naming what is wrong with the
   * name or the payload.
   */
  send(
    name: string,
    payload: string,
    broadcast: (kind: string, payload: unknown) => string,
  ): ClusterEvent {
    if (!EVENT_NAME.test(name)) {
      throw new Error(
        `event name ${JSON.stringify(name.slice(0, 80))}: 1-64 letters, digits, '.', '_', ':' or '-', ` +
          `starting with a letter or digit`,
      );
    }
    const reserved = RESERVED_PREFIXES.find((p) => name.startsWith(p));
    if (reserved) {
      throw new Error(
        `event name ${JSON.stringify(name)}: names starting with "${reserved}" are ` +
          (reserved === "query:"
            ? "queries (kunai event query NAME asks them)"
            : "membership events (member-join, member-leave...), which agents report themselves"),
      );
    }
    const size = bytes(payload);
    if (size > MAX_PAYLOAD) throw new Error(`event payload of ${size} bytes: at most ${MAX_PAYLOAD}`);
    const self = this.#core.members.self();
    const wire: Wire = { name, payload, from: self.name, from_uuid: self.uuid, at: Date.now() };
    const id = broadcast(EVENT_KIND, wire);
    return this.#record(id, wire, true);
  }

  #record(id: string, w: Wire, authenticated: boolean): ClusterEvent {
    const e: ClusterEvent = { id, ...w, received: Date.now(), authenticated };
    this.#log.push(e);
    if (this.#log.length > LOG_SIZE) this.#log.splice(0, this.#log.length - LOG_SIZE);
    this.#core.deps.counters.inc("gossip_events_total");
    this.#onEvent(e);
    return e;
  }

  /** The log, oldest first (only `name`'s events when given). */
  list(name?: string): ClusterEvent[] {
    return name === undefined ? [...this.#log] : this.#log.filter((e) => e.name === name);
  }

  stop(): void {
    this.#off();
  }
}
