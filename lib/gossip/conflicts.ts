/**
 * Reporting beside the engine: conflicting claims (logged once a minute per claim, counted) and
 * the copy of the hot-path traffic counts into the agent's counters.
 */
import type { Clock } from "../clock/mod.ts";
import type { Counters } from "../counters.ts";
import type { Logger } from "../log/mod.ts";
import type { DropReason } from "../transport/mod.ts";
import type { MemberRecord } from "../types.ts";
import type { AliveMsg } from "./codec.ts";
import type { Traffic } from "./core.ts";
import { hostPort } from "../host_port.ts";

const LOG_EVERY_MS = 60_000;

export class ConflictLog {
  #logged = new Map<string, number>();

  constructor(
    readonly clock: Clock,
    readonly log: Logger,
    readonly selfUuid: () => string,
    readonly traffic: Traffic,
  ) {}

  /** A claim the membership table refused or found suspicious (see Membership hooks.conflict). */
  report(existing: MemberRecord, claim: AliveMsg, what: "uuid" | "name" | "address"): void {
    this.traffic.conflicts++;
    const key = `${what}:${existing.uuid}:${claim.uuid}:${claim.addr}:${claim.port}`;
    const now = this.clock.elapsed();
    if (now - (this.#logged.get(key) ?? -Infinity) < LOG_EVERY_MS) return;
    if (this.#logged.size > 1000) this.#logged.clear();
    this.#logged.set(key, now);
    const at = (r: { addr: string; port: number }) => hostPort(r.addr, r.port);
    this.log.warn(
      what === "uuid"
        ? existing.uuid === this.selfUuid()
          ? `another node claims our uuid ${claim.uuid} from ${at(claim)} (cloned data directory?)`
          : `conflicting address for ${existing.name} (${existing.uuid}): known at ${at(existing)}, ` +
            `claimed from ${at(claim)}; keeping ${at(existing)} while it is alive`
        : `${claim.name} (${claim.uuid}) at ${at(claim)} uses the ${what} of live node ${existing.name} ` +
          `(${existing.uuid}) at ${at(existing)}`,
    );
  }
}

/** Copies the engine's plain traffic numbers (and the shared envelope's drops) into the counters. */
export function flushTraffic(
  c: Counters,
  t: Traffic,
  envelopeDropped: Record<DropReason, number>,
  healthScore: number,
): void {
  c.set("gossip_packets_sent_total", t.packetsSent);
  c.set("gossip_bytes_sent_total", t.bytesSent);
  c.set("gossip_packets_compressed_total", t.packetsCompressed);
  c.set("gossip_packets_received_total", t.packetsReceived);
  c.set("gossip_bytes_received_total", t.bytesReceived);
  for (const [reason, n] of Object.entries(t.dropped)) c.set("gossip_packets_dropped_total", n, { reason });
  c.set("gossip_relays_refused_total", t.relaysRefused);
  c.set("gossip_conflicts_total", t.conflicts);
  for (const [reason, n] of Object.entries(envelopeDropped)) {
    c.set("peer_envelope_dropped_total", n, { reason });
  }
  c.set("gossip_health_score", healthScore);
}
