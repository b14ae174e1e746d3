/**
 * Runs one remote command through the kernel shell runner (`lib/process`: `sh -c` in its own
 * process group, with a deadline), keeping at most `maxOutput` bytes of stdout and of stderr (the
 * rest is counted, and the result says it was truncated).
 */
import { runShell } from "../process/mod.ts";

export interface RunResult {
  rc: number;
  output: string;
  err: string;
  /** Bytes dropped from stdout/stderr beyond the cap. */
  truncated: { output: number; err: number };
  timed_out: boolean;
  duration_ms: number;
}

export async function runCommand(
  cmd: string,
  opts: { timeoutMs: number; maxOutput: number; cwd?: string },
): Promise<RunResult> {
  // output is read at most a second past the command's exit: a daemon it started (setsid, out of
  // reach of the timeout's group kill) would hold the pipes, the result and one of the run slots
  const r = await runShell(cmd, { ...opts, outputGraceMs: 1000 });
  const dec = new TextDecoder();
  return {
    rc: r.timedOut ? 124 : r.code,
    output: dec.decode(r.stdout),
    err: dec.decode(r.stderr) + (r.timedOut ? `killed after ${opts.timeoutMs} ms (timeout)\n` : ""),
    truncated: { output: r.dropped.stdout, err: r.dropped.stderr },
    timed_out: r.timedOut,
    duration_ms: r.durationMs,
  };
}
