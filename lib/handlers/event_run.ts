/**
 * One run of an event handler's command: the event's payload on stdin, its fields in the environment
 * (runEnv), killed at the timeout, counted in `event_handler_runs_total`, logged with its output and
 * kept as the handler's last run.
 */
import type { Ctx } from "../subsystem.ts";
import type { ClusterEventRecord } from "../types.ts";
import type { ShellOptions, ShellResult } from "../process/mod.ts";
import { type EventHandlerDef, runEnv } from "./event_handler_def.ts";

/** Bytes kept of a run's stdout and of its stderr (logged). */
export const OUTPUT_BYTES = 4096;

/** What the last run of a handler did. */
export interface EventRunView {
  event: string;
  id: string;
  from: string;
  started: number;
  duration_ms: number;
  code: number;
  signal: string | null;
  timed_out: boolean;
}

/** A handler's run counters and last run, which every run updates. */
export interface RunRecord {
  def: EventHandlerDef;
  runs: number;
  failures: number;
  last: EventRunView | null;
}

/** How a command is run (runShell; a fake in tests). */
export type ShellRunner = (command: string, opts: ShellOptions) => Promise<ShellResult>;

/** Runs `s`'s command for `e`, counted, logged and kept as its last run; null if it cannot start. */
export async function runHandler(
  ctx: Pick<Ctx, "log" | "counters" | "node">,
  run: ShellRunner,
  s: RunRecord,
  e: ClusterEventRecord,
  timeoutMs = s.def.timeout,
  maxOutput = OUTPUT_BYTES,
): Promise<ShellResult | null> {
  const { log, counters, node } = ctx;
  const what = `event handler ${s.def.name} for event ${e.name} from ${e.from}`;
  const started = Date.now();
  const t0 = performance.now(); // the duration, not moved by a wall clock step
  let r: ShellResult;
  try {
    r = await run(s.def.command, {
      timeoutMs,
      maxOutput,
      outputGraceMs: 1000,
      stdin: new TextEncoder().encode(e.payload),
      env: runEnv(e, { name: node.name, uuid: node.uuid, tags: node.tags() }),
    });
  } catch (err) {
    s.runs++;
    s.failures++;
    counters.inc("event_handler_runs_total", { handler: s.def.name, result: "error" });
    s.last = {
      event: e.name,
      id: e.id,
      from: e.from,
      started,
      duration_ms: Math.round(performance.now() - t0),
      code: -1,
      signal: null,
      timed_out: false,
    };
    log.error(`${what}: cannot start /bin/sh: ${(err as Error).message}`);
    return null;
  }
  s.runs++;
  const ok = r.code === 0 && !r.timedOut;
  if (!ok) s.failures++;
  counters.inc("event_handler_runs_total", { handler: s.def.name, result: ok ? "ok" : "failed" });
  s.last = {
    event: e.name,
    id: e.id,
    from: e.from,
    started,
    duration_ms: r.durationMs,
    code: r.code,
    signal: r.signal,
    timed_out: r.timedOut,
  };
  const out = outputText(r);
  const how = r.timedOut
    ? `killed after its timeout of ${timeoutMs} ms`
    : r.signal
    ? `killed by ${r.signal}`
    : `exit ${r.code}`;
  const line = `${what}: ${how} in ${r.durationMs} ms${out ? `: ${out}` : ""}`;
  if (ok) log.info(line);
  else log.warn(line);
  return r;
}

/** stdout and stderr of a run as one log-friendly line (control characters escaped, capped). */
function outputText(r: ShellResult): string {
  const dec = new TextDecoder();
  const parts = [dec.decode(r.stdout).trim(), dec.decode(r.stderr).trim()].filter(Boolean);
  let text = parts.join(" | ");
  if (r.dropped.stdout + r.dropped.stderr) text += ` (+${r.dropped.stdout + r.dropped.stderr} bytes)`;
  // deno-lint-ignore no-control-regex
  return text.replace(/[\u0000-\u001f\u007f]+/g, " ").slice(0, 1000);
}
