/**
 * The configuration's shapes: agent parameters (reference §2.2), our sub-objects (`gossip`,
 * `http`, `kv`, `collectors`, `checks`) and the typed objects (`check`, `service`, `handler`...).
 * Subsystems add their fields here; validation and the README's reference come from it.
 */
import {
  bool,
  bytes,
  durationMs,
  durationText,
  type Fields,
  int,
  list,
  num,
  object,
  oneOf,
  opt,
  record,
  req,
  str,
  type Type,
} from "./schema.ts";
import { isHostAddr, parsePeer } from "../transport/types.ts";
import { MEMBER_EVENTS } from "../types.ts";

const port = () => int({ min: 0, max: 65535 });

/** A node to join: `addr[:port]` (a host name or IP; an IPv6 address with a port in brackets). */
function seedAddr(): Type<string> {
  const text = str({ nonEmpty: true });
  return {
    expected: "a string", // "a list of strings" for seeds; the form is checked item by item
    parse(v, path, issues) {
      const s = text.parse(v, path, issues);
      if (s === undefined) return undefined;
      if (!parsePeer(s, 6768)) {
        issues.push({
          path,
          message: `${JSON.stringify(s)} is not addr[:port]: a host name or IP address, then an optional ` +
            `port 1-65535 (an IPv6 address with a port in brackets: [fd00::1]:6768)`,
        });
        return undefined;
      }
      return s;
    },
  };
}

/**
 * The advertised address: empty (detected), an IP or a host name. Other agents refuse a record whose
 * address is anything else (it goes into their URLs and config files), so it is refused here first.
 */
function advertisedAddr(): Type<string> {
  const text = str();
  return {
    expected: "an IP address or host name",
    parse(v, path, issues) {
      const s = text.parse(v, path, issues);
      if (s === undefined || s === "") return s;
      if (!isHostAddr(s)) {
        issues.push({
          path,
          message: `${JSON.stringify(s)} is not an IP address or host name (letters, digits, . - _)`,
        });
        return undefined;
      }
      return s;
    },
  };
}

/** An IPv4 address in dotted form (`allowEmpty`: "" means "not set"). */
export function ipv4(allowEmpty = false): Type<string> {
  const text = str();
  return {
    expected: "an IPv4 address",
    parse(v, path, issues) {
      const s = text.parse(v, path, issues);
      if (s === undefined || (allowEmpty && s === "")) return s;
      const parts = s.split(".");
      if (parts.length !== 4 || !parts.every((x) => /^\d{1,3}$/.test(x) && Number(x) <= 255)) {
        issues.push({
          path,
          message: `${JSON.stringify(s)} is not an IPv4 address (four numbers 0-255: 192.168.1.255)`,
        });
        return undefined;
      }
      return s;
    },
  };
}

export const gossipFields: Fields = {
  probe_interval: opt(durationMs({ min: 10 }), 1000, "time between failure-detection probes"),
  probe_timeout: opt(durationMs({ min: 5 }), 500, "wait for a direct ack before indirect probes"),
  indirect_checks: opt(int({ min: 0, max: 16 }), 3, "peers asked to probe a silent node"),
  gossip_interval: opt(durationMs({ min: 10 }), 200, "time between gossip rounds"),
  gossip_nodes: opt(int({ min: 1, max: 64 }), 3, "peers sent each gossip round"),
  retransmit_mult: opt(int({ min: 1, max: 32 }), 4, "broadcast retransmits = mult * ceil(log10(N+1))"),
  suspicion_mult: opt(
    int({ min: 1, max: 32 }),
    4,
    "minimum suspicion timeout = mult * max(1, log10(N)) * probe_interval",
  ),
  suspicion_max_timeout_mult: opt(
    int({ min: 1, max: 32 }),
    6,
    "suspicion starts at this many times the minimum and shrinks with confirmations (Lifeguard)",
  ),
  awareness_max_multiplier: opt(
    int({ min: 1, max: 32 }),
    8,
    "local health awareness ceiling: our probe timeouts stretch up to this factor",
  ),
  push_pull_interval: opt(
    durationMs({ min: 100 }),
    30_000,
    "full state sync period (HTTP POST /gossip/push-pull; stretched above 32 nodes)",
  ),
  reap_after: opt(durationMs({ min: 1000 }), 72 * 3_600_000, "forget dead/left nodes after this"),
  join_retry_max: opt(durationMs({ min: 100 }), 30_000, "ceiling of the seed join backoff"),
  leave_propagate_wait: opt(durationMs(), 1000, "how long a leaving node keeps gossiping"),
  max_packet_bytes: opt(int({ min: 512, max: 65000 }), 1400, "datagram budget"),
  compress: opt(
    bool(),
    true,
    "fill gossip datagrams by their compressed size for members whose record says they read them",
  ),
  label: opt(str(), "", "cluster label bound into encryption (AAD); agents with other labels are ignored"),
  detect_answer: opt(
    bool(),
    true,
    "answer `kunai agent detect` of other agents (sealed with the cluster key when one is set)",
  ),
  detect_addr: opt(
    ipv4(),
    "255.255.255.255",
    "where `kunai agent detect` broadcasts: a subnet's broadcast address (192.168.1.255), 127.255.255.255 on one host",
  ),
  detect_timeout: opt(
    durationMs({ min: 100 }),
    3000,
    "how long `kunai agent detect` waits for answers unless --timeout says (30s at most)",
  ),
  detect_listen: opt(
    ipv4(true),
    "",
    "also receive detection broadcasts sent to this address on the gossip port; needed when bind is one " +
      "address (a socket bound to 192.168.1.10 does not receive what is sent to 192.168.1.255)",
  ),
};

export const httpFields: Fields = {
  token: opt(str(), "", "bearer token that unlocks write routes over TCP (empty: unix socket only)"),
  open_writes: opt(
    bool(),
    false,
    "true: write routes over TCP need no token (the original's behaviour; logged as a warning at start)",
  ),
  cors_origins: opt(list(str({ nonEmpty: true })), [], "origins a browser page may call write routes from"),
  max_body: opt(bytes(), 8 * 1024 * 1024, "request bodies over this get 413"),
  enabled: opt(bool(), true, "serve the API on TCP (the unix socket is always served)"),
  header_timeout: opt(
    durationMs({ min: 100 }),
    10_000,
    "a TCP client must send a request's headers (and then its body) within this; slower ones are closed",
  ),
  idle_timeout: opt(
    durationMs({ min: 100 }),
    60_000,
    "a TCP connection with no request in flight is closed after this",
  ),
};

export const kvFields: Fields = {
  replicas: opt(int({ min: 1, max: 7 }), 3, "copies of every key"),
  write_acks: opt(int({ min: 1, max: 7 }), 2, "copies that must acknowledge a write before it is answered"),
  vnodes: opt(
    int({ min: 1, max: 1024 }),
    256,
    "virtual nodes per kv node on the ring (256: within 25% of even)",
  ),
  max_key_bytes: opt(int({ min: 16, max: 65536 }), 1024, "longest key"),
  max_value_bytes: opt(bytes(), 1024 * 1024, "largest value"),
  request_timeout: opt(durationMs({ min: 10 }), 5000, "deadline of one forwarded or replicated request"),
  anti_entropy_interval: opt(durationMs({ min: 100 }), 30_000, "replica digest exchange period"),
  tombstone_ttl: opt(durationMs({ min: 1000 }), 86_400_000, "how long deletes are remembered"),
};

export const collectorsFields: Fields = {
  interval: opt(durationMs({ min: 100 }), 10_000, "default collection period"),
  timeout: opt(durationMs({ min: 100 }), 8_000, "one run longer than this fails"),
  disabled: opt(list(str()), [], "collectors not to run"),
  intervals: opt(record(durationMs({ min: 100 })), {}, "per-collector periods"),
  docker_socket: opt(str(), "/var/run/docker.sock", "Docker Engine API socket"),
  linux_worker: opt(
    bool(),
    false,
    "run the linux collectors in their own Worker (an isolate, ~10 MB) instead of the agent's thread",
  ),
};

export const metricsFields: Fields = {
  retentions: opt(
    str({ nonEmpty: true }),
    "10s:1d,1m:31d,1h:1y",
    "time-series levels, finest first, as carbon's `step:keep` list",
  ),
  aggregation: opt(
    list(
      object({
        pattern: req(str({ nonEmpty: true })),
        method: req(oneOf(["average", "sum", "min", "max", "last"] as const)),
      }),
    ),
    [],
    "rollup method by metric name pattern (first match wins; default average)",
  ),
  flush_interval: opt(durationMs({ min: 10 }), 1000, "time between batched writes of received points"),
  rollup_interval: opt(durationMs({ min: 100 }), 60_000, "time between rollup/expiry passes"),
  max_pending: opt(int({ min: 1000 }), 500_000, "points held in memory before a write is forced"),
  forward_batch: opt(int({ min: 1, max: 100_000 }), 2000, "points per forwarded message to a ts owner"),
};

export const checksFields: Fields = {
  max_concurrency: opt(int({ min: 1, max: 1024 }), 16, "checks running at once"),
  timeout: opt(durationMs({ min: 100 }), 30_000, "default Nagios plugin timeout"),
  plugin_dirs: opt(
    list(str()),
    ["/usr/lib/nagios/plugins", "/usr/lib64/nagios/plugins"],
    "Nagios plugin directories",
  ),
  max_output: opt(bytes(), 64 * 1024, "plugin output kept"),
};

/** `raft`: leader elections per group of nodes carrying a tag (lib/raft). */
export const raftFields: Fields = {
  groups: opt(list(str({ nonEmpty: true })), [], 'tags whose nodes elect a leader ("*" = every node)'),
  min_size: opt(int({ min: 1, max: 1000 }), 1, "smallest group size counted for the quorum"),
  heartbeat: opt(durationMs({ min: 10 }), 150, "leader heartbeat interval"),
  election_timeout: opt(durationMs({ min: 50 }), 500, "minimum election timeout (randomized up to twice it)"),
};

/** Agent parameters: the keys of a config file that configure the agent itself. */
export const agentFields: Fields = {
  name: opt(str({ nonEmpty: true }), undefined, "node name (default: hostname)"),
  port: opt(port(), 6768, "UDP gossip + TCP HTTP port"),
  bind: opt(str(), "0.0.0.0", "listen address"),
  addr: opt(advertisedAddr(), "", "advertised address (default: detected)"),
  tags: opt(list(str({ nonEmpty: true })), [], "node tags (roles); kv and ts are special"),
  seeds: opt(list(seedAddr()), [], "addr[:port] to join at start"),
  bootstrap: opt(bool(), false, "start a cluster without waiting for seeds"),
  datacenters: opt(list(str()), [], "datacenter names (DNS)"),
  zone: opt(str(), "", "zone of this node"),
  data: opt(str(), undefined, "data dir (default /var/lib/kunai, else $XDG_DATA_HOME/kunai)"),
  libexec: opt(str(), "$data$/libexec", "plugin dir"),
  log: opt(str(), undefined, "log dir (default /var/log/kunai, else <data>/log)"),
  lock: opt(str(), "$data$/kunai.pid", "pid/lock file"),
  socket: opt(str(), "$data$/kunai.sock", "unix socket of the HTTP API"),
  log_level: opt(
    oneOf(["DEBUG", "INFO", "WARNING", "ERROR"] as const, { caseInsensitive: true }),
    "INFO",
    "log level",
  ),
  log_keep_days: opt(
    int({ min: 0, max: 3650 }),
    7,
    "daemon.log rotates at midnight UTC; rotated files kept (0: never rotate, for logrotate)",
  ),
  encryption_key: opt(str(), "", "base64 16/24/32-byte key (primary of the keyring)"),
  encryption_keys: opt(list(str()), [], "extra keys accepted for receiving"),
  master_key_priv: opt(str(), "", "remote exec private key file"),
  master_key_pub: opt(str(), "", "remote exec public key file"),
  gossip: opt(object(gossipFields), () => ({}), "gossip tuning"),
  http: opt(object(httpFields), () => ({}), "HTTP API"),
  kv: opt(object(kvFields), () => ({}), "key/value store"),
  collectors: opt(object(collectorsFields), () => ({}), "collectors"),
  checks: opt(object(checksFields), () => ({}), "checks scheduler and plugins"),
  raft: opt(object(raftFields), () => ({}), "RAFT leader elections"),
  nagios_user: opt(
    str({ nonEmpty: true }),
    "nobody",
    "user Nagios plugins run as when the agent runs as root",
  ),
  metrics: opt(object(metricsFields), () => ({}), "time-series store"),
};

export const checkFields: Fields = {
  interval: opt(durationText(), "10s"),
  script: opt(str(), ""),
  ok_output: opt(str(), ""),
  critical_if: opt(str(), ""),
  critical_output: opt(str(), ""),
  warning_if: opt(str(), ""),
  warning_output: opt(str(), ""),
  notes: opt(str(), ""),
  handlers: opt(list(str()), ["default"]),
  apply_on: opt(str()),
  timeout: opt(durationText()),
  shell: opt(bool(), false),
  failures_before_critical: opt(int({ min: 1, max: 100 }), 1),
  successes_before_ok: opt(int({ min: 1, max: 100 }), 1),
};
export const checkType = object(checkFields, { extra: "keep" });

export const serviceFields: Fields = {
  name: opt(str({ nonEmpty: true })),
  apply_on: opt(str()),
  check: opt(checkType),
  port: opt(port()),
  tags: opt(list(str()), []),
  notes: opt(str(), ""),
};

const severity = oneOf(["ok", "warning", "critical", "unknown"] as const);

/** A handler object whose `type: "webhook"` needs an http(s) `url`. */
function webhookChecked<T extends Type<unknown> & { fields: Fields }>(base: T): T {
  return {
    ...base,
    parse(v, path, issues) {
      const r = base.parse(v, path, issues) as Record<string, unknown> | undefined;
      if (r && r.type === "webhook") {
        let ok = false;
        try {
          ok = ["http:", "https:"].includes(new URL(String(r.url)).protocol);
        } catch { /* not a URL */ }
        if (!ok) {
          issues.push({
            path: path ? `${path}.url` : "url",
            message: `a webhook handler needs an http:// or https:// url, got ${JSON.stringify(r.url)}`,
          });
          return undefined;
        }
      }
      return r;
    },
  };
}

/** Typed objects, keyed by their top-level key in a config file. */
export const objectTypes = {
  check: checkType,
  service: object(serviceFields, { extra: "keep" }),
  handler: webhookChecked(object({
    type: opt(
      oneOf(["none", "mail", "webhook"] as const),
      "none",
      "none: nothing; mail: mail the contacts; webhook: POST to url",
    ),
    severities: opt(list(severity), ["ok", "warning", "critical", "unknown"], "new states that fire it"),
    contacts: opt(list(str()), [], "mail recipients"),
    addr_from: opt(str(), "kunai@localhost", "From address"),
    smtp_server: opt(str(), "localhost", "SMTP relay host"),
    smtp_port: opt(port(), 25, "SMTP relay port"),
    smtp_user: opt(str(), "", "SMTP AUTH user (empty: no AUTH)"),
    smtp_password: opt(str(), "", "SMTP AUTH password"),
    smtp_tls: opt(bool(), false, "implicit TLS from the first byte (SMTPS, usually port 465)"),
    smtps: opt(bool(), false, "same as smtp_tls (reference name)"),
    smtp_starttls: opt(
      oneOf(["auto", "require", "never"] as const),
      "auto",
      "STARTTLS: when offered, always (fail without), or never",
    ),
    smtp_tls_verify: opt(bool(), true, "verify the server certificate"),
    smtp_timeout: opt(durationMs({ min: 100 }), 30_000, "connection, greeting and socket timeout"),
    subject_template: opt(str(), "email.subject.tpl"),
    text_template: opt(str(), "email.text.tpl"),
    on_node_change: opt(bool(), false, "also mail when another node turns suspect, dead or leaves"),
    node_subject_template: opt(str(), "email.node.subject.tpl"),
    node_text_template: opt(str(), "email.node.text.tpl"),
    max_per_hour: opt(int({ min: 0 }), 12, "mails per check (or node) per hour; 0: no limit"),
    retry_interval: opt(durationMs({ min: 10 }), 30_000, "first retry after an SMTP failure (doubles)"),
    retry_max_interval: opt(durationMs({ min: 10 }), 900_000, "longest wait between retries"),
    retry_for: opt(durationMs({ min: 10 }), 86_400_000, "give a mail up after this long"),
    email: opt(str(), "", "unused (reference)"),
    notes: opt(str(), ""),
    url: opt(str(), "", "webhook: http(s) URL the notification is POSTed to"),
    format: opt(
      oneOf(["json", "slack"] as const),
      "json",
      'webhook: json (the event as JSON) or slack ({"text": ...} from the mail templates)',
    ),
    headers: opt(record(str()), {}, "webhook: extra request headers (e.g. Authorization)"),
    timeout: opt(durationMs({ min: 100 }), 10_000, "webhook: wait for the answer this long"),
  })),
  generator: object({
    path: req(str({ nonEmpty: true }), "file written"),
    template: req(str({ nonEmpty: true }), "template name (templates/ beside the generator, then cfg-dir)"),
    command: opt(str(), "", "shell command run after the file changed"),
    command_timeout: opt(
      durationMs({ min: 100 }),
      30_000,
      "the command's process group is killed after this",
    ),
    apply_on: opt(str(), undefined, "* (default) or a tag this node must have"),
    notes: opt(str(), ""),
    partial_start: opt(str(), undefined, "only the text between this line and partial_end is replaced"),
    partial_end: opt(str()),
  }),
  event_handler: object({
    events: req(
      eventPatterns(),
      "event names that run it; deploy-* matches a prefix, * every sent event; member-join... membership",
    ),
    command: req(str({ nonEmpty: true }), "shell command; the payload is on its stdin"),
    timeout: opt(durationMs({ min: 100 }), 60_000, "the command's process group is killed after this"),
    apply_on: opt(str(), undefined, "* (default) or a tag this node must have"),
    notes: opt(str(), ""),
  }),
  detector: object({
    tags: req(list(str({ nonEmpty: true }))),
    apply_if: req(str({ nonEmpty: true })),
    interval: opt(durationText(), "10s"),
    apply_on: opt(str()),
    notes: opt(str(), ""),
    remove_when_false: opt(bool(), false),
  }),
} as const;

/**
 * Event names an `event_handler` runs for: names as `kunai event send` takes them (letters, digits,
 * `.`, `_`, `:`, `-`), a trailing `*` for a prefix, `*` for every event; at least one. Names that
 * start with `member-` are membership events: one of MEMBER_EVENTS, or `member-*`.
 */
function eventPatterns(): Type<string[]> {
  const expected = 'a non-empty list of event names like "deploy", "deploy-*" or "*"';
  const pattern = /^(\*|[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}\*?)$/;
  return {
    expected,
    parse(v, path, issues) {
      if (!Array.isArray(v) || v.length === 0) {
        issues.push({ path, message: `expected ${expected}, got ${JSON.stringify(v) ?? String(v)}` });
        return undefined;
      }
      let ok = true;
      v.forEach((x, i) => {
        if (typeof x === "string" && pattern.test(x)) {
          if (
            !x.startsWith("member-") || x === "member-*" || (MEMBER_EVENTS as readonly string[]).includes(x)
          ) return;
          ok = false;
          issues.push({
            path: `${path}[${i}]`,
            message: `${JSON.stringify(x)}: membership events are ${MEMBER_EVENTS.join(", ")} and member-*`,
          });
          return;
        }
        ok = false;
        issues.push({ path: `${path}[${i}]`, message: `${JSON.stringify(x)} is not an event name or name*` });
      });
      return ok ? (v as string[]) : undefined;
    },
  };
}

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
  int({ min: 0, max: 1 << 30 }),
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
  }),
  websocket: object({ enabled: opt(bool(), false), port: opt(port(), 6769), bind: opt(str()) }),
  statsd: object({
    enabled: opt(bool(), false),
    port: opt(port(), 8125),
    interval: opt(num({ min: 1 }), 10),
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
  }),
  graphite: object({
    enabled: opt(bool(), false),
    port: opt(port(), 2003),
    udp: opt(bool(), true),
    tcp: opt(bool(), true),
    bind: opt(str()),
    idle_timeout: opt(durationMs({ min: 100 }), 30_000),
    max_line: opt(int({ min: 64, max: 1_048_576 }), 4096),
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
  }),
} as const;

export type ObjectKind = keyof typeof objectTypes;
export type ListenerKind = keyof typeof listenerTypes;
export const OBJECT_KINDS = Object.keys(objectTypes) as ObjectKind[];
export const LISTENER_KINDS = Object.keys(listenerTypes) as ListenerKind[];
