/**
 * The evaluator as a (tiny) subsystem: it owns no state and no loop, it only serves
 * `GET /agent/evaluator/list` and `POST /agent/evaluator/eval` (a write route) with the node's
 * current collector results and global configuration data, secrets masked. Also builds the
 * sandboxed machine io that checks and detectors share (`machineIo`).
 */
import type { Ctx, Subsystem } from "../subsystem.ts";
import type { Sandbox } from "../sandbox/mod.ts";
import type { CollectorResultsView } from "../types.ts";
import { EvalError } from "./errors.ts";
import { agentSecretPaths, sandboxedIo } from "./io_host.ts";
import type { EvalIo } from "./machine.ts";
import { walkPath } from "./substitute.ts";
import { isSecretName, redactSecrets } from "../secrets.ts";
import { evaluatorRoutes } from "./routes.ts";
import { type EvalEnv, evaluateRaw, functionNames } from "./evaluate.ts";

/** Dotted lookup in the global configuration data (`{configuration.a.b}`); keys may hold dots. */
export function dataLookup(data: () => Record<string, unknown>): (path: string) => unknown {
  return (path) => walkPath(data(), path);
}

/**
 * `lookup` as API evaluations (and checks the API wrote) see it: a path with a secret-named part is
 * refused with an EvalError, secrets inside what it finds are masked.
 */
export function publicLookup(lookup: (path: string) => unknown): (path: string) => unknown {
  return (path) => {
    const secret = path.split(".").find((seg) => isSecretName(seg.trim()));
    if (secret) {
      throw new EvalError(
        "name",
        `configuration value '${path}' looks like a secret ('${secret.trim()}') and is not available to evaluations over the API`,
      );
    }
    return redactSecrets(lookup(path));
  };
}

const ioBySandbox = new WeakMap<Sandbox, Map<string, EvalIo>>();

/**
 * The agent's machine io for expressions: one sandboxed Worker per `lane` (started on first use),
 * refusing the agent's own configuration, data, logs and keys. Checks and detectors share the
 * default lane; the eval route has its own so a slow API call never delays a check.
 */
export function machineIo(ctx: Pick<Ctx, "sandbox" | "config">, lane = "evaluator-io"): EvalIo {
  let lanes = ioBySandbox.get(ctx.sandbox);
  if (!lanes) ioBySandbox.set(ctx.sandbox, lanes = new Map());
  let io = lanes.get(lane);
  if (!io) {
    io = sandboxedIo(ctx.sandbox, { name: lane, deny: agentSecretPaths(ctx.config) });
    lanes.set(lane, io);
  }
  return io;
}

/** What the evaluator subsystem needs from the others (wired by lib/agent.ts). */
export interface EvaluatorDeps {
  /** Latest collector results (`{collector.x.y}`); absent when collectors do not run. */
  collectors?: CollectorResultsView;
}

/** Builds the subsystem; the env is built per request so results are current. */
export function createEvaluator(ctx: Ctx, deps: EvaluatorDeps = {}): Subsystem {
  let evaluations = 0;
  let failures = 0;
  const io = machineIo(ctx, "evaluator-io-api");
  const env = (): EvalEnv => ({
    collectors: deps.collectors,
    lookup: publicLookup((path) => walkPath(ctx.config.data, path)),
    io,
  });
  ctx.counters.describe(
    "evaluator_evaluations_total",
    "counter",
    "expressions evaluated over HTTP, by result",
  );
  const counted = {
    functionNames,
    async evaluateRaw(expr: string, e: EvalEnv): Promise<unknown> {
      evaluations++;
      try {
        const v = await evaluateRaw(expr, e);
        ctx.counters.inc("evaluator_evaluations_total", { result: "ok" });
        return v;
      } catch (err) {
        failures++;
        ctx.counters.inc("evaluator_evaluations_total", {
          result: err instanceof EvalError ? err.kind : "error",
        });
        throw err;
      }
    },
  };
  return {
    name: "evaluator",
    start: () => Promise.resolve(),
    stop: () => Promise.resolve(),
    info: () => ({ functions: functionNames().length, evaluations, failures }),
    routes: () => evaluatorRoutes(env, counted),
  };
}
