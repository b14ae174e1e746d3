/**
 * Messages between the main thread and a sandboxed Worker. Pure data; imported by both sides.
 */

import type { StatFs } from "../fs/mod.ts";

/** main -> worker: call a method the worker serves. */
export interface CallMessage {
  kind: "call";
  id: number;
  method: string;
  params: unknown;
}

/** worker -> main: the answer to a call. */
export interface ReplyMessage {
  kind: "reply";
  id: number;
  ok: boolean;
  value?: unknown;
  error?: { name: string; message: string };
}

/** worker -> main: ask the read broker for a file or directory listing. */
export interface BrokerRequest {
  kind: "broker";
  id: number;
  op: BrokerOp;
  path: string;
  /** Process group leader pid (group ops only). */
  pid?: number;
  /** readChunk: most bytes to return. */
  max?: number;
  /** readChunk: where to start (bytes). */
  offset?: number;
  /** trackGroup/killGroup: the marker the children carry in their environment (see GroupOp). */
  marker?: string;
}

/**
 * What a Worker may ask the broker; `statfs` is checked against the spec's `statfsAllow`.
 * `readChunk` returns the bytes at `offset` (at most `max`, at most 1 MiB; empty at the end of the
 * file), so a big file is read piece by piece. `listening` of `/proc/net/tcp` or `tcp6` returns the
 * header and LISTEN lines of that file, asked of the kernel's socket diagnostics (see netlink.ts).
 */
export type BrokerOp =
  | "read"
  | "readChunk"
  | "readDir"
  | "readLink"
  | "stat"
  | "statfs"
  | "listening"
  | GroupOp;

/**
 * Process-group ops for Workers that spawn detached children (WorkerSpec.processGroups): a Worker
 * cannot call Deno.kill without full run permission, so it asks the main thread, which kills only
 * groups the Worker registered (and kills them all when the Worker stops).
 */
export type GroupOp = "trackGroup" | "killGroup" | "untrackGroup";

/** main -> worker: the broker's answer. */
export interface BrokerReply {
  kind: "broker-reply";
  id: number;
  ok: boolean;
  /** read: file text; readDir: entries; readLink: target; stat: info. */
  value?: unknown;
  error?: { name: string; message: string };
}

/**
 * worker -> main: the broker requests a Worker made in one turn of its event loop (collectors run
 * together read their files together), in one message; answered by one BrokerReplies.
 */
export interface BrokerBatch {
  kind: "broker-batch";
  requests: BrokerRequest[];
}

/** main -> worker: the answers to a BrokerBatch, in its order. */
export interface BrokerReplies {
  kind: "broker-replies";
  replies: BrokerReply[];
}

/** worker -> main once its handlers are installed, and again in answer to each HelloMessage. */
export interface ReadyMessage {
  kind: "ready";
}

/**
 * main -> worker while it waits for ReadyMessage: asks the Worker to say it again. Under
 * `deno test --parallel` (Deno 2.9.6), a new Worker's first message is at times never delivered
 * until another one follows it; the main thread re-asks until one arrives.
 */
export interface HelloMessage {
  kind: "hello";
}

export type ToWorker = CallMessage | BrokerReply | BrokerReplies | HelloMessage;
export type FromWorker = ReplyMessage | BrokerRequest | BrokerBatch | ReadyMessage;

export interface BrokerDirEntry {
  name: string;
  isFile: boolean;
  isDirectory: boolean;
  isSymlink: boolean;
}

export interface BrokerStat {
  isFile: boolean;
  isDirectory: boolean;
  size: number;
  mtime: number | null;
}

/** File-system usage of the file system holding a path (`statfs(2)`; sizes in `bsize` blocks). */
export type BrokerStatfs = StatFs;

/** Thrown in a Worker when the broker refuses a path. */
export class BrokerDenied extends Error {
  constructor(path: string) {
    super(`read of ${path} is not allowed for this worker`);
    this.name = "BrokerDenied";
  }
}

/**
 * A file through `read`, or null when it is missing or unreadable. A path refused by the allow-list
 * still throws BrokerDenied: that is a bug in the grant, not an absent file.
 */
export async function tryReadWith(
  read: (path: string) => Promise<string>,
  path: string,
): Promise<string | null> {
  try {
    return await read(path);
  } catch (err) {
    if ((err as Error).name === "BrokerDenied") throw err;
    return null;
  }
}

/** The environment variable that marks every process of one plugin run (see reaper.ts). */
export const RUN_MARKER_VAR = "KUNAI_RUN";
