/**
 * Permission-scoped Workers with a read broker.
 *
 * Deno lets only `--allow-all` processes read `/proc`, `/sys` and `/dev`, and never a restricted
 * Worker, so the agent runs with all permissions and answers a Worker's file requests itself when
 * the path is on that Worker's allow-list. Workers are long-lived and grouped by permission set.
 *
 * ```ts
 * const sandbox = new Sandbox(log);
 * const w = sandbox.spawn({
 *   name: "linux-collectors",
 *   module: new URL("../collectors/workers/linux.ts", import.meta.url),
 *   permissions: { read: false, write: false, net: false, run: false, env: false, ffi: false, sys: false, import: false },
 *   brokerAllow: ["/proc/stat", "/proc/net/dev", "/sys/block/*"],
 * });
 * const load = await w.call("loadavg", {}, 2000);
 * ```
 */
import type {
  BrokerDirEntry,
  BrokerReply,
  BrokerRequest,
  CallMessage,
  FromWorker,
  ReplyMessage,
} from "./protocol.ts";
import type { Logger } from "../log/mod.ts";
import { silentLogger } from "../log/mod.ts";

import { statfsSync } from "node:fs";

export type { BrokerDirEntry, BrokerStat, BrokerStatfs } from "./protocol.ts";
export { BrokerDenied } from "./protocol.ts";

/** Deno permissions of a Worker (anything not listed is denied). */
export type WorkerPermissions = Deno.PermissionOptionsObject;

/** Everything denied: the starting point for every Worker. */
export const NO_PERMISSIONS: WorkerPermissions = {
  env: false,
  ffi: false,
  import: false,
  net: false,
  read: false,
  run: false,
  sys: false,
  write: false,
};

export interface WorkerSpec {
  /** Shown in logs and errors. */
  name: string;
  /** The Worker module (it calls `serve()` from worker_kit.ts). */
  module: URL | string;
  permissions: WorkerPermissions;
  /**
   * Paths the broker may read for this Worker: exact paths, `dir/*` (direct children),
   * `dir/**` (anything below). Symlinks are resolved before matching.
   */
  brokerAllow?: string[];
  /** Paths (same patterns) the broker may `statfs` for this Worker: sizes only, never contents. */
  statfsAllow?: string[];
  /** Time allowed for the Worker to load and call serve() (default 10 s). */
  startTimeoutMs?: number;
  /**
   * The Worker spawns detached children and may ask the main thread to kill their process groups
   * (worker_kit `trackProcessGroup` / `killProcessGroup`). Tracked groups die with the Worker.
   */
  processGroups?: boolean;
}

/** A call that did not answer in time; the Worker was restarted. */
export class WorkerTimeout extends Error {
  constructor(worker: string, method: string, ms: number) {
    super(`${worker}: ${method} did not answer within ${ms} ms (worker restarted)`);
    this.name = "WorkerTimeout";
  }
}

/** An error thrown inside the Worker, re-thrown in the main thread with its name. */
export class WorkerError extends Error {
  constructor(readonly worker: string, name: string, message: string) {
    super(message);
    this.name = name;
  }
}

/** Largest file the broker hands over (a Worker cannot make the agent slurp huge files). */
const MAX_BROKER_FILE = 4 * 1024 * 1024;

/** Matches a path against an allow-list entry. */
export function brokerAllows(allow: string[], path: string): boolean {
  if (!path.startsWith("/") || path.split("/").includes("..")) return false;
  for (const a of allow) {
    if (a.endsWith("/**")) {
      const base = a.slice(0, -3);
      if (path === base || path.startsWith(base + "/")) return true;
    } else if (a.endsWith("/*")) {
      const base = a.slice(0, -2);
      if (path === base) return true;
      if (path.startsWith(base + "/") && !path.slice(base.length + 1).includes("/")) return true;
    } else if (a.includes("*")) {
      // segment glob like /proc/*/stat
      const re = new RegExp("^" + a.split("*").map(escapeRe).join("[^/]*") + "$");
      if (re.test(path)) return true;
    } else if (a === path) return true;
  }
  return false;
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/**
 * True when `pid` leads its own process group and is our direct child, or has already exited
 * (a fast plugin; its leftover group members, if any, still carry its pgid).
 */
function ownDetachedChild(pid: number): boolean {
  let stat: string;
  try {
    stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  } catch {
    return true;
  }
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ppid = Number(fields[1]), pgrp = Number(fields[2]);
  return pgrp === pid && (ppid === Deno.pid || fields[0] === "Z");
}

function killGroup(pid: number): void {
  try {
    Deno.kill(-pid, "SIGKILL");
  } catch { /* already gone */ }
}

/** One long-lived Worker. Calls are queued by id; a timed-out call restarts the Worker. */
export class SandboxWorker {
  readonly spec: WorkerSpec;
  #worker: Worker | null = null;
  #ready: Promise<void> | null = null;
  #nextId = 1;
  #pending = new Map<
    number,
    { resolve: (v: unknown) => void; reject: (e: Error) => void; timer: ReturnType<typeof setTimeout> }
  >();
  #log: Logger;
  #closed = false;
  /** Detached children's process groups registered by the Worker. */
  #groups = new Set<number>();
  /** Broker requests refused, for info and tests. */
  deniedReads = 0;
  /** Times the Worker was (re)started. */
  starts = 0;

  constructor(spec: WorkerSpec, log: Logger) {
    this.spec = spec;
    this.#log = log;
  }

  #start(): Promise<void> {
    if (this.#ready) return this.#ready;
    this.starts++;
    const w = new Worker(this.spec.module, {
      type: "module",
      name: this.spec.name,
      deno: { permissions: this.spec.permissions },
    });
    this.#worker = w;
    this.#ready = new Promise<void>((resolve, reject) => {
      const ms = this.spec.startTimeoutMs ?? 10_000;
      const timer = setTimeout(() => {
        reject(new Error(`${this.spec.name}: worker did not start within ${ms} ms`));
        this.#restart();
      }, ms);
      w.onmessage = (ev: MessageEvent<FromWorker>) => {
        const msg = ev.data;
        if (msg.kind === "ready") {
          clearTimeout(timer);
          resolve();
        } else if (msg.kind === "reply") this.#onReply(msg);
        else if (msg.kind === "broker") void this.#onBroker(w, msg);
      };
      w.onerror = (ev: ErrorEvent) => {
        ev.preventDefault();
        clearTimeout(timer);
        const err = new Error(`${this.spec.name}: worker failed: ${ev.message}`);
        this.#log.error(err.message);
        reject(err);
        this.#failAll(err);
        this.#restart();
      };
    });
    this.#ready.catch(() => {});
    return this.#ready;
  }

  #restart(): void {
    for (const pid of this.#groups) killGroup(pid);
    this.#groups.clear();
    this.#worker?.terminate();
    this.#worker = null;
    this.#ready = null;
  }

  #failAll(err: Error): void {
    for (const [id, p] of this.#pending) {
      clearTimeout(p.timer);
      p.reject(err);
      this.#pending.delete(id);
    }
  }

  #onReply(msg: ReplyMessage): void {
    const p = this.#pending.get(msg.id);
    if (!p) return;
    this.#pending.delete(msg.id);
    clearTimeout(p.timer);
    if (msg.ok) p.resolve(msg.value);
    else {p.reject(
        new WorkerError(this.spec.name, msg.error?.name ?? "Error", msg.error?.message ?? "worker error"),
      );}
  }

  async #onBroker(w: Worker, msg: BrokerRequest): Promise<void> {
    const reply: BrokerReply = { kind: "broker-reply", id: msg.id, ok: true };
    try {
      reply.value = await this.#brokerOp(msg);
    } catch (err) {
      const e = err as Error;
      reply.ok = false;
      reply.error = { name: e.name, message: e.message };
    }
    if (this.#worker === w) w.postMessage(reply);
  }

  async #brokerOp(msg: BrokerRequest): Promise<unknown> {
    if (msg.op === "trackGroup" || msg.op === "killGroup" || msg.op === "untrackGroup") {
      return this.#groupOp(msg);
    }
    const allow = (msg.op === "statfs" ? this.spec.statfsAllow : this.spec.brokerAllow) ?? [];
    const path = msg.path;
    if (typeof path !== "string" || !brokerAllows(allow, path)) {
      this.deniedReads++;
      this.#log.warn(
        `${this.spec.name}: broker refused ${msg.op} of ${String(path)} (not on its allow-list)`,
      );
      const e = new Error(`read of ${String(path)} is not allowed for this worker`);
      e.name = "BrokerDenied";
      throw e;
    }
    switch (msg.op) {
      case "read": {
        const data = await Deno.readFile(path);
        if (data.length > MAX_BROKER_FILE) throw new Error(`${path} is larger than ${MAX_BROKER_FILE} bytes`);
        return new TextDecoder().decode(data);
      }
      case "readDir": {
        const out: BrokerDirEntry[] = [];
        for await (const e of Deno.readDir(path)) {
          out.push({ name: e.name, isFile: e.isFile, isDirectory: e.isDirectory, isSymlink: e.isSymlink });
          if (out.length > 100_000) break;
        }
        return out;
      }
      case "readLink":
        return await Deno.readLink(path);
      case "stat": {
        const st = await Deno.stat(path);
        return {
          isFile: st.isFile,
          isDirectory: st.isDirectory,
          size: st.size,
          mtime: st.mtime?.getTime() ?? null,
        };
      }
      case "statfs": {
        // Deno has no statfs; node:fs has it (the main thread runs with all permissions).
        const s = statfsSync(path);
        return {
          type: Number(s.type),
          bsize: Number(s.bsize),
          blocks: Number(s.blocks),
          bfree: Number(s.bfree),
          bavail: Number(s.bavail),
          files: Number(s.files),
          ffree: Number(s.ffree),
        };
      }
    }
  }

  #groupOp(msg: BrokerRequest): null {
    const pid = msg.pid;
    if (!this.spec.processGroups || typeof pid !== "number" || !Number.isInteger(pid) || pid <= 1) {
      this.deniedReads++;
      const e = new Error(`${this.spec.name}: process group op ${msg.op} of ${String(pid)} is not allowed`);
      e.name = "BrokerDenied";
      throw e;
    }
    if (msg.op === "trackGroup") {
      if (!ownDetachedChild(pid)) {
        const e = new Error(`${this.spec.name}: pid ${pid} is not a detached child of this agent`);
        e.name = "BrokerDenied";
        throw e;
      }
      this.#groups.add(pid);
    } else if (msg.op === "untrackGroup") this.#groups.delete(pid);
    else {
      if (!this.#groups.has(pid)) {
        const e = new Error(`${this.spec.name}: process group ${pid} was not registered`);
        e.name = "BrokerDenied";
        throw e;
      }
      killGroup(pid);
    }
    return null;
  }

  /** Process groups the Worker registered and has not released (killed when it stops). */
  get trackedGroups(): number[] {
    return [...this.#groups];
  }

  /** Calls a method served by the Worker; rejects after `timeoutMs` and restarts the Worker. */
  async call<T = unknown>(method: string, params: unknown = {}, timeoutMs = 10_000): Promise<T> {
    if (this.#closed) throw new Error(`${this.spec.name}: sandbox worker is stopped`);
    await this.#start();
    const w = this.#worker!;
    const id = this.#nextId++;
    return await new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        if (!this.#pending.has(id)) return;
        this.#pending.delete(id);
        this.#log.warn(`${this.spec.name}: ${method} timed out after ${timeoutMs} ms; restarting the worker`);
        const err = new WorkerTimeout(this.spec.name, method, timeoutMs);
        reject(err);
        this.#failAll(err);
        this.#restart();
      }, timeoutMs);
      this.#pending.set(id, { resolve: resolve as (v: unknown) => void, reject, timer });
      const msg: CallMessage = { kind: "call", id, method, params };
      try {
        w.postMessage(msg);
      } catch (err) {
        clearTimeout(timer);
        this.#pending.delete(id);
        reject(err);
      }
    });
  }

  /** True while the isolate is running. */
  get running(): boolean {
    return this.#worker !== null;
  }

  terminate(): void {
    this.#closed = true;
    this.#failAll(new Error(`${this.spec.name}: sandbox worker stopped`));
    this.#restart();
  }
}

/** Creates and tracks the agent's Workers so they all stop with it. */
export class Sandbox {
  #workers = new Map<string, SandboxWorker>();
  #log: Logger;

  constructor(log: Logger = silentLogger) {
    this.#log = log;
  }

  /** Starts (lazily, on first call) a Worker; one per name. */
  spawn(spec: WorkerSpec): SandboxWorker {
    const existing = this.#workers.get(spec.name);
    if (existing) existing.terminate();
    const w = new SandboxWorker(spec, this.#log);
    this.#workers.set(spec.name, w);
    return w;
  }

  workers(): SandboxWorker[] {
    return [...this.#workers.values()];
  }

  stopAll(): void {
    for (const w of this.#workers.values()) w.terminate();
    this.#workers.clear();
  }
}
