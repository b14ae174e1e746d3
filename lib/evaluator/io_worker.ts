/**
 * The evaluator's machine Worker: a grep with a user regexp runs here, never on the agent's main
 * thread (the other machine functions only wait on files and sockets: io_host.ts answers them in
 * the main thread through the same broker policy, without starting this isolate). Files come
 * through the read broker (world-readable files only, never the agent's own configuration, keys
 * or data: see io_host.ts). A call that overruns its deadline gets the Worker terminated by the
 * main thread, so a pathological regexp costs one timeout. Imports only the sandbox kit and pure
 * helpers.
 */
import { brokerReadChunk, brokerStat, serve } from "../sandbox/worker_kit.ts";
import { EvalError } from "./errors.ts";
import { brokeredFs, makeIo, rpmQuery } from "./io.ts";
import type { IoFunction } from "./machine.ts";
import type { PyValue } from "./values.ts";

/** The answer of one call (EvalErrors travel as data, with their kind). */
export type IoReply = { ok: true; value: PyValue } | { ok: false; kind: EvalError["kind"]; message: string };

const io = makeIo(brokeredFs({ stat: brokerStat, readChunk: brokerReadChunk, rpmQuery }));

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
