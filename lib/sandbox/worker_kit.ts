/**
 * The Worker side of the sandbox: serve named methods and reach files through the read broker.
 * Import this (and pure helpers) only from Worker modules.
 *
 * ```ts
 * // lib/collectors/workers/linux.ts
 * import { brokerRead, serve } from "../../sandbox/worker_kit.ts";
 * serve({ async loadavg() { return (await brokerRead("/proc/loadavg")).split(" ").slice(0, 3); } });
 * ```
 */
import type {
  BrokerDirEntry,
  BrokerOp,
  BrokerReply,
  BrokerRequest,
  BrokerStat,
  BrokerStatfs,
  FromWorker,
  ReplyMessage,
  ToWorker,
} from "./protocol.ts";
import { tryReadWith } from "./protocol.ts";

type Handler = (params: never) => unknown | Promise<unknown>;

// deno-lint-ignore no-explicit-any
const scope = globalThis as any;
let nextId = 1;
const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();

function post(msg: FromWorker): void {
  scope.postMessage(msg);
}

/** Broker requests of this turn, sent together when it ends (one message for many reads). */
let queued: BrokerRequest[] = [];

function sendQueued(): void {
  const q = queued;
  queued = [];
  post(q.length === 1 ? q[0] : { kind: "broker-batch", requests: q });
}

function brokerCall(
  op: BrokerOp,
  path: string,
  extra: { pid?: number; max?: number; offset?: number; marker?: string } = {},
): Promise<unknown> {
  const id = nextId++;
  return new Promise((resolve, reject) => {
    pending.set(id, { resolve, reject });
    queued.push({ kind: "broker", id, op, path, ...extra });
    if (queued.length === 1) queueMicrotask(sendQueued);
  });
}

function settle(msg: BrokerReply): void {
  const p = pending.get(msg.id);
  if (!p) return;
  pending.delete(msg.id);
  if (msg.ok) p.resolve(msg.value);
  else {
    const e = new Error(msg.error?.message ?? "broker error");
    e.name = msg.error?.name ?? "Error";
    p.reject(e);
  }
}

/**
 * Registers a detached child (leader of its own process group) so the main thread may kill it;
 * `marker` is the value of `KUNAI_RUN` in the child's environment, which lets the main thread find
 * descendants that left the group (`setsid`).
 */
export function trackProcessGroup(pid: number, marker = ""): Promise<void> {
  return brokerCall("trackGroup", "", { pid, marker }) as Promise<void>;
}
/** Asks the main thread to SIGKILL a registered process group (the child and all its descendants). */
export function killProcessGroup(pid: number): Promise<void> {
  return brokerCall("killGroup", "", { pid }) as Promise<void>;
}
/** Forgets a registered process group once its leader was reaped. */
export function untrackProcessGroup(pid: number): Promise<void> {
  return brokerCall("untrackGroup", "", { pid }) as Promise<void>;
}

/** Reads a text file through the main thread's broker (allow-listed paths only). */
export function brokerRead(path: string): Promise<string> {
  return brokerCall("read", path) as Promise<string>;
}
/** Reads a file through the broker, or null when it is missing or unreadable (see tryReadWith). */
export function brokerTryRead(path: string): Promise<string | null> {
  return tryReadWith(brokerRead, path);
}

/** Up to `max` bytes of a file from `offset`, through the broker (empty at the end of the file). */
export function brokerReadChunk(path: string, offset: number, max: number): Promise<Uint8Array> {
  return brokerCall("readChunk", path, { offset, max }) as Promise<Uint8Array>;
}

/**
 * The header and LISTEN lines of `/proc/net/tcp` or `tcp6`, asked of the kernel's socket diagnostics
 * by the broker (the file itself costs a walk of every connection bucket); rejects where that cannot be
 * done (read the file then).
 */
export function brokerListening(path: string): Promise<string> {
  return brokerCall("listening", path) as Promise<string>;
}

/** Lists a directory through the broker. */
export function brokerReadDir(path: string): Promise<BrokerDirEntry[]> {
  return brokerCall("readDir", path) as Promise<BrokerDirEntry[]>;
}
/** Reads a symlink target through the broker. */
export function brokerReadLink(path: string): Promise<string> {
  return brokerCall("readLink", path) as Promise<string>;
}
/** Stats a path through the broker. */
export function brokerStat(path: string): Promise<BrokerStat> {
  return brokerCall("stat", path) as Promise<BrokerStat>;
}

/** File-system usage of the mount holding a path (the spec's `statfsAllow` list applies). */
export function brokerStatfs(path: string): Promise<BrokerStatfs> {
  return brokerCall("statfs", path) as Promise<BrokerStatfs>;
}

/** Installs the method table and tells the main thread we are ready. */
export function serve(handlers: Record<string, Handler>): void {
  scope.onmessage = async (ev: MessageEvent) => {
    const msg = ev.data as ToWorker;
    if (msg.kind === "hello") return post({ kind: "ready" });
    if (msg.kind === "broker-reply") return settle(msg);
    if (msg.kind === "broker-replies") return msg.replies.forEach(settle);
    if (msg.kind !== "call") return;
    const reply: ReplyMessage = { kind: "reply", id: msg.id, ok: true };
    try {
      const h = handlers[msg.method];
      if (!h) throw new Error(`unknown method ${msg.method}`);
      reply.value = await h(msg.params as never);
    } catch (err) {
      reply.ok = false;
      const e = err instanceof Error ? err : new Error(String(err));
      reply.error = { name: e.name, message: e.message };
    }
    try {
      post(reply);
    } catch (err) {
      post({ kind: "reply", id: msg.id, ok: false, error: { name: "DataCloneError", message: String(err) } });
    }
    collectIfGrown();
  };
  post({ kind: "ready" });
}

/** Heap growth of this Worker's isolate (bytes) after which an idle moment gets a full collection. */
const COLLECT_GROWTH = 2 * 1024 * 1024;
let heapFloor: number | null = null;

/**
 * A full collection of this isolate when nothing is in flight and its heap grew COLLECT_GROWTH
 * since the last one (or since V8's own): a Worker called every 10 s allocates too steadily for V8's
 * memory reducer, and its garbage piled up towards the next mark-compact (see
 * lib/process_metrics/heap.ts). Only where V8 exposes `gc` (the agent's `--expose-gc`).
 */
function collectIfGrown(): void {
  if (typeof scope.gc !== "function" || pending.size > 0) return;
  const used = Deno.memoryUsage().heapUsed;
  if (heapFloor === null || used < heapFloor) heapFloor = used;
  if (used - heapFloor < COLLECT_GROWTH) return;
  scope.gc();
  heapFloor = Deno.memoryUsage().heapUsed;
}
