/**
 * What the runtime asks a collectors Worker and what it answers (pure data, used on both sides),
 * and the Worker side of `runMany`.
 */
import { gridDelay } from "../clock/mod.ts";

/** `run` parameters: the collector name and the global configuration data. */
export interface RunRequest {
  name: string;
  /** Free configuration data (redis_server, mysql_user...). */
  data?: Record<string, unknown>;
  timeoutMs?: number;
}

/** `run` answer: results (replace the previous ones) and, when set, why the collector is inactive. */
export interface RunReply {
  results: Record<string, unknown> | null;
  inactive?: string;
  /** Problems that did not fail the run (a connection that did not close cleanly): logged and counted. */
  warnings?: string[];
}

/** `runMany` parameters: several collectors of one Worker due at the same time (one message). */
export interface RunManyRequest {
  names: string[];
  data?: Record<string, unknown>;
  timeoutMs?: number;
}

/** `runMany` answer: per collector, its reply or the error its run threw. */
export type RunManyReply = Record<string, RunReply | { error: { name: string; message: string } }>;

/**
 * Worker side of `runMany`: runs the collectors at once, each under its own `timeoutMs` (a slow one
 * is reported as timed out; the others' answers are not held back longer than that).
 */
export async function runMany(
  run: (req: RunRequest) => Promise<RunReply>,
  req: RunManyRequest,
): Promise<RunManyReply> {
  const out: RunManyReply = {};
  const ms = req.timeoutMs ?? 8000;
  await Promise.all(req.names.map(async (name) => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<never>((_, reject) => {
      // on the agent's wake grid: the limit is nearly always cleared, and a cleared timer still wakes the loop
      timer = setTimeout(() => reject(new Error(`run took longer than ${ms} ms`)), gridDelay(Date.now(), ms));
    });
    try {
      out[name] = await Promise.race([run({ name, data: req.data, timeoutMs: ms }), late]);
    } catch (err) {
      const e = err instanceof Error ? err : new Error(String(err));
      out[name] = { error: { name: e.name, message: e.message } };
    } finally {
      clearTimeout(timer);
    }
  }));
  return out;
}
