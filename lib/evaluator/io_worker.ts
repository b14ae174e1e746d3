/**
 * The evaluator's machine Worker: grep, fileexists, has_package and check_tcp run here, never on
 * the agent's main thread. Files come through the read broker (world-readable files only, never the
 * agent's own configuration, keys or data: see io_host.ts); the Worker has net (check_tcp) and may
 * run only rpm. A call that overruns its deadline gets the Worker terminated by the main thread,
 * so a pathological regexp costs one timeout. Imports only the sandbox kit and pure helpers.
 */
import { brokerReadChunk, brokerStat, serve } from "../sandbox/worker_kit.ts";
import { EvalError } from "./errors.ts";
import { type IoFs, makeIo, rpmQuery } from "./io.ts";
import type { IoFunction } from "./machine.ts";
import type { PyValue } from "./values.ts";

/** The answer of one call (EvalErrors travel as data, with their kind). */
export type IoReply = { ok: true; value: PyValue } | { ok: false; kind: EvalError["kind"]; message: string };

function refusedOr<T>(path: string, err: unknown, fallback: T): T {
  if ((err as Error)?.name === "BrokerDenied") {
    throw new EvalError("runtime", `${path} may not be read by expressions (${(err as Error).message})`);
  }
  return fallback;
}

const brokerFs: IoFs = {
  async stat(path) {
    try {
      return await brokerStat(path);
    } catch (err) {
      return refusedOr(path, err, null);
    }
  },
  async readChunk(path, offset, len) {
    try {
      return await brokerReadChunk(path, offset, len);
    } catch (err) {
      return refusedOr(path, err, null);
    }
  },
  rpmQuery,
};

const io = makeIo(brokerFs);

serve({
  async call(p: { name: IoFunction; args: PyValue[] }): Promise<IoReply> {
    try {
      return { ok: true, value: await io.call(p.name, p.args) };
    } catch (err) {
      if (err instanceof EvalError) return { ok: false, kind: err.kind, message: err.reason };
      return { ok: false, kind: "runtime", message: `${p.name}() failed: ${(err as Error)?.message ?? err}` };
    }
  },
});
