/**
 * Shared data shapes (floor 1). Subsystems exchange these through the bus and `ctx`,
 * never each other's classes.
 */

export type MemberState = "alive" | "suspect" | "dead" | "leave";

/**
 * The highest incarnation a node takes or an agent decodes: 2^52, so that one more (a refutation)
 * is still an exact integer, and what we send never exceeds what every peer accepts.
 */
export const INCARNATION_MAX = 2 ** 52;

/** A node as gossip knows it (reference §3.1); `/agent/members` returns `{uuid: MemberRecord}`. */
export interface MemberRecord {
  uuid: string;
  name: string;
  addr: string;
  port: number;
  /** 0..INCARNATION_MAX. */
  incarnation: number;
  state: MemberState;
  tags: string[];
  /** service name -> service object (with its embedded check state). */
  services: Record<string, unknown>;
  zone: string;
  /**
   * The gossip protocol the node speaks, when above 2 (absent: an agent that predates the field):
   * 3 reads compressed datagrams (lib/gossip/lz.ts).
   */
  proto?: number;
  /** Set while the node is in maintenance (`kunai maintenance enable`); absent otherwise. */
  maintenance?: Maintenance;
}

/**
 * A node in maintenance (Consul's `consul maint`): no notifications for it or its checks, left out of
 * DNS tag and service answers and of generators' `ok_nodes`. `since`/`until` are epoch ms (`until`
 * null: until disabled).
 */
export interface Maintenance {
  reason: string;
  since: number;
  until: number | null;
}

/**
 * Read-only view of the membership table, handed by lib/agent.ts to the subsystems that need it
 * (`createKv(ctx, { membership })`); changes arrive as `member.*` bus events.
 */
export interface MembershipView {
  /** Our own record. */
  self(): MemberRecord;
  /** Every known record, ourselves included. */
  members(): MemberRecord[];
  /**
   * True until the start's join (the seeds, the peers of the last run) returns: the table may still
   * be ourselves alone, or the seed without the rest, where a cluster is (absent: never joining).
   */
  joining?(): boolean;
}

export type CheckStateName = "ok" | "warning" | "critical" | "unknown" | "pending";
export const STATE_IDS: Record<Exclude<CheckStateName, "pending">, number> = {
  ok: 0,
  warning: 1,
  critical: 2,
  unknown: 3,
};

export interface CheckResultEvent {
  id: string;
  name: string;
  state: CheckStateName;
  state_id: number;
  old_state: CheckStateName;
  old_state_id: number;
  output: string;
  last_check: number;
  handlers: string[];
  service?: string;
  /** Set when the check's notifications are silenced (`kunai checks silence`): handlers send none. */
  silenced?: { reason: string; until: number | null };
}

export interface CollectorResultEvent {
  name: string;
  active: boolean;
  results: Record<string, unknown> | null;
  metrics: Array<[string, number]>;
  log: string;
  last_check: number;
}

export interface KvChangedEvent {
  key: string;
  modify_index: number;
  deleted: boolean;
}

/** Read access to collector results, for the evaluator and checks (`{collector.x.y}`). */
export interface CollectorResultsView {
  get(name: string): Record<string, unknown> | undefined;
  names(): string[];
}

/** Header of a failed join's answer (the body is the reference's bare `false`): why it failed. */
/** A cluster event as logged by each agent (`kunai event send`, lib/gossip/events.ts). */
export interface ClusterEventRecord {
  id: string;
  name: string;
  payload: string;
  from: string;
  from_uuid: string;
  at: number;
  received: number;
  /** Tags given by graphite-web's `POST /events/` (absent when none). */
  tags?: string[];
  /**
   * Sent by this agent (through its write route), or received sealed with the cluster key: only
   * such events run event handlers. False for an event from the network when no key is set.
   */
  authenticated: boolean;
}

/**
 * Membership events an `event_handler` can run for (Serf's names), batched from the `member.*` bus
 * events by lib/handlers/member_events.ts.
 */
export const MEMBER_EVENTS = [
  "member-join",
  "member-leave",
  "member-failed",
  "member-update",
  "member-reap",
] as const;

export const JOIN_ERROR_HEADER = "x-kunai-join-error";
