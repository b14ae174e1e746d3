/**
 * Runs one remote command through `setsid sh -c` with a deadline, keeping at most `maxOutput` bytes of
 * stdout and of stderr (the rest is counted, and the result says it was truncated).
 */

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
  const t0 = Date.now();
  // its own session and process group (setsid), so a timeout kills the command's children too
  const child = new Deno.Command("setsid", {
    args: ["sh", "-c", cmd],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    cwd: opts.cwd,
  }).spawn();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    try {
      Deno.kill(-child.pid, "SIGKILL");
    } catch {
      try {
        child.kill("SIGKILL"); // the group is gone: the shell alone may remain
      } catch { /* already exited */ }
    }
  }, opts.timeoutMs);
  try {
    const [out, err, status] = await Promise.all([
      capped(child.stdout, opts.maxOutput),
      capped(child.stderr, opts.maxOutput),
      child.status,
    ]);
    const dec = new TextDecoder();
    return {
      rc: timedOut ? 124 : status.code,
      output: dec.decode(out.kept),
      err: dec.decode(err.kept) + (timedOut ? `killed after ${opts.timeoutMs} ms (timeout)\n` : ""),
      truncated: { output: out.dropped, err: err.dropped },
      timed_out: timedOut,
      duration_ms: Date.now() - t0,
    };
  } finally {
    clearTimeout(timer);
  }
}

/** Reads a stream to its end, keeping the first `max` bytes and counting the rest. */
async function capped(
  stream: ReadableStream<Uint8Array>,
  max: number,
): Promise<{ kept: Uint8Array; dropped: number }> {
  const kept = new Uint8Array(max);
  let n = 0, dropped = 0;
  for await (const chunk of stream) {
    const take = Math.min(chunk.length, max - n);
    kept.set(chunk.subarray(0, take), n);
    n += take;
    dropped += chunk.length - take;
  }
  return { kept: kept.slice(0, n), dropped };
}
