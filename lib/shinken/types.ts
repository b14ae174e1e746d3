/** The configuration slice and the dependencies the Shinken/Nagios exporter shares between its parts. */
import type { MemberRecord } from "../types.ts";

export interface ShinkenConfig {
  enabled: boolean;
  cfg_path: string;
  external_command_file: string;
  reload_command: string;
  monitoring_tool: "shinken" | "nagios";
  host_templates: string[];
  reload_delay: number;
  /** How often every other live node is asked for its own checks (ms; 0: only what gossip carries). */
  poll_interval: number;
}

/** Membership as the exporter needs it. */
export interface ShinkenMembership {
  self(): MemberRecord;
  members(): MemberRecord[];
  /** True while the start's join to the cluster is on its way (see MembershipView.joining). */
  joining?(): boolean;
}

/** Our own checks (all of them, not only those of services), for our own host, with their silence. */
export type LocalChecks = () => Array<{
  id: string;
  state_id: number;
  output: string;
  silenced?: { reason: string; until: number | null } | null;
}>;

/** A check as the exporter needs it: id, state and output. */
export interface CheckBrief {
  id: string;
  state_id: number;
  output: string;
}

/**
 * Asks another node for its own checks (all of them, not only its services'): null when it cannot
 * answer (not alive, an older agent, unreachable); absent: gossip records only.
 */
export type RemoteChecks = (m: MemberRecord) => Promise<CheckBrief[] | null>;
