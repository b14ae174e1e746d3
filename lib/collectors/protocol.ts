/**
 * What the runtime asks a collectors Worker and what it answers. Pure data, used on both sides.
 */

/** `run` parameters: the collector name and the global configuration data. */
export interface RunRequest {
  name: string;
  /** Free configuration data (redis_server, mysql_user...). */
  data?: Record<string, unknown>;
  timeoutMs?: number;
}

/** `run` answer: results (replace the previous ones) and, when set, why the collector is inactive. */
export interface RunReply {
  results: Record<string, unknown> | null;
  inactive?: string;
  /** Problems that did not fail the run (a connection that did not close cleanly): logged and counted. */
  warnings?: string[];
}
