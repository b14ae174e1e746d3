/**
 * Writes external command lines to Nagios'/Shinken's command file (a named pipe) without ever
 * blocking: the pipe is opened `O_WRONLY|O_NONBLOCK`, so with no reader the open fails at once
 * (ENXIO) and with a full pipe a write fails (EAGAIN). Such lines are dropped and counted.
 *
 * Deno has no `O_NONBLOCK` open, `node:fs` has: it is imported by `commandFileReady()` (the exporter
 * calls it at start when a command file is configured), not at the agent's start, since node:fs
 * brings Deno's Node layer (~2.5 MB of RSS) into every agent.
 */
let fs: typeof import("node:fs") | null = null;

/** Loads what `pushLines` needs (once). */
export async function commandFileReady(): Promise<void> {
  fs ??= await import("node:fs");
}

export interface PushResult {
  written: number;
  dropped: number;
  /** Why lines were dropped (errno code), empty when none were. */
  reason: string;
}

/** Appends `lines` (each ending in a newline, each ≤ 4000 bytes: atomic on a pipe). */
export function pushLines(path: string, lines: string[]): PushResult {
  if (!lines.length) return { written: 0, dropped: 0, reason: "" };
  const fsm = fs;
  if (!fsm) return { written: 0, dropped: lines.length, reason: "commandFileReady() not awaited" };
  let fd: number;
  try {
    const c = fsm.constants;
    fd = fsm.openSync(path, c.O_WRONLY | c.O_NONBLOCK | c.O_APPEND);
  } catch (err) {
    return { written: 0, dropped: lines.length, reason: errCode(err) };
  }
  let written = 0;
  try {
    for (const line of lines) {
      fsm.writeSync(fd, line);
      written++;
    }
    return { written, dropped: 0, reason: "" };
  } catch (err) {
    return { written, dropped: lines.length - written, reason: errCode(err) };
  } finally {
    fsm.closeSync(fd);
  }
}

function errCode(err: unknown): string {
  const code = (err as { code?: string }).code;
  return code ?? (err as Error).message;
}
