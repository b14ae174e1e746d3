/**
 * What the engine's parts (prober, push-pull, cluster messages) share: the dependencies
 * injected into the engine and a narrow view of the engine itself.
 */
import type { Clock } from "../clock/mod.ts";
import type { GossipConfig } from "../config/mod.ts";
import type { Counters } from "../counters.ts";
import type { Logger } from "../log/mod.ts";
import type { Maintenance, MemberRecord } from "../types.ts";
import type { PeerAddr, Random, Transport } from "../transport/mod.ts";
import type { Awareness } from "./awareness.ts";
import type { BroadcastQueue } from "./broadcast_queue.ts";
import type { GossipMsg } from "./codec.ts";
import type { DropReason, PeerEnvelope } from "../transport/mod.ts";
import type { ChangeKind, Membership } from "./members.ts";

/** The local node's facts the engine advertises (LocalNode satisfies it). */
export interface SelfSource {
  readonly uuid: string;
  readonly name: string;
  readonly addr: string;
  readonly port: number;
  zone: string;
  readonly incarnation: number;
  bumpIncarnation(atLeast?: number): number;
  tags(): string[];
  services(): Record<string, unknown>;
  /** Set while this node is in maintenance (LocalNode); absent: never. */
  maintenance?(): Maintenance | null;
}

export interface EngineDeps {
  self: SelfSource;
  config: GossipConfig;
  transport: Transport;
  clock: Clock;
  random: Random;
  /** Seals and opens every datagram and push-pull body (keyring + replay window). */
  envelope: PeerEnvelope;
  log: Logger;
  counters: Counters;
  onChange?: (kind: ChangeKind, rec: MemberRecord) => void;
  /** Our own leave (asked through the local API) finished spreading: the agent should exit. */
  onLeft?: () => void;
  /** The keyring changed through a cluster-wide key operation (persist it). */
  onKeyringChange?: () => void;
}

/** Hot-path traffic counts, plain numbers (flushed to ctx.counters periodically). */
export interface Traffic {
  packetsSent: number;
  bytesSent: number;
  /** Of packetsSent, those sent compressed (lz.ts). */
  packetsCompressed: number;
  packetsReceived: number;
  bytesReceived: number;
  /** Datagrams and push-pull bodies dropped, by reason (stale and replay: the envelope's window). */
  dropped: Record<DropReason, number>;
  /** ping-relay requests refused (target or requester not a known live member). */
  relaysRefused: number;
  /** Address, name or uuid conflicts seen (see Membership). */
  conflicts: number;
}

/** The engine as its parts see it. */
export interface EngineCore {
  readonly deps: EngineDeps;
  readonly members: Membership;
  readonly awareness: Awareness;
  readonly queue: BroadcastQueue;
  readonly traffic: Traffic;
  readonly running: boolean;
  /** Sends messages to a peer, piggybacking queued broadcasts unless `piggyback` is false. */
  send(to: PeerAddr, msgs: GossipMsg[], piggyback?: boolean): void;
  /** Sends serialised messages alone, compressed, in as many datagrams as they need (`to` reads them). */
  sendPacked(to: PeerAddr, serialised: string[]): void;
}
