/**
 * Metrics: statsd and Graphite listeners, the SQLite time-series store (`metrics.db`) with
 * carbon-like retention levels, and the Graphite-compatible read API (`/render`, `/metrics/find`,
 * `/metrics/index.json`, `/list/`, `/_ui_list/`, graphite 1.1's tag routes `/tags/*`).
 *
 * ```ts
 * const metrics = createMetrics(ctx, { membership, envelope });
 * await metrics.start();
 * metrics.ingest("web1.load", 0.5, 1700000000);
 * ```
 */
import type { Ctx, Subsystem } from "../subsystem.ts";
import type { MembershipView } from "../types.ts";
import type { PeerEnvelope } from "../transport/mod.ts";
import { MetricsService } from "./service.ts";
import { metricsRoutes } from "./routes.ts";
import { MetricsCluster } from "./cluster.ts";
import { GraphiteRelay } from "./relay.ts";
import type { RouteTable } from "../routing/mod.ts";
import type { GraphiteEventsApi } from "./graphite_events.ts";
import { hostPort } from "../host_port.ts";

export { parseStatsdLine, sanitizeKey } from "./statsd_parse.ts";
export type { StatsdSample } from "./statsd_parse.ts";
export { StatsdAggregator } from "./statsd_aggregator.ts";
export { timerStatistics, TimerValues } from "./timer_stats.ts";
export { LineSplitter, parseGraphiteLine } from "./graphite_parse.ts";
export {
  aggregate,
  bucketOf,
  compileRules,
  methodFor,
  parseRetentions,
  RetentionError,
  rollupRows,
} from "./retention.ts";
export type { AggregationMethod, Level } from "./retention.ts";
export { METRICS_MIGRATIONS, TimeSeriesStore } from "./ts_store.ts";
export type { FetchedSeries } from "./ts_store.ts";
export { MetricsService } from "./service.ts";
export { expandBraces, findNodes, matchNames, PathPattern, PatternError } from "./glob.ts";
export { parseTarget, TargetError } from "./target_parser.ts";
export type { Expr } from "./target_parser.ts";
export { applyFunction, consolidate, FUNCTION_NAMES, FunctionError, normalize } from "./render_functions.ts";
export type { Series } from "./render_functions.ts";
export { parseGraphiteTime, render, RenderError, renderRequest, toCsv, toJson, toRaw } from "./render.ts";
export type { RenderRequest, SeriesSource } from "./render.ts";
export { metricsRoutes, RENDERS_AT_ONCE, RENDERS_WAITING } from "./routes.ts";
export { canonicalName, parseTaggedName, seriesByTagNames, TagError, TagIndex } from "./tags.ts";
export { ringPosition, tsMembers, TsRing } from "./ts_ring.ts";
export { Forwarder, peerCall } from "./peer_client.ts";
export { MetricsCluster } from "./cluster.ts";
export { GraphiteRelay } from "./relay.ts";
export type { MetricsReadApi } from "./routes.ts";
export type { GraphiteEvent, GraphiteEventsApi } from "./graphite_events.ts";

export interface MetricsDeps {
  /** Who owns which series (nodes tagged `ts`); absent: everything is local. */
  membership?: Pick<MembershipView, "self" | "members" | "joining">;
  /** Seals forwarded points between agents. */
  envelope?: PeerEnvelope;
  /** Cluster events and membership history, for graphite-web's `/events/` routes (absent: no such routes). */
  events?: GraphiteEventsApi;
}

export interface MetricsApi {
  readonly service: MetricsService;
  /** Stores (or routes to its owner) one point; `ts` in Unix seconds. */
  ingest(name: string, value: number, ts: number): void;
  /** Read routes (`/render`, finder, lists) and the peer routes of ts routing. */
  routes(): RouteTable;
}

/**
 * The metrics subsystem. The store always runs (collector values and check perfdata land there);
 * statsd and Graphite listen only when their objects are enabled; with `ts` members the series are
 * spread over them (`deps.membership`), forwarded sealed with `deps.envelope`.
 */
export function createMetrics(ctx: Ctx, deps: MetricsDeps = {}): Omit<Subsystem, "routes"> & MetricsApi {
  const service = new MetricsService(ctx);
  const cluster = new MetricsCluster(service, {
    membership: deps.membership,
    envelope: deps.envelope,
    onMemberChange: (fn) => ctx.bus.onMembers(fn),
    batchSize: ctx.config.params.metrics.forward_batch,
    readRetryMs: ctx.config.params.metrics.read_retry,
    log: ctx.log,
    db: ctx.store.handle("metrics"),
  });
  const forwardTo = ctx.config.listeners.graphite as { enabled?: boolean; forward_to?: string } | undefined;
  const relay = forwardTo?.enabled && forwardTo.forward_to
    ? new GraphiteRelay(forwardTo.forward_to, ctx.log)
    : null;
  if (relay) service.mirror = (n, v, ts) => relay.point(n, v, ts);
  return {
    name: "metrics",
    service,
    async start() {
      cluster.start();
      if (relay) {
        const inner = service.afterFlush;
        service.afterFlush = () => {
          inner?.();
          void relay.flush();
        };
        const backlog = service.backlog;
        service.backlog = () => (backlog?.() ?? false) || relay.waiting > 0 || relay.sending;
      }
      await service.start();
    },
    async stop() {
      await service.stop();
      await cluster.stop();
      if (relay) {
        // a flush in progress is waited for (close() would cut its write), then the rest goes
        await relay.drain();
        relay.close();
      }
    },
    info: () => ({
      ...service.info(),
      cluster: cluster.info(),
      forward_to: relay
        ? {
          target: hostPort(relay.host, relay.port),
          sent: relay.sent,
          waiting: relay.waiting,
          dropped: relay.dropped,
          errors: relay.errors,
        }
        : null,
    }),
    ingest: (n, v, ts) => service.ingest(n, v, ts),
    routes: (): RouteTable => {
      const table = metricsRoutes({
        source: cluster.source,
        names: () => cluster.names(),
        nowSeconds: () => Math.floor(ctx.clock.now() / 1000),
        nowMs: () => ctx.clock.now(),
        events: deps.events,
      });
      cluster.peerRoutes(table);
      return table;
    },
  };
}
