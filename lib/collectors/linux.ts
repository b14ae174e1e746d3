/**
 * The built-in linux collectors: pure parsers over files the read broker hands them (allow-list in
 * ./groups.ts; disk sizes through the broker's statfs op). They run in the agent's thread through a
 * LocalBroker (the default: no isolate for them, ~10 MB) or, with `collectors.linux_worker`, in their
 * own permission-less Worker (./workers/linux.ts) through the same broker policy. Rate collectors keep
 * their previous sample in the runner; the first run samples twice 200 ms apart.
 *
 * ```ts
 * const run = linuxRunner(brokerIO(sandbox.localBroker(spec)));
 * const reply = await run({ name: "loadaverage" }); // reply.results.load1
 * ```
 */
import {
  type BrokerDirEntry,
  type BrokerRequest,
  type BrokerStatfs,
  tryReadWith,
} from "../sandbox/protocol.ts";
import { cpuPercents, parseCpuTimes } from "./parsers/cpu.ts";
import { memoryResult } from "./parsers/memory.ts";
import { countCpuList, parseLoadavg, parseUptime, selinuxResult, timezoneName } from "./parsers/simple.ts";
import { kernelstatsResult, parseKeyValues } from "./parsers/kernelstats.ts";
import { diskUsage, parseMountinfo, reportedMounts } from "./parsers/mounts.ts";
import { iostatsResult, isReportedDisk, parseDiskstats } from "./parsers/diskstats.ts";
import { netTrafficResult, parseNetDev } from "./parsers/netdev.ts";
import { parseProcNet, type PortEntry, readListening } from "./parsers/sockets.ts";
import { addressesByIface, defaultRouteIface, parseRoutes } from "./parsers/routes.ts";
import { fqdnOf, parseOsRelease, parseStatusIds, userName, virtualKind } from "./parsers/system.ts";
import type { RunReply, RunRequest } from "./protocol.ts";

/** The file access the collectors need: the read broker's ops (a Worker's messages or a LocalBroker). */
export interface LinuxIO {
  read(path: string): Promise<string>;
  readChunk(path: string, offset: number, max: number): Promise<Uint8Array>;
  readDir(path: string): Promise<BrokerDirEntry[]>;
  readLink(path: string): Promise<string>;
  statfs(path: string): Promise<BrokerStatfs>;
  /** The LISTEN lines of /proc/net/tcp or tcp6 from the kernel's socket diagnostics. */
  listening(path: string): Promise<string>;
}

/** The broker ops of `broker` (a LocalBroker, or anything answering its `op`) as LinuxIO. */
export function brokerIO(
  broker: { op(msg: Pick<BrokerRequest, "op" | "path" | "offset" | "max">): Promise<unknown> },
): LinuxIO {
  return {
    read: (path) => broker.op({ op: "read", path }) as Promise<string>,
    readChunk: (path, offset, max) =>
      broker.op({ op: "readChunk", path, offset, max }) as Promise<Uint8Array>,
    readDir: (path) => broker.op({ op: "readDir", path }) as Promise<BrokerDirEntry[]>,
    readLink: (path) => broker.op({ op: "readLink", path }) as Promise<string>,
    statfs: (path) => broker.op({ op: "statfs", path }) as Promise<BrokerStatfs>,
    listening: (path) => broker.op({ op: "listening", path }) as Promise<string>,
  };
}

type Result = Record<string, unknown>;

const LINK_ENCAP: Record<string, string> = {
  "1": "Ethernet",
  "772": "Local Loopback",
  "768": "IPIP",
  "776": "IPv6-in-IPv4",
  "65534": "UNSPEC",
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The collectors over `io`, as one `run` (a collector by name). Each runner keeps its own previous
 * samples for the rate collectors.
 */
export function linuxRunner(io: LinuxIO): (req: RunRequest) => Promise<RunReply> {
  const samples = new Map<string, { at: number; v: unknown }>();
  const tryRead = (path: string) => tryReadWith(io.read, path);

  /** Runs `compute` on the previous and a new sample; primes with a 200 ms pair on the first run. */
  async function delta<T, R>(
    key: string,
    sample: () => Promise<T>,
    compute: (p: T, c: T, dt: number) => R,
  ): Promise<R> {
    let prev = samples.get(key) as { at: number; v: T } | undefined;
    if (!prev) {
      prev = { at: performance.now(), v: await sample() };
      await sleep(200);
    }
    const cur = { at: performance.now(), v: await sample() };
    samples.set(key, cur);
    return compute(prev.v, cur.v, (cur.at - prev.at) / 1000);
  }

  async function wholeDisks(): Promise<Set<string>> {
    return new Set((await io.readDir("/sys/block")).map((e) => e.name));
  }

  async function sysText(path: string): Promise<string | null> {
    return (await tryRead(path))?.trim() ?? null;
  }

  const collectors: Record<string, () => Promise<Result>> = {
    cpustats: () => delta("cpustats", async () => parseCpuTimes(await io.read("/proc/stat")), cpuPercents),
    memory: async () => memoryResult(await io.read("/proc/meminfo")),
    loadaverage: async () => parseLoadavg(await io.read("/proc/loadavg")),
    uptime: async () => parseUptime(await io.read("/proc/uptime")),
    kernelstats: () =>
      delta("kernelstats", async () => {
        const [stat, vmstat] = await Promise.all([io.read("/proc/stat"), io.read("/proc/vmstat")]);
        return parseKeyValues(vmstat, parseKeyValues(stat));
      }, kernelstatsResult),
    async diskusage() {
      const out: Result = {};
      const mounts = reportedMounts(parseMountinfo(await io.read("/proc/self/mountinfo")));
      // every mount asked at once (one broker round trip), reported in mountinfo's order
      const sizes = await Promise.allSettled(mounts.map((m) => io.statfs(m.mountpoint)));
      mounts.forEach((m, i) => {
        const r = sizes[i];
        if (r.status === "rejected") {
          if ((r.reason as Error).name === "BrokerDenied") throw r.reason;
          return; // unreachable mount (stale NFS, permission): skipped like df does
        }
        const u = diskUsage(r.value);
        if (u) out[m.mountpoint] = u;
      });
      return out;
    },
    iostats: () =>
      delta(
        "iostats",
        async () => {
          const [text, disks] = await Promise.all([io.read("/proc/diskstats"), wholeDisks()]);
          return { stats: parseDiskstats(text), disks };
        },
        (p, c, dt) => iostatsResult(p.stats, c.stats, dt, (d) => isReportedDisk(d, c.disks)),
      ),
    networktraffic: () =>
      delta("networktraffic", async () => parseNetDev(await io.read("/proc/net/dev")), netTrafficResult),
    async openports() {
      const out: { tcp: PortEntry[]; udp: PortEntry[] } = { tcp: [], udp: [] };
      const protos = ["tcp", "tcp6", "udp", "udp6"] as const;
      // every read asked at once: one broker round trip instead of one per file; of tcp and tcp6 only the
      // listening sockets (finishing those files costs the kernel a walk of its whole connection hash):
      // from the kernel's socket diagnostics, else the files' listening part
      const texts = await Promise.all(protos.map((proto) => {
        const path = `/proc/net/${proto}`;
        if (!proto.startsWith("tcp")) return tryRead(path);
        const denied = (err: unknown) => (err as Error).name === "BrokerDenied";
        return io.listening(path).catch((err) => {
          if (denied(err)) throw err;
          return readListening((offset, max) => io.readChunk(path, offset, max)).catch((err) => {
            if (denied(err)) throw err;
            return null;
          });
        });
      }));
      protos.forEach((proto, i) => {
        const text = texts[i];
        if (text) out[proto.startsWith("tcp") ? "tcp" : "udp"].push(...parseProcNet(text, proto));
      });
      return out;
    },
    async system() {
      const [hostname0, osText, status, passwd, route, fibTrie, hosts, domain, kernel, online] = await Promise
        .all([
          io.read("/proc/sys/kernel/hostname"),
          tryRead("/etc/os-release"),
          io.read("/proc/self/status"),
          tryRead("/etc/passwd"),
          io.read("/proc/net/route"),
          io.read("/proc/net/fib_trie"),
          tryRead("/etc/hosts"),
          sysText("/proc/sys/kernel/domainname"),
          sysText("/proc/sys/kernel/osrelease"),
          io.read("/sys/devices/system/cpu/online"),
        ]);
      const hostname = hostname0.trim();
      const osr = parseOsRelease(osText ?? (await tryRead("/usr/lib/os-release")) ?? "");
      const ids = parseStatusIds(status);
      const routes = parseRoutes(route);
      const addrs = addressesByIface(fibTrie, routes);
      const defIface = defaultRouteIface(routes);
      const publicip = addrs.find((a) => a.iface === defIface)?.address ?? addrs[0]?.address ?? null;
      return {
        hostname,
        fqdn: fqdnOf(hostname, hosts, domain),
        os: { name: "posix", platform: Deno.build.os, kernel },
        architecture: Deno.build.arch,
        cpucount: countCpuList(online),
        linux: {
          distname: osr.ID ?? "",
          version: osr.VERSION_ID ?? "",
          id: osr.VERSION_CODENAME ?? "",
          pretty_name: osr.PRETTY_NAME ?? "",
        },
        user: passwd ? userName(passwd, ids.uid) : null,
        uid: ids.uid,
        gid: ids.gid,
        publicip,
      };
    },
    async timezone() {
      let link: string | null = null;
      try {
        link = await io.readLink("/etc/localtime");
      } catch { /* not a link */ }
      return {
        timezone: timezoneName(await tryRead("/etc/timezone"), link) ??
          Intl.DateTimeFormat().resolvedOptions().timeZone,
      };
    },
    async blockdevice() {
      const out: Result = {};
      const devs = (await io.readDir("/sys/block")).filter((e) => !/^(dm-|ram|loop)/.test(e.name));
      const rows = await Promise.all(devs.map((e) => {
        const base = `/sys/block/${e.name}`;
        return Promise.all([
          sysText(`${base}/size`),
          sysText(`${base}/device/vendor`),
          sysText(`${base}/device/model`),
        ]);
      }));
      devs.forEach((e, i) => {
        const [size, vendor, model] = rows[i];
        out[e.name] = { vendor: vendor ?? "", model: model ?? "", size: Number(size ?? 0) * 512 };
      });
      return out;
    },
    async interfaces() {
      const [route, fibTrie, ifaces] = await Promise.all([
        io.read("/proc/net/route"),
        io.read("/proc/net/fib_trie"),
        io.readDir("/sys/class/net"),
      ]);
      const addrs = addressesByIface(fibTrie, parseRoutes(route));
      const files = ["flags", "type", "address", "mtu", "operstate"];
      const rows = await Promise.all(
        ifaces.map((e) => Promise.all(files.map((f) => sysText(`/sys/class/net/${e.name}/${f}`)))),
      );
      const out: Result = {};
      ifaces.forEach((e, i) => {
        const [flagsText, type, address, mtu, operstate] = rows[i];
        const flags = parseInt(flagsText ?? "0", 16);
        const a = addrs.find((x) => x.iface === e.name);
        out[e.name] = {
          interface: e.name,
          link_encap: LINK_ENCAP[type ?? ""] ?? "other",
          hardware_address: address ?? "",
          ip_address: a?.address ?? null,
          broadcast_address: a?.broadcast ?? null,
          net_mask: a?.netmask ?? null,
          mtu: Number(mtu ?? 0),
          operstate: operstate ?? "unknown",
          up: (flags & 0x1) !== 0,
          broadcast: (flags & 0x2) !== 0,
          running: (flags & 0x40) !== 0,
          multicast: (flags & 0x1000) !== 0,
        };
      });
      return out;
    },
    async selinux() {
      return selinuxResult((await tryRead("/sys/fs/selinux/enforce")) ?? (await tryRead("/selinux/enforce")));
    },
    async virtual() {
      const [sys_vendor, product_name, cpuinfo, cgroup] = await Promise.all([
        sysText("/sys/class/dmi/id/sys_vendor"),
        sysText("/sys/class/dmi/id/product_name"),
        tryRead("/proc/cpuinfo"),
        tryRead("/proc/self/cgroup"),
      ]);
      const dmi = { sys_vendor: sys_vendor ?? undefined, product_name: product_name ?? undefined };
      return { virtual: virtualKind(dmi, cpuinfo ?? "", cgroup ?? "") };
    },
  };

  return async (req: RunRequest): Promise<RunReply> => {
    const fn = collectors[req.name];
    if (!fn) throw new Error(`the linux collectors have no ${req.name}`);
    return { results: await fn() };
  };
}
