/** `/agent/info`: what the agent tells of itself, in the reference's shape, then each subsystem's section. */
import type { AgentConfig } from "./config/mod.ts";
import type { LocalNode } from "./identity/mod.ts";
import type { LogSink } from "./log/mod.ts";
import type { Sandbox } from "./sandbox/mod.ts";
import type { Subsystem } from "./subsystem.ts";
import { type HttpServer, writePolicy } from "./http/mod.ts";
import { VERSION } from "./version.ts";
import { isDumpable } from "./process/mod.ts";

/** What agentInfo reads of the agent. */
export interface AgentInfoHost {
  readonly config: AgentConfig;
  readonly sink: LogSink;
  readonly node: LocalNode;
  readonly startedElapsed: number;
  readonly sandbox: Sandbox;
  readonly subsystems: Subsystem[];
  readonly http: HttpServer | null;
  /** The listeners as opened at start: a reload changes them only at the next restart. */
  readonly listenersAtStart: AgentConfig["listeners"];
  /** What the last reload changed that needs a restart. */
  readonly restartNeeded: string[];
}

/** `/agent/info`: the reference's shape plus one section per subsystem. */
export function agentInfo(a: AgentInfoHost): Record<string, unknown> {
  const p = a.config.params;
  const started = a.listenersAtStart;
  const out: Record<string, unknown> = {
    logs: a.sink.recent,
    log_counts: a.sink.counts,
    pid: Deno.pid,
    // false once `agent start` made the process non-dumpable (its environ and memory root's only)
    dumpable: isDumpable(),
    name: p.name,
    port: p.port,
    bind: p.bind,
    addr: a.node.addr,
    socket: p.socket,
    zone: a.node.zone,
    maintenance: a.node.maintenance(),
    uuid: a.node.uuid,
    incarnation: a.node.incarnation,
    tags: a.node.tags(),
    version: VERSION,
    uptime: Math.floor((performance.now() - a.startedElapsed) / 1000),
    data: p.data,
    cfg_dir: a.config.cfgDir,
    config_files: a.config.files.length,
    dns: started.dns ? { ...started.dns, enabled: false } : null,
    websocket: started.websocket ?? null,
    statsd: metricsListeners(a).statsd,
    graphite: metricsListeners(a).graphite,
    threads: { nb_threads: 1 + a.sandbox.workers().length },
    workers: a.sandbox.workers().map((w) => ({ name: w.spec.name, running: w.running })),
    docker: { enabled: false, connected: false },
    collectors: {},
    websocket_info: a.subsystems.find((s) => s.name === "ws")?.info() ?? null,
    httpservers: {
      external: p.http.enabled
        ? {
          bind: p.bind,
          port: p.port,
          writes: writePolicy(p.http.token, p.http.open_writes),
          tcp_connections: a.http?.tcpConnections ?? 0,
        }
        : null,
      internal: { socket: p.socket },
    },
    subsystems: a.subsystems.map((s) => s.name),
    restart_needed: a.restartNeeded,
  };
  for (const sub of a.subsystems) {
    try {
      out[sub.name] = sub.info();
    } catch (err) {
      out[sub.name] = { error: (err as Error).message };
    }
  }
  return out;
}

/** statsd/graphite sections: enabled only while the metrics subsystem really listens. */
function metricsListeners(a: AgentInfoHost): { statsd: unknown; graphite: unknown } {
  const m = a.subsystems.find((s) => s.name === "metrics") as
    | (Subsystem & { service?: { listenerInfo(): { statsd: unknown; graphite: unknown } } })
    | undefined;
  if (m?.service) return m.service.listenerInfo();
  const off = (v: Record<string, unknown> | undefined) => v ? { ...v, enabled: false } : null;
  const started = a.listenersAtStart;
  return { statsd: off(started.statsd), graphite: off(started.graphite) };
}
