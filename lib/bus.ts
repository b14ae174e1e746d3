/**
 * The agent's typed event bus: notifications between subsystems (never hot paths).
 *
 * ```ts
 * const bus = new EventBus();
 * const off = bus.on("member.joined", (m) => console.log(m.name));
 * bus.emit("member.joined", member);
 * off();
 * ```
 */
import type {
  CheckResultEvent,
  ClusterEventRecord,
  CollectorResultEvent,
  KvChangedEvent,
  Maintenance,
  MemberRecord,
} from "./types.ts";

/** Every event, by name, with its payload type. Add new events here, nowhere else. */
export interface AgentEvents {
  "member.joined": MemberRecord;
  "member.updated": MemberRecord;
  "member.suspect": MemberRecord;
  "member.dead": MemberRecord;
  "member.left": MemberRecord;
  /** A dead or left node was forgotten (after gossip.reap_after): it is no longer in members(). */
  "member.reaped": MemberRecord;
  /** Our own tags changed (detectors, config reload); gossip bumps our incarnation. */
  "tags.changed": { tags: string[]; added: string[]; removed: string[] };
  /** We moved to another zone (`kunai zone change`, a reload); gossip bumps our incarnation. */
  "zone.changed": { zone: string; previous: string };
  /** This node entered or left maintenance (null: left); gossip bumps our incarnation. */
  "maintenance.changed": { maintenance: Maintenance | null };
  /** Our own services or their states changed; gossip bumps our incarnation. */
  "services.changed": { names: string[] };
  "collector.result": CollectorResultEvent;
  /** A check changed state (transitions only). */
  "check.changed": CheckResultEvent;
  /** A check was silenced or un-silenced over the API (`kunai checks silence|unsilence`; null: ended). */
  "check.silenced": { id: string; silenced: { reason: string; since: number; until: number | null } | null };
  /** Metric points produced in-process (collectors, perfdata) for the time-series store. */
  "metrics.points": { points: Array<[name: string, value: number, ts: number]> };
  "kv.changed": KvChangedEvent;
  /** A cluster event (`kunai event send`) was logged here, ours included. */
  "cluster.event": ClusterEventRecord;
  "raft.leader": { group: string; leader: string | null; term: number };
  "config.reloaded": { files: string[] };
  "agent.stopping": { reason: string };
}

export type EventName = keyof AgentEvents;

/** Every membership change (gossip): what a subscriber to "the member table changed" listens to. */
export const MEMBER_EVENTS = [
  "member.joined",
  "member.updated",
  "member.suspect",
  "member.dead",
  "member.left",
  "member.reaped",
] as const satisfies ReadonlyArray<EventName>;
export type Listener<K extends EventName> = (payload: AgentEvents[K]) => void;

/** Synchronous typed pub/sub. A throwing listener is reported, never breaks the emitter. */
export class EventBus {
  #listeners = new Map<EventName, Set<(p: unknown) => void>>();
  /** Where listener errors go (the agent points this at its logger). */
  onListenerError: (event: EventName, err: unknown) => void = (event, err) =>
    console.error(`event listener for ${event} failed:`, err);

  /** Subscribe; returns the function that unsubscribes. */
  on<K extends EventName>(event: K, fn: Listener<K>): () => void {
    let set = this.#listeners.get(event);
    if (!set) this.#listeners.set(event, set = new Set());
    const f = fn as (p: unknown) => void;
    set.add(f);
    return () => set!.delete(f);
  }

  /** Subscribe to every membership change (`MEMBER_EVENTS`); returns the function that unsubscribes. */
  onMembers(fn: (m: MemberRecord) => void): () => void {
    const offs = MEMBER_EVENTS.map((e) => this.on(e, fn));
    return () => offs.forEach((off) => off());
  }

  /** Subscribe for the next event only. */
  once<K extends EventName>(event: K, fn: Listener<K>): () => void {
    const off = this.on(event, (p) => {
      off();
      fn(p);
    });
    return off;
  }

  emit<K extends EventName>(event: K, payload: AgentEvents[K]): void {
    const set = this.#listeners.get(event);
    if (!set) return;
    for (const fn of [...set]) {
      try {
        fn(payload);
      } catch (err) {
        this.onListenerError(event, err);
      }
    }
  }

  /** Number of listeners of an event (for tests and info). */
  listenerCount(event: EventName): number {
    return this.#listeners.get(event)?.size ?? 0;
  }
}
