/**
 * The agent's own routes (liveness, info, stop, reload, the log monitor, packs, the runtime
 * configuration, zone and maintenance, Prometheus metrics); each subsystem serves its own.
 */
import { type AgentConfig, listPacks, localConfigFile, readLocalConfig } from "./config/mod.ts";
import type { Clock } from "./clock/mod.ts";
import type { Counters } from "./counters.ts";
import { type LocalNode, parseMaintenanceRequest } from "./identity/mod.ts";
import { LOG_LEVELS, type Logger, type LogLevel, type LogMonitors, type LogSink } from "./log/mod.ts";
import { type ApiContext, HttpError, readJson, readText, RouteTable } from "./routing/mod.ts";
import type { ReloadResult } from "./agent.ts";

/** A zone name set over the API (`kunai zone change`): what DNS, Shinken templates and logs can hold. */
const ZONE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;

/** `kunai monitor` streams served at once. */
const MONITOR_MAX = 8;

/** What the agent's routes use of the agent. */
export interface AgentRouteHost {
  readonly config: AgentConfig;
  readonly node: LocalNode;
  readonly clock: Clock;
  readonly log: Logger;
  readonly counters: Counters;
  readonly sink: LogSink;
  readonly startedElapsed: number;
  readonly monitors: LogMonitors;
  info(): Record<string, unknown>;
  stop(reason: string): Promise<void>;
  reload(): Promise<ReloadResult>;
  updateLocalConfig(patch: Record<string, unknown>): Promise<unknown>;
  /** The maintenance was set or ended: re-arm its end timer. */
  maintenanceChanged(): void;
}

export function coreRoutes(a: AgentRouteHost): RouteTable {
  const r = new RouteTable("agent");
  r.read("GET", "/", "liveness: OK", (c) => c.text("OK"));
  r.read("GET", "/agent/info", "this agent's state, one section per subsystem", (c) => c.json(a.info()));
  r.read("GET", "/agent/name", "this node's name", (c) => c.text(a.config.params.name));
  const stop = (c: ApiContext) => {
    setTimeout(() => void a.stop("stop requested over the API"), 50);
    return c.text("OK");
  };
  r.write("POST", "/stop", "stop this agent (graceful)", stop);
  r.write("GET", "/stop", "stop this agent (the reference's GET, same policy)", stop);
  r.write(
    "POST",
    "/agent/reload",
    "re-read the configuration files",
    async (c) => c.json(await a.reload()),
  );
  // a write route: DEBUG lines say much about the agent's peers and traffic
  r.write(
    "GET",
    "/agent/monitor",
    "stream the log live (?level=DEBUG|INFO|WARNING|ERROR, default INFO)",
    (c) => {
      const level = (c.req.query("level") || "INFO").toUpperCase();
      if (!(LOG_LEVELS as string[]).includes(level)) {
        throw new HttpError(
          400,
          `query parameter level must be one of ${LOG_LEVELS.join(", ")}, got ${
            JSON.stringify(level.slice(0, 20))
          }`,
        );
      }
      if (a.monitors.size >= MONITOR_MAX) {
        throw new HttpError(429, `at most ${MONITOR_MAX} monitors at once; close one first`);
      }
      return a.monitors.open(
        level as LogLevel,
        `kunai monitor: ${a.config.params.name}, log lines at ${level} and above`,
      );
    },
  );
  const packs = (c: ApiContext) => c.json(listPacks(a.config.dirs));
  r.read(
    "GET",
    "/packs",
    "the package.json of every pack, with its level (cfg, global, zone, local)",
    packs,
  );
  r.read(
    "GET",
    "/packs/",
    "the package.json of every pack, with its level (cfg, global, zone, local)",
    packs,
  );
  // reference §2.3; both reveal or change keys and tokens: write routes
  r.write("GET", "/configuration", "the configuration's local.json (reveals its keys)", (c) => {
    const { path, yaml } = localConfigFile(a.config.cfgDir);
    try {
      const cur = readLocalConfig(path);
      if (cur.text === null && yaml) {
        throw new Error(`the local configuration is ${yaml}: this route reads local.json only`);
      }
      return c.json(cur.value);
    } catch (err) {
      throw new HttpError(409, (err as Error).message);
    }
  });
  r.write(
    "PUT",
    "/configuration/update",
    "merge a JSON object into local.json (null removes a key) and reload; refused changes leave it as it was",
    async (c) => {
      const body = await readJson(c);
      if (!body || typeof body !== "object" || Array.isArray(body)) {
        throw new HttpError(400, 'expected a JSON object of top-level keys, e.g. {"log_level": "DEBUG"}');
      }
      return c.json(await a.updateLocalConfig(body as Record<string, unknown>));
    },
  );
  r.write(
    "PUT",
    "/agent/zone",
    "move this node to another zone (body: the zone name; saved in local.json)",
    async (c) => {
      const text = (await readText(c)).trim();
      let zone: unknown = text;
      if (text.startsWith('"')) {
        try {
          zone = JSON.parse(text);
        } catch { /* checked below */ }
      }
      if (typeof zone !== "string" || !ZONE_NAME.test(zone)) {
        throw new HttpError(
          400,
          `expected a zone name as the body: 1-63 letters, digits, '.', '_' or '-', starting with a letter or digit; got ${
            JSON.stringify(text.slice(0, 80))
          }`,
        );
      }
      await a.updateLocalConfig({ zone });
      return c.json(true);
    },
  );
  r.read(
    "GET",
    "/agent/maintenance",
    "this node's maintenance: {reason, since, until} or null",
    (c) => c.json(a.node.maintenance()),
  );
  r.write(
    "PUT",
    "/agent/maintenance",
    'put this node in maintenance (body: {"reason", "for"}; no notifications, out of DNS and ok_nodes)',
    async (c) => {
      const text = await readText(c);
      let body: unknown = {};
      if (text.trim()) {
        try {
          body = JSON.parse(text);
        } catch {
          throw new HttpError(
            400,
            'expected a JSON object such as {"reason": "kernel upgrade", "for": "2h"}',
          );
        }
      }
      let m;
      try {
        m = parseMaintenanceRequest(body, a.clock.now());
      } catch (err) {
        throw new HttpError(400, (err as Error).message);
      }
      const was = a.node.maintenance();
      // entering keeps its start when only the reason or the end changes
      a.node.setMaintenance(was ? { ...m, since: was.since } : m);
      a.maintenanceChanged();
      a.log.warn(`maintenance ${was ? "updated" : "enabled"}${maintNote(m)}`);
      return c.json(a.node.maintenance());
    },
  );
  r.write("DELETE", "/agent/maintenance", "end this node's maintenance", (c) => {
    const was = a.node.maintenance();
    a.node.setMaintenance(null);
    a.maintenanceChanged();
    if (was) a.log.warn("maintenance disabled");
    return c.json(was !== null);
  });
  r.read("GET", "/metrics", "Prometheus metrics", (c) => {
    a.counters.set("uptime_seconds", Math.floor((performance.now() - a.startedElapsed) / 1000));
    a.counters.set("incarnation", a.node.incarnation);
    for (const [lvl, n] of Object.entries(a.sink.counts)) {
      a.counters.set("log_lines_total", n, { level: lvl });
    }
    // lines the day's file did not take (log_max_size reached)
    a.counters.set("log_lines_not_written_total", a.sink.droppedLines);
    return c.text(a.counters.render(), 200, { "content-type": "text/plain; version=0.0.4" });
  });
  return r;
}

/** ": reason, until <time>" for the log lines of a maintenance. */
export function maintNote(m: { reason: string; until: number | null }): string {
  return `${m.reason ? `: ${m.reason}` : ""}${
    m.until !== null ? `, until ${new Date(m.until).toISOString()}` : ""
  }`;
}
