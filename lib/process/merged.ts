/**
 * A command whose stdout and stderr come back merged as one text (generators' `command`, shinken's
 * `reload_command`), run by `runShell`: its own process group, killed whole on timeout. Daemons the command starts (a reload forking a server) are left
 * alone once the command itself has exited: output is read at most `OUTPUT_GRACE_MS` longer.
 */
import { runShell } from "./runner.ts";

/** How one command run ended. */
export interface CommandResult {
  code: number | null;
  signal: string | null;
  output: string;
  timedOut: boolean;
}

const MAX_OUTPUT = 64 * 1024;
/** How long we keep reading output after the command exited (a forked daemon may hold the pipe). */
const OUTPUT_GRACE_MS = 500;

function text(bytes: Uint8Array, dropped: number): string {
  return new TextDecoder().decode(bytes) + (dropped > 0 ? ` [output truncated at ${MAX_OUTPUT} bytes]` : "");
}

/** Runs `command` with a timeout (ms); never throws for a failing command (see `code`). */
export async function runCommand(command: string, timeoutMs: number, cwd?: string): Promise<CommandResult> {
  const r = await runShell(command, {
    timeoutMs,
    maxOutput: MAX_OUTPUT,
    cwd,
    outputGraceMs: OUTPUT_GRACE_MS,
  });
  const out = text(r.stdout, r.dropped.stdout), err = text(r.stderr, r.dropped.stderr);
  const output = err ? (out && !out.endsWith("\n") ? `${out}\n${err}` : out + err) : out;
  return { code: r.signal ? null : r.code, signal: r.signal, output, timedOut: r.timedOut };
}
