/**
 * Writes external command lines to Nagios'/Shinken's command file (a named pipe) without ever
 * blocking: the pipe is opened `O_WRONLY|O_NONBLOCK`, so with no reader the open fails at once
 * (ENXIO) and with a full pipe a write fails (EAGAIN). Such lines are dropped and counted.
 */
import fs from "node:fs";

export interface PushResult {
  written: number;
  dropped: number;
  /** Why lines were dropped (errno code), empty when none were. */
  reason: string;
}

/** Appends `lines` (each ending in a newline, each ≤ 4000 bytes: atomic on a pipe). */
export function pushLines(path: string, lines: string[]): PushResult {
  if (!lines.length) return { written: 0, dropped: 0, reason: "" };
  let fd: number;
  try {
    const c = fs.constants;
    fd = fs.openSync(path, c.O_WRONLY | c.O_NONBLOCK | c.O_APPEND);
  } catch (err) {
    return { written: 0, dropped: lines.length, reason: errCode(err) };
  }
  let written = 0;
  try {
    for (const line of lines) {
      fs.writeSync(fd, line);
      written++;
    }
    return { written, dropped: 0, reason: "" };
  } catch (err) {
    return { written, dropped: lines.length - written, reason: errCode(err) };
  } finally {
    fs.closeSync(fd);
  }
}

function errCode(err: unknown): string {
  const code = (err as { code?: string }).code;
  return code ?? (err as Error).message;
}
