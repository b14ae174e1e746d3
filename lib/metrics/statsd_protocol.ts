/**
 * Messages between the metrics subsystem and its statsd Worker (the Worker owns the UDP socket so
 * a busy main thread never lets the kernel buffer overflow).
 */
import type { MgmtAnswer, MgmtKind, StatsdOptions, StatsdState, StatsdStats } from "./statsd_aggregator.ts";

export type ToStatsdWorker =
  | { type: "start"; hostname: string; port: number; opts: StatsdOptions }
  /** Aggregate here (`local`), or pass every datagram to the main thread (ts routing). */
  | { type: "mode"; local: boolean }
  /**
   * Lines received elsewhere (TCP) that belong to this aggregator; `handed`: what the main thread
   * aggregated under ts routing, handed here when it ends (counted in statsd.metrics there already).
   */
  | { type: "lines"; lines: string[]; handed?: boolean }
  /**
   * The interval's points; `merge`: a state added first (what a stop handed over); `keep`: the
   * state is answered too, as it was before the flush reset it (a stop hands it over).
   */
  | { type: "flush"; id: number; ts: number; merge?: StatsdState; keep?: boolean }
  /** The management console: one kind's values, or (with `buckets`) etsy's del* of them; null: sizes only. */
  | { type: "mgmt"; id: number; kind: MgmtKind | null; buckets?: string[] }
  /** Datagrams handed over (`packet`) that the main thread has taken since the last `taken`. */
  | { type: "taken"; n: number }
  /** The Worker's socket descriptor, to take queued datagrams in batches (recvmmsg). */
  | { type: "batch"; fd: number }
  | { type: "stop" };

export type FromStatsdWorker =
  | { type: "listening"; port: number }
  | { type: "error"; message: string; fatal: boolean }
  /** `received`: datagrams and TCP line batches taken so far (the console's last_msg_seen). */
  | {
    type: "stats";
    stats: StatsdStats;
    lastBad: string;
    received: number;
    /** Datagrams dropped because the main thread had HANDOFF_MAX of them not yet taken. */
    handoffDropped: number;
    /** Queued datagrams are taken in batches (recvmmsg). */
    batching: boolean;
  }
  | { type: "packet"; bytes: Uint8Array }
  | {
    type: "flushed";
    id: number;
    points: Array<[string, number, number]>;
    stats: StatsdStats;
    state?: StatsdState;
  }
  /** A console answer, with the counters as they are at that moment (the console's `stats` reads them). */
  | { type: "mgmt"; id: number; answer: MgmtAnswer; received: number; stats: StatsdStats; lastBad: string };

/** Datagrams handed to the main thread (ts routing) and not yet taken at most; more are dropped, counted. */
export const HANDOFF_MAX = 20_000;
/** The main thread says how many it took every this many. */
export const HANDOFF_ACK_EVERY = 256;
