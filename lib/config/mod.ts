/**
 * Configuration: files from the configuration directories (reference §2.1), `KUNAI_*` environment
 * variables and command-line flags, validated into one AgentConfig.
 *
 * Precedence (later wins): embedded defaults < files < environment < flags.
 *
 * ```ts
 * const cfg = resolveConfig({ cfgDir: "/etc/kunai" }); // throws ConfigError naming file + field
 * cfg.params.port; // 6768
 * ```
 */
import { join, resolve } from "node:path";
import { ConfigError, type ConfigProblem, loadConfigDirs, type LoadedObject } from "./load.ts";
import { type Issue, object } from "./schema.ts";
import { agentFields } from "./agent_fields.ts";
import type { ObjectKind } from "./objects.ts";
import type { ListenerKind } from "./listeners.ts";
import { decodeKey } from "../transport/mod.ts";

import { loadYaml, YamlNotLoaded } from "./load.ts";
export {
  ConfigError,
  formatProblem,
  listConfigFiles,
  loadYaml,
  parseConfigText,
  yamlLoaded,
  YamlNotLoaded,
} from "./load.ts";
export type { ConfigProblem, LoadedObject } from "./load.ts";
export {
  agentFields,
  checksFields,
  collectorsFields,
  gossipFields,
  httpFields,
  ipv4,
  kvFields,
  metricsFields,
  raftFields,
} from "./agent_fields.ts";
export { checkFields, checkType, OBJECT_KINDS, objectTypes, serviceFields } from "./objects.ts";
export type { ObjectKind } from "./objects.ts";
export { LISTENER_KINDS, listenerTypes } from "./listeners.ts";
export type { ListenerKind } from "./listeners.ts";
export * as schema from "./schema.ts";
export {
  localConfigFile,
  localConfigText,
  mergeLocalConfig,
  readLocalConfig,
  writeLocalConfig,
} from "./local_file.ts";
export { listPacks, type PackInfo } from "./packs.ts";
export { closestName } from "./suggest.ts";
export { handlerCandidates } from "./handler_refs.ts";
import { handlerRefWarnings } from "./handler_refs.ts";

export interface GossipConfig {
  probe_interval: number;
  probe_timeout: number;
  indirect_checks: number;
  gossip_interval: number;
  gossip_nodes: number;
  retransmit_mult: number;
  suspicion_mult: number;
  suspicion_max_timeout_mult: number;
  awareness_max_multiplier: number;
  push_pull_interval: number;
  reap_after: number;
  max_members: number;
  join_retry_max: number;
  seed_check_interval: number;
  leave_propagate_wait: number;
  max_packet_bytes: number;
  compress: boolean;
  label: string;
  detect_answer: boolean;
  detect_addr: string;
  detect_timeout: number;
  detect_listen: string;
}
export interface HttpConfig {
  token: string;
  open_writes: boolean;
  cors_origins: string[];
  max_body: number;
  enabled: boolean;
  header_timeout: number;
  idle_timeout: number;
  max_conns_per_client: number;
}
export interface KvConfig {
  replicas: number;
  write_acks: number;
  vnodes: number;
  max_key_bytes: number;
  max_value_bytes: number;
  request_timeout: number;
  anti_entropy_interval: number;
  tombstone_ttl: number;
}
export interface CollectorsConfig {
  interval: number;
  timeout: number;
  disabled: string[];
  intervals: Record<string, number>;
  docker_socket: string;
  /** The linux collectors in a permission-less Worker rather than the agent's thread (restart applies it). */
  linux_worker: boolean;
}
export interface RaftConfig {
  groups: string[];
  min_size: number;
  heartbeat: number;
  election_timeout: number;
}
/** The time-series store (`metrics` parameter). */
export interface MetricsStoreConfig {
  retentions: string;
  aggregation: Array<{ pattern: string; method: "average" | "sum" | "min" | "max" | "last" }>;
  flush_interval: number;
  rollup_interval: number;
  max_pending: number;
  max_series: number;
  forward_batch: number;
  read_retry: number;
}

export interface ChecksConfig {
  max_concurrency: number;
  timeout: number;
  plugin_dirs: string[];
  max_output: number;
}

/** Validated agent parameters with every default applied and paths resolved. */
export interface AgentParams {
  name: string;
  port: number;
  bind: string;
  addr: string;
  tags: string[];
  seeds: string[];
  bootstrap: boolean;
  datacenters: string[];
  zone: string;
  data: string;
  libexec: string;
  log: string;
  lock: string;
  socket: string;
  log_level: "DEBUG" | "INFO" | "WARNING" | "ERROR";
  /** Rotated daemon.log files kept (daily, midnight UTC); 0 = the agent never rotates. */
  log_keep_days: number;
  log_max_size: number;
  encryption_key: string;
  encryption_keys: string[];
  master_key_priv: string;
  master_key_pub: string;
  gossip: GossipConfig;
  http: HttpConfig;
  kv: KvConfig;
  collectors: CollectorsConfig;
  checks: ChecksConfig;
  raft: RaftConfig;
  /** User Nagios plugins run as when the agent runs as root. */
  nagios_user: string;
  metrics: MetricsStoreConfig;
}

export interface AgentConfig {
  params: AgentParams;
  /** Typed objects by kind, then id (file path relative to its directory, without extension). */
  objects: Record<ObjectKind, Record<string, LoadedObject>>;
  /** dns, websocket, statsd, graphite, shinken: validated with defaults, or absent. */
  listeners: Partial<Record<ListenerKind, Record<string, unknown>>>;
  /** Free configuration data (`{configuration.x}` and `$x$` lookups). */
  data: Record<string, unknown>;
  cfgDir: string;
  /** Directories walked, in order. */
  dirs: string[];
  /** Files loaded, in order. */
  files: string[];
  /** Accepted but doubtful entries (e.g. a check field one typo away from a known one); logged at start. */
  warnings: ConfigProblem[];
  /** Where each agent parameter set by the configuration came from: a file, `env KUNAI_X`, `command line`. */
  paramSource?: Record<string, string>;
}

export interface ResolveOptions {
  /** `--cfg-dir`: must exist when given. */
  cfgDir?: string;
  /** `--data-dir`. */
  dataDir?: string;
  /** Extra parameters from flags (highest precedence). */
  overrides?: Record<string, unknown>;
  /** Environment (default Deno.env). */
  env?: Record<string, string>;
  /**
   * Texts read in place of files (absolute path -> text), a file that does not exist yet included:
   * an update is validated as it would be read before it is written.
   */
  texts?: Record<string, string>;
}

export const DEFAULT_CFG_DIR = "/etc/kunai";
/** Configuration directories under the data dir, walked after cfg_dir (reference §2.1). */
export const DATA_CONFIG_DIRS = ["global-configuration", "zone-configuration", "local-configuration"];

/** Path-valued parameters where `$data$` is substituted. */
const PATH_PARAMS = ["libexec", "log", "lock", "socket", "master_key_priv", "master_key_pub"] as const;

/** `KUNAI_<PARAM>` environment variables and how to read them. */
const ENV_PARAMS: Record<string, "string" | "int" | "bool" | "list"> = {
  name: "string",
  port: "int",
  bind: "string",
  addr: "string",
  tags: "list",
  seeds: "list",
  bootstrap: "bool",
  zone: "string",
  libexec: "string",
  log: "string",
  lock: "string",
  socket: "string",
  log_level: "string",
  encryption_key: "string",
};

function envValue(kind: "string" | "int" | "bool" | "list", text: string, name: string): unknown {
  switch (kind) {
    case "string":
      return text;
    case "int": {
      if (!/^\d+$/.test(text.trim())) {
        throw new ConfigError([{
          file: `env ${name}`,
          path: "",
          message: `expected an integer, got ${JSON.stringify(text)}`,
        }]);
      }
      return Number(text.trim());
    }
    case "bool": {
      const t = text.trim().toLowerCase();
      if (["1", "true", "yes", "on"].includes(t)) return true;
      if (["0", "false", "no", "off", ""].includes(t)) return false;
      throw new ConfigError([{
        file: `env ${name}`,
        path: "",
        message: `expected true or false, got ${JSON.stringify(text)}`,
      }]);
    }
    case "list":
      return text.split(",").map((s) => s.trim()).filter(Boolean);
  }
}

/** True when `dir` exists or could be created by us (its nearest existing parent is writable). */
export function isWritableDir(dir: string): boolean {
  let d = resolve(dir);
  while (true) {
    try {
      const st = Deno.statSync(d);
      if (!st.isDirectory) return false;
      const probe = join(d, `.kunai-write-test-${Deno.pid}`);
      try {
        Deno.writeTextFileSync(probe, "");
        Deno.removeSync(probe);
        return true;
      } catch {
        return false;
      }
    } catch {
      const parent = resolve(d, "..");
      if (parent === d) return false;
      d = parent;
    }
  }
}

function homeDir(env: Record<string, string>): string {
  return env.HOME || "/tmp";
}

/** The default data dir: /var/lib/kunai when writable, else $XDG_DATA_HOME/kunai. */
export function defaultDataDir(env: Record<string, string>): string {
  if (isWritableDir("/var/lib/kunai")) return "/var/lib/kunai";
  return join(env.XDG_DATA_HOME || join(homeDir(env), ".local", "share"), "kunai");
}

function defaultLogDir(env: Record<string, string>, data: string): string {
  if (data === "/var/lib/kunai" && isWritableDir("/var/log/kunai")) return "/var/log/kunai";
  if (data !== "/var/lib/kunai") return join(data, "log");
  return join(env.XDG_STATE_HOME || join(homeDir(env), ".local", "state"), "kunai", "log");
}

/**
 * resolveConfig(), loading the YAML parser first when a YAML file is met (the parser is imported
 * on first need: see loadYaml()). Throws ConfigError.
 */
export async function resolveConfigAsync(opts: ResolveOptions = {}): Promise<AgentConfig> {
  try {
    return resolveConfig(opts);
  } catch (err) {
    if (!(err instanceof YamlNotLoaded)) throw err;
  }
  await loadYaml();
  return resolveConfig(opts);
}

/**
 * Reads, validates and merges everything. Throws ConfigError; changes nothing on disk. Throws
 * YamlNotLoaded when it meets a YAML file before loadYaml() (resolveConfigAsync() handles that).
 */
export function resolveConfig(opts: ResolveOptions = {}): AgentConfig {
  const env = opts.env ?? Deno.env.toObject();
  const explicitCfg = opts.cfgDir ?? env.KUNAI_CFG_DIR;
  const cfgDir = resolve(explicitCfg ?? DEFAULT_CFG_DIR);
  if (explicitCfg !== undefined) {
    let ok = false;
    try {
      ok = Deno.statSync(cfgDir).isDirectory;
    } catch { /* reported below */ }
    if (!ok) {
      throw new ConfigError([{ file: cfgDir, path: "", message: "configuration directory does not exist" }]);
    }
  }
  // First pass over cfg_dir alone to learn `data`, which names the other directories.
  const first = loadConfigDirs([cfgDir], [], opts.texts);
  const envData = env.KUNAI_DATA_DIR ?? env.KUNAI_DATA;
  let data = opts.dataDir ?? envData ?? (first.params.data as string | undefined);
  if (data === undefined) data = defaultDataDir(env);
  data = resolve(data);
  const dirs = [cfgDir, ...DATA_CONFIG_DIRS.map((d) => join(data!, d))];
  const raw = loadConfigDirs(dirs, [], opts.texts);
  if (opts.dataDir !== undefined) raw.paramSource.data = "command line";
  else if (envData !== undefined) {
    raw.paramSource.data = env.KUNAI_DATA_DIR !== undefined ? "env KUNAI_DATA_DIR" : "env KUNAI_DATA";
  }

  const params: Record<string, unknown> = { ...raw.params };
  const problems: ConfigProblem[] = [];
  for (const [key, kind] of Object.entries(ENV_PARAMS)) {
    const name = `KUNAI_${key.toUpperCase()}`;
    if (env[name] !== undefined) {
      try {
        params[key] = envValue(kind, env[name], name);
        raw.paramSource[key] = `env ${name}`;
      } catch (err) {
        if (err instanceof ConfigError) problems.push(...err.problems);
        else throw err;
      }
    }
  }
  if (env.KUNAI_HTTP_TOKEN !== undefined) {
    params.http = { ...(params.http as Record<string, unknown> ?? {}), token: env.KUNAI_HTTP_TOKEN };
  }
  for (const [k, v] of Object.entries(opts.overrides ?? {})) {
    if (v !== undefined) {
      params[k] = v;
      raw.paramSource[k] = "command line";
    }
  }
  params.data = data;
  const issues: Issue[] = [];
  const parsed = object<Record<string, unknown>>(agentFields).parse(params, "", issues);
  for (const i of issues) {
    const top = i.path.split(/[.[]/)[0];
    problems.push({ file: raw.paramSource[top] ?? "defaults", path: i.path, message: i.message });
  }
  if (problems.length || !parsed) throw new ConfigError(problems);

  const p = parsed as unknown as AgentParams;
  const keyProblems = checkKeys(p, raw.paramSource);
  if (keyProblems.length) throw new ConfigError(keyProblems);
  for (const k of PATH_PARAMS) {
    const v = p[k];
    if (v) p[k] = substituteData(v, data, cfgDir);
  }
  if (p.log === undefined) p.log = defaultLogDir(env, data);
  if (!p.name) p.name = Deno.hostname();
  p.log_level = p.log_level.toUpperCase() as AgentParams["log_level"];

  const listeners: AgentConfig["listeners"] = {};
  for (const [k, v] of Object.entries(raw.listeners)) listeners[k as ListenerKind] = v;
  return {
    params: p,
    objects: raw.objects,
    listeners,
    data: raw.data,
    cfgDir,
    dirs,
    files: raw.files,
    warnings: [...raw.warnings, ...handlerRefWarnings(raw.objects)],
    paramSource: raw.paramSource,
  };
}

/** `encryption_key(s)` must be base64 of 16, 24 or 32 bytes: refused here, before anything is written. */
function checkKeys(p: AgentParams, source: Record<string, string>): ConfigProblem[] {
  const out: ConfigProblem[] = [];
  const check = (key: string, path: string, param: string) => {
    if (!key) return;
    try {
      decodeKey(key);
    } catch (err) {
      out.push({
        file: source[param] ?? "defaults",
        path,
        message: `${(err as Error).message}; generate one with 'kunai keygen'`,
      });
    }
  };
  check(p.encryption_key, "encryption_key", "encryption_key");
  p.encryption_keys.forEach((k, i) => check(k, `encryption_keys[${i}]`, "encryption_keys"));
  return out;
}

/** Replaces `$data$` and makes relative paths absolute against cfg_dir. */
export function substituteData(path: string, data: string, cfgDir: string): string {
  const s = path.replaceAll("$data$", data);
  return s.startsWith("/") ? s : resolve(cfgDir, s);
}
