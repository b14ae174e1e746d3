/**
 * The composition root: takes the lock, opens logs and the store, resolves the node identity,
 * builds `ctx`, starts subsystems in order (stops them in reverse) and serves the HTTP API.
 * Only this file knows every subsystem.
 */
import { join } from "node:path";
import { sweepTemps } from "./fs/mod.ts";
import {
  type AgentConfig,
  agentFields,
  formatProblem,
  LISTENER_KINDS,
  localConfigFile,
  localConfigText,
  mergeLocalConfig,
  readLocalConfig,
  writeLocalConfig,
} from "./config/mod.ts";
import { EventBus } from "./bus.ts";
import { type Clock, RealClock } from "./clock/mod.ts";
import { type Logger, LogMonitors, LogSink } from "./log/mod.ts";
import { Store } from "./store/mod.ts";
import { reapsSettled, Sandbox } from "./sandbox/mod.ts";
import { Counters } from "./counters.ts";
import {
  bumpStartIncarnation,
  detectAddr,
  IDENTITY_MIGRATION,
  loadMaintenance,
  LocalNode,
  MaintenanceEnd,
  resolveUuid,
  saveMaintenance,
} from "./identity/mod.ts";
import { acquireLock, releaseLock } from "./lockfile.ts";
import { buildApp, fastDispatcher, HttpServer } from "./http/mod.ts";
import { HttpError, RouteTable } from "./routing/mod.ts";
import { coreRoutes, maintNote } from "./agent_routes.ts";
import { agentInfo } from "./agent_info.ts";
import type { Ctx, Subsystem } from "./subsystem.ts";
import { FailureNote } from "./log/failure.ts";
import { DataDirWatch } from "./fs/watch_dir.ts";
import { VERSION } from "./version.ts";
import { loadKeyring, PeerEnvelope } from "./transport/mod.ts";
import { buildSubsystems, type WiringInputs } from "./wiring.ts";
import { describeRouters, openApiRoutes } from "./openapi/mod.ts";
import { uiRoutes } from "./ui/mod.ts";
import { hostPort } from "./host_port.ts";

export interface AgentOptions {
  config: AgentConfig;
  clock?: Clock;
  /** Write logs to stderr too (off for a daemon child). */
  stderrLogs?: boolean;
  /** DMI uuid path (tests point it at a fixture). */
  dmiPath?: string;
  /** Builds the subsystems (default: every subsystem, `buildSubsystems`; tests may run fewer). */
  build?: (w: WiringInputs) => Subsystem[];
  /**
   * Re-reads the configuration the same way it was first read (SIGHUP, `kunai agent reload`), with
   * `texts` (path -> text) read in place of those files (`PUT /configuration/update`).
   */
  reloadConfig?: (texts?: Record<string, string>) => AgentConfig | Promise<AgentConfig>;
}

/** What a reload did: files read, parameters that changed but take effect only at restart, warnings. */
export interface ReloadResult {
  files: number;
  restart_needed: string[];
  /** The configuration's warnings (file: path: message), as the log says them. */
  warnings: string[];
}

/** Agent parameters applied at runtime by a reload (the others need a restart). */
const HOT_PARAMS = new Set(["tags", "log_level", "log_keep_days", "log_max_size", "zone"]);

const STOP_BUDGET_MS = 5000;

export class Agent {
  readonly config: AgentConfig;
  readonly bus = new EventBus();
  readonly counters = new Counters();
  readonly clock: Clock;
  readonly sink: LogSink;
  readonly log: Logger;
  /** Open `kunai monitor` streams: ended at stop. */
  readonly monitors: LogMonitors;
  node!: LocalNode;
  store!: Store;
  sandbox!: Sandbox;
  envelope!: PeerEnvelope;
  http: HttpServer | null = null;
  /** Every router mounted on the API (the security tests walk their route tables). */
  readonly routers: RouteTable[] = [];
  readonly subsystems: Subsystem[] = [];
  /** When the agent started, on the clock that never steps (uptime: not moved by a wall clock step). */
  readonly startedElapsed = performance.now();
  #build: (w: WiringInputs) => Subsystem[];
  #dmiPath?: string;
  #reloadConfig?: (texts?: Record<string, string>) => AgentConfig | Promise<AgentConfig>;
  #stopping: Promise<void> | null = null;
  /** The listener objects as the subsystems opened them at start: a reload does not reopen them. */
  readonly #startListeners: string;
  /** What the last reload changed that only a restart applies (parameters and listeners). */
  restartNeeded: string[] = [];
  #locked = false;
  #done!: () => void;
  /** Resolves once the agent has stopped. */
  readonly finished: Promise<void>;
  stopReason = "";

  constructor(opts: AgentOptions) {
    this.config = opts.config;
    this.#startListeners = JSON.stringify(opts.config.listeners);
    this.clock = opts.clock ?? new RealClock();
    this.#build = opts.build ?? buildSubsystems;
    this.#dmiPath = opts.dmiPath;
    this.#reloadConfig = opts.reloadConfig;
    const p = opts.config.params;
    this.sink = new LogSink({
      level: p.log_level,
      node: p.name,
      stderr: opts.stderrLogs ?? true,
      now: () => this.clock.now(),
    });
    this.log = this.sink.logger("agent");
    this.monitors = new LogMonitors(this.sink);
    this.bus.onListenerError = (event, err) => this.log.error(`listener of ${event} failed:`, err);
    this.finished = new Promise((r) => this.#done = r);
  }

  /** Starts everything; on failure undoes what was started and rethrows. */
  async start(): Promise<void> {
    const p = this.config.params;
    acquireLock(p.lock);
    this.#locked = true;
    try {
      Deno.mkdirSync(p.data, { recursive: true, mode: 0o750 }); // an existing one keeps its mode
      this.sink.maxBytes = p.log_max_size;
      this.sink.openFile(join(p.log, "daemon.log"), p.log_keep_days);
      this.log.info(`starting kunai ${VERSION} (pid ${Deno.pid}), configuration from ${this.config.cfgDir}`);
      this.log.info(`loaded ${this.config.files.length} configuration file(s)`);
      for (const w of this.config.warnings) this.log.warn(`configuration: ${formatProblem(w)}`);
      // temporary files of writes cut off by a kill (ours by name and pid; the lock says nobody writes)
      const swept = [...sweepTemps(p.data), ...sweepTemps(this.config.cfgDir)];
      if (swept.length) {
        this.log.info(`removed ${swept.length} temporary file(s) of a killed agent: ${swept.join(", ")}`);
      }
      this.store = new Store(p.data, this.log);
      this.#dataDirWatch = new DataDirWatch(p.data, this.clock, this.log);
      this.#dataDirWatch.start();
      const agentDb = this.store.open("agent", [{ version: 1, sql: IDENTITY_MIGRATION }]);
      const incarnation = bumpStartIncarnation(agentDb);
      const incarnationNote = new FailureNote(
        this.log,
        "saving the incarnation",
        60_000,
        () => this.clock.now(),
      );
      const { uuid, source, damaged } = await resolveUuid({
        dataDir: p.data,
        name: p.name,
        dmiPath: this.#dmiPath,
      });
      if (damaged) this.log.warn(`${damaged}: this node takes a new uuid, ${uuid}`);
      this.node = new LocalNode({
        uuid,
        name: p.name,
        addr: p.addr || detectAddr(p.bind),
        port: p.port,
        zone: p.zone,
        incarnation,
        configTags: p.tags,
        bus: this.bus,
        saveIncarnation: (n) => {
          if (!agentDb.isOpen) return;
          agentDb.run("INSERT OR REPLACE INTO meta (key, value) VALUES ('incarnation', ?)", String(n));
          incarnationNote.ok();
        },
        onSaveError: (err) => incarnationNote.fail(err),
        maintenance: loadMaintenance(agentDb, this.clock.now()),
        saveMaintenance: (m) => saveMaintenance(agentDb, m),
      });
      this.#maintenanceEnd = new MaintenanceEnd(this.node, this.clock, this.log);
      this.#maintenanceEnd.arm();
      const maint = this.node.maintenance();
      if (maint) {
        this.log.warn(`in maintenance since ${new Date(maint.since).toISOString()}${maintNote(maint)}`);
      }
      this.log.info(
        `node ${p.name} uuid ${uuid} (${source}), incarnation ${incarnation}, addr ${
          hostPort(this.node.addr, p.port)
        }`,
      );
      this.sandbox = new Sandbox(this.sink.logger("sandbox"));
      const keyring = await loadKeyring({
        file: join(p.data, "keyring.json"),
        configured: [p.encryption_key, ...p.encryption_keys],
        label: p.gossip.label,
        warn: (m) => this.log.warn(m),
      });
      this.envelope = new PeerEnvelope(keyring, { now: () => this.clock.now() });
      this.subsystems.push(
        ...this.#build({
          config: this.config,
          ctx: (part) => this.#ctx(part),
          envelope: this.envelope,
          reload: () => this.reload(),
        }),
      );
      for (const sub of this.subsystems) {
        await sub.start();
        this.log.debug(`subsystem ${sub.name} started`);
      }
      this.routers.push(coreRoutes(this));
      for (const sub of this.subsystems) if (sub.routes) this.routers.push(sub.routes());
      const routers = this.routers;
      routers.push(uiRoutes(), openApiRoutes(() => describeRouters(routers), VERSION));
      const policy = {
        token: p.http.token,
        openWrites: p.http.open_writes,
        corsOrigins: p.http.cors_origins,
        maxBody: p.http.max_body,
        log: this.sink.logger("http"),
        counters: this.counters,
        peerEnvelope: this.envelope,
      };
      const app = buildApp(this.routers, policy);
      this.http = await HttpServer.start(app, {
        bind: p.bind,
        port: p.port,
        socket: p.socket,
        tcp: p.http.enabled,
        token: p.http.token,
        maxBody: p.http.max_body,
        log: this.sink.logger("http"),
        counters: this.counters,
        headerTimeoutMs: p.http.header_timeout,
        idleTimeoutMs: p.http.idle_timeout,
        maxPerClient: p.http.max_conns_per_client,
        // under our lock, so a file left by a killed agent is ours to replace (unix paths stop at 107 bytes)
        frontSocket: join(p.data, "http-front.sock").length < 100
          ? join(p.data, "http-front.sock")
          : undefined,
        fast: fastDispatcher(this.routers, policy),
      });
      this.#warnOpenApi();
      this.log.info(
        `HTTP API on ${p.http.enabled ? `${hostPort(p.bind, p.port)} and ` : ""}unix:${p.socket}`,
      );
    } catch (err) {
      this.log.error(`start failed: ${(err as Error).message}`);
      await this.#teardown();
      throw err;
    }
  }

  /** Says loudly at start what anyone who reaches the TCP port may do. */
  #warnOpenApi(): void {
    const p = this.config.params;
    if (!p.http.enabled) return;
    if (p.http.open_writes) {
      this.log.warn(
        `http.open_writes is true: anyone who can reach ${p.bind}:${p.port} can stop this agent, ` +
          "write keys, change checks and evaluate expressions without a token",
      );
    } else if (!p.http.token) {
      this.log.info(
        `write routes are refused over TCP (${p.bind}:${p.port}) because http.token is not set; ` +
          `use the unix socket ${p.socket} or set http.token`,
      );
    }
  }

  #ctx(part: string): Ctx {
    return {
      config: this.config,
      node: this.node,
      store: this.store,
      bus: this.bus,
      clock: this.clock,
      log: this.sink.logger(part),
      sandbox: this.sandbox,
      counters: this.counters,
      requestStop: (reason) => void this.stop(reason),
    };
  }

  /** The listener objects as they were at start: what runs until a restart. */
  get listenersAtStart(): AgentConfig["listeners"] {
    return JSON.parse(this.#startListeners);
  }

  /** `/agent/info`: the reference's shape plus one section per subsystem (agent_info.ts). */
  info(): Record<string, unknown> {
    return agentInfo(this);
  }

  /**
   * Re-reads the configuration. Invalid configuration throws ConfigError and changes nothing;
   * valid configuration replaces objects, listeners and free data in place (subsystems see it
   * through ctx.config and re-read on `config.reloaded`), applies tags and log level, and lists
   * the other changed parameters as needing a restart. `texts` (path -> text) are read in place of
   * those files; `check` may refuse the result before anything is applied.
   */
  async reload(check?: (next: AgentConfig) => void, texts?: Record<string, string>): Promise<ReloadResult> {
    if (!this.#reloadConfig) {
      throw new HttpError(409, "this agent was started without a way to re-read its configuration");
    }
    // logrotate's move-then-signal: the next lines go to a new file at the configured path
    this.sink.reopen();
    const next = await this.#reloadConfig(texts);
    check?.(next); // may refuse it: nothing is applied yet
    for (const w of next.warnings) this.log.warn(`configuration: ${formatProblem(w)}`);
    const cur = this.config;
    const restart: string[] = [];
    for (const key of Object.keys(next.params) as Array<keyof typeof next.params>) {
      if (JSON.stringify(next.params[key]) === JSON.stringify(cur.params[key])) continue;
      if (!HOT_PARAMS.has(key)) restart.push(key);
    }
    // dns, websocket, statsd, graphite and shinken open their sockets and files at start only
    const started = JSON.parse(this.#startListeners) as Record<string, unknown>;
    for (const kind of LISTENER_KINDS) {
      const was = JSON.stringify(started[kind] ?? null);
      if (JSON.stringify(next.listeners[kind] ?? null) !== was) restart.push(kind);
    }
    cur.objects = next.objects;
    cur.listeners = next.listeners;
    cur.data = next.data;
    cur.files = next.files;
    cur.warnings = next.warnings;
    cur.params.log_level = next.params.log_level;
    this.sink.level = next.params.log_level;
    if (next.params.log_keep_days !== cur.params.log_keep_days) {
      cur.params.log_keep_days = next.params.log_keep_days;
      this.sink.keepDays = next.params.log_keep_days;
    }
    if (next.params.log_max_size !== cur.params.log_max_size) {
      cur.params.log_max_size = next.params.log_max_size;
      this.sink.maxBytes = next.params.log_max_size;
    }
    if (JSON.stringify(next.params.tags) !== JSON.stringify(cur.params.tags)) {
      cur.params.tags = next.params.tags;
      this.node.setConfigTags(next.params.tags);
    }
    if (next.params.zone !== cur.params.zone) {
      this.log.info(`zone: ${JSON.stringify(cur.params.zone)} -> ${JSON.stringify(next.params.zone)}`);
      cur.params.zone = next.params.zone;
      this.node.setZone(next.params.zone);
    }
    this.log.info(
      `configuration reloaded: ${next.files.length} file(s)` +
        (restart.length ? `; changed parameters that need a restart: ${restart.join(", ")}` : ""),
    );
    this.restartNeeded = restart;
    this.bus.emit("config.reloaded", { files: next.files });
    return { files: next.files.length, restart_needed: restart, warnings: next.warnings.map(formatProblem) };
  }

  #updates: Promise<unknown> = Promise.resolve();
  #maintenanceEnd: MaintenanceEnd | null = null;
  #dataDirWatch: DataDirWatch | null = null;

  /**
   * `PUT /configuration/update` (reference §2.3): merges `patch` into the configuration's local.json
   * (a `null` removes a key) and re-reads everything as a reload does, with the merged text in place
   * of the file: only a configuration the reload accepts is written, before it is applied. A refused
   * one (or an agent parameter that another file overrides: the update would change nothing) leaves
   * the file untouched and throws. One update at a time.
   */
  updateLocalConfig(patch: Record<string, unknown>): Promise<ReloadResult & { file: string }> {
    const run = async () => {
      const { path, yaml } = localConfigFile(this.config.cfgDir);
      let cur: ReturnType<typeof readLocalConfig>;
      try {
        cur = readLocalConfig(path);
      } catch (err) {
        throw new HttpError(409, (err as Error).message);
      }
      if (cur.text === null && yaml) {
        throw new HttpError(
          409,
          `the local configuration is ${yaml}: this route rewrites local.json only (YAML comments would be lost); edit it by hand`,
        );
      }
      const text = localConfigText(mergeLocalConfig(cur.value, patch));
      let written = false;
      try {
        const r = await this.reload((next) => {
          // an agent parameter set again by a later file (or the environment, or a flag) keeps that value
          const src = next.paramSource ?? {};
          const overridden = Object.keys(patch).filter((k) =>
            k in agentFields && patch[k] !== null && src[k] !== undefined && src[k] !== path
          );
          if (overridden.length) {
            throw new HttpError(
              409,
              `this update would change nothing: ${
                overridden.map((k) => `${k} is set again by ${src[k]}`).join("; ")
              } (later sources override local.json); change it there`,
            );
          }
          writeLocalConfig(path, text);
          written = true;
        }, { [path]: text });
        this.log.info(`configuration updated through the API: ${Object.keys(patch).join(", ")} in ${path}`);
        return { ...r, file: path };
      } catch (err) {
        if (written) { // refused after the write (applying it failed): the old file goes back
          if (cur.text === null) Deno.removeSync(path);
          else writeLocalConfig(path, cur.text);
        }
        this.log.warn(`configuration update refused, ${path} left as it was: ${(err as Error).message}`);
        throw err;
      }
    };
    const p = this.#updates.then(run, run);
    this.#updates = p.catch(() => {});
    return p;
  }

  /** The maintenance was set or ended (the API): re-arm the timer that ends it. */
  maintenanceChanged(): void {
    this.#maintenanceEnd?.arm();
  }

  /** Graceful stop: subsystems in reverse order (each within the 5 s budget), then store and lock. */
  stop(reason = "stop"): Promise<void> {
    if (this.#stopping) return this.#stopping;
    this.stopReason = reason;
    this.#stopping = (async () => {
      this.log.info(`stopping: ${reason}`);
      this.bus.emit("agent.stopping", { reason });
      await this.#teardown();
      this.log.info("stopped");
      this.sink.close();
      this.#done();
    })();
    return this.#stopping;
  }

  /** Logs a part of the stop that took SLOW_STOP_MS or more (the 5 s budget is shared by all). */
  #slowStop(what: string, since: number): void {
    const ms = performance.now() - since;
    if (ms >= SLOW_STOP_MS) this.log.info(`stopping: ${what} took ${Math.round(ms)} ms`);
  }

  async #teardown(): Promise<void> {
    const deadline = performance.now() + STOP_BUDGET_MS;
    this.#maintenanceEnd?.stop();
    this.#dataDirWatch?.stop();
    this.monitors.closeAll();
    if (this.http) {
      const t0 = performance.now();
      await withTimeout(this.http.close(), 1000).catch((err) => {
        this.log.warn(`HTTP server did not close cleanly: ${(err as Error).message}`);
        this.counters.inc("stop_errors_total", { part: "http" });
      });
      this.#slowStop("the HTTP server", t0);
      this.http = null;
    }
    for (const sub of [...this.subsystems].reverse()) {
      const left = Math.max(100, deadline - performance.now() - 500);
      const t0 = performance.now();
      try {
        await withTimeout(sub.stop(), left);
        this.#slowStop(`subsystem ${sub.name}`, t0);
      } catch (err) {
        this.log.warn(`subsystem ${sub.name} did not stop cleanly: ${(err as Error).message}`);
      }
    }
    this.subsystems.length = 0;
    this.sandbox?.stopAll();
    await withTimeout(reapsSettled(), 1000).catch(() => {}); // plugin children caught mid-exec
    this.store?.closeAll();
    if (this.#locked) releaseLock(this.config.params.lock);
    this.#locked = false;
  }
}

/** A part's stop slower than this is logged with its time: which one ate the stop budget on a busy host. */
const SLOW_STOP_MS = 250;

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let t: ReturnType<typeof setTimeout>;
  return Promise.race([
    p.finally(() => clearTimeout(t)),
    new Promise<T>((_, reject) => t = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms)),
  ]);
}
