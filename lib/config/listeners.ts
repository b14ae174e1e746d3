/**
 * The single listener objects of the configuration (`dns`, `websocket`, `statsd`, `graphite`,
 * `shinken`): one per agent, later files override earlier ones.
 */
import {
  bool,
  bytes,
  durationMs,
  durationSec,
  int,
  list,
  num,
  object,
  oneOf,
  opt,
  req,
  str,
  type Type,
} from "./schema.ts";
import { port } from "./agent_fields.ts";

/** `addr`, `addr:port` or `[v6addr]:port` (DNS recursors). */
function hostPort(): Type<string> {
  const expected = 'an address like "192.0.2.53", "192.0.2.53:5353" or "[2001:db8::53]:53"';
  return {
    expected,
    parse(v, path, issues) {
      const ok = typeof v === "string" &&
        (/^\[[0-9a-fA-F:.]+\](:\d{1,5})?$/.test(v) || /^[0-9a-fA-F:]*:[0-9a-fA-F:]*$/.test(v) ||
          /^[^:\s\[\]]+(:\d{1,5})?$/.test(v));
      const port = typeof v === "string" ? /(?:^[^:]+|\]):(\d+)$/.exec(v)?.[1] : undefined;
      if (!ok || (port !== undefined && (Number(port) < 1 || Number(port) > 65535))) {
        issues.push({ path, message: `${JSON.stringify(v)} is not ${expected}` });
        return undefined;
      }
      return v as string;
    },
  };
}

/** `rcvbuf` of the listeners with a UDP socket (statsd, graphite): lib/udp_buffer.ts. */
const udpReceiveBuffer = opt(
  bytes({ max: 1 << 30 }),
  4 << 20,
  "bytes of kernel receive buffer for the UDP socket; 0: the system's",
);

/** Single listener objects: one per agent, later files override earlier ones. */
export const listenerTypes = {
  dns: object({
    enabled: opt(bool(), false),
    port: opt(port(), 6766),
    domain: opt(str(), ".kunai"),
    ttl: opt(int({ min: 0 }), 60),
    bind: opt(str()),
    recursors: opt(
      list(hostPort()),
      undefined,
      "addr[:port] to forward names outside the domain to",
    ),
    tcp_idle_timeout: opt(
      durationMs({ min: 100 }),
      10_000,
      "a TCP client sending no query, or reading no answer, this long is closed",
    ),
  }),
  websocket: object({ enabled: opt(bool(), false), port: opt(port(), 6769), bind: opt(str()) }),
  statsd: object({
    enabled: opt(bool(), false),
    port: opt(port(), 8125),
    interval: opt(durationSec({ min: 1 }), 10, 'flush interval (seconds, or a duration: "10s")'),
    bind: opt(str()),
    tcp: opt(bool(), false),
    percentiles: opt(list(num({ min: 0.01, max: 100 })), [90, 99]),
    max_timer_values: opt(int({ min: 100, max: 10_000_000 }), 10_000),
    tags: opt(
      oneOf(["ignore", "graphite"] as const),
      "ignore",
      "DogStatsD tags (|#env:prod): ignored, or graphite tags of the series (name;env=prod)",
    ),
    rcvbuf: udpReceiveBuffer,
    mgmt_port: opt(
      port(),
      undefined,
      "TCP port of etsy statsd's management console (etsy's is 8126); absent: off. Unauthenticated: " +
        "it lists and deletes statsd metrics",
    ),
    mgmt_bind: opt(str(), undefined, "address of the management console (default: bind, else the agent's)"),
  }),
  graphite: object({
    enabled: opt(bool(), false),
    port: opt(port(), 2003),
    udp: opt(bool(), true),
    tcp: opt(bool(), true),
    bind: opt(str()),
    idle_timeout: opt(durationMs({ min: 100 }), 30_000),
    max_line: opt(bytes({ min: 64, max: 1_048_576 }), 4096),
    forward_to: opt(str(), ""),
    rcvbuf: udpReceiveBuffer,
    pickle_port: opt(
      port(),
      undefined,
      "TCP port for carbon's pickle protocol (carbon's is 2004); absent: off",
    ),
  }),
  shinken: object({
    enabled: opt(bool(), true),
    cfg_path: req(str({ nonEmpty: true })),
    external_command_file: opt(str(), "/var/lib/shinken/nagios.cmd"),
    reload_command: opt(str(), "/etc/init.d/shinken reload"),
    monitoring_tool: opt(oneOf(["shinken", "nagios"] as const), "shinken"),
    host_templates: opt(list(str({ nonEmpty: true })), ["agent", "kunai"], "host templates every node uses"),
    reload_delay: opt(durationMs({ min: 0 }), 1000, "changes within this window share one reload"),
    poll_interval: opt(
      durationMs({ min: 0 }),
      30_000,
      "how often other nodes are asked for their own checks (0: their services' checks only)",
    ),
  }),
} as const;

export type ListenerKind = keyof typeof listenerTypes;
export const LISTENER_KINDS = Object.keys(listenerTypes) as ListenerKind[];
