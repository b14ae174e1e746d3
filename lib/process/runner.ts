/**
 * The one shell runner of the agent: `sh -c` as the leader of its own process group (so a timeout
 * kills the command's children too), stdin closed (or fed `stdin` and closed), stdout and stderr each
 * capped (the rest is counted). Callers shape the result for their own API (exec, generators,
 * shinken, event handlers).
 */
import { commandEnv } from "./env.ts";

export interface ShellOptions {
  timeoutMs: number;
  /** Bytes kept of stdout and of stderr (each). */
  maxOutput: number;
  cwd?: string;
  /**
   * Stop reading output this long after the command exited (a daemon it forked may hold the
   * pipes open). Without it the output is read to its end.
   */
  outputGraceMs?: number;
  /** Written to the command's stdin, which is then closed (a command that does not read it is fine). */
  stdin?: Uint8Array;
  /** The command's whole environment; without it `commandEnv()` (never the agent's own: its secrets). */
  env?: Record<string, string>;
}

/** How one run ended. `code` is the exit status (128 + n after signal n); `signal` names a signal. */
export interface ShellResult {
  code: number;
  signal: string | null;
  stdout: Uint8Array;
  stderr: Uint8Array;
  /** Bytes dropped beyond `maxOutput`. */
  dropped: { stdout: number; stderr: number };
  timedOut: boolean;
  durationMs: number;
}

/** Runs `command`; never throws for a failing command (see `code`), only when it cannot start. */
export async function runShell(command: string, opts: ShellOptions): Promise<ShellResult> {
  const t0 = performance.now();
  const child = new Deno.Command("/bin/sh", {
    args: ["-c", command],
    stdin: opts.stdin ? "piped" : "null",
    stdout: "piped",
    stderr: "piped",
    detached: true,
    cwd: opts.cwd,
    env: opts.env ?? commandEnv(),
    clearEnv: true,
  }).spawn();
  if (opts.stdin) void feed(child.stdin, opts.stdin);
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
  let ended = false;
  try {
    const status = child.status;
    void status.then(() => ended = true);
    const exited = opts.outputGraceMs === undefined ? null : status;
    const [st, out, err] = await Promise.all([
      status,
      capped(child.stdout, opts.maxOutput, exited, opts.outputGraceMs ?? 0),
      capped(child.stderr, opts.maxOutput, exited, opts.outputGraceMs ?? 0),
    ]);
    return {
      code: st.code,
      signal: st.signal ?? null,
      stdout: out.kept,
      stderr: err.kept,
      dropped: { stdout: out.dropped, stderr: err.dropped },
      timedOut,
      durationMs: Math.round(performance.now() - t0),
    };
  } finally {
    clearTimeout(timer);
    // a read of its output failed: the command must not outlive its deadline, now unwatched
    if (!ended) {
      try {
        Deno.kill(-child.pid, "SIGKILL");
      } catch { /* exited meanwhile */ }
    }
  }
}

/** Writes `data` and closes; a command that exits without reading it (EPIPE) is not an error. */
async function feed(stdin: WritableStream<Uint8Array>, data: Uint8Array): Promise<void> {
  const w = stdin.getWriter();
  try {
    if (data.length) await w.write(data);
    await w.close();
  } catch {
    await w.abort().catch(() => {/* already closed */});
  }
}

/**
 * Reads a stream to its end (or until `graceMs` after `exited` settles), keeping the first `max`
 * bytes and counting the rest.
 */
async function capped(
  stream: ReadableStream<Uint8Array>,
  max: number,
  exited: Promise<unknown> | null,
  graceMs: number,
): Promise<{ kept: Uint8Array; dropped: number }> {
  const reader = stream.getReader();
  let closed = false;
  if (exited) {
    void exited.then(() =>
      setTimeout(() => {
        if (!closed) reader.cancel().catch(() => {/* already closed */});
      }, graceMs)
    );
  }
  const kept = new Uint8Array(max);
  let n = 0, dropped = 0;
  try {
    while (true) {
      const { done, value } = await reader.read();
      if (done) break;
      const take = Math.min(value.length, max - n);
      kept.set(value.subarray(0, take), n);
      n += take;
      dropped += value.length - take;
    }
  } catch (err) {
    // cancelled after the grace period; anything else is a real read error
    if (!exited) throw err;
  } finally {
    closed = true;
  }
  return { kept: kept.slice(0, n), dropped };
}
