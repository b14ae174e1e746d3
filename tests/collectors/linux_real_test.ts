/**
 * Every Linux collector against this machine's real /proc and /sys, through the read broker: in the
 * agent's thread (the default) and in their sandboxed Worker (`collectors.linux_worker`).
 */
import assert from "node:assert/strict";
import { CollectorRuntime, defaultGroups, LINUX_COLLECTORS } from "../../lib/collectors/mod.ts";
import { CPU_KEYS } from "../../lib/collectors/parsers/cpu.ts";
import { Sandbox } from "../../lib/sandbox/mod.ts";
import { RealClock } from "../../lib/clock/mod.ts";
import { silentLogger } from "../../lib/log/mod.ts";
import { evaluate } from "../../lib/evaluator/mod.ts";

const params = { interval: 10_000, timeout: 30_000, disabled: [], intervals: {} };

for (const linuxWorker of [false, true]) {
  const where = linuxWorker ? "in their Worker" : "in the agent's thread";
  Deno.test(`linux collectors (${where}): every one answers from the real /proc and /sys with sane values`, () =>
    realRound(linuxWorker));
}

async function realRound(linuxWorker: boolean): Promise<void> {
  const sandbox = new Sandbox();
  const groups = defaultGroups({}, { linuxWorker }).filter((g) => g.name === "collectors-linux");
  const rt = new CollectorRuntime({
    sandbox,
    clock: new RealClock(),
    log: silentLogger,
    params,
    data: {},
    groups,
  });
  try {
    const t0 = performance.now();
    const entries = await Promise.all(LINUX_COLLECTORS.map((n) => rt.runOnce(n)));
    const firstMs = performance.now() - t0;
    for (const e of entries) assert.equal(e.active, true, `${e.name}: ${e.log}`);
    // deno-lint-ignore no-explicit-any
    type Any = any;
    const r = Object.fromEntries(entries.map((e) => [e.name, e.results as Record<string, Any>]));

    // cpustats: mpstat keys, 0 <= %idle <= 100, sums ~ 100, one entry per cpu + cpuall
    const cpus = Object.keys(r.cpustats);
    assert.ok(cpus.includes("cpuall") && cpus.includes("cpu0"));
    assert.equal(cpus.length, r.system.cpucount + 1);
    for (const [name, v] of Object.entries(r.cpustats as Record<string, Record<string, number>>)) {
      assert.deepEqual(Object.keys(v), [...CPU_KEYS], name);
      assert.ok(v["%idle"] >= 0 && v["%idle"] <= 100, `${name} %idle ${v["%idle"]}`);
      const sum = Object.values(v).reduce((a, b) => a + b, 0);
      assert.ok(Math.abs(sum - 100) < 0.5 || sum === 0 || v["%idle"] === 100, `${name} sum ${sum}`);
    }
    assert.ok(r.memory.memtotal > 0 && r.memory.phys_used >= 0 && r.memory.phys_used <= 100);
    for (const k of ["load1", "load5", "load15"]) assert.equal(typeof r.loadaverage[k], "number");
    assert.ok(r.diskusage["/"], `diskusage has / (${Object.keys(r.diskusage)})`);
    const root = r.diskusage["/"] as Any;
    assert.ok(root.total > 0 && root.used <= root.total && root.pct_used >= 0 && root.pct_used <= 100);
    assert.equal(typeof root.inodes_total, "number");
    assert.equal(typeof r.kernelstats["ctxt/s"], "number");
    assert.ok(r.kernelstats["ctxt/s"] > 0, "context switches happen");
    assert.ok(r.kernelstats.btime > 1_000_000_000);
    assert.ok(!("lo" in r.networktraffic));
    for (const v of Object.values(r.iostats as Record<string, Record<string, number>>)) {
      assert.ok(v["%util"] >= 0 && v["%util"] <= 100);
    }
    const sys = r.system;
    assert.equal(sys.hostname, Deno.hostname());
    assert.equal(sys.cpucount, navigator.hardwareConcurrency);
    assert.equal(sys.architecture, Deno.build.arch);
    assert.equal(sys.uid, Deno.uid());
    assert.ok(typeof sys.linux.distname === "string" && sys.os.name === "posix");
    assert.ok(sys.publicip === null || /^\d+\.\d+\.\d+\.\d+$/.test(sys.publicip));
    assert.equal(typeof r.timezone.timezone, "string");
    assert.ok(r.uptime.uptime > 0);
    assert.ok(Array.isArray(r.openports.tcp) && Array.isArray(r.openports.udp));
    assert.ok(r.interfaces.lo && r.interfaces.lo.link_encap === "Local Loopback");
    assert.equal(typeof r.selinux.enabled, "boolean");
    assert.equal(typeof r.virtual.virtual, "string");
    for (const dev of Object.keys(r.blockdevice)) assert.ok(!/^(loop|ram|dm-)/.test(dev));

    // the paths checks read evaluate (seed check: {collector.cpustats.cpuall.%idle})
    const env = {
      collectors: { get: (n: string) => rt.entry(n)?.results ?? undefined, names: () => rt.names() },
    };
    const idle = await evaluate("{collector.cpustats.cpuall.%idle}", env);
    assert.equal(typeof idle, "number");
    assert.equal(
      await evaluate("{collector.cpustats.cpuall.%idle} >= 0 and {collector.memory.phys_used} <= 100", env),
      true,
    );
    assert.equal(await evaluate("{collector.diskusage./.pct_used} <= 100", env), true);
    assert.equal(await evaluate("{collector.loadaverage.load1} >= 0", env), true);
    assert.equal(await evaluate("{collector.system.cpucount}", env), r.system.cpucount);

    // a listening socket we open shows in openports on the next run
    const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (l.addr as Deno.NetAddr).port;
    const op = await rt.runOnce("openports");
    l.close();
    assert.ok(
      (op.results!.tcp as Any[]).some((e) => e.source === `127.0.0.1:${port}` && e.state === "LISTEN"),
    );

    // the second round reuses the samples and Worker: fast
    const t1 = performance.now();
    const again = await Promise.all(LINUX_COLLECTORS.map((n) => rt.runOnce(n)));
    const secondMs = performance.now() - t1;
    assert.ok(again.every((e) => e.active));
    assert.ok(secondMs < firstMs + 1000, `second round ${secondMs} ms`);
    assert.equal(rt.workers().length, 1, "one Worker (or in-thread server) for every linux collector");
    assert.equal(rt.workers()[0].deniedReads, 0, "no read outside the allow-list");
    assert.equal(sandbox.workers().length, linuxWorker ? 1 : 0, "an isolate only with linux_worker");
    console.log(`linux collectors: first round ${firstMs.toFixed(0)} ms, second ${secondMs.toFixed(0)} ms`);
  } finally {
    rt.stop();
    sandbox.stopAll();
  }
}
