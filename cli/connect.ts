/**
 * Finds the agent a CLI command talks to: the `socket` of the config file given with
 * `-c/--config` (or `KUNAI_CONFIG`), else the default configuration's socket.
 */
import { resolve } from "node:path";
import { AgentClient } from "../lib/client/mod.ts";
import { defaultDataDir, parseConfigText, resolveConfig, substituteData } from "../lib/config/mod.ts";

export interface Target {
  socket: string;
  /** Where the socket path came from, for error messages. */
  source: string;
}

/** Reads `socket` (and `data`) from a config file; throws a clear error when unreadable. */
export function targetFromFile(file: string, env: Record<string, string>): Target {
  let text: string;
  try {
    text = Deno.readTextFileSync(file);
  } catch (err) {
    throw new Error(`cannot read configuration file ${file}: ${(err as Error).message}`);
  }
  const obj = parseConfigText(file, text);
  const data = typeof obj.data === "string"
    ? obj.data.replaceAll("$data$", "")
    : (env.KUNAI_DATA_DIR ?? defaultDataDir(env));
  const socket = typeof obj.socket === "string" ? obj.socket : "$data$/kunai.sock";
  const cfgDir = resolve(file, "..");
  return { socket: substituteData(socket, resolve(cfgDir, data), cfgDir), source: file };
}

/** The target from -c FILE, KUNAI_CONFIG, KUNAI_SOCKET or the default configuration. */
export function resolveTarget(
  configFile: string | undefined,
  env: Record<string, string> = Deno.env.toObject(),
): Target {
  const file = configFile ?? env.KUNAI_CONFIG;
  if (file) return targetFromFile(file, env);
  if (env.KUNAI_SOCKET) return { socket: env.KUNAI_SOCKET, source: "KUNAI_SOCKET" };
  try {
    const cfg = resolveConfig({ env });
    return { socket: cfg.params.socket, source: `${cfg.cfgDir} (defaults)` };
  } catch {
    return { socket: `${env.KUNAI_DATA_DIR ?? defaultDataDir(env)}/kunai.sock`, source: "defaults" };
  }
}

export function clientFor(configFile: string | undefined, timeoutMs?: number): AgentClient {
  const t = resolveTarget(configFile);
  return new AgentClient({ socket: t.socket, timeoutMs });
}
