/**
 * Main-thread side of the evaluator's machine functions: an `EvalIo` under a deadline and the
 * evaluator's broker policy, which reads only world-readable files outside the agent's own
 * configuration, data, logs and keys, so `grep("^root:", "/etc/shadow")` or a probe of
 * `keyring.json` is refused. A grep with a user regexp runs in io_worker.ts, so one that backtracks
 * for minutes costs one timeout; the other calls (file checks, literal grep, packages, TCP) only
 * wait on I/O and are answered here through the same policy, without a Worker.
 *
 * ```ts
 * const io = sandboxedIo(ctx.sandbox, { deny: agentSecretPaths(ctx.config) });
 * await evaluate("grep('debian', '/etc/os-release')", { io });
 * ```
 */
import { dirname } from "node:path";
import type { BrokerStat, Sandbox, SandboxWorker } from "../sandbox/mod.ts";
import { NO_PERMISSIONS } from "../sandbox/mod.ts";
import { EvalError } from "./errors.ts";
import { Deadlines } from "./deadlines.ts";
import { brokeredFs, makeIo, packageSources, rpmQuery } from "./io.ts";
import type { IoReply } from "./io_worker.ts";
import type { EvalIo, IoFunction } from "./machine.ts";
import type { PyValue } from "./values.ts";

/** Deadline of a file call (grep, fileexists, has_package), ms. */
export const IO_DEADLINE_MS = 5000;

/** Paths an expression must never read, whatever their mode. */
export const ALWAYS_DENIED = [
  "/etc/shadow",
  "/etc/shadow-",
  "/etc/gshadow",
  "/etc/gshadow-",
  "/etc/sudoers",
  "/etc/sudoers.d/**",
  "/etc/ssh/**",
  "/etc/ssl/private/**",
  "/root/**",
  "/proc/*/environ",
  "/proc/*/mem",
  "/proc/*/cmdline",
  "/proc/self/**",
  "/proc/thread-self/**",
];

/** The agent's paths that hold secrets or its own state, as deny patterns. */
export function agentSecretPaths(cfg: {
  cfgDir: string;
  dirs: string[];
  files: string[];
  params: { data: string; log: string; lock: string; socket: string };
}): string[] {
  const out = new Set<string>();
  const p = cfg.params;
  for (const d of [cfg.cfgDir, ...cfg.dirs, p.data, p.log]) {
    const base = d?.replace(/\/+$/, "");
    if (base) out.add(`${base}/**`);
  }
  for (const f of [p.lock, p.socket]) if (f) out.add(f);
  // a configuration file and its neighbours (local.json beside it may hold the token)
  for (const f of cfg.files) out.add(`${dirname(f)}/*`);
  return [...out];
}

export interface IoHostOptions {
  /** Extra paths refused to expressions (the agent's own: agentSecretPaths). */
  deny: string[];
  /** Worker name: separate lanes keep a slow API evaluation from delaying checks. */
  name?: string;
  /** File call deadline (default IO_DEADLINE_MS). */
  deadlineMs?: number;
  /** The Worker stops after this long without a call (default 60 s; it restarts on the next one). */
  idleMs?: number;
}

/** Calls that may run user-controlled CPU work (a regexp) and so need the Worker's deadline. */
function needsWorker(name: IoFunction, args: PyValue[]): boolean {
  return name === "grep" && args[2] === true;
}

/**
 * An EvalIo under the evaluator's broker policy. A grep with a user regexp runs in a sandboxed
 * Worker (started on first use, stopped after `idleMs` unused) that is terminated at the deadline;
 * the other calls only wait on files, dpkg's status file, rpm or a socket, so they are answered in
 * this thread through the same policy (`LocalBroker`): no isolate (~10-20 MB) for the default
 * detectors' `fileexists`/`grep`/`has_package`.
 */
export function sandboxedIo(
  sandbox: Sandbox,
  opts: IoHostOptions,
): EvalIo & { worker(): SandboxWorker | null; deniedReads(): number } {
  let w: SandboxWorker | null = null;
  let inFlight = 0;
  let idleTimer: ReturnType<typeof setTimeout> | undefined;
  const idleMs = opts.idleMs ?? 60_000;
  /** Each Worker costs RSS: one unused for `idleMs` (e.g. the eval route's) is stopped. */
  const armIdle = () => {
    clearTimeout(idleTimer);
    const t = setTimeout(() => {
      if (inFlight === 0 && w) {
        deniedBefore += w.deniedReads;
        w.terminate();
        w = null;
      }
    }, idleMs);
    Deno.unrefTimer(t);
    idleTimer = t;
  };
  const rpm = packageSources.rpm.filter((p) => {
    try {
      return Deno.statSync(p).isFile;
    } catch {
      return false;
    }
  });
  const deadline = opts.deadlineMs ?? IO_DEADLINE_MS;
  const policy = {
    name: opts.name ?? "evaluator-io",
    brokerAllow: ["/**"],
    brokerDeny: [...ALWAYS_DENIED, ...opts.deny],
    brokerWorldReadable: true,
  };
  const broker = sandbox.localBroker(policy);
  const local = makeIo(brokeredFs({
    stat: (path) => broker.op({ op: "stat", path }) as Promise<BrokerStat>,
    readChunk: (path, offset, max) =>
      broker.op({ op: "readChunk", path, offset, max }) as Promise<Uint8Array>,
    rpmQuery,
  }));
  let deniedBefore = 0; // refusals counted by Workers already stopped
  const ensure = (): SandboxWorker =>
    w ??= sandbox.spawn({
      ...policy,
      module: new URL("./io_worker.ts", import.meta.url),
      permissions: { ...NO_PERMISSIONS, net: true, run: rpm.length ? rpm : false },
      // loading the module on a busy box may be slow; each call's deadline starts once it is up
      startTimeoutMs: 30_000,
    });
  const inWorker = async (name: IoFunction, args: PyValue[], ms: number): Promise<PyValue> => {
    let reply: IoReply;
    try {
      reply = await ensure().call<IoReply>("call", { name, args }, ms);
    } catch (err) {
      const e = err as Error;
      if (e.name === "WorkerTimeout") {
        throw new EvalError("limit", `${name}() did not finish within ${ms / 1000} s and was stopped`);
      }
      throw new EvalError("runtime", `${name}() failed: ${e.message}`);
    }
    if (reply.ok) return reply.value;
    throw new EvalError(reply.kind, reply.message);
  };
  // the calls of a detector round overlap: one deadline timer for all of them
  const deadlines = new Deadlines();
  const inThread = async (name: IoFunction, args: PyValue[], ms: number): Promise<PyValue> => {
    let expire!: (err: EvalError) => void;
    const expired = new Promise<never>((_, reject) => expire = reject);
    const done = deadlines.watch(
      ms,
      () => expire(new EvalError("limit", `${name}() did not finish within ${ms / 1000} s`)),
    );
    try {
      return await Promise.race([local.call(name, args), expired]);
    } catch (err) {
      if (err instanceof EvalError) throw err;
      throw new EvalError("runtime", `${name}() failed: ${(err as Error)?.message ?? err}`);
    } finally {
      done();
    }
  };
  return {
    worker: () => w,
    deniedReads: () => broker.deniedReads + deniedBefore + (w?.deniedReads ?? 0),
    async call(name: IoFunction, args: PyValue[]): Promise<PyValue> {
      const ms = name === "check_tcp" ? Number(args[2]) * 1000 + 2000 : deadline;
      if (!needsWorker(name, args)) return await inThread(name, args, ms);
      inFlight++;
      try {
        return await inWorker(name, args, ms);
      } finally {
        inFlight--;
        armIdle();
      }
    },
  };
}
