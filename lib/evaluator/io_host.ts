/**
 * Main-thread side of the evaluator's machine Worker: an `EvalIo` whose calls run in io_worker.ts
 * under a deadline. The broker lets the Worker read only world-readable files outside the agent's
 * own configuration, data, logs and keys, so `grep("^root:", "/etc/shadow")` or a probe of
 * `keyring.json` is refused, and a regexp that backtracks for minutes costs one timeout.
 *
 * ```ts
 * const io = sandboxedIo(ctx.sandbox, { deny: agentSecretPaths(ctx.config) });
 * await evaluate("grep('debian', '/etc/os-release')", { io });
 * ```
 */
import { dirname } from "node:path";
import type { Sandbox, SandboxWorker } from "../sandbox/mod.ts";
import { NO_PERMISSIONS } from "../sandbox/mod.ts";
import { EvalError } from "./errors.ts";
import { packageSources } from "./io.ts";
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

/** An EvalIo running each call in a sandboxed Worker (started on first use). */
export function sandboxedIo(
  sandbox: Sandbox,
  opts: IoHostOptions,
): EvalIo & { worker(): SandboxWorker | null } {
  let w: SandboxWorker | null = null;
  let inFlight = 0;
  let idleTimer: ReturnType<typeof setTimeout> | undefined;
  const idleMs = opts.idleMs ?? 60_000;
  /** Each Worker costs RSS: one unused for `idleMs` (e.g. the eval route's) is stopped. */
  const armIdle = () => {
    clearTimeout(idleTimer);
    const t = setTimeout(() => {
      if (inFlight === 0 && w) {
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
  const ensure = (): SandboxWorker =>
    w ??= sandbox.spawn({
      name: opts.name ?? "evaluator-io",
      module: new URL("./io_worker.ts", import.meta.url),
      permissions: { ...NO_PERMISSIONS, net: true, run: rpm.length ? rpm : false },
      brokerAllow: ["/**"],
      brokerDeny: [...ALWAYS_DENIED, ...opts.deny],
      brokerWorldReadable: true,
      // loading the module on a busy box may be slow; each call's deadline starts once it is up
      startTimeoutMs: 30_000,
    });
  return {
    worker: () => w,
    async call(name: IoFunction, args: PyValue[]): Promise<PyValue> {
      const ms = name === "check_tcp" ? Number(args[2]) * 1000 + 2000 : deadline;
      let reply: IoReply;
      inFlight++;
      try {
        reply = await ensure().call<IoReply>("call", { name, args }, ms);
      } catch (err) {
        const e = err as Error;
        if (e.name === "WorkerTimeout") {
          throw new EvalError("limit", `${name}() did not finish within ${ms / 1000} s and was stopped`);
        }
        throw new EvalError("runtime", `${name}() failed: ${e.message}`);
      } finally {
        inFlight--;
        armIdle();
      }
      if (reply.ok) return reply.value;
      throw new EvalError(reply.kind, reply.message);
    },
  };
}
