/**
 * The environment of a command the agent starts (generators' commands, shinken's reload, remote exec,
 * event handlers, rpm): the locale, the time zone, HOME and PATH, nothing else of the agent's. The
 * agent's own environment may hold its secrets (`KUNAI_ENCRYPTION_KEY`, `KUNAI_HTTP_TOKEN`, a
 * password an init script exports), and a daemon a reload starts would keep them for its whole life.
 */

/** PATH when the agent has none (a bare init): the usual system directories. */
export const DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/** Variables passed on as they are: what tools read to behave as on the host's shell. */
const PASSED = new Set(["HOME", "LANG", "LANGUAGE", "TZ", "USER", "LOGNAME", "TMPDIR"]);

/** The agent's locale, time zone, HOME, user and PATH, then `extra`; NUL bytes become spaces. */
export function commandEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(Deno.env.toObject())) {
    if (PASSED.has(k) || k.startsWith("LC_")) env[k] = v;
  }
  env.PATH = Deno.env.get("PATH") || DEFAULT_PATH;
  Object.assign(env, extra);
  for (const [k, v] of Object.entries(env)) env[k] = v.replaceAll("\0", " ");
  return env;
}
