/**
 * A diagnostic probe of the main thread's stalls, off unless `KUNAI_LAG_PROBE` names a file
 * prefix: a 1 ms interval timer records every gap over `LAG_MIN_MS` between its ticks, and any
 * code may note a slow step of its own (`lagNote`, e.g. a group commit over the same bound); every
 * second the records are appended as JSON lines to `<prefix>.<pid>.jsonl`. For benchmarks only
 * (the timer itself costs ~1-2 % of a core).
 *
 * ```ts
 * startLagProbe(Deno.env.get("KUNAI_LAG_PROBE")); // no-op when undefined or empty
 * lagNote("commit", 23.4, { rows: 48 });
 * ```
 */

/** Gaps and notes shorter than this many ms are not recorded. */
export const LAG_MIN_MS = 10;

let out: { path: string; lines: string[] } | null = null;

/** True while the probe runs (callers skip their timing otherwise). */
export function lagProbeOn(): boolean {
  return out !== null;
}

/** Records a slow step (`ms` at least LAG_MIN_MS) when the probe runs. */
export function lagNote(kind: string, ms: number, info: Record<string, unknown> = {}): void {
  if (out === null || ms < LAG_MIN_MS) return;
  out.lines.push(JSON.stringify({ t: Date.now(), kind, ms: +ms.toFixed(1), ...info }));
}

/** Starts the probe when `prefix` is set; returns a function that stops it (flushing). */
export function startLagProbe(prefix: string | undefined): () => void {
  if (!prefix || out !== null) return () => {};
  const o = { path: `${prefix}.${Deno.pid}.jsonl`, lines: [] as string[] };
  out = o;
  let last = performance.now();
  const tick = setInterval(() => {
    const now = performance.now();
    lagNote("gap", now - last - 1);
    last = now;
  }, 1);
  const flush = () => {
    if (o.lines.length === 0) return;
    Deno.writeTextFileSync(o.path, o.lines.join("\n") + "\n", { append: true });
    o.lines = [];
  };
  const every = setInterval(flush, 1000);
  Deno.unrefTimer(tick);
  Deno.unrefTimer(every);
  return () => {
    clearInterval(tick);
    clearInterval(every);
    flush();
    out = null;
  };
}
