/**
 * The metrics listeners' sockets: statsd (UDP in a Worker, optional TCP), Graphite plaintext
 * (UDP and/or TCP) and carbon's pickle protocol (TCP, `pickle_port`). `openListeners` fills a
 * `MetricsListeners` as each one opens, so a failure part-way leaves the ones already open there for
 * the caller to close. What they report (ports, counters) for `/agent/info` is at the end.
 */
import type { Ctx } from "../subsystem.ts";
import { StatsdWorker } from "./statsd_worker_client.ts";
import type { StatsdAggregator, StatsdStats } from "./statsd_aggregator.ts";
import { TcpLineServer, TcpStreamServer, UdpListener } from "./listeners.ts";
import {
  FrameBudget,
  PICKLE_BUFFER_BUDGET,
  PICKLE_CLIENT_SHARE,
  PICKLE_MAX_LENGTH,
  PickleFrameReader,
} from "./graphite_pickle.ts";
import { formatBytes, type RecvBuffer, setUdpRecvBuffer } from "../udp_buffer.ts";
import { mergeAnswers, type MgmtBackend, MgmtServer } from "./statsd_mgmt.ts";
import { hostPort } from "../host_port.ts";

/**
 * Connections of one client address to a statsd, Graphite or pickle TCP listener (of 1 024): a host
 * sends its metrics on one or a few; one client must not take every connection.
 */
const TCP_PER_CLIENT = 64;

export interface StatsdSettings {
  enabled: boolean;
  port: number;
  interval: number;
  bind?: string;
  tcp: boolean;
  percentiles: number[];
  max_timer_values: number;
  /** DogStatsD tags (`|#k:v`): ignored, or graphite tags of the series. */
  tags: "ignore" | "graphite";
  /** Bytes of kernel receive buffer asked for the UDP socket (0: the system's default). */
  rcvbuf: number;
  /** etsy's management console on this TCP port (absent: off). */
  mgmt_port?: number;
  /** Its address (default: `bind`, else the agent's). */
  mgmt_bind?: string;
}

export interface GraphiteSettings {
  enabled: boolean;
  port: number;
  udp: boolean;
  tcp: boolean;
  bind?: string;
  idle_timeout: number;
  max_line: number;
  forward_to: string;
  /** Bytes of kernel receive buffer asked for the UDP socket (0: the system's default). */
  rcvbuf: number;
  /** carbon's pickle protocol on this TCP port (absent: off). */
  pickle_port?: number;
}

export interface GraphiteStats {
  lines: number;
  points: number;
  bad_lines: number;
  overlong_lines: number;
  /** Pickle frames received whole. */
  frames: number;
  /** Pickle frames refused whole (not a pickle kunai reads, not a list, over the limit, cut short). */
  bad_frames: number;
  /** Entries of pickle frames skipped (wrong shape, NaN/Inf, bad name or timestamp). */
  bad_points: number;
  last_bad: string;
}

/** The open sockets (null: not listening). */
export interface MetricsListeners {
  /** Owns the statsd UDP socket and aggregates in its own thread. */
  statsdWorker: StatsdWorker | null;
  statsdTcp: TcpLineServer | null;
  /** etsy's management console (`statsd.mgmt_port`). */
  statsdMgmt: MgmtServer | null;
  graphiteUdp: UdpListener | null;
  graphiteTcp: TcpLineServer | null;
  graphitePickle: TcpStreamServer | null;
  /** What the kernel granted the UDP sockets' receive buffers (null: no UDP socket). */
  statsdRcvbuf: RecvBuffer | null;
  graphiteRcvbuf: RecvBuffer | null;
}

export function noListeners(): MetricsListeners {
  return {
    statsdWorker: null,
    statsdTcp: null,
    statsdMgmt: null,
    graphiteUdp: null,
    graphiteTcp: null,
    graphitePickle: null,
    statsdRcvbuf: null,
    graphiteRcvbuf: null,
  };
}

/** The receive buffer for one UDP listener, with a warning when it is not what was asked. */
function receiveBuffer(ctx: Ctx, what: string, port: number, bytes: number): RecvBuffer {
  const r = setUdpRecvBuffer(port, bytes);
  if (r.note) ctx.log.warn(`${what}: ${r.note}`);
  return r;
}

function bufferText(r: RecvBuffer): string {
  // after a setsockopt the kernel reports twice what it granted
  return r.requested > 0 && r.effective > 0 ? `, receive buffer ${formatBytes(r.effective / 2)}` : "";
}

/** Where the listeners hand what they receive. */
export interface ListenerSinks {
  statsdPacket(bytes: Uint8Array): void;
  statsdLine(line: string): void;
  graphiteLine(line: string): void;
  /** A complete pickle frame (a view: read it before returning). */
  graphitePickle(frame: Uint8Array): void;
  /** A pickle frame refused before it was read: over the length limit, or cut short. */
  graphitePickleRefused(why: string): void;
  /** A statsd TCP line over the limit. */
  statsdOverlong(): void;
  /** A Graphite TCP line over `max_line`. */
  graphiteOverlong(): void;
  /** Whether statsd datagrams are aggregated by the Worker (false under ts routing). */
  statsdLocal(): boolean;
  /** What the statsd management console reads and deletes. */
  statsdMgmt: MgmtBackend;
  onError(what: string): (err: Error) => void;
}

const decoder = new TextDecoder();

/** Opens the configured listeners into `l` (throws on the first one that cannot listen). */
export async function openListeners(
  l: MetricsListeners,
  ctx: Ctx,
  statsdCfg: StatsdSettings | null,
  graphiteCfg: GraphiteSettings | null,
  sinks: ListenerSinks,
): Promise<void> {
  const clock = ctx.clock;
  const onError = sinks.onError;
  const s = statsdCfg;
  if (s) {
    const host = s.bind || ctx.config.params.bind;
    l.statsdWorker = await StatsdWorker.start(
      host,
      s.port,
      {
        intervalSeconds: s.interval,
        percentiles: s.percentiles,
        maxTimerValues: s.max_timer_values,
        tags: s.tags,
      },
      (b) => sinks.statsdPacket(b),
      (msg) => onError("statsd udp")(new Error(msg)),
    );
    l.statsdWorker.setLocal(sinks.statsdLocal());
    l.statsdRcvbuf = receiveBuffer(ctx, "statsd udp", l.statsdWorker.port, s.rcvbuf);
    if (s.tcp) {
      l.statsdTcp = bindOrSay("statsd.port", host, s.port, "tcp", () =>
        new TcpLineServer({
          hostname: host,
          port: s.port,
          maxLine: 65_536,
          idleTimeout: 60_000,
          maxConnections: 1024,
          maxPerClient: TCP_PER_CLIENT,
          clock,
          onLine: (line) => sinks.statsdLine(line),
          onOverlong: () => sinks.statsdOverlong(),
          onError: onError("statsd tcp"),
        }));
    }
    if (s.mgmt_port !== undefined) l.statsdMgmt = openMgmt(ctx, s.mgmt_bind || host, s.mgmt_port, sinks);

    ctx.log.info(
      `statsd listening on ${hostPort(host, s.port)} (udp${
        s.tcp ? ", tcp" : ""
      }), flush every ${s.interval}s` +
        bufferText(l.statsdRcvbuf) +
        (l.statsdMgmt ? `, management console on ${hostPort(s.mgmt_bind || host, l.statsdMgmt.port)}` : ""),
    );
  }
  const g = graphiteCfg;
  if (g) {
    const host = g.bind || ctx.config.params.bind;
    if (g.udp) {
      l.graphiteUdp = bindOrSay(
        "graphite.port",
        host,
        g.port,
        "udp",
        () =>
          new UdpListener(host, g.port, (b) => {
            for (const line of decoder.decode(b).split("\n")) {
              if (line.trim()) sinks.graphiteLine(line.replace(/\r$/, ""));
            }
          }, onError("graphite udp")),
      );
      l.graphiteRcvbuf = receiveBuffer(ctx, "graphite udp", l.graphiteUdp.port, g.rcvbuf);
    }
    if (g.tcp) {
      l.graphiteTcp = bindOrSay("graphite.port", host, g.port, "tcp", () =>
        new TcpLineServer({
          hostname: host,
          port: g.port,
          maxLine: g.max_line,
          idleTimeout: g.idle_timeout,
          maxConnections: 1024,
          maxPerClient: TCP_PER_CLIENT,
          clock,
          onLine: (line) => sinks.graphiteLine(line),
          onOverlong: () => sinks.graphiteOverlong(),
          onError: onError("graphite tcp"),
        }));
    }
    if (g.pickle_port !== undefined) {
      const budget = new FrameBudget(PICKLE_BUFFER_BUDGET, PICKLE_CLIENT_SHARE);
      try {
        l.graphitePickle = new TcpStreamServer({
          hostname: host,
          port: g.pickle_port,
          idleTimeout: g.idle_timeout,
          maxConnections: 1024,
          maxPerClient: TCP_PER_CLIENT,
          clock,
          sink: (peer) => {
            const r = new PickleFrameReader(
              PICKLE_MAX_LENGTH,
              (f) => sinks.graphitePickle(f),
              (why) => sinks.graphitePickleRefused(why),
              budget,
              peer.client,
            );
            return { push: (b) => r.push(b), end: () => r.end() };
          },
          onError: onError("graphite pickle"),
        });
      } catch (err) {
        // the same port as the plaintext TCP listener, or taken: say which setting
        throw new Error(
          `graphite.pickle_port: cannot listen on ${hostPort(host, g.pickle_port)}: ${
            (err as Error).message
          }`,
        );
      }
    }
    const plain = [g.udp && "udp", g.tcp && "tcp"].filter(Boolean).join(", ");
    ctx.log.info(
      `graphite listening on ${hostPort(host, g.port)}${plain ? ` (${plain})` : " (plaintext off)"}` +
        (l.graphitePickle ? `, pickle on ${hostPort(host, l.graphitePickle.port)}` : "") +
        (l.graphiteRcvbuf ? bufferText(l.graphiteRcvbuf) : ""),
    );
  }
}

/** Opens a listener; one that cannot bind fails the start naming the setting, address and protocol. */
function bindOrSay<T>(setting: string, host: string, port: number, proto: "udp" | "tcp", open: () => T): T {
  try {
    return open();
  } catch (err) {
    throw new Error(
      `${setting}: cannot listen on ${hostPort(host, port)} (${proto}): ${(err as Error).message}`,
    );
  }
}

/** etsy's management console; a port that cannot be bound fails the start naming the setting. */
function openMgmt(ctx: Ctx, host: string, port: number, sinks: ListenerSinks): MgmtServer {
  let server: MgmtServer;
  try {
    server = new MgmtServer({
      hostname: host,
      port,
      clock: ctx.clock,
      backend: sinks.statsdMgmt,
      onError: sinks.onError("statsd mgmt"),
    });
  } catch (err) {
    throw new Error(`statsd.mgmt_port: cannot listen on ${hostPort(host, port)}: ${(err as Error).message}`);
  }
  if (!/^(127\.|::1$|localhost$)/.test(host)) {
    ctx.log.warn(
      `statsd management console on ${
        hostPort(host, server.port)
      }: anyone who reaches it can list and delete statsd ` +
        `metrics and set its health down (no authentication); statsd.mgmt_bind: "127.0.0.1" keeps it local`,
    );
  }
  return server;
}

/** Closes the TCP and UDP listeners (the statsd Worker stays: its last flush comes after). */
export async function closeSockets(l: MetricsListeners): Promise<void> {
  await Promise.all(
    [l.statsdTcp, l.statsdMgmt, l.graphiteUdp, l.graphiteTcp, l.graphitePickle].map((x) => x?.close()),
  );
  l.statsdTcp = l.statsdMgmt = null;
  l.graphiteUdp = l.graphiteTcp = l.graphitePickle = null;
  l.graphiteRcvbuf = null;
}

/** statsd counters of this node (Worker and main-thread aggregators together). */
export function statsdStats(
  statsd: StatsdAggregator,
  l: MetricsListeners,
): StatsdStats & {
  last_bad: string;
  handoff_dropped: number;
  worker_restarts: number;
  lines_dropped: number;
} {
  const a = statsd.stats, w = l.statsdWorker?.stats;
  return {
    packets: a.packets + (w?.packets ?? 0),
    metrics: a.metrics + (w?.metrics ?? 0),
    bad_lines: a.bad_lines + (w?.bad_lines ?? 0),
    dropped: a.dropped + (w?.dropped ?? 0),
    flushes: Math.max(a.flushes, w?.flushes ?? 0),
    last_bad: l.statsdWorker?.lastBad || statsd.lastBad,
    handoff_dropped: l.statsdWorker?.handoffDropped ?? 0,
    worker_restarts: l.statsdWorker?.restarts ?? 0,
    lines_dropped: l.statsdWorker?.linesDropped ?? 0,
  };
}

/**
 * What etsy's management console (`statsd.mgmt_port`) reads and deletes: the Worker's aggregator and
 * the main thread's (ts routing, lines forwarded by other nodes) together.
 */
export function statsdMgmtBackend(
  statsd: StatsdAggregator,
  l: MetricsListeners,
  cfg: StatsdSettings | null,
  seen: { tcpLines(): number; lastFlush(): number },
): MgmtBackend {
  return {
    ask: async (kind, buckets) => {
      const main = statsd.mgmt(kind, buckets);
      const w = l.statsdWorker;
      return w ? mergeAnswers(main, await w.mgmt(kind, buckets)) : main;
    },
    messages: () => (l.statsdWorker?.received ?? 0) + statsd.stats.packets + seen.tcpLines(),
    badLines: () => statsdStats(statsd, l).bad_lines,
    status: (sizes) => {
      const st = statsdStats(statsd, l);
      const out: Array<[string, number]> = [
        ["kunai.last_flush", seen.lastFlush()],
        ["kunai.flushes", st.flushes],
        ["kunai.packets_received", st.packets],
        ["kunai.metrics_received", st.metrics],
        ["kunai.dropped", st.dropped],
      ];
      if (sizes) {
        for (const k of ["counters", "timers", "gauges", "sets"] as const) {
          out.push([`kunai.${k}`, sizes[k]]);
        }
      }
      return out;
    },
    config: () => ({ ...cfg }),
  };
}

/** Actual listening ports (0 when not listening). */
export function listenerPorts(l: MetricsListeners): {
  statsd_udp: number;
  statsd_tcp: number;
  statsd_mgmt: number;
  graphite_udp: number;
  graphite_tcp: number;
  graphite_pickle: number;
} {
  return {
    statsd_udp: l.statsdWorker?.port ?? 0,
    statsd_tcp: l.statsdTcp?.port ?? 0,
    statsd_mgmt: l.statsdMgmt?.port ?? 0,
    graphite_udp: l.graphiteUdp?.port ?? 0,
    graphite_tcp: l.graphiteTcp?.port ?? 0,
    graphite_pickle: l.graphitePickle?.port ?? 0,
  };
}

/** `/agent/info` sections for statsd and graphite: enabled only while really listening. */
export function listenerInfo(
  l: MetricsListeners,
  statsdCfg: StatsdSettings | null,
  graphiteCfg: GraphiteSettings | null,
  statsd: StatsdAggregator,
  graphiteStats: GraphiteStats,
): { statsd: Record<string, unknown> | null; graphite: Record<string, unknown> | null } {
  const p = listenerPorts(l);
  return {
    statsd: statsdCfg
      ? {
        ...statsdCfg,
        enabled: p.statsd_udp > 0,
        listening: { udp: p.statsd_udp, tcp: p.statsd_tcp, mgmt: p.statsd_mgmt },
        rcvbuf_effective: l.statsdRcvbuf?.effective ?? 0,
        ...statsdStats(statsd, l),
        mgmt: l.statsdMgmt
          ? { health: l.statsdMgmt.health, connections: l.statsdMgmt.connections, ...l.statsdMgmt.counts }
          : null,
      }
      : null,
    graphite: graphiteCfg
      ? {
        ...graphiteCfg,
        enabled: p.graphite_udp > 0 || p.graphite_tcp > 0 || p.graphite_pickle > 0,
        listening: { udp: p.graphite_udp, tcp: p.graphite_tcp, pickle: p.graphite_pickle },
        rcvbuf_effective: l.graphiteRcvbuf?.effective ?? 0,
        ...graphiteStats,
      }
      : null,
  };
}
