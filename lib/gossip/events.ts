/**
 * Cluster events (Serf's `serf event`, opsbro's `gossip events add/wait`): a name and a small payload
 * sent once to every member through gossip's de-duplicated broadcasts, kept by each agent in a
 * bounded log (saved in gossip.db by history.ts, put back after a restart when first read or when
 * an event arrives, so that one a peer still retransmits is not logged or handled twice) that
 * `GET /agent/events` and `kunai event list` read and `kunai wait event` watches.
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

/** Most tags on one event (graphite-web's `POST /events/` gives them; `kunai event send` none). */
export const MAX_TAGS = 16;
/** A tag: 1-64 characters, no whitespace (graphite-web splits its tags on whitespace) nor control. */
// deno-lint-ignore no-control-regex
export const EVENT_TAG = /^[^\s\u0000-\u001f\u007f]{1,64}$/;

/** `from`/`from_uuid`: the sender; `at`: sent at (its clock, epoch ms); `received`: here (epoch ms). */
export type ClusterEvent = ClusterEventRecord;

type Wire = Pick<ClusterEvent, "name" | "payload" | "from" | "from_uuid" | "at" | "tags">;

const bytes = (s: string) => new TextEncoder().encode(s).length;

/**
 * Why `tags` cannot go with `payload`, or null: at most MAX_TAGS tags matching EVENT_TAG, and the
 * payload and the tags (joined by spaces) together within MAX_PAYLOAD bytes, so an event still fits
 * one datagram.
 */
export function tagsProblem(tags: readonly string[], payload: string): string | null {
  if (tags.length > MAX_TAGS) return `at most ${MAX_TAGS} tags, got ${tags.length}`;
  const bad = tags.find((t) => !EVENT_TAG.test(t));
  if (bad !== undefined) {
    return `tag ${
      JSON.stringify(bad.slice(0, 80))
    }: 1-64 characters without whitespace or control characters`;
  }
  const size = bytes(payload) + bytes(tags.join(" "));
  if (size > MAX_PAYLOAD) {
    return `the payload and the tags take ${size} bytes: at most ${MAX_PAYLOAD} together`;
  }
  return null;
}

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
  const w: Wire = { name: o.name, payload: o.payload, from: o.from, from_uuid: o.from_uuid, at: o.at };
  // tags: optional (agents before them send none, and ignore them)
  if (o.tags !== undefined) {
    if (!Array.isArray(o.tags) || o.tags.some((t) => typeof t !== "string")) return "bad tags";
    if (tagsProblem(o.tags as string[], o.payload)) return "bad tags";
    if (o.tags.length) w.tags = [...o.tags as string[]];
  }
  return w;
}

export class ClusterEvents {
  #core: EngineCore;
  #log: ClusterEvent[] = [];
  #onEvent: (e: ClusterEvent) => void;
  #off: () => void;
  /** The events a previous run kept (gossip.db): read once, at the first read of the log or event received. */
  #saved: (() => readonly ClusterEvent[]) | null;

  /**
   * `onEvent`: every event logged here, ours included (the agent publishes it on its bus).
   * `saved`: the events a previous run kept, oldest first (the agent's gossip.db).
   */
  constructor(
    core: EngineCore,
    messages: { on(kind: string, fn: (payload: unknown, id: string) => void): () => void },
    onEvent: (e: ClusterEvent) => void = () => {},
    saved?: () => readonly ClusterEvent[],
  ) {
    this.#core = core;
    this.#onEvent = onEvent;
    this.#saved = saved ?? null;
    this.#off = messages.on(EVENT_KIND, (payload, id) => {
      const w = checkWire(payload);
      if (typeof w === "string") {
        core.deps.counters.inc("gossip_events_dropped_total", { why: w.replaceAll(" ", "_") });
        return;
      }
      // gossip forgets the ids it saw when the agent restarts, while its peers may still be
      // retransmitting an event it logged (and ran its handlers for) before: the log tells
      this.#restoreSaved();
      if (this.#log.some((e) => e.id === id)) {
        core.deps.counters.inc("gossip_events_dropped_total", { why: "already_logged" });
        return;
      }
      // with a keyring every datagram that reached us opened with the cluster key
      this.#record(id, w, core.deps.envelope.enabled);
    });
  }

  /**
   * Sends an event to every member and logs it here; throws an Error naming what is wrong with the
   * name, the payload or the tags.
   */
  send(
    name: string,
    payload: string,
    broadcast: (kind: string, payload: unknown) => string,
    tags: readonly string[] = [],
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
    const problem = tagsProblem(tags, payload);
    if (problem) throw new Error(`event tags: ${problem}`);
    const self = this.#core.members.self();
    const wire: Wire = { name, payload, from: self.name, from_uuid: self.uuid, at: Date.now() };
    if (tags.length) wire.tags = [...tags];
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

  /**
   * Puts back the events a previous run kept (gossip.db, oldest first) before those logged since
   * start; an event already in the log is not repeated.
   */
  restore(saved: readonly ClusterEvent[]): void {
    const have = new Set(this.#log.map((e) => e.id));
    this.#log = [...saved.filter((e) => !have.has(e.id)), ...this.#log].slice(-LOG_SIZE);
  }

  /** Puts back the constructor's `saved` events, once. */
  #restoreSaved(): void {
    const saved = this.#saved;
    if (!saved) return;
    this.#saved = null;
    this.restore(saved());
  }

  /** The log, oldest first (only `name`'s events when given). */
  list(name?: string): ClusterEvent[] {
    this.#restoreSaved();
    return name === undefined ? [...this.#log] : this.#log.filter((e) => e.name === name);
  }

  stop(): void {
    this.#off();
  }
}
