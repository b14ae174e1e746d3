/**
 * Metrics: statsd and Graphite listeners, the SQLite time-series store (`metrics.db`) with
 * carbon-like retention levels, and the Graphite-compatible read API (`/render`, `/metrics/find`,
 * `/metrics/index.json`, `/list/`, `/_ui_list/`).
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
import type { RouteTable } from "../routing/mod.ts";

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
export { metricsRoutes } from "./routes.ts";
export type { MetricsReadApi } from "./routes.ts";

export interface MetricsDeps {
  /** Who owns which series (nodes tagged `ts`); absent: everything is local. */
  membership?: MembershipView;
  /** Seals forwarded points between agents. */
  envelope?: PeerEnvelope;
}

export interface MetricsApi {
  readonly service: MetricsService;
  /** Stores (or routes to its owner) one point; `ts` in Unix seconds. */
  ingest(name: string, value: number, ts: number): void;
}

/** The metrics subsystem; the store always runs, listeners only when configured. */
export function createMetrics(ctx: Ctx, _deps: MetricsDeps = {}): Subsystem & MetricsApi {
  const service = new MetricsService(ctx);
  return {
    name: "metrics",
    service,
    start: () => service.start(),
    stop: () => service.stop(),
    info: () => service.info(),
    ingest: (n, v, ts) => service.ingest(n, v, ts),
    routes: (): RouteTable =>
      metricsRoutes({
        source: service.localSource,
        names: () => Promise.resolve(service.store.names()),
        nowSeconds: () => Math.floor(ctx.clock.now() / 1000),
      }),
  };
}
