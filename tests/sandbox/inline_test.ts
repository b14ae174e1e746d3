/**
 * InlineMethods: a Worker's method table answered in this thread, its files through the spec's
 * broker policy (the linux collectors' default home).
 */
import assert from "node:assert/strict";
import { InlineMethods } from "../../lib/sandbox/mod.ts";
import { brokerIO, linuxRunner } from "../../lib/collectors/linux.ts";
import { defaultGroups } from "../../lib/collectors/mod.ts";

const spec = { name: "inline-probe", brokerAllow: ["/proc/stat", "/proc/loadavg"] };

function server() {
  return new InlineMethods(spec, (broker) => ({
    read: (p: { path: string }) => broker.op({ op: "read", path: p.path }),
    fails: () => {
      const e = new Error("no such thing");
      e.name = "NotFound";
      throw e;
    },
  }));
}

Deno.test("inline methods: allowed files are read, others refused with BrokerDenied and counted", async () => {
  const m = server();
  try {
    assert.match(await m.call<string>("read", { path: "/proc/stat" }), /^cpu /);
    for (const path of ["/etc/shadow", "/proc/stat/../../etc/shadow", "/proc/self/environ", "relative"]) {
      await assert.rejects(m.call("read", { path }), (e: Error) => e.name === "BrokerDenied", path);
    }
    assert.equal(m.deniedReads, 4);
    assert.equal(m.calls, 5);
  } finally {
    m.terminate();
  }
});

Deno.test("inline methods: errors keep their name; unknown methods and calls after terminate reject", async () => {
  const m = server();
  await assert.rejects(m.call("fails"), (e: Error) => e.name === "NotFound" && e.message === "no such thing");
  await assert.rejects(m.call("nope"), /unknown method nope/);
  assert.equal(m.running, true);
  m.terminate();
  assert.equal(m.running, false);
  await assert.rejects(m.call("read", { path: "/proc/stat" }), /stopped/);
});

Deno.test("inline linux collectors: a file off the group's allow-list fails the run as BrokerDenied", async () => {
  // the same runner over a broker that allows only /proc/loadavg: memory needs /proc/meminfo
  const m = new InlineMethods(spec, (broker) => ({ run: linuxRunner(brokerIO(broker)) }));
  try {
    const ok = await m.call<{ results: Record<string, number> }>("run", { name: "loadaverage" });
    assert.equal(typeof ok.results.load1, "number");
    await assert.rejects(m.call("run", { name: "memory" }), (e: Error) => e.name === "BrokerDenied");
    await assert.rejects(m.call("run", { name: "nope" }), /no nope/);
  } finally {
    m.terminate();
  }
});

Deno.test("collector groups: linux in the agent's thread by default, a Worker module with linux_worker", () => {
  const inline = defaultGroups({}).find((g) => g.name === "collectors-linux")!;
  const worker = defaultGroups({}, { linuxWorker: true }).find((g) => g.name === "collectors-linux")!;
  assert.equal(typeof inline.inline, "function");
  assert.equal(worker.inline, undefined);
  assert.deepEqual(inline.brokerAllow, worker.brokerAllow, "the same allow-list either way");
  // the services group always runs in its Worker (it talks to the network for user-configured servers)
  assert.equal(defaultGroups({}).find((g) => g.name === "collectors-services")!.inline, undefined);
});
