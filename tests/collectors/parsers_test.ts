/**
 * Exact parsing of fixture files for the Linux and service collector parsers.
 */
import assert from "node:assert/strict";
import { CPU_KEYS, cpuPercents, parseCpuTimes } from "../../lib/collectors/parsers/cpu.ts";
import { memoryResult, parseMeminfo } from "../../lib/collectors/parsers/memory.ts";
import {
  countCpuList,
  parseLoadavg,
  selinuxResult,
  timezoneName,
} from "../../lib/collectors/parsers/simple.ts";
import { kernelstatsResult, parseKeyValues } from "../../lib/collectors/parsers/kernelstats.ts";
import { diskUsage, parseMountinfo, reportedMounts } from "../../lib/collectors/parsers/mounts.ts";
import { iostatsResult, isReportedDisk, parseDiskstats } from "../../lib/collectors/parsers/diskstats.ts";
import { netTrafficResult, parseNetDev } from "../../lib/collectors/parsers/netdev.ts";
import {
  decodeHexAddr,
  LISTEN_CHUNK,
  parseProcNet,
  pastListening,
  readListening,
} from "../../lib/collectors/parsers/sockets.ts";
import { addressesByIface, defaultRouteIface, parseRoutes } from "../../lib/collectors/parsers/routes.ts";
import {
  fqdnOf,
  parseOsRelease,
  parseStatusIds,
  userName,
  virtualKind,
} from "../../lib/collectors/parsers/system.ts";
import {
  addRates,
  mongoHostPort,
  mysqlResult,
  parseApacheStatus,
  parseNginxStatus,
  parseRedisInfo,
  statusMap,
} from "../../lib/collectors/parsers/services.ts";
import { flattenMetrics } from "../../lib/collectors/flatten.ts";

const fx = (name: string) =>
  Deno.readTextFileSync(new URL(`../fixtures/collectors/${name}`, import.meta.url));

Deno.test("cpustats: mpstat percentages from two /proc/stat samples, guest taken out of %usr", () => {
  const r = cpuPercents(parseCpuTimes(fx("proc_stat_small")), parseCpuTimes(fx("proc_stat_small2")));
  assert.deepEqual(Object.keys(r).sort(), ["cpu0", "cpuall"]);
  assert.deepEqual(Object.keys(r.cpuall), [...CPU_KEYS]);
  assert.equal(r.cpuall["%usr"], 14.55);
  assert.equal(r.cpuall["%sys"], 7.27);
  assert.equal(r.cpuall["%idle"], 72.73);
  assert.equal(r.cpuall["%irq"], 1.82);
  assert.equal(r.cpuall["%guest"], 3.64);
  const sum = Object.values(r.cpuall).reduce((a, b) => a + b, 0);
  assert.ok(Math.abs(sum - 100) < 0.1, `sum ${sum}`);
});

Deno.test("cpustats: real fixture samples give every cpu and sane sums", () => {
  const r = cpuPercents(parseCpuTimes(fx("proc_stat_1")), parseCpuTimes(fx("proc_stat_2")));
  assert.ok(r.cpuall && r.cpu0);
  for (const v of Object.values(r)) {
    const sum = Object.values(v).reduce((a, b) => a + b, 0);
    assert.ok(Math.abs(sum - 100) < 0.2 || sum === 100, `sum ${sum}`);
  }
  assert.throws(() => parseCpuTimes("intr 1\n"), /no cpu line/);
});

Deno.test("memory: meminfo keys lower-cased plus phys_* and swap_* percentages", () => {
  const m = memoryResult(fx("meminfo_small"));
  assert.equal(m.memtotal, 1000000);
  assert.equal(m["active(anon)"], 10000);
  assert.equal(m.hugepages_total, 0);
  assert.equal(m.phys_total, 1000000);
  assert.equal(m.phys_free, 500000);
  assert.equal(m.phys_used, 50);
  assert.equal(m.swap_free, 300000);
  assert.equal(m.swap_used, 25);
  assert.throws(() => memoryResult("garbage"), /MemTotal/);
});

Deno.test("memory: the scanning parser reads what the line regex read (real /proc/meminfo, odd lines)", () => {
  // the parser before it scanned by index, kept here as the reference
  const byRegex = (text: string) => {
    const out: Record<string, number> = {};
    for (const line of text.split("\n")) {
      const m = /^([^:]+):\s+(\d+)/.exec(line);
      if (m) out[m[1].trim().toLowerCase()] = Number(m[2]);
    }
    return out;
  };
  const odd = [
    "MemTotal:       16384 kB",
    " Spaced Key :\t 7 kB",
    "NoBlank:8",
    "Empty:   ",
    "Suffix: 9x",
    ":: 4",
    ":5",
    "Two: 1:2",
    "Tab\t:\t3\r",
    "Hugepagesize:    2048 kB",
    "keyonly",
    "",
    "MemTotal:  10",
    "Neg: -5",
    "Big: 123456789012345",
  ].join("\n");
  const texts = [odd, odd + "\n", fx("meminfo_small"), "MemTotal:\t\t77"];
  try {
    texts.push(Deno.readTextFileSync("/proc/meminfo"));
  } catch { /* not Linux */ }
  for (const t of texts) {
    const got = parseMeminfo(t);
    assert.deepEqual(got, byRegex(t));
    assert.deepEqual(Object.keys(got), Object.keys(byRegex(t)), "same keys in the same order");
  }
  assert.equal(parseMeminfo(odd).memtotal, 10, "the last of a repeated key");
  assert.equal(parseMeminfo(odd)["spaced key"], 7);
  assert.throws(() => parseMeminfo("Other: 1\n"), /no MemTotal/);
});

Deno.test("loadaverage, cpu list, selinux, timezone", () => {
  assert.deepEqual(parseLoadavg("0.15 0.16 0.10 1/123 4567\n"), { load1: 0.15, load5: 0.16, load15: 0.1 });
  assert.throws(() => parseLoadavg("x y z"), /loadavg/);
  assert.equal(countCpuList("0-3,6\n"), 5);
  assert.deepEqual(selinuxResult(null), { enabled: false, mode: "disabled" });
  assert.deepEqual(selinuxResult("1\n"), { enabled: true, mode: "enforcing" });
  assert.equal(timezoneName(null, "/usr/share/zoneinfo/Europe/Paris"), "Europe/Paris");
  assert.equal(timezoneName("Etc/UTC\n", null), "Etc/UTC");
});

Deno.test("kernelstats: key values with ctxt/processes turned into /s rates", () => {
  const a = parseKeyValues(fx("proc_stat_small"));
  const b = parseKeyValues(fx("proc_stat_small2"));
  assert.equal(a.intr, 12345);
  assert.equal(a.cpu0, undefined);
  const r = kernelstatsResult(a, b, 2);
  assert.equal(r["ctxt/s"], 1000);
  assert.equal(r["processes/s"], 10);
  assert.equal(r.ctxt, undefined);
  assert.equal(r.btime, 1700000000);
  assert.equal(kernelstatsResult(null, b, 0)["ctxt/s"], 0);
});

Deno.test("kernelstats: the scanning parser reads what split-by-blanks read (real /proc files, odd lines)", () => {
  // the parser before it scanned by index, kept here as the reference
  const bySplit = (text: string) => {
    const out: Record<string, number> = {};
    for (const line of text.split("\n")) {
      const parts = line.trim().split(/\s+/);
      if (parts.length < 2 || parts[0].startsWith("cpu")) continue;
      const n = Number(parts[1]);
      if (Number.isFinite(n)) out[parts[0]] = n;
    }
    return out;
  };
  const odd = [
    "intr 12345 0 1 2",
    "  ctxt\t\t99  ",
    "",
    "cpu  1 2 3",
    "cpu0 4 5 6",
    "keyonly",
    "   ",
    "nan_value abc",
    "hex 0x1f",
    "neg -5",
    "float 1.5e3",
    "crlf 7\r",
    "dup 1",
    "dup 2",
    "last 42",
  ].join("\n");
  const texts = [odd, odd + "\n", fx("proc_stat_small"), fx("proc_stat_small2")];
  for (const path of ["/proc/stat", "/proc/vmstat"]) {
    try {
      texts.push(Deno.readTextFileSync(path));
    } catch { /* not Linux */ }
  }
  for (const t of texts) {
    const got = parseKeyValues(t);
    assert.deepEqual(got, bySplit(t));
    assert.deepEqual(Object.keys(got), Object.keys(bySplit(t)), "same keys in the same order");
  }
  assert.equal(parseKeyValues(odd).dup, 2);
  assert.equal(parseKeyValues(odd).crlf, 7);
  // two files into one object, the second's values winning, as the collector merges /proc/stat and /proc/vmstat
  const merged = parseKeyValues("b 3\nc 4", parseKeyValues("a 1\nb 2"));
  assert.deepEqual(merged, { a: 1, b: 3, c: 4 });
  assert.deepEqual(Object.keys(merged), ["a", "b", "c"]);
});

Deno.test("diskusage: mountinfo parsing, escapes, overmounts, pseudo fs skipped, df arithmetic", () => {
  const mounts = parseMountinfo(fx("mountinfo_small"));
  const rep = reportedMounts(mounts);
  assert.deepEqual(rep.map((m) => m.mountpoint), ["/", "/mnt/my disk", "/data"]);
  assert.equal(rep.find((m) => m.mountpoint === "/data")!.source, "/dev/vdd");
  const u = diskUsage({
    type: 1,
    bsize: 4096,
    blocks: 262144,
    bfree: 131072,
    bavail: 104858,
    files: 1000,
    ffree: 250,
  })!;
  assert.deepEqual(u, {
    total: 1024,
    used: 512,
    pct_used: 56,
    inodes_total: 1000,
    inodes_used: 750,
    inodes_pct_used: 75,
  });
  assert.equal(diskUsage({ type: 1, bsize: 4096, blocks: 0, bfree: 0, bavail: 0, files: 0, ffree: 0 }), null);
  assert.ok(parseMountinfo(fx("mountinfo")).some((m) => m.mountpoint === "/"));
  assert.throws(() => parseMountinfo("1 2 3\n"), /mountinfo/);
});

Deno.test("iostats: iostat -x figures from two diskstats samples, whole disks only", () => {
  const r = iostatsResult(
    parseDiskstats(fx("diskstats_1")),
    parseDiskstats(fx("diskstats_2")),
    2,
    (d) => isReportedDisk(d, new Set(["vda", "loop0"])),
  );
  assert.deepEqual(Object.keys(r), ["vda"]);
  assert.equal(r.vda["r/s"], 50);
  assert.equal(r.vda["w/s"], 200);
  assert.equal(r.vda["rkB/s"], 2000);
  assert.equal(r.vda["wkB/s"], 4000);
  assert.equal(r.vda["rrqm/s"], 10);
  assert.equal(r.vda["%util"], 50);
  assert.equal(r.vda.await, 1);
});

Deno.test("networktraffic: deltas and /s rates, lo excluded", () => {
  const r = netTrafficResult(parseNetDev(fx("net_dev_1")), parseNetDev(fx("net_dev_2")), 10);
  assert.deepEqual(Object.keys(r), ["eth0"]);
  assert.equal(r.eth0.recv_bytes, 20000);
  assert.equal(r.eth0.recv_packets, 100);
  assert.equal(r.eth0.recv_multicast, 2);
  assert.equal(r.eth0.trans_bytes, 10000);
  assert.equal(r.eth0["recv_bytes/s"], 2000);
  assert.equal(r.eth0["trans_packets/s"], 5);
});

Deno.test("openports: listening tcp/tcp6/udp sockets decoded like netstat -tuln", () => {
  const tcp = parseProcNet(fx("proc_net_tcp"), "tcp");
  assert.deepEqual(tcp, [
    { proto: "tcp", source: "0.0.0.0:22", dest: "0.0.0.0:*", state: "LISTEN" },
    { proto: "tcp", source: "127.0.0.1:6379", dest: "0.0.0.0:*", state: "LISTEN" },
  ]);
  const tcp6 = parseProcNet(fx("proc_net_tcp6"), "tcp6");
  assert.deepEqual(tcp6.map((e) => e.source), [":::80", "::1:631", "::ffff:127.0.0.1:8080"]);
  assert.deepEqual(parseProcNet(fx("proc_net_udp"), "udp"), [
    { proto: "udp", source: "0.0.0.0:5353", dest: "0.0.0.0:*", state: "" },
  ]);
  assert.equal(decodeHexAddr("0100007F"), "127.0.0.1");
});

/** A /proc/net/tcp text: `listening` LISTEN lines, then `others` ESTABLISHED ones (150 bytes a line). */
function procNetTcp(listening: number, others: number): string {
  const line = (i: number, st: string) =>
    (`${String(i).padStart(4)}: 0100007F:${(1000 + i).toString(16).toUpperCase().padStart(4, "0")} ` +
      `00000000:0000 ${st} 00000000:00000000 00:00000000 00000000     0        0 ${i} 1 0 100 0 0 10 0`)
      .padEnd(149) + "\n";
  let text = "  sl  local_address rem_address   st tx_queue rx_queue".padEnd(149) + "\n";
  for (let i = 0; i < listening + others; i++) text += line(i, i < listening ? "0A" : "01");
  return text;
}

/** Serves chunks of `text` like the broker's readChunk, recording each ask. */
function chunks(text: string, asks: Array<[number, number]>) {
  const bytes = new TextEncoder().encode(text);
  return (offset: number, max: number) => {
    asks.push([offset, max]);
    return Promise.resolve(bytes.slice(offset, offset + max));
  };
}

Deno.test("openports: tcp files are read up to the first socket that is not listening", async () => {
  assert.equal(pastListening(fx("proc_net_tcp")), true);
  assert.equal(pastListening(procNetTcp(3, 0)), false);
  // a line cut short is not judged: its state may still be arriving
  assert.equal(pastListening(procNetTcp(2, 1).slice(0, -80)), false);

  // asks grow from LISTEN_CHUNK, each where the previous ended, and the last one starts before the first
  // connection's line ends: nothing past it is produced but what fills that chunk
  const asked = async (text: string) => {
    const asks: Array<[number, number]> = [];
    const head = await readListening(chunks(text, asks));
    asks.forEach(([offset, max], i) => {
      assert.equal(max, Math.min(LISTEN_CHUNK * 2 ** i, 1024 * 1024));
      assert.equal(offset, i === 0 ? 0 : asks[i - 1][0] + asks[i - 1][1]);
    });
    return { head, asks };
  };
  for (const listening of [0, 1, 20, 300]) {
    const text = procNetTcp(listening, 2000);
    const { head, asks } = await asked(text);
    const firstConnectionEnd = 150 * (listening + 2);
    assert.ok(asks.at(-1)![0] < firstConnectionEnd, `${listening}: asked past the listeners`);
    assert.ok(head.endsWith("\n") && head.length < text.length);
    assert.deepEqual(parseProcNet(head, "tcp"), parseProcNet(text, "tcp"));
    assert.equal(parseProcNet(head, "tcp").length, listening);
  }

  // only listeners (or an empty tcp6): read to the end
  const only = procNetTcp(120, 0);
  const { head, asks } = await asked(only);
  assert.equal(head, only);
  assert.ok(asks.at(-1)![0] + asks.at(-1)![1] > only.length);
});

Deno.test("routes: default interface and addresses per interface from route + fib_trie", () => {
  const routes = parseRoutes(fx("route_multi"));
  assert.equal(defaultRouteIface(routes), "eth0");
  const addrs = addressesByIface(fx("fib_trie_multi"), routes);
  assert.deepEqual(addrs, [
    { iface: "wlan0", address: "10.10.3.7", netmask: "255.255.0.0", broadcast: "10.10.255.255" },
    { iface: "eth0", address: "192.168.1.42", netmask: "255.255.255.0", broadcast: "192.168.1.255" },
  ]);
  const real = addressesByIface(fx("fib_trie"), parseRoutes(fx("route")));
  assert.ok(real.every((a) => !a.address.startsWith("127.")));
});

Deno.test("system: os-release, ids, user, fqdn, virtual", () => {
  const osr = parseOsRelease(fx("os-release"));
  assert.ok(osr.ID && osr.PRETTY_NAME);
  assert.equal(parseOsRelease('NAME="Debian GNU/Linux"\nID=debian\n').NAME, "Debian GNU/Linux");
  assert.deepEqual(parseStatusIds("Name:\tx\nUid:\t1000\t1000\t1000\t1000\nGid:\t50\t50\t50\t50\n"), {
    uid: 1000,
    gid: 50,
  });
  assert.equal(userName("root:x:0:0::/root:/bin/sh\nbob:x:1000:1000::/home/bob:/bin/sh\n", 1000), "bob");
  assert.equal(fqdnOf("web1", "127.0.1.1 web1.example.org web1\n", null), "web1.example.org");
  assert.equal(fqdnOf("web1", null, "corp.lan"), "web1.corp.lan");
  assert.equal(fqdnOf("web1", null, "(none)"), "web1");
  assert.equal(virtualKind({ sys_vendor: "QEMU" }, "", ""), "kvm");
  assert.equal(virtualKind({}, "flags\t: fpu hypervisor\n", ""), "hypervisor");
  assert.equal(virtualKind({ sys_vendor: "Dell Inc." }, "flags\t: fpu\n", "0::/"), "false");
});

Deno.test("redis INFO: numbers, strings, keyspace objects and /s rates", () => {
  const info = parseRedisInfo(fx("redis_info"));
  assert.equal(info.redis_version, "7.0.15");
  assert.equal(info.total_commands_processed, 17);
  assert.equal(info.used_cpu_sys, 0.101);
  assert.deepEqual(info.db0, { keys: 3, expires: 1, avg_ttl: 0 });
  const r: Record<string, unknown> = { ...info, total_commands_processed: 37 };
  addRates(r, info, ["total_commands_processed"], 10);
  assert.equal(r["total_commands_processed/s"], 2);
});

Deno.test("mysql, apache, nginx, mongodb parsing", () => {
  const s1 = statusMap([{ Variable_name: "Connections", Value: "10" }, {
    Variable_name: "Slow_queries",
    Value: "0",
  }]);
  const s2 = statusMap([{ Variable_name: "Connections", Value: "70" }, {
    Variable_name: "Threads_connected",
    Value: "2",
  }]);
  const m = mysqlResult(s2, s1, 30, null);
  assert.equal(m.connections, 2);
  assert.equal(m.connections_total, 70);
  assert.equal(m.threadsConnected, 2);
  assert.equal(m.secondsBehindMaster, null);
  const a = parseApacheStatus(fx("apache_status"));
  assert.equal(a["Total Accesses"], 120);
  assert.equal(a.IdleWorkers, 48);
  assert.throws(() => parseApacheStatus("<html>"), /mod_status/);
  assert.deepEqual(parseNginxStatus(fx("nginx_status")), {
    connections: 3,
    accepts: 10,
    handled: 10,
    requests: 42,
    reading: 0,
    writing: 1,
    waiting: 2,
  });
  assert.equal(mongoHostPort("mongodb://localhost"), "127.0.0.1:27017");
  assert.equal(mongoHostPort("mongodb://u:p@db1:27018,db2/x?replicaSet=r"), "db1:27018");
});

Deno.test("metrics: every numeric leaf, booleans as 1/0, lower-cased dotted paths", () => {
  assert.deepEqual(
    flattenMetrics({ CPUall: { "%idle": 97.5 }, up: true, name: "x", list: [1, { A: 2 }], n: null }),
    [
      ["cpuall.%idle", 97.5],
      ["up", 1],
      ["list.0", 1],
      ["list.1.a", 2],
    ],
  );
});
