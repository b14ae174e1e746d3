/**
 * The evaluator as a (tiny) subsystem: it owns no state and no loop, it only serves
 * `GET /agent/evaluator/list` and `POST /agent/evaluator/eval` with the node's current collector
 * results and global configuration data.
 */
import type { Hono } from "hono";
import type { ApiEnv } from "../routing/mod.ts";
import type { Ctx, Subsystem } from "../subsystem.ts";
import { EvalError } from "./errors.ts";
import { walk } from "./substitute.ts";
import { evaluatorRoutes } from "./routes.ts";

/** What the subsystem needs from mod.ts (passed in to avoid an import cycle). */
export interface EvaluatorCore<E> {
  evaluateRaw(expr: string, env: E): Promise<unknown>;
  functionNames(): string[];
}

/** Dotted lookup in the global configuration data (`{configuration.a.b}`); keys may hold dots. */
export function dataLookup(data: Record<string, unknown>): (path: string) => unknown {
  return (path) => walk(data, path.split("."));
}

/** Builds the subsystem; `env` is built per request so results are current. */
export function makeEvaluatorSubsystem<E>(
  ctx: Ctx,
  core: EvaluatorCore<E>,
  env: () => E,
): Subsystem {
  let evaluations = 0;
  let failures = 0;
  ctx.counters.describe(
    "evaluator_evaluations_total",
    "counter",
    "expressions evaluated over HTTP, by result",
  );
  const counted: EvaluatorCore<E> = {
    functionNames: core.functionNames,
    async evaluateRaw(expr, e) {
      evaluations++;
      try {
        const v = await core.evaluateRaw(expr, e);
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
    info: () => ({ functions: core.functionNames().length, evaluations, failures }),
    routes: (): Hono<ApiEnv> => evaluatorRoutes(env, counted),
  };
}
