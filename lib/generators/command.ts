/**
 * Runs a generator's `command` through `sh -c` as the leader of its own process group: on timeout
 * the whole group is killed. Daemons the command starts (a reload forking a server) are left alone
 * once the command itself has exited.
 */

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

async function collect(stream: ReadableStream<Uint8Array>, done: Promise<unknown>): Promise<string> {
  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  let closed = false;
  void done.then(() =>
    setTimeout(() => {
      if (!closed) reader.cancel().catch(() => {/* already closed */});
    }, OUTPUT_GRACE_MS)
  );
  try {
    while (true) {
      const { done: end, value } = await reader.read();
      if (end) break;
      if (total < MAX_OUTPUT) chunks.push(value.subarray(0, MAX_OUTPUT - total));
      total += value.length;
    }
  } catch { /* cancelled after the grace period */ }
  closed = true;
  const buf = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let off = 0;
  for (const c of chunks) {
    buf.set(c, off);
    off += c.length;
  }
  return new TextDecoder().decode(buf) +
    (total > MAX_OUTPUT ? ` [output truncated at ${MAX_OUTPUT} bytes]` : "");
}

/** Runs `command` with a timeout (ms); never throws for a failing command (see `code`). */
export async function runCommand(command: string, timeoutMs: number, cwd?: string): Promise<CommandResult> {
  const child = new Deno.Command("/bin/sh", {
    args: ["-c", command],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    detached: true,
    cwd,
  }).spawn();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    try {
      Deno.kill(-child.pid, "SIGKILL");
    } catch {
      try {
        child.kill("SIGKILL");
      } catch { /* already gone */ }
    }
  }, timeoutMs);
  const status = child.status;
  const [st, out, err] = await Promise.all([
    status,
    collect(child.stdout, status),
    collect(child.stderr, status),
  ]);
  clearTimeout(timer);
  const output = err ? (out && !out.endsWith("\n") ? `${out}\n${err}` : out + err) : out;
  return { code: st.signal ? null : st.code, signal: st.signal ?? null, output, timedOut };
}
