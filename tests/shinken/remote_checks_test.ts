/**
 * The export's other nodes' own checks: a gossip record carries a node's services only, so the
 * exporter asks each other live node for all of its checks every `poll_interval` (what
 * `kunai state NODE` asks), writes them as passive services of its host and pushes their state
 * changes into the external command file; a node that does not answer keeps what it said last.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import { join } from "node:path";
import { type CheckBrief, createShinken, FRESH_MS, RemoteCheckCache } from "../../lib/shinken/mod.ts";
import { checkBriefs } from "../../lib/shinken/lazy.ts";
import type { MemberRecord } from "../../lib/types.ts";
import { VirtualClock } from "../../lib/clock/mod.ts";
import { makeTestCtx, until } from "../helpers.ts";
import { pathExists } from "../../lib/fs/mod.ts";
import { member } from "./fixtures.ts";

Deno.test("the cache asks other live nodes, hands on list and state changes only, keeps a silent node's last answer", async () => {
  const clock = new VirtualClock(1_800_000_000_000);
  using ctx = makeTestCtx({ clock });
  const members: MemberRecord[] = [member(1), member(2), member(3, { state: "dead" }), member(4)];
  const answers = new Map<string, CheckBrief[] | null>([
    [member(2).uuid, [{ id: "linux/cpu", state_id: 0, output: "cpu 10%" }]],
    [member(4).uuid, null], // an older agent: no such route
  ]);
  const asked: string[] = [];
  const changes: Array<[string, boolean]> = [];
  const cache = new RemoteCheckCache(
    ctx,
    (m) => {
      asked.push(m.name);
      return Promise.resolve(answers.get(m.uuid) ?? null);
    },
    { self: () => members[0], members: () => members },
    (m, listChanged) => changes.push([m.name, listChanged]),
    10_000,
  );
  try {
    cache.start();
    await clock.advance(0);
    await until("first poll", () => asked.length === 2);
    assert.deepEqual(asked.sort(), ["node-2", "node-4"], "not ourselves, not the dead node");
    await until("first change", () => changes.length === 1);
    assert.deepEqual(changes, [["node-2", true]]);
    assert.deepEqual(cache.get(member(2).uuid), [{ id: "linux/cpu", state_id: 0, output: "cpu 10%" }]);
    assert.equal(cache.get(member(4).uuid), undefined);

    // an output alone is kept, not handed on; a state is; a new check is a list change
    answers.set(member(2).uuid, [{ id: "linux/cpu", state_id: 0, output: "cpu 12%" }]);
    await clock.advance(10_000);
    await until("second poll", () => asked.length === 4);
    assert.equal(changes.length, 1);
    assert.equal(cache.get(member(2).uuid)![0].output, "cpu 12%");
    answers.set(member(2).uuid, [{ id: "linux/cpu", state_id: 2, output: "cpu 99%" }]);
    await clock.advance(10_000);
    await until("a state change", () => changes.length === 2);
    assert.deepEqual(changes[1], ["node-2", false]);
    answers.set(member(2).uuid, [
      { id: "linux/cpu", state_id: 2, output: "cpu 99%" },
      { id: "linux/disks", state_id: 0, output: "ok" },
    ]);
    await clock.advance(10_000);
    await until("a list change", () => changes.length === 3);
    assert.deepEqual(changes[2], ["node-2", true]);

    // silent now: the last answer stays; gone from the membership: forgotten
    answers.set(member(2).uuid, null);
    await clock.advance(10_000);
    await until("a silent poll", () => asked.length === 10);
    assert.equal(cache.get(member(2).uuid)!.length, 2);
    members.splice(1, 1);
    await clock.advance(10_000);
    await until("a poll without node-2", () => cache.stats.polls === 6);
    assert.equal(cache.get(member(2).uuid), undefined);
  } finally {
    await cache.stop();
  }
});

Deno.test("a node's answer becomes briefs; anything else from the network is skipped, never thrown on", () => {
  assert.deepEqual(
    checkBriefs({
      "linux/cpu": { state_id: 1, output: "w" },
      "odd": { state_id: 7, output: 3 },
      "junk": "x",
      "list": [1],
    }),
    [{ id: "linux/cpu", state_id: 1, output: "w" }, { id: "odd", state_id: 3, output: "" }],
  );
  for (const bad of [null, "x", [1], 3]) assert.equal(checkBriefs(bad), null);
});

Deno.test({
  name: "another node's own checks are exported on its host and their changes reach the FIFO",
  sanitizeResources: false,
  async fn() {
    const clock = new VirtualClock(1_800_000_000_000);
    using ctx = makeTestCtx({ clock });
    const cfgPath = join(ctx.dir, "agent"), cmdFile = join(ctx.dir, "nagios.cmd");
    ctx.config.listeners.shinken = {
      enabled: true,
      cfg_path: cfgPath,
      external_command_file: cmdFile,
      reload_command: "",
      monitoring_tool: "nagios",
      host_templates: ["agent", "kunai"],
      reload_delay: 0,
      poll_interval: 30_000,
    };
    assert.equal((await new Deno.Command("mkfifo", { args: [cmdFile] }).output()).code, 0);
    const fd = fs.openSync(cmdFile, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
    const members = [member(1), member(2), member(3)];
    let cpu: CheckBrief = { id: "linux/cpu", state_id: 0, output: "CPU OK" };
    const s = createShinken(ctx, {
      membership: { self: () => members[0], members: () => members },
      localChecks: () => [],
      remoteChecks: (m) => Promise.resolve(m.uuid === members[1].uuid ? [cpu] : null),
    });
    const read = () => {
      const buf = new Uint8Array(65536);
      try {
        const n = fs.readSync(fd, buf);
        return new TextDecoder().decode(buf.subarray(0, n)).split("\n").filter(Boolean);
      } catch {
        return []; // EAGAIN: nothing written
      }
    };
    const file = (i: number) => {
      try {
        return Deno.readTextFileSync(join(cfgPath, `${members[i].uuid}.cfg`));
      } catch {
        return "";
      }
    };
    try {
      await s.start();
      await clock.advance(0);
      await until("node-2's own check in its file", () => /_KUNAI_CHECK\s+linux\/cpu/.test(file(1)), 5000);
      assert.match(file(1), /service_description\s+agent-cpu/);
      assert.doesNotMatch(file(2), /linux\/cpu/, "node-3 did not answer: what gossip says only");
      let lines: string[] = [];
      await until("its result pushed", () => {
        lines.push(...read());
        return lines.some((l) => l.includes(`;${members[1].uuid};agent-cpu;0;CPU OK`));
      }, 5000);
      // it turns critical: pushed at the next poll, once
      cpu = { id: "linux/cpu", state_id: 2, output: "CPU 99%" };
      lines = [];
      await clock.advance(30_000);
      await until("the change pushed", () => {
        lines.push(...read());
        return lines.some((l) => l.includes(`;${members[1].uuid};agent-cpu;2;CPU 99%`));
      }, 5000);
      await clock.advance(30_000);
      await new Promise((r) => setTimeout(r, 50));
      assert.equal(
        read().filter((l) => l.includes("agent-cpu")).length,
        0,
        "the same state is not pushed again",
      );
      assert.equal((s.info() as { remote_polls: number }).remote_polls, 3);
    } finally {
      fs.closeSync(fd);
      await s.stop();
    }
  },
});

Deno.test("the export route without a shinken object asks the other nodes before it answers, once for a burst of requests", async () => {
  const clock = new VirtualClock(1_800_000_000_000);
  using ctx = makeTestCtx({ clock });
  const members = [member(1), member(2)];
  let asked = 0;
  const s = createShinken(ctx, {
    membership: { self: () => members[0], members: () => members },
    remoteChecks: () => {
      asked++;
      return Promise.resolve([{ id: "linux/load", state_id: 1, output: "load 3" }]);
    },
  });
  await s.start();
  const routes = s.routes!() as import("../../lib/routing/mod.ts").RouteTable;
  const res = await routes.request("/agent/shinken/export");
  const body = await res.json();
  assert.equal(body.enabled, false);
  assert.match(body.files[`${members[1].uuid}.cfg`], /_KUNAI_CHECK\s+linux\/load/);
  assert.doesNotMatch(body.files[`${members[0].uuid}.cfg`], /linux\/load/, "ourselves are not asked");
  // a read route, open over TCP: 50 requests are one poll of the cluster, not 50
  await Promise.all(
    Array.from({ length: 50 }, async () => (await routes.request("/agent/shinken/export")).body?.cancel()),
  );
  assert.equal(asked, 1);
  await clock.advance(FRESH_MS);
  await (await routes.request("/agent/shinken/export")).body?.cancel();
  assert.equal(asked, 2, "asked again once it is FRESH_MS old");
  // no exporter runs: the route renders and writes nothing (its cfg_path is "": the cwd)
  await clock.advance(5_000);
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(pathExists(join(Deno.cwd(), `${members[1].uuid}.cfg`)), false);
  await s.stop();
});

Deno.test("after a restart, another node's file keeps its own checks until that node answers; a silent one keeps its file", async () => {
  const clock = new VirtualClock(1_800_000_000_000);
  using ctx = makeTestCtx({ clock });
  const cfgPath = join(ctx.dir, "agent"), reloads = join(ctx.dir, "reloads");
  ctx.config.listeners.shinken = {
    enabled: true,
    cfg_path: cfgPath,
    external_command_file: "",
    reload_command: `echo reload >> '${reloads}'`,
    monitoring_tool: "nagios",
    host_templates: ["agent", "kunai"],
    reload_delay: 0,
    poll_interval: 30_000,
  };
  const members = [member(1), member(2), member(3)];
  const cpu: CheckBrief = { id: "linux/cpu", state_id: 0, output: "CPU OK" };
  const file = (i: number) => Deno.readTextFileSync(join(cfgPath, `${members[i].uuid}.cfg`));
  const reloadCount = () =>
    pathExists(reloads) ? Deno.readTextFileSync(reloads).trim().split("\n").length : 0;
  // the first run: both others answer, their checks are in their files
  const first = createShinken(ctx, {
    membership: { self: () => members[0], members: () => members },
    localChecks: () => [],
    remoteChecks: () => Promise.resolve([cpu]),
  });
  await first.start();
  await clock.advance(0);
  await until(
    "both files with their checks",
    () => /linux\/cpu/.test(file(1)) && /linux\/cpu/.test(file(2)),
    5000,
  );
  await first.stop();
  const [before1, before2, reloadsBefore] = [file(1), file(2), reloadCount()];

  // the restart: joining at first; then node-2 answers late with one more check, node-3 never
  let joining = true;
  const asked: string[] = [];
  let answer2: (v: CheckBrief[]) => void = () => {};
  const s = createShinken(ctx, {
    membership: {
      self: () => members[0],
      members: () => joining ? [members[0]] : members,
      joining: () => joining,
    },
    localChecks: () => [],
    remoteChecks: (m) => {
      asked.push(m.name);
      if (m.uuid === members[2].uuid) return Promise.reject(new Error("no answer"));
      return new Promise((resolve) => answer2 = resolve);
    },
  });
  try {
    await s.start();
    await clock.advance(3_000);
    assert.deepEqual(asked, [], "no poll before the join");
    joining = false;
    await clock.advance(1_000);
    await until("the first poll after the join", () => asked.length === 2);
    await clock.advance(1_000);
    await s.syncNow();
    assert.equal(file(1), before1, "node-2 not answered yet: its file as it was");
    assert.equal(file(2), before2, "node-3 silent: its file as it was");
    assert.equal(reloadCount(), reloadsBefore, "nothing changed: no reload");
    answer2([cpu, { id: "linux/disks", state_id: 0, output: "ok" }]);
    await until("node-2's new check in its file", async () => {
      await clock.advance(0);
      return /linux\/disks/.test(file(1));
    }, 5000);
    assert.match(file(1), /linux\/cpu/);
    assert.equal(file(2), before2);
  } finally {
    await s.stop();
  }
});
