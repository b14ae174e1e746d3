/**
 * When the agent gives its start-up memory back. `kunai agent start` calls `settleAfterStart()` once
 * the API answers; it then releases the executable's start-up pages (pages.ts) and trims malloc at
 * each moment of `SETTLE_AT_MS` (file pages only at `PAGES_ONLY_AT_MS`), collects the main isolate's
 * start-up garbage first (`gc()`, when V8 exposes it) at those of `COLLECT_AT_MS`, and releases the
 * file pages again every `REFRESH_MS` after the last of them.
 *
 * Why several moments: start-up is not over when the API answers. The collector Worker boots its
 * isolate (the V8 snapshot and builtins are read from the executable) and the first collectors,
 * detectors and checks run in the next second or two, which brought back ~25 of the ~40 MB of
 * file pages released at ready (RssFile 36 MB at +0.2 s and still at +58 s, 11 MB after the +60 s
 * release). A release 2 s and 10 s after ready catches those; the +60 s one what the first
 * minute's less frequent jobs touched. Pages the agent keeps using come back as minor faults (the
 * kernel's page cache holds them, shared with every other deno process): the refresh every
 * 10 minutes only keeps the agent's resident set at what it actually used since (one release: ~6-10
 * ms of CPU, reading /proc/self/smaps included). The +60 s step and the refreshes wait while the
 * agent is busy (see DEFER_FROM_MS).
 *
 * ```ts
 * const stop = settleAfterStart((msg) => log.info(msg)); // stop() on shutdown
 * ```
 */
import { releaseFilePages } from "./pages.ts";
import { MallocTrim } from "./trim.ts";
import { lagNote } from "./lag.ts";
import { cpuUsage } from "./rusage.ts";

/** Milliseconds after ready of each start-up release (the first, 0, runs synchronously). */
export const SETTLE_AT_MS = [0, 2_000, 10_000, 60_000];

/**
 * Start-up moments that release file pages only: at +2 s a freshly started agent is usually joining
 * its cluster (a fleet restarted at once: all of them together), and a full collection and malloc
 * trim then cost each agent its event loop for tens of milliseconds; the +10 s step does them.
 * Measured on 20 agents joining at once: joins 0.72/0.72/0.81 s against 0.83/0.80 s (and one 2.32),
 * RSS per agent right after the join ~2 MB higher until the +10 s step.
 */
export const PAGES_ONLY_AT_MS = [2_000];

/**
 * Start-up moments whose step also runs a full collection. At +60 s it gave nothing back (RSS
 * 60 212 -> 60 232 and 56 444 -> 56 508 kB in two agents; the heap 1 MB smaller, its pages kept by
 * V8) for 19-21 ms of CPU (12-14 ms of the main thread): the +60 s step trims malloc and releases
 * file pages, and later garbage is the quiet-time collection's (heap.ts).
 */
export const COLLECT_AT_MS = [0, 10_000];

/** What a step does: collect + trim + file pages, trim + file pages, or file pages only. */
export type StepKind = "collect" | "trim" | "pages";

/** Period of the file-page release after the last start-up one. */
export const REFRESH_MS = 600_000;

/**
 * Steps planned this long or longer after the previous one (the +10 s and +60 s ones, the
 * refreshes) wait while the agent is busy: a full collection, the trim and the /proc/self/smaps
 * walk stalled the event loop 40-60 ms, which a KV node under a write load felt as a pause of every
 * write it coordinated (the +10 s step too: a KV node taking writes 10 s after it started, as in
 * the side-by-side runs, stalled 31-61 ms inside the load). Retried every `BUSY_RETRY_MS`, run
 * anyway after `MAX_DEFERRALS` retries. The +2 s step (file pages only, 12-17 ms) never waits.
 */
export const DEFER_FROM_MS = 5_000;
export const BUSY_RETRY_MS = 10_000;
export const MAX_DEFERRALS = 30;
/** Share of one core over the last window above which the agent counts as busy. */
export const BUSY_CPU = 0.25;

/** What one settle step did (for the log). */
export interface SettleStep {
  /** A start-up step (false: the periodic file-page refresh). */
  startup: boolean;
  releasedBytes: number;
  mappings: number;
  failed: number;
  /** The first refusals (errno, range, file). */
  errors: string[];
  collected: boolean;
  trimmed: boolean;
}

/** The effects, injectable for tests. */
export interface SettleDeps {
  release: () => { mappings: number; bytes: number; failed: number; errors?: string[] } | null;
  gc: (() => void) | undefined;
  trim: () => boolean;
  setTimer: (fn: () => void, ms: number) => number;
  clearTimer: (id: number) => void;
  /** True when the process used over BUSY_CPU since the previous call (absent: never busy). */
  busy?: () => boolean;
}

function defaultDeps(): SettleDeps {
  return {
    release: releaseFilePages,
    gc: (globalThis as { gc?: () => void }).gc,
    trim: () => {
      const t = new MallocTrim();
      try {
        return t.trimNow();
      } finally {
        t.close();
      }
    },
    setTimer: (fn, ms) => {
      const id = setTimeout(fn, ms) as unknown as number;
      Deno.unrefTimer(id);
      return id;
    },
    clearTimer: (id) => clearTimeout(id),
    busy: cpuBusy(),
  };
}

/** busy() for SettleDeps: the process's CPU time (all threads) over the wall time since the last call. */
function cpuBusy(): () => boolean {
  const cpuMs = () => {
    const u = cpuUsage();
    return (u.user + u.system) / 1000;
  };
  let last = { at: performance.now(), cpu: cpuMs() };
  return () => {
    const now = { at: performance.now(), cpu: cpuMs() };
    const share = (now.cpu - last.cpu) / Math.max(1, now.at - last.at);
    last = now;
    return share > BUSY_CPU;
  };
}

/**
 * One step: garbage first (its freed malloc memory can then be trimmed), then malloc, then the
 * file pages; a "trim" step skips the collection, a "pages" one (the periodic refresh) does the
 * file pages only.
 */
export function settleStep(deps: SettleDeps, kind: StepKind): SettleStep {
  let collected = false;
  let trimmed = false;
  if (kind === "collect" && typeof deps.gc === "function") {
    deps.gc();
    collected = true;
  }
  if (kind !== "pages") trimmed = deps.trim();
  const r = deps.release();
  return {
    startup: kind !== "pages",
    releasedBytes: r?.bytes ?? 0,
    mappings: r?.mappings ?? 0,
    failed: r?.failed ?? 0,
    errors: r?.errors ?? [],
    collected,
    trimmed,
  };
}

/**
 * Runs the start-up steps at `at` (ms after now; 0 runs at once; those also in `pagesOnly` release
 * file pages only, those in `collectAt` also collect garbage, the others trim and release) and then
 * the file-page release every `refreshMs`; returns a function that cancels what is still pending.
 */
export function settleAfterStart(
  report: (step: SettleStep, afterMs: number) => void,
  deps: SettleDeps = defaultDeps(),
  at: number[] = SETTLE_AT_MS,
  refreshMs: number = REFRESH_MS,
  pagesOnly: number[] = PAGES_ONLY_AT_MS,
  collectAt: number[] = COLLECT_AT_MS,
): () => void {
  let timer: number | null = null;
  let stopped = false;
  const steps = [...at].sort((a, b) => a - b);
  const t0 = performance.now();
  let deferrals = 0;
  const run = (i: number, delay: number) => {
    timer = null;
    if (stopped) return;
    // the window of busy() starts at the previous step (or retry): call it at every one
    const busy = deps.busy?.() ?? false;
    if (busy && delay >= DEFER_FROM_MS && deferrals < MAX_DEFERRALS) {
      deferrals++;
      timer = deps.setTimer(() => run(i, delay), BUSY_RETRY_MS);
      return;
    }
    deferrals = 0;
    const kind: StepKind = i >= steps.length || pagesOnly.includes(steps[i])
      ? "pages"
      : collectAt.includes(steps[i])
      ? "collect"
      : "trim";
    const s0 = performance.now();
    const step = settleStep(deps, kind);
    lagNote("settle", performance.now() - s0, { kind });
    report(step, Math.round(performance.now() - t0));
    schedule(i + 1);
  };
  const schedule = (i: number) => {
    if (stopped) return;
    const delay = i < steps.length ? steps[i] - (i > 0 ? steps[i - 1] : 0) : refreshMs;
    if (i === 0 && delay <= 0) return run(0, 0);
    timer = deps.setTimer(() => run(i, delay), Math.max(0, delay));
  };
  schedule(0);
  return () => {
    stopped = true;
    if (timer !== null) deps.clearTimer(timer);
    timer = null;
  };
}
