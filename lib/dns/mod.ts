/**
 * DNS interface (reference §10.2, DECISIONS "DNS"): answers `<tag>.tag.<dc>.kunai`,
 * `<name>.node.<dc>.kunai` and `<service>.service.<dc>.kunai` from the membership table, over UDP
 * and TCP on `dns.port`. The only door of lib/dns.
 *
 * ```ts
 * const dns = createDns(ctx, { membership });
 * await dns.start(); // listening on dns.bind (default: the agent's bind) : dns.port
 * ```
 */
import type { Ctx, Subsystem } from "../subsystem.ts";
import type { MembershipView } from "../types.ts";
import { DnsHandler, type DnsStats } from "./handler.ts";
import { DnsServer } from "./server.ts";
import { parseUpstream, type Upstream } from "./forward.ts";
import { hostPort } from "../host_port.ts";

export {
  DnsHandler,
  type DnsStats,
  type HandleResult,
  type HandlerOptions,
  UDP_ANSWER_LIMIT,
} from "./handler.ts";
export { classifyName, lookupTargets, normalizeDomain } from "./records.ts";
export { parseQuery, QTYPE, RCODE } from "./wire.ts";

/** The validated `dns` object of the configuration. */
export interface DnsConfig {
  enabled: boolean;
  port: number;
  domain: string;
  ttl: number;
  bind?: string;
  recursors: string[];
  tcp_idle_timeout: number;
}

export interface DnsApi {
  /** The query handler (bytes in, bytes out). */
  readonly handler: DnsHandler;
  /** True once both sockets are bound. */
  listening(): boolean;
}

/** Builds the DNS subsystem; membership is read per (uncached) query, changes arrive on the bus. */
export function createDns(
  ctx: Ctx,
  deps: { membership: Pick<MembershipView, "members" | "joining"> },
): Subsystem & DnsApi {
  const cfg = dnsConfig(ctx);
  const recursors: Upstream[] = [];
  for (const r of cfg.recursors) {
    const up = parseUpstream(r);
    if (!up) throw new Error(`dns.recursors: ${JSON.stringify(r)} is not addr[:port]`);
    recursors.push(up);
  }
  const handler = new DnsHandler({
    domain: cfg.domain,
    ttl: cfg.ttl,
    members: () => deps.membership.members(),
    forward: recursors.length > 0,
    joining: () => deps.membership.joining?.() === true,
  });
  const hostname = cfg.bind ?? ctx.config.params.bind;
  let server: DnsServer | null = null;
  let error: string | null = null;
  const offs: Array<() => void> = [];
  const c = ctx.counters;
  c.describe("dns_queries_total", "counter", "DNS packets received, by protocol");
  c.describe("dns_responses_total", "counter", "DNS replies sent, by rcode");
  c.describe("dns_malformed_total", "counter", "malformed DNS queries answered FORMERR/NOTIMP, by reason");
  c.describe("dns_dropped_total", "counter", "DNS packets dropped without a reply, by reason");
  c.describe("dns_truncated_total", "counter", "UDP replies truncated (TC bit)");
  c.describe("dns_forwarded_total", "counter", "queries forwarded to dns.recursors, by result");
  const forwarded: Record<string, number> = {};

  function publish(s: DnsStats): void {
    c.set("dns_queries_total", s.queries.udp, { proto: "udp" });
    c.set("dns_queries_total", s.queries.tcp, { proto: "tcp" });
    for (const [k, v] of Object.entries(s.rcodes)) c.set("dns_responses_total", v, { rcode: k });
    for (const [k, v] of Object.entries(s.malformed)) c.set("dns_malformed_total", v, { reason: k });
    for (const [k, v] of Object.entries(s.dropped)) c.set("dns_dropped_total", v, { reason: k });
    for (const [k, v] of Object.entries(forwarded)) c.set("dns_forwarded_total", v, { result: k });
    c.set("dns_truncated_total", s.truncated);
  }

  return {
    name: "dns",
    handler,
    listening: () => server !== null,
    start() {
      offs.push(ctx.bus.onMembers(() => handler.invalidate()));
      offs.push(ctx.bus.on("tags.changed", () => handler.invalidate()));
      offs.push(ctx.bus.on("services.changed", () => handler.invalidate()));
      const s = new DnsServer({
        hostname,
        port: cfg.port,
        handler,
        recursors,
        tcpIdleMs: cfg.tcp_idle_timeout,
        log: ctx.log,
        onError: (where, err) => {
          c.inc("dns_socket_errors_total", { where });
          ctx.log.debug(`dns ${where}: ${(err as Error).message ?? err}`);
        },
        onForward: (result) => forwarded[result] = (forwarded[result] ?? 0) + 1,
      });
      try {
        s.start();
        server = s;
        ctx.log.info(
          `DNS on ${hostPort(hostname, cfg.port)} (udp${
            s.udpBatching ? " in batches" : ""
          }+tcp), domain .${handler.domain}`,
        );
      } catch (err) {
        // a taken port must not stop the agent: report it and stay off
        error = `cannot listen on ${hostPort(hostname, cfg.port)}: ${(err as Error).message}`;
        ctx.log.error(`DNS ${error}`);
      }
      offs.push(c.onRender(() => publish(handler.stats)));
      return Promise.resolve();
    },
    async stop() {
      for (const off of offs.splice(0)) off();
      publish(handler.stats);
      await server?.close();
      server = null;
    },
    info() {
      return {
        enabled: server !== null,
        port: cfg.port,
        bind: hostname,
        domain: `.${handler.domain}`,
        ttl: cfg.ttl,
        recursors: cfg.recursors,
        queries: handler.stats.queries.udp + handler.stats.queries.tcp,
        // queued UDP queries taken by one recvmmsg and answered by one sendmmsg (Linux)
        udp_batching: server?.udpBatching ?? false,
        udp_batched: server?.udpBatched ?? 0,
        ...(error ? { error } : {}),
      };
    },
  };
}

function dnsConfig(ctx: Ctx): DnsConfig {
  const raw = (ctx.config.listeners.dns ?? {}) as Partial<DnsConfig>;
  return {
    enabled: raw.enabled ?? false,
    port: raw.port ?? 6766,
    domain: raw.domain ?? ".kunai",
    ttl: raw.ttl ?? 60,
    bind: raw.bind,
    recursors: raw.recursors ?? [],
    tcp_idle_timeout: raw.tcp_idle_timeout ?? 10_000,
  };
}
