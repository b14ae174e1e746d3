/**
 * The Nagios runner Worker: runs one plugin per call with Deno.Command (no shell unless the argv
 * says `/bin/sh -c`), in its own process group, with a minimal environment (the agent's is never
 * inherited), as an unprivileged user when the agent is root, and with a timeout after which the
 * main thread kills the whole group and every process carrying the run's marker (setsid children
 * included); leftovers of a finished plugin are killed the same way. Its `run` permission lists
 * only the resolved plugin executables, so anything else is refused by Deno itself.
 */
import { killProcessGroup, serve, trackProcessGroup, untrackProcessGroup } from "../sandbox/worker_kit.ts";
import { RUN_MARKER_VAR } from "../sandbox/protocol.ts";
import {
  failedRun,
  type PluginRun as RunResult,
  type PluginRunParams as RunParams,
} from "./nagios_protocol.ts";

/** Reads a stream to the end, keeping at most `budget.left` bytes (the rest is drained and dropped). */
async function collect(
  stream: ReadableStream<Uint8Array>,
  budget: { left: number; truncated: boolean },
): Promise<Uint8Array[]> {
  const kept: Uint8Array[] = [];
  const reader = stream.getReader();
  try {
    while (true) {
      const { done, value } = await reader.read();
      if (done) break;
      if (budget.left <= 0) {
        budget.truncated = true;
        continue;
      }
      const part = value.length > budget.left ? value.subarray(0, budget.left) : value;
      if (part.length < value.length) budget.truncated = true;
      budget.left -= part.length;
      kept.push(part.slice());
    }
  } catch { /* stream closed by a kill */ }
  return kept;
}

function decode(chunks: Uint8Array[]): string {
  const total = chunks.reduce((n, c) => n + c.length, 0);
  const buf = new Uint8Array(total);
  let off = 0;
  for (const c of chunks) {
    buf.set(c, off);
    off += c.length;
  }
  return new TextDecoder().decode(buf);
}

async function run(p: RunParams): Promise<RunResult> {
  const started = performance.now();
  const [cmd, ...args] = p.argv;
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(cmd, {
      args,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      detached: true,
      clearEnv: true,
      env: { ...p.env, [RUN_MARKER_VAR]: p.marker },
      uid: p.uid,
      gid: p.gid,
    }).spawn();
  } catch (err) {
    const e = err as Error;
    const why = e.name === "NotCapable"
      ? `${cmd} is not an allowed plugin (run permission refused)`
      : e.name === "PermissionDenied"
      ? `${cmd}: cannot be executed${
        p.uid !== undefined ? ` by uid ${p.uid} (nagios_user)` : ""
      }: ${e.message}`
      : e.name === "NotFound"
      ? `${cmd}: no such plugin`
      : `${cmd}: cannot start: ${e.message}`;
    return failedRun(why);
  }
  const pid = child.pid;
  /** Cleanup problems (a kill the main thread refused): reported with the run, never dropped. */
  const warnings: string[] = [];
  const noted = (what: string) => (err: unknown) =>
    void warnings.push(`${what}: ${(err as Error)?.message ?? err}`);
  let tracked = false;
  try {
    await trackProcessGroup(pid, p.marker);
    tracked = true;
  } catch (err) {
    noted("process group not tracked; only the plugin itself can be killed")(err);
  }
  let timedOut = false;
  const budget = { left: p.maxOutput, truncated: false };
  const timer = setTimeout(() => {
    timedOut = true;
    if (tracked) void killProcessGroup(pid).catch(noted("kill after the timeout failed"));
    else {
      try {
        child.kill("SIGKILL");
      } catch { /* gone */ }
    }
  }, p.timeoutMs);
  const [status, out, err] = await Promise.all([
    child.status,
    collect(child.stdout, budget),
    collect(child.stderr, budget),
  ]);
  clearTimeout(timer);
  if (tracked) {
    // Leftover background children of a finished plugin die with their group.
    await killProcessGroup(pid).catch(noted("kill of leftover children failed"));
    await untrackProcessGroup(pid).catch(noted("untrack failed"));
  }
  const stdout = decode(out), stderr = decode(err);
  const output = stderr
    ? (stdout && !stdout.endsWith("\n") ? `${stdout}\n${stderr}` : stdout + stderr)
    : stdout;
  return {
    code: status.signal ? null : status.code,
    signal: status.signal ?? null,
    output,
    timedOut,
    truncated: budget.truncated,
    durationMs: Math.round(performance.now() - started),
    ...(warnings.length ? { warnings } : {}),
  };
}

serve({ run: (p: RunParams) => run(p) });
