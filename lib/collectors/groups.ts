/**
 * Which collector runs in which Worker, and what each Worker may touch. One long-lived Worker per
 * permission set (each Worker is a V8 isolate; memory matters).
 */
import {
  type InlineHandlers,
  type LocalBroker,
  NO_PERMISSIONS,
  type WorkerPermissions,
} from "../sandbox/mod.ts";
import { mongoHostPort } from "./parsers/services.ts";
import { runMany, type RunManyRequest, type RunReply } from "./protocol.ts";
import { brokerIO, linuxRunner } from "./linux.ts";
import { servicePrecheck } from "./precheck.ts";

export interface GroupSpec {
  /** Worker name ("collectors-linux"...). */
  name: string;
  module: URL;
  permissions: WorkerPermissions;
  brokerAllow: string[];
  statfsAllow?: string[];
  /** Collector names served by this Worker. */
  collectors: string[];
  /**
   * The Worker answers `runMany`: collectors of this group due at the same time go in one message
   * (one reply) instead of one call each.
   */
  batch?: boolean;
  /** Prefixes of the configuration data keys handed to its runs (none by default). */
  dataKeys?: string[];
  /**
   * Asked before a run while the Worker is not running: a reply means "nothing to talk to" and the
   * Worker is not started (and a running Worker whose collectors all find nothing is stopped).
   */
  precheck?: (collector: string, data: Record<string, unknown>) => Promise<RunReply | null>;
  /**
   * Set: the group's methods are served in the agent's thread (InlineMethods), their files through
   * a LocalBroker with this group's allow-list, and `module`/`permissions` are not used.
   */
  inline?: (broker: LocalBroker) => InlineHandlers;
}

export const LINUX_COLLECTORS = [
  "cpustats",
  "memory",
  "loadaverage",
  "diskusage",
  "iostats",
  "networktraffic",
  "kernelstats",
  "system",
  "timezone",
  "uptime",
  "openports",
  "blockdevice",
  "interfaces",
  "selinux",
  "virtual",
];
export const SERVICE_COLLECTORS = ["redis", "mysql", "mongodb", "apache", "nginx", "rabbitmq"];

/**
 * Collectors whose facts change rarely or whose source is costly to read run at least this often
 * apart (ms), unless `collectors.intervals.<name>` says otherwise: the kernel walks every TCP socket
 * to produce `/proc/net/tcp*` (several ms on a busy host).
 */
export const SLOW_COLLECTORS: Record<string, number> = {
  openports: 60_000,
  system: 60_000,
  blockdevice: 60_000,
  interfaces: 60_000,
  timezone: 300_000,
  selinux: 300_000,
  virtual: 300_000,
};

/** Environment variables the npm clients read when loaded or connecting; nothing else is visible. */
export const CLIENT_ENV = [
  "REDIS_DEBUG_MAINTENANCE",
  ...["COMMAND", "TOPOLOGY", "SERVER_SELECTION", "CONNECTION", "CLIENT", "ALL", "MAX_DOCUMENT_LENGTH", "PATH"]
    .map((k) => `MONGODB_LOG_${k}`),
  "AWS_EXECUTION_ENV",
  "AWS_LAMBDA_RUNTIME_API",
  "FUNCTIONS_WORKER_RUNTIME",
  "K_SERVICE",
  "FUNCTION_NAME",
  "VERCEL",
  "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
  "AWS_REGION",
  "FUNCTION_MEMORY_MB",
  "FUNCTION_REGION",
  "FUNCTION_TIMEOUT_SEC",
  "VERCEL_REGION",
  "KUBERNETES_SERVICE_HOST",
];

/** Files the linux Worker may read through the broker. */
export const LINUX_BROKER_ALLOW = [
  "/proc/stat",
  "/proc/meminfo",
  "/proc/loadavg",
  "/proc/uptime",
  "/proc/vmstat",
  "/proc/diskstats",
  "/proc/cpuinfo",
  "/proc/net/dev",
  "/proc/net/tcp",
  "/proc/net/tcp6",
  "/proc/net/udp",
  "/proc/net/udp6",
  "/proc/net/route",
  "/proc/net/fib_trie",
  "/proc/self/mountinfo",
  "/proc/self/status",
  "/proc/self/cgroup",
  "/proc/sys/kernel/hostname",
  "/proc/sys/kernel/domainname",
  "/proc/sys/kernel/osrelease",
  "/etc/os-release",
  "/usr/lib/os-release",
  "/etc/hosts",
  "/etc/passwd",
  "/etc/timezone",
  "/etc/localtime",
  "/sys/devices/system/cpu/online",
  "/sys/block",
  "/sys/block/*/size",
  "/sys/block/*/device/vendor",
  "/sys/block/*/device/model",
  "/sys/class/net",
  "/sys/class/net/*/address",
  "/sys/class/net/*/flags",
  "/sys/class/net/*/mtu",
  "/sys/class/net/*/type",
  "/sys/class/net/*/operstate",
  "/sys/fs/selinux/enforce",
  "/selinux/enforce",
  "/sys/class/dmi/id/sys_vendor",
  "/sys/class/dmi/id/product_name",
];

function str(data: Record<string, unknown>, key: string, dflt: string): string {
  const v = data[key];
  return v === undefined || v === null || v === "" ? dflt : String(v);
}

/** host:port of a URL setting, for the net allow-list (null when unset or invalid). */
function urlHostPort(data: Record<string, unknown>, key: string): string | null {
  const v = data[key];
  if (typeof v !== "string" || !v) return null;
  try {
    const u = new URL(v);
    return `${u.hostname}:${u.port || (u.protocol === "https:" ? "443" : "80")}`;
  } catch {
    return null;
  }
}

/** Servers the service collectors talk to, from the configuration data (reference §8 defaults). */
export function serviceTargets(data: Record<string, unknown>): {
  net: string[];
  sockets: string[];
} {
  const net = [
    `${str(data, "redis_server", "127.0.0.1")}:${str(data, "redis_port", "6379")}`,
    `${str(data, "mysql_server", "127.0.0.1").replace(/^localhost$/, "127.0.0.1")}:${
      str(data, "mysql_port", "3306")
    }`,
    mongoHostPort(str(data, "mongodb_server", "mongodb://127.0.0.1")),
  ];
  for (const k of ["apacheStatusUrl", "nginxStatusUrl", "rabbitMQStatusUrl"]) {
    const hp = urlHostPort(data, k);
    if (hp) net.push(hp);
  }
  const sockets = typeof data.mysql_socket === "string" && data.mysql_socket ? [data.mysql_socket] : [];
  return { net: [...new Set(net)], sockets };
}

/** The linux collectors' methods over a broker (the same table their Worker serves). */
function linuxMethods(broker: LocalBroker): InlineHandlers {
  const run = linuxRunner(brokerIO(broker));
  return { run, runMany: (req: RunManyRequest) => runMany(run, req) };
}

/**
 * The default groups: linux (broker only: in the agent's thread, or in a permission-less Worker with
 * `linuxWorker`) and services (a Worker with net to the configured servers only).
 */
export function defaultGroups(
  data: Record<string, unknown>,
  opts: { linuxWorker?: boolean } = {},
): GroupSpec[] {
  const t = serviceTargets(data);
  return [
    {
      ...(opts.linuxWorker ? {} : { inline: linuxMethods }),
      name: "collectors-linux",
      module: new URL("./workers/linux.ts", import.meta.url),
      permissions: { ...NO_PERMISSIONS },
      brokerAllow: LINUX_BROKER_ALLOW,
      // sizes only: any mount point may be statfs'd
      statfsAllow: ["/**"],
      collectors: LINUX_COLLECTORS,
      batch: true,
    },
    {
      name: "collectors-services",
      module: new URL("./workers/services.ts", import.meta.url),
      permissions: {
        ...NO_PERMISSIONS,
        net: t.net,
        // the variables node-redis and the MongoDB driver read (logging switches, FaaS detection)
        env: CLIENT_ENV,
        read: t.sockets.length ? t.sockets : false,
        write: t.sockets.length ? t.sockets : false,
      },
      brokerAllow: [],
      collectors: SERVICE_COLLECTORS,
      dataKeys: ["redis", "mysql", "mongodb", "MongoDB", "apache", "nginx", "rabbitMQ"],
      precheck: servicePrecheck,
    },
  ];
}
