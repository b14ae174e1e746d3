/**
 * Calls between the docker subsystem and its Worker. Pure data.
 */
import type { RawCgroupStats } from "./cgroups.ts";

export interface PollRequest {
  socket: string;
  /** epoch seconds; events since then (none on the first poll) */
  since: number | null;
  until: number;
}

export interface PollReply {
  version: Record<string, unknown>;
  /** `/containers/<id>/json` of every running container */
  containers: Array<Record<string, unknown>>;
  images: Array<Record<string, unknown>>;
  events: Array<Record<string, unknown>>;
  /** Why `/events` gave nothing this time (a non-200 answer): the window is asked for again. */
  events_error?: string;
}

export interface CgroupRequest {
  ids: string[];
  mountsPath: string;
}

export type CgroupReply = Record<string, RawCgroupStats | { error: string }>;
