/**
 * The agent parameters (reference §2.2) and our sub-objects (`gossip`, `http`, `kv`, `collectors`,
 * `checks`, `raft`, `metrics`): the keys of a config file that configure the agent itself.
 * Subsystems add their fields here; validation and the README's reference come from it.
 */
import {
  bool,
  bytes,
  durationMs,
  type Fields,
  int,
  list,
  object,
  oneOf,
  opt,
  record,
  req,
  str,
  type Type,
} from "./schema.ts";
import { isHostAddr, parsePeer } from "../transport/types.ts";

/** A port number 0-65535 (agent parameters, typed objects and listeners). */
export const port = () => int({ min: 0, max: 65535 });

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
  max_members: opt(
    int({ min: 2, max: 100_000 }), // a push-pull carries at most 100 000 records (codec LIMITS)
    10_000,
    "nodes kept in the member table (dead and left ones included; when full, those gone a minute make room, else news of more new nodes is refused)",
  ),
  join_retry_max: opt(durationMs({ min: 100 }), 30_000, "ceiling of the seed join backoff"),
  seed_check_interval: opt(
    durationMs({ min: 1000 }),
    600_000,
    "how often a joined agent checks that a seed is among its live members, and joins one again if none is",
  ),
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
  max_conns_per_client: opt(
    int({ min: 0, max: 4096 }),
    256,
    "TCP connections one client address may hold open at once (0: no limit); the agent holds 4096 in all",
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
  max_series: opt(
    int({ min: 1 }),
    1_000_000,
    "metric names stored at most: points of new names beyond it are refused (counted, logged)",
  ),
  forward_batch: opt(int({ min: 1, max: 100_000 }), 2000, "points per forwarded message to a ts owner"),
  read_retry: opt(
    durationMs({ min: 0 }),
    10_000,
    "how long a ts node that did not answer a read is left out of renders and lists (0: asked every time)",
  ),
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
  log_max_size: opt(
    bytes(),
    100 * 1024 * 1024,
    "a day's daemon.log stops growing at this size (lines past it: stderr and kunai monitor only); 0: no limit",
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
