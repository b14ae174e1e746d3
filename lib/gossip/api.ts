/**
 * What the routes and the composition root may ask of gossip (routes.ts and mod.ts both import
 * this file, so neither imports the other's side).
 */
import type { MemberRecord, MembershipView } from "../types.ts";
import type { PeerAddr } from "../transport/mod.ts";
import type { DetectedAgent } from "./detect.ts";
import type { ClusterEvent } from "./events.ts";
import type { HistoryRow } from "./history.ts";

/** What `POST /agent/ping/:node` answers. */
export interface PingReport {
  node: string;
  uuid: string;
  addr: string;
  state: string;
  /** Round trips in ms, null for a ping that got no ack within the timeout. */
  rtt_ms: Array<number | null>;
  sent: number;
  received: number;
}

export interface GossipApi {
  self(): MemberRecord;
  members(): MemberRecord[];
  /** Read-only view of the table for other subsystems (changes travel on the bus). */
  readonly membership: MembershipView;
  /**
   * Joins through `addr[:port]`: HttpError 400 when malformed or when it is this agent itself;
   * `joined` false with the reason (unreachable, refused, bad key...) otherwise.
   */
  join(target: string): Promise<{ joined: boolean; reason?: string }>;
  /** Makes a node (by name or uuid) leave; ourselves: a graceful leave, then the agent stops. False when unknown. */
  leave(nameOrUuid: string): boolean;
  /**
   * Answers a push-pull whose body the peer route already opened (authenticated, fresh, not
   * replayed); returns our table, to be sealed by the route. `from`: the requester, when known.
   */
  servePushPull(plain: Uint8Array, from: PeerAddr | null): Uint8Array;
  keys(): { enabled: boolean; primary: string | null; keys: string[] };
  keyOp(op: "install" | "use" | "remove", key: string): Promise<void>;
  /**
   * `kunai agent detect`: sends one detection request from the gossip socket to `addr` (default: the
   * config's detect_addr) on `port` (default: ours) and reports who answered within `timeoutMs`
   * (default: the config's detect_timeout).
   */
  detect(o: { addr?: string; port?: number; timeoutMs?: number }): Promise<{
    sent_to: string;
    timeout_ms: number;
    agents: DetectedAgent[];
  }>;
  /**
   * `kunai ping NODE`: `count` direct pings (name or uuid), `intervalMs` apart, each waiting
   * `timeoutMs`; HttpError 404 for an unknown node, 400 for ourselves.
   */
  ping(node: string, o: { count: number; timeoutMs: number; intervalMs: number }): Promise<PingReport>;
  /** Membership changes seen here, newest first (`kunai members history`). */
  history(o: { node?: string; limit: number }): HistoryRow[];
  /**
   * Membership changes of the kinds in `changes` seen here from `fromMs` to `untilMs` (inclusive),
   * oldest first: the newest `limit` of them. `id`: the row's number in gossip.db.
   */
  historyBetween(
    fromMs: number,
    untilMs: number,
    changes: readonly string[],
    limit: number,
  ): Array<HistoryRow & { id: number }>;
  /**
   * Sends a cluster event (`kunai event send`; `tags` from graphite-web's `POST /events/`); throws an
   * Error naming a bad name, payload or tags.
   */
  sendEvent(name: string, payload: string, tags?: readonly string[]): ClusterEvent;
  /** The events logged here, oldest first (one name's only, when given). */
  events(name?: string): ClusterEvent[];
  /** Spreads a payload of another subsystem to every member. */
  broadcastUser(kind: string, payload: unknown): string;
  onUser(kind: string, fn: (payload: unknown, id: string) => void): () => void;
}
