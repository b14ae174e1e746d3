/**
 * The messages between the checks subsystem and the Nagios runner Worker (pure types, imported
 * by both sides).
 */

/** Parameters of one plugin run. */
export interface PluginRunParams {
  argv: string[];
  timeoutMs: number;
  maxOutput: number;
  /**
   * The plugin's whole environment (PATH, LANG, the Nagios macros): nothing of the agent's is
   * inherited. The Worker adds `KUNAI_RUN=<marker>` so escaped children can be found and killed.
   */
  env: Record<string, string>;
  /** Marks every process of this run (see lib/sandbox/reaper.ts). */
  marker: string;
  /** Run as this user/group (set when the agent runs as root). */
  uid?: number;
  gid?: number;
}

/** What one plugin run produced (the Worker's answer). */
export interface PluginRun {
  code: number | null;
  signal: string | null;
  output: string;
  timedOut: boolean;
  truncated: boolean;
  durationMs: number;
  /** Set when the plugin could not be started (not allowed, not found). */
  error?: string;
  /** Cleanup problems that did not change the result (a kill refused): logged and counted. */
  warnings?: string[];
}

/** The answer for a run that never started (refused, not found, runner failure). */
export function failedRun(error: string): PluginRun {
  return { code: null, signal: null, output: "", timedOut: false, truncated: false, durationMs: 0, error };
}
