/**
 * Finds the agent a CLI command talks to: `--http-addr URL` (or `KUNAI_HTTP_ADDR`) over TCP with
 * `--token` (or `KUNAI_HTTP_TOKEN`), else the `socket` of the config file (or configuration
 * directory) given with `-c/--config` (or `KUNAI_CONFIG`), else the default configuration's socket.
 */
import { resolve } from "node:path";
import { AgentClient } from "../lib/client/mod.ts";
import { defaultDataDir, parseConfigText, resolveConfig, substituteData } from "../lib/config/mod.ts";
import { CliConfigError } from "./types.ts";

export interface Target {
  socket: string;
  /** Where the socket path came from, for error messages. */
  source: string;
}

/**
 * Reads `socket` (and `data`) from a config file; throws a clear error when unreadable. A
 * configuration directory (what `agent start --cfg-dir` takes) is read whole, as the agent reads
 * it: its socket may be set in any of its files or by `KUNAI_SOCKET`.
 */
export function targetFromFile(file: string, env: Record<string, string>): Target {
  if (isDirectory(file)) {
    try {
      const cfg = resolveConfig({ cfgDir: file, env });
      return { socket: cfg.params.socket, source: `${resolve(file)} (configuration directory)` };
    } catch (err) {
      throw new CliConfigError(`cannot read configuration directory ${file}: ${(err as Error).message}`);
    }
  }
  let text: string;
  try {
    text = Deno.readTextFileSync(file);
  } catch (err) {
    throw new CliConfigError(`cannot read configuration file ${file}: ${(err as Error).message}`);
  }
  const obj = parseConfigText(file, text);
  // a wrong type is said, not replaced by the default (the CLI then talked to another agent)
  for (const k of ["socket", "data"] as const) {
    if (obj[k] !== undefined && typeof obj[k] !== "string") {
      throw new CliConfigError(`${file}: ${k}: expected a string, got ${JSON.stringify(obj[k])}`);
    }
  }
  const data = typeof obj.data === "string"
    ? obj.data.replaceAll("$data$", "")
    : (env.KUNAI_DATA_DIR ?? defaultDataDir(env));
  const socket = typeof obj.socket === "string" ? obj.socket : "$data$/kunai.sock";
  const cfgDir = resolve(file, "..");
  return { socket: substituteData(socket, resolve(cfgDir, data), cfgDir), source: file };
}

/** The socket of the agent install.sh sets up (data dir /var/lib/kunai). */
export const SYSTEM_SOCKET = "/var/lib/kunai/kunai.sock";

/**
 * The target from -c FILE, KUNAI_CONFIG, KUNAI_SOCKET or the default configuration. The default data
 * dir of a user who may not write /var/lib/kunai is their own (~/.local/share/kunai): when no agent
 * listens there but the system's agent does (an operator in the `kunai` group), that one is meant.
 */
export function resolveTarget(
  configFile: string | undefined,
  env: Record<string, string> = Deno.env.toObject(),
  systemSocket = SYSTEM_SOCKET,
): Target {
  const file = configFile ?? env.KUNAI_CONFIG;
  if (file) return targetFromFile(file, env);
  if (env.KUNAI_SOCKET) return { socket: env.KUNAI_SOCKET, source: "KUNAI_SOCKET" };
  let t: Target;
  try {
    const cfg = resolveConfig({ env });
    t = { socket: cfg.params.socket, source: `${cfg.cfgDir} (defaults)` };
  } catch {
    t = { socket: `${env.KUNAI_DATA_DIR ?? defaultDataDir(env)}/kunai.sock`, source: "defaults" };
  }
  if (t.socket !== systemSocket && !isSocket(t.socket) && isSocket(systemSocket)) {
    return { socket: systemSocket, source: `${systemSocket} (the system's agent; none at ${t.socket})` };
  }
  return t;
}

function isDirectory(path: string): boolean {
  try {
    return Deno.statSync(path).isDirectory;
  } catch {
    return false;
  }
}

function isSocket(path: string): boolean {
  try {
    return Deno.statSync(path).isSocket === true;
  } catch {
    return false;
  }
}

/**
 * `http://host:port`, `https://host:port`, `host:port` or `unix:/path` → client options;
 * anything else is a CliConfigError naming the source of the value.
 */
export function parseHttpAddr(addr: string, source: string): { baseUrl?: string; socket?: string } {
  if (addr.startsWith("unix:")) {
    const path = addr.replace(/^unix:(\/\/)?/, "");
    if (!path.startsWith("/")) {
      throw new CliConfigError(`${source}: unix socket path must be absolute: ${addr}`);
    }
    return { socket: path };
  }
  const withScheme = /^[a-z]+:\/\//i.test(addr) ? addr : `http://${addr}`;
  let u: URL;
  try {
    u = new URL(withScheme);
  } catch {
    // `::1:6768` is an IPv6 address without a port as much as one with it: RFC 3986 wants brackets
    const v6 = /^[0-9a-f:.]*:[0-9a-f:.]*:[0-9a-f:.]*$/i.test(addr)
      ? " (an IPv6 address goes in brackets: [::1]:6768)"
      : "";
    throw new CliConfigError(`${source}: not a URL or host:port: ${JSON.stringify(addr)}${v6}`);
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") {
    throw new CliConfigError(`${source}: scheme must be http, https or unix, got ${u.protocol.slice(0, -1)}`);
  }
  if (!u.hostname || (u.pathname !== "/" && u.pathname !== "") || u.search) {
    throw new CliConfigError(`${source}: expected http://host:port, got ${JSON.stringify(addr)}`);
  }
  return { baseUrl: `${u.protocol}//${u.host}` };
}

export function clientFor(
  configFile: string | undefined,
  opts: { httpAddr?: string; token?: string; timeoutMs?: number; trace?: (line: string) => void } = {},
  env: Record<string, string> = Deno.env.toObject(),
): AgentClient {
  const token = opts.token ?? env.KUNAI_HTTP_TOKEN;
  const addr = opts.httpAddr ?? (configFile ? undefined : env.KUNAI_HTTP_ADDR);
  const common = { token: token || undefined, timeoutMs: opts.timeoutMs, trace: opts.trace };
  if (addr) {
    const source = opts.httpAddr ? "--http-addr" : "KUNAI_HTTP_ADDR";
    const target = parseHttpAddr(addr, source);
    opts.trace?.(`asking ${target.socket ? `unix:${target.socket}` : target.baseUrl} (from ${source})`);
    return new AgentClient({ ...target, ...common });
  }
  const t = resolveTarget(configFile, env);
  opts.trace?.(`asking unix:${t.socket} (from ${t.source})`);
  return new AgentClient({ socket: t.socket, ...common });
}
