/**
 * The configuration's shapes: agent parameters (reference §2.2), our sub-objects (`gossip`,
 * `http`, `kv`, `collectors`, `checks`) and the typed objects (`check`, `service`, `handler`...).
 * Subsystems add their fields here; validation and the README's reference come from it.
 */
import {
  anyValue,
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
} from "./schema.ts";

const port = () => int({ min: 0, max: 65535 });

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
  label: opt(str(), "", "cluster label bound into encryption (AAD); agents with other labels are ignored"),
};

export const httpFields: Fields = {
  token: opt(str(), "", "bearer token that unlocks protected routes over TCP (empty: unix socket only)"),
  max_body: opt(bytes(), 8 * 1024 * 1024, "request bodies over this get 413"),
  enabled: opt(bool(), true, "serve the API on TCP (the unix socket is always served)"),
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

/** Agent parameters: the keys of a config file that configure the agent itself. */
export const agentFields: Fields = {
  name: opt(str({ nonEmpty: true }), undefined, "node name (default: hostname)"),
  port: opt(port(), 6768, "UDP gossip + TCP HTTP port"),
  bind: opt(str(), "0.0.0.0", "listen address"),
  addr: opt(str(), "", "advertised address (default: detected)"),
  tags: opt(list(str({ nonEmpty: true })), [], "node tags (roles); kv and ts are special"),
  seeds: opt(list(str({ nonEmpty: true })), [], "addr[:port] to join at start"),
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
  encryption_key: opt(str(), "", "base64 16/24/32-byte key (primary of the keyring)"),
  encryption_keys: opt(list(str()), [], "extra keys accepted for receiving"),
  master_key_priv: opt(str(), "", "remote exec private key file"),
  master_key_pub: opt(str(), "", "remote exec public key file"),
  gossip: opt(object(gossipFields), () => ({}), "gossip tuning"),
  http: opt(object(httpFields), () => ({}), "HTTP API"),
  kv: opt(object(kvFields), () => ({}), "key/value store"),
  collectors: opt(object(collectorsFields), () => ({}), "collectors"),
  checks: opt(object(checksFields), () => ({}), "checks scheduler and plugins"),
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

/** Typed objects, keyed by their top-level key in a config file. */
export const objectTypes = {
  check: checkType,
  service: object(serviceFields, { extra: "keep" }),
  handler: object({
    type: req(oneOf(["mail"] as const)),
    severities: opt(list(severity), ["ok", "warning", "critical", "unknown"]),
    contacts: opt(list(str()), []),
    addr_from: opt(str(), "kunai@localhost"),
    smtp_server: opt(str(), "localhost"),
    smtp_port: opt(port(), 25),
    smtp_user: opt(str(), ""),
    smtp_password: opt(str(), ""),
    smtp_tls: opt(bool(), false),
    subject_template: opt(str(), "email.subject.tpl"),
    text_template: opt(str(), "email.text.tpl"),
    notes: opt(str(), ""),
  }),
  generator: object({
    path: req(str({ nonEmpty: true })),
    template: req(str({ nonEmpty: true })),
    command: opt(str(), ""),
    apply_on: opt(str()),
    notes: opt(str(), ""),
    partial_start: opt(str()),
    partial_end: opt(str()),
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

/** Single listener objects: one per agent, later files override earlier ones. */
export const listenerTypes = {
  dns: object({
    enabled: opt(bool(), false),
    port: opt(port(), 53),
    domain: opt(str(), ".kunai"),
    ttl: opt(int({ min: 0 }), 60),
    bind: opt(str()),
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
  }),
  shinken: object({
    enabled: opt(bool(), true),
    cfg_path: req(str({ nonEmpty: true })),
    external_command_file: opt(str(), "/var/lib/shinken/nagios.cmd"),
    reload_command: opt(str(), "/etc/init.d/shinken reload"),
    monitoring_tool: opt(oneOf(["shinken", "nagios"] as const), "shinken"),
  }),
} as const;

export type ObjectKind = keyof typeof objectTypes;
export type ListenerKind = keyof typeof listenerTypes;
export const OBJECT_KINDS = Object.keys(objectTypes) as ObjectKind[];
export const LISTENER_KINDS = Object.keys(listenerTypes) as ListenerKind[];

/** Fields unused here but kept so anyValue stays referenced for free-form data. */
export const freeData = anyValue();
