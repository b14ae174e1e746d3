import assert from "node:assert/strict";
import fs from "node:fs";
import { join } from "node:path";
import {
  commandFileReady,
  createShinken,
  DISK_CHECK_MS,
  GENERATED_MARK,
  HostRenderer,
  LEFT_GRACE_MS,
  pushLines,
  RESYNC_FIRST_MS,
  RESYNC_MAX_MS,
  serviceResultLine,
} from "../../lib/shinken/mod.ts";
import { pathExists } from "../../lib/fs/mod.ts";
import type { MemberRecord } from "../../lib/types.ts";
import { VirtualClock } from "../../lib/clock/mod.ts";
import { makeTestCtx, type TestCtx, until } from "../helpers.ts";
import { member as baseMember, nagiosMainConfig } from "./fixtures.ts";

function member(i: number, state: MemberRecord["state"] = "alive"): MemberRecord {
  return baseMember(i, {
    state,
    tags: ["linux", i === 2 ? "web server" : "db"],
    services: {
      http: {
        name: "http",
        state_id: 0,
        check: { id: "service:http", state: "ok", state_id: 0, output: "HTTP OK" },
      },
      plain: { name: "plain", state_id: 0 },
    },
    zone: i === 3 ? "eu;west" : "",
  });
}

interface World {
  ctx: TestCtx;
  cfgPath: string;
  reloads: string;
  cmdFile: string;
  members: MemberRecord[];
}

function world(tool: "nagios" | "shinken", clock?: VirtualClock): World {
  const ctx = makeTestCtx({ clock });
  const w: World = {
    ctx,
    cfgPath: join(ctx.dir, "agent"),
    reloads: join(ctx.dir, "reloads"),
    cmdFile: join(ctx.dir, "nagios.cmd"),
    members: [member(1), member(2), member(3)],
  };
  ctx.config.listeners.shinken = {
    enabled: true,
    cfg_path: w.cfgPath,
    external_command_file: w.cmdFile,
    reload_command: `echo reload >> '${w.reloads}'`,
    monitoring_tool: tool,
    host_templates: ["agent", "kunai"],
    reload_delay: 500,
  };
  return w;
}

function shinken(w: World) {
  return createShinken(w.ctx, {
    membership: { self: () => w.members[0], members: () => w.members },
    localChecks: () => [{ id: "linux/cpu", state_id: 2, output: "CPU 99%" }],
  });
}

function reloads(w: World): number {
  try {
    return Deno.readTextFileSync(w.reloads).split("\n").filter(Boolean).length;
  } catch {
    return 0;
  }
}

async function nagiosVerify(dir: string, cfgPath: string): Promise<{ code: number; out: string }> {
  const main = nagiosMainConfig(dir, cfgPath);
  const res = await new Deno.Command("/usr/sbin/nagios4", {
    args: ["-v", main],
    stdout: "piped",
    stderr: "piped",
  })
    .output();
  const dec = new TextDecoder();
  return { code: res.code, out: dec.decode(res.stdout) + dec.decode(res.stderr) };
}

Deno.test("host files for 3 nodes are accepted by a real nagios4 -v with the shipped templates", async () => {
  const w = world("nagios");
  // node-2 is in maintenance: its host and services are exported with notifications off
  w.members[1] = { ...w.members[1], maintenance: { reason: "disk swap; rack 4", since: 1, until: null } };
  try {
    const s = shinken(w);
    await s.start();
    const files = [...Deno.readDirSync(w.cfgPath)].map((e) => e.name).sort();
    assert.deepEqual(files, w.members.map((m) => `${m.uuid}.cfg`).sort());
    const self = Deno.readTextFileSync(join(w.cfgPath, `${w.members[0].uuid}.cfg`));
    assert.ok(self.startsWith(GENERATED_MARK));
    assert.match(self, /host_name\s+00000001-aaaa-bbbb-cccc-000000000001\n/);
    assert.match(self, /display_name\s+node-1\n/);
    assert.match(self, /address\s+10\.0\.0\.1\n/);
    assert.match(self, /use\s+agent,kunai\n/);
    assert.match(self, /service_description\s+agent-cpu\n/);
    assert.match(self, /service_description\s+agent-http\n/);
    assert.doesNotMatch(self, /agent-plain/, "a service without a check exports no passive service");
    assert.doesNotMatch(self, /notifications_enabled/);
    const maint = Deno.readTextFileSync(join(w.cfgPath, `${w.members[1].uuid}.cfg`));
    assert.match(maint, /^# node node-2 \(\S+\) in maintenance: notifications off$/m);
    assert.match(maint, /_KUNAI_MAINTENANCE\s+disk swap +rack 4\n/, "';' would start a comment");
    assert.equal(
      maint.match(/notifications_enabled\s+0\n/g)?.length,
      2,
      "the host and its one passive service",
    );
    const v = await nagiosVerify(w.ctx.dir, w.cfgPath);
    assert.equal(v.code, 0, v.out);
    assert.match(v.out, /Total Errors:\s+0/);
    assert.match(v.out, /Checked 4 services\./);
    assert.match(v.out, /Checked 3 hosts\./);
    await s.stop();
  } finally {
    w.ctx.cleanup();
  }
});

Deno.test("names, tags, addresses and check ids from the network cannot swallow a directive or the closing }", async () => {
  // Nagios joins a line ending in a backslash with the next one: a record's field ending in one
  // swallowed the next directive (`use`, `notifications_enabled`) or the `}`, and a config that no
  // longer loads stops the monitoring of every host. A NUL ends the line in Nagios' C reader.
  const w = world("nagios");
  const hostile: MemberRecord = {
    ...member(4),
    name: "web\\",
    addr: "10.0.0.4 \\",
    tags: ["linux", "db\\\\"],
    zone: "eu\\",
    maintenance: { reason: "disk\\", since: 1, until: null },
    services: {
      http: { check: { id: "service:http\\", state_id: 0, output: "ok" } },
      nul: { check: { id: "service:nul\u0000x", state_id: 0, output: "ok" } },
    },
  };
  w.members = [member(1), hostile];
  try {
    const s = shinken(w);
    await s.start();
    const text = Deno.readTextFileSync(join(w.cfgPath, `${hostile.uuid}.cfg`));
    assert.doesNotMatch(text, /\\\n/, "no line ends in a backslash");
    assert.ok(!text.includes("\0"), "no NUL");
    assert.match(text, /display_name\s+web\n/);
    assert.match(text, /address\s+10\.0\.0\.4\n/);
    assert.match(text, /use\s+agent,kunai\n/);
    assert.match(text, /_KUNAI_TAGS\s+linux,db\n/);
    assert.match(text, /_KUNAI_CHECK\s+service:nul x\n/);
    assert.equal(text.match(/notifications_enabled\s+0\n/g)?.length, 3, "the host and its 2 services");
    const v = await nagiosVerify(w.ctx.dir, w.cfgPath);
    assert.equal(v.code, 0, v.out);
    assert.match(v.out, /Total Errors:\s+0/);
    assert.match(v.out, /Checked 2 hosts\./);
    assert.match(v.out, /Checked 4 services\./);
    await s.stop();
  } finally {
    w.ctx.cleanup();
  }
});

Deno.test("services of any shape from the network are exported or skipped, never thrown on", async () => {
  // services are free-form: a null service, a check that is a string, or fields of other types
  // threw a TypeError, and the export of every host (files and result lines) stopped
  const w = world("nagios");
  const odd = {
    ...member(4),
    services: {
      gone: null,
      text: "up",
      list: [1, 2],
      strcheck: { check: "ok" },
      typed: { check: { id: 5, state_id: "0;1", output: { x: 1 } } },
      http: { check: { id: "service:http", state_id: 2, output: "HTTP down" } },
    },
  } as unknown as MemberRecord;
  w.members = [member(1), odd];
  new Deno.Command("mkfifo", { args: [w.cmdFile] }).outputSync();
  const fd = fs.openSync(w.cmdFile, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  try {
    const s = shinken(w);
    await s.start();
    const text = Deno.readTextFileSync(join(w.cfgPath, `${odd.uuid}.cfg`));
    assert.match(text, /service_description\s+agent-http\n/);
    assert.match(
      text,
      /service_description\s+agent-typed\n/,
      "a check id that is not text: named by its service",
    );
    assert.equal(text.match(/define service/g)?.length, 2);
    const buf = new Uint8Array(65536);
    const lines = new TextDecoder().decode(buf.subarray(0, fs.readSync(fd, buf)));
    assert.match(lines, new RegExp(`PROCESS_SERVICE_CHECK_RESULT;${odd.uuid};agent-http;2;HTTP down\n`));
    assert.match(lines, new RegExp(`PROCESS_SERVICE_CHECK_RESULT;${odd.uuid};agent-typed;3;\n`));
    w.ctx.bus.emit("member.updated", odd);
    assert.deepEqual(w.ctx.sink.recent.ERROR, []);
    await s.stop();
  } finally {
    fs.closeSync(fd);
    w.ctx.cleanup();
  }
});

Deno.test("shinken mode adds tags and zone to the host templates, cleaned into valid names", () => {
  const w = world("shinken");
  try {
    const s = shinken(w);
    const files = s.files();
    assert.match(files[`${w.members[1].uuid}.cfg`], /use\s+agent,kunai,linux,web-server\n/);
    assert.match(files[`${w.members[2].uuid}.cfg`], /use\s+agent,kunai,linux,db,eu-west\n/);
    assert.match(files[`${w.members[2].uuid}.cfg`], /_KUNAI_ZONE\s+eu west\n/, "';' would start a comment");
  } finally {
    w.ctx.cleanup();
  }
});

Deno.test("a node that left keeps its file LEFT_GRACE_MS (a restart), then it goes; foreign files stay; one reload per batch", async () => {
  const clock = new VirtualClock();
  const w = world("nagios", clock);
  try {
    Deno.mkdirSync(w.cfgPath, { recursive: true });
    Deno.writeTextFileSync(join(w.cfgPath, "mine.cfg"), "define host {\n}\n");
    const s = shinken(w);
    await s.start();
    assert.equal(reloads(w), 1, "start wrote 3 files: one reload");
    const leaving = w.members[2];
    const leftFile = join(w.cfgPath, `${leaving.uuid}.cfg`);
    const before = Deno.readTextFileSync(leftFile);
    w.members[2] = { ...leaving, state: "leave" };
    w.members[1] = { ...w.members[1], tags: ["linux", "cache"] };
    w.ctx.bus.emit("member.left", w.members[2]);
    w.ctx.bus.emit("member.updated", w.members[1]);
    w.ctx.bus.emit("member.updated", w.members[1]);
    await clock.advance(600);
    await s.syncNow(); // waits for the batch in progress; finds nothing more to do
    assert.equal(Deno.readTextFileSync(leftFile), before, "left moments ago: its file stays as it was");
    assert.equal(reloads(w), 2, "one reload for the whole batch (node-2's tags)");
    // back within the grace (an agent restarted): nothing to write, no reload
    w.members[2] = { ...leaving, incarnation: leaving.incarnation + 2 };
    w.ctx.bus.emit("member.joined", w.members[2]);
    await clock.advance(600);
    await s.syncNow();
    assert.equal(reloads(w), 2, "back: no change, no reload");
    // it leaves again and stays away: its file goes once the grace is over
    w.members[2] = { ...w.members[2], state: "leave" };
    w.ctx.bus.emit("member.left", w.members[2]);
    await clock.advance(LEFT_GRACE_MS - 1_000);
    await s.syncNow();
    assert.ok(Deno.statSync(leftFile).isFile, "still within the grace");
    await clock.advance(2_000); // the grace's end asks for a sync by itself
    await until("the file of the node gone for good removed", () => !pathExists(leftFile), 5_000);
    assert.ok(Deno.statSync(join(w.cfgPath, `${w.members[1].uuid}.cfg`)).isFile);
    assert.ok(Deno.statSync(join(w.cfgPath, "mine.cfg")).isFile, "files without our mark are never removed");
    assert.equal(reloads(w), 3, "one reload for the removal");
    await s.syncNow();
    assert.equal(reloads(w), 3, "no change, no reload");
    await s.stop();
  } finally {
    w.ctx.cleanup();
  }
});

Deno.test("a restart that has not joined yet keeps the other nodes' files (no removal, no reload); once joined, nothing to do", async () => {
  const clock = new VirtualClock();
  const w = world("nagios", clock);
  try {
    const first = shinken(w);
    await first.start();
    await first.stop();
    assert.equal(reloads(w), 1);
    const files = () => [...Deno.readDirSync(w.cfgPath)].map((e) => e.name).sort();
    const before = files();
    assert.equal(before.length, 3);
    // the agent again: until the start's join returns it knows itself alone
    let joining = true;
    const info: string[] = [];
    w.ctx.sink.tap("INFO", (l) => info.push(l));
    const s = createShinken(w.ctx, {
      membership: {
        self: () => w.members[0],
        members: () => joining ? [w.members[0]] : w.members,
        joining: () => joining,
      },
      localChecks: () => [{ id: "linux/cpu", state_id: 2, output: "CPU 99%" }],
    });
    await s.start();
    await clock.advance(5_000);
    assert.deepEqual(files(), before, "no file removed while joining");
    assert.equal(reloads(w), 1, "no reload while joining");
    assert.equal((s.info!() as { waiting_for_join: boolean }).waiting_for_join, true);
    assert.equal(info.filter((l) => /first export waits for the join/.test(l)).length, 1, "said once");
    joining = false;
    await clock.advance(1_500);
    await s.syncNow();
    assert.deepEqual(files(), before);
    assert.equal(reloads(w), 1, "the same files: no reload");
    assert.equal((s.info!() as { waiting_for_join: boolean }).waiting_for_join, false);
    await s.stop();
  } finally {
    w.ctx.cleanup();
  }
});

Deno.test("a sync renders only members whose record changed and compares with what it wrote; the disk is read again every DISK_CHECK_MS", async () => {
  // the membership replaces a record on every change: an unchanged record has the same file
  let reads = 0;
  const counted = (m: MemberRecord): MemberRecord => {
    const services = m.services;
    return Object.defineProperty({ ...m }, "services", { get: () => (reads++, services), enumerable: true });
  };
  const r = new HostRenderer({ hostTemplates: ["agent"], monitoringTool: "nagios" });
  const recs = [counted(member(1)), counted(member(2))];
  const first = r.render(recs, recs[0].uuid, () => []);
  assert.equal(reads, 2);
  assert.deepEqual(r.render(recs, recs[0].uuid, () => []), first);
  assert.equal(
    reads,
    3,
    "only our own node is rendered again (its local checks change apart from its record)",
  );
  recs[1] = counted({ ...member(2), name: "renamed" });
  assert.match(r.render(recs, recs[0].uuid, () => []).get(`${recs[1].uuid}.cfg`)!, /renamed/);
  assert.equal(reads, 5);

  const clock = new VirtualClock();
  const w = world("nagios", clock);
  try {
    const s = shinken(w);
    await s.start();
    assert.equal(reloads(w), 1);
    const edited = join(w.cfgPath, `${w.members[1].uuid}.cfg`);
    const removed = join(w.cfgPath, `${w.members[2].uuid}.cfg`);
    const good = Deno.readTextFileSync(edited);
    Deno.writeTextFileSync(edited, "edited by hand\n");
    Deno.removeSync(removed);
    w.members[0] = { ...w.members[0], tags: ["linux", "changed"] };
    w.ctx.bus.emit("member.updated", w.members[0]);
    await clock.advance(600);
    await s.syncNow();
    assert.equal(reloads(w), 2, "our own file changed");
    assert.equal(
      Deno.readTextFileSync(edited),
      "edited by hand\n",
      "between disk checks the disk is not read",
    );
    assert.equal(pathExists(removed), false);
    // a node leaving whose file is gone already: nothing to do, no error, no reload
    w.members[2] = { ...w.members[2], state: "leave" };
    w.ctx.bus.emit("member.left", w.members[2]);
    await clock.advance(600);
    await s.syncNow();
    assert.equal(reloads(w), 2);
    assert.equal(w.ctx.sink.recent.ERROR.length, 0, w.ctx.sink.recent.ERROR.join("\n"));
    // a node that left and comes back as it was gets its file again before any disk check
    const back = w.members[0];
    w.members[0] = { ...back, state: "leave" };
    await s.syncNow();
    const own = join(w.cfgPath, `${back.uuid}.cfg`);
    assert.equal(pathExists(own), false);
    w.members[0] = back;
    await s.syncNow();
    assert.ok(pathExists(own));
    assert.equal(reloads(w), 4);
    w.members[2] = { ...w.members[2], state: "alive" };
    await clock.advance(DISK_CHECK_MS);
    await s.syncNow();
    assert.equal(Deno.readTextFileSync(edited), good, "the disk check puts the edited file back");
    assert.ok(pathExists(removed), "and the removed one");
    assert.equal(reloads(w), 5, "in one reload");
    await s.stop();
  } finally {
    w.ctx.cleanup();
  }
});

Deno.test("a reload owed by a batch cut short, or by an agent that died before it, runs at the next sync", async () => {
  const w = world("nagios");
  const owed = join(w.ctx.config.params.data, "shinken-reload-owed");
  const blocked = join(w.cfgPath, `${w.members[2].uuid}.cfg`);
  try {
    // node-3's file cannot be written (a directory in its place): the batch stops after two files
    Deno.mkdirSync(blocked, { recursive: true });
    const s = shinken(w);
    await s.start();
    assert.ok(Deno.statSync(join(w.cfgPath, `${w.members[1].uuid}.cfg`)).isFile);
    assert.equal(reloads(w), 1, "the files that did change are reloaded");
    assert.equal(pathExists(owed), false);
    await s.syncNow();
    assert.equal(reloads(w), 1, "nothing else changed: no reload");
    await s.stop();
    // an agent killed between its writes and its reload leaves the note: the next run reloads,
    // although it finds every file as it should be
    Deno.removeSync(blocked, { recursive: true });
    const again = shinken(w);
    await again.start();
    assert.equal(reloads(w), 2, "node-3's file written: one reload");
    await again.stop();
    Deno.writeTextFileSync(owed, "2026-12-05T23:00:00.000Z\n");
    const next = shinken(w);
    await next.start();
    assert.equal(reloads(w), 3, "the owed reload");
    assert.equal(pathExists(owed), false);
    assert.ok(w.ctx.sink.recent.WARNING.some((l) => /were not reloaded yet: reloading now/.test(l)));
    await next.syncNow();
    assert.equal(reloads(w), 3, "once");
    await next.stop();
  } finally {
    w.ctx.cleanup();
  }
});

Deno.test("check results reach a FIFO in external-command syntax; with no reader nothing blocks", async () => {
  const w = world("nagios");
  try {
    const mk = await new Deno.Command("mkfifo", { args: [w.cmdFile] }).output();
    assert.equal(mk.code, 0);
    // No reader yet: start() pushes every known result and must come back, dropping them.
    const s = shinken(w);
    await s.start();
    const dropped = s.info().dropped as number;
    assert.ok(dropped >= 4, `dropped ${dropped}`);
    const fd = fs.openSync(w.cmdFile, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
    try {
      w.ctx.bus.emit("check.changed", {
        id: "linux/cpu",
        name: "linux/cpu",
        state: "warning",
        state_id: 1,
        old_state: "critical",
        old_state_id: 2,
        output: "CPU 85%\nsecond line",
        last_check: 1,
        handlers: [],
      });
      const down = { ...w.members[1], state: "dead" as const };
      w.members[1] = down;
      w.ctx.bus.emit("member.dead", down);
      const buf = new Uint8Array(65536);
      let n = fs.readSync(fd, buf);
      const lines = new TextDecoder().decode(buf.subarray(0, n)).split("\n").filter(Boolean);
      const self = w.members[0].uuid, other = w.members[1].uuid;
      assert.match(
        lines[0],
        new RegExp(`^\\[\\d+\\] PROCESS_SERVICE_CHECK_RESULT;${self};agent-cpu;1;CPU 85%\\\\nsecond line$`),
      );
      assert.ok(
        lines.some((l) =>
          new RegExp(`^\\[\\d+\\] PROCESS_HOST_CHECK_RESULT;${other};1;kunai: node node-2 is dead$`).test(l)
        ),
        lines.join("\n"),
      );
      // A remote node's service turning CRITICAL is pushed once; the same state again is not.
      const third = w.members[2];
      const failing = {
        ...third,
        services: {
          http: {
            name: "http",
            state_id: 2,
            check: { id: "service:http", state: "critical", state_id: 2, output: "down" },
          },
        },
      };
      w.ctx.bus.emit("member.updated", failing);
      w.ctx.bus.emit("member.updated", failing);
      n = fs.readSync(fd, buf);
      const more = new TextDecoder().decode(buf.subarray(0, n)).split("\n").filter(Boolean);
      assert.equal(more.length, 1, more.join("\n"));
      assert.match(more[0], new RegExp(`PROCESS_SERVICE_CHECK_RESULT;${third.uuid};agent-http;2;down$`));
    } finally {
      fs.closeSync(fd);
      await s.stop();
    }
  } finally {
    w.ctx.cleanup();
  }
});

Deno.test("lines dropped while Nagios does not read its pipe are told again once it does", async () => {
  // Nagios 4 writes status.dat before its command file worker opens the pipe, and a reload reopens
  // it: a result pushed meanwhile was dropped and only went again at that check's next change
  const clock = new VirtualClock();
  const w = world("nagios", clock);
  const read = (fd: number) => {
    const buf = new Uint8Array(65536);
    try {
      return new TextDecoder().decode(buf.subarray(0, fs.readSync(fd, buf))).split("\n").filter(Boolean);
    } catch { // EAGAIN: nothing written
      return [];
    }
  };
  try {
    assert.equal((await new Deno.Command("mkfifo", { args: [w.cmdFile] }).output()).code, 0);
    const s = shinken(w);
    await s.start(); // no reader: every result dropped
    assert.ok((s.info().dropped as number) >= 4);
    let fd = fs.openSync(w.cmdFile, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
    await clock.advance(RESYNC_FIRST_MS);
    let lines = read(fd);
    assert.ok(lines.some((l) => l.includes(`;${w.members[0].uuid};agent-cpu;2;CPU 99%`)), lines.join("\n"));
    assert.equal(s.info().resyncs, 1);
    await clock.advance(RESYNC_MAX_MS);
    assert.deepEqual(read(fd), [], "what was written is not told again");
    assert.equal(s.info().resyncs, 1);
    // Nagios reloads: a node dies and a service fails while nobody reads
    fs.closeSync(fd);
    const dead = { ...w.members[1], state: "dead" as const };
    w.members[1] = dead;
    w.ctx.bus.emit("member.dead", dead);
    const failing = {
      ...w.members[2],
      incarnation: 2,
      services: {
        http: { name: "http", state_id: 2, check: { id: "service:http", state_id: 2, output: "down" } },
      },
    } as unknown as MemberRecord;
    w.members[2] = failing;
    w.ctx.bus.emit("member.updated", failing);
    await clock.advance(RESYNC_FIRST_MS); // still no reader: dropped again, the next try later
    assert.equal(s.info().resyncs, 2);
    fd = fs.openSync(w.cmdFile, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
    await clock.advance(2 * RESYNC_FIRST_MS);
    lines = read(fd);
    assert.ok(lines.some((l) => l.includes(`PROCESS_HOST_CHECK_RESULT;${dead.uuid};1;`)), lines.join("\n"));
    assert.ok(lines.some((l) => l.includes(`;${failing.uuid};agent-http;2;down`)), lines.join("\n"));
    assert.equal(lines.length, 2, lines.join("\n"));
    w.ctx.bus.emit("member.dead", dead); // Nagios knows now: not said again
    assert.deepEqual(read(fd), []);
    fs.closeSync(fd);
    await s.stop();
  } finally {
    w.ctx.cleanup();
  }
});

Deno.test("a service gone from a node, or a node reaped, is forgotten: its state is pushed again when it returns", async () => {
  const w = world("nagios");
  try {
    const mk = await new Deno.Command("mkfifo", { args: [w.cmdFile] }).output();
    assert.equal(mk.code, 0);
    const s = shinken(w);
    await s.start(); // (no reader yet: the first results are dropped)
    const fd = fs.openSync(w.cmdFile, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
    const buf = new Uint8Array(65536);
    const read = () => {
      try {
        return new TextDecoder().decode(buf.subarray(0, fs.readSync(fd, buf))).split("\n").filter(Boolean);
      } catch {
        return []; // nothing written (EAGAIN)
      }
    };
    try {
      const third = w.members[2];
      const svc = (name: string) => ({
        name,
        state_id: 2,
        check: { id: `service:${name}`, state: "critical", state_id: 2, output: "down" },
      });
      const withHttp = { ...third, services: { http: svc("http") } };
      const withWeb = { ...third, services: { web: svc("web") } };
      w.ctx.bus.emit("member.updated", withHttp);
      assert.deepEqual(read().map((l) => l.split(";")[2]), ["agent-http"]);
      w.ctx.bus.emit("member.updated", withWeb); // http renamed web
      assert.deepEqual(read().map((l) => l.split(";")[2]), ["agent-web"]);
      w.ctx.bus.emit("member.updated", withHttp); // and back
      assert.deepEqual(read().map((l) => l.split(";")[2]), ["agent-http"], "pushed again: it was forgotten");
      w.ctx.bus.emit("member.updated", withHttp);
      assert.deepEqual(read(), [], "the same state twice is pushed once");
      w.ctx.bus.emit("member.reaped", { ...withHttp, state: "dead" });
      read();
      w.ctx.bus.emit("member.updated", withHttp); // the same uuid joins again
      assert.deepEqual(read().map((l) => l.split(";")[2]), ["agent-http"], "a reaped node is forgotten");
    } finally {
      fs.closeSync(fd);
      await s.stop();
    }
  } finally {
    w.ctx.cleanup();
  }
});

Deno.test("pushLines never blocks on a full pipe: the rest is dropped and counted", async () => {
  await commandFileReady();
  const w = world("nagios");
  try {
    const fifo = join(w.ctx.dir, "full.cmd");
    Deno.mkdirSync(w.ctx.dir, { recursive: true });
    new Deno.Command("mkfifo", { args: [fifo] }).outputSync();
    const fd = fs.openSync(fifo, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
    try {
      const line = serviceResultLine(1, "h", "s", 0, "x".repeat(3900));
      const r = pushLines(fifo, Array.from({ length: 40 }, () => line));
      assert.ok(r.written > 0 && r.dropped > 0, JSON.stringify(r));
      assert.equal(r.written + r.dropped, 40);
      assert.equal(r.reason, "EAGAIN");
    } finally {
      fs.closeSync(fd);
    }
  } finally {
    w.ctx.cleanup();
  }
});

Deno.test("without a shinken object the exporter is off but the export route still answers", async () => {
  const ctx = makeTestCtx();
  try {
    const s = createShinken(ctx, { membership: { self: () => member(1), members: () => [member(1)] } });
    await s.start();
    assert.deepEqual(s.info(), { enabled: false });
    const res = await (s.routes!() as import("../../lib/routing/mod.ts").RouteTable).request(
      "/agent/shinken/export",
    );
    const body = await res.json();
    assert.equal(body.enabled, false);
    assert.deepEqual(Object.keys(body.files), [`${member(1).uuid}.cfg`]);
    await s.stop();
  } finally {
    ctx.cleanup();
  }
});

Deno.test("a node whose uuid is not a safe host name gets no file (none outside cfg_path) and no line", async () => {
  const w = world("nagios");
  // cfg_path is <dir>/agent: "../../x" would land beside the test's own temp dir
  const escaped = `kunai-escaped-${crypto.randomUUID().slice(0, 8)}`;
  try {
    for (const uuid of [`../../${escaped}`, "x\n[1] SHUTDOWN_PROGRAM", "a;b"]) {
      w.members.push({ ...member(4), uuid });
    }
    new Deno.Command("mkfifo", { args: [w.cmdFile] }).outputSync();
    const fd = fs.openSync(w.cmdFile, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
    try {
      const s = shinken(w);
      await s.start();
      for (const m of w.members.slice(3)) w.ctx.bus.emit("member.dead", { ...m, state: "dead" });
      const buf = new Uint8Array(65536);
      const text = new TextDecoder().decode(buf.subarray(0, fs.readSync(fd, buf)));
      assert.match(text, /PROCESS_SERVICE_CHECK_RESULT/);
      assert.doesNotMatch(text, /escaped|SHUTDOWN|a;b/);
      assert.deepEqual(
        [...Deno.readDirSync(w.cfgPath)].map((e) => e.name).sort(),
        w.members.slice(0, 3).map((m) => `${m.uuid}.cfg`).sort(),
      );
      assert.throws(() => Deno.statSync(join(w.ctx.dir, "..", `${escaped}.cfg`)), Deno.errors.NotFound);
      assert.equal(w.ctx.sink.recent.WARNING.filter((l) => l.includes("not exported")).length, 3);
      await s.stop();
    } finally {
      fs.closeSync(fd);
    }
  } finally {
    try {
      Deno.removeSync(join(w.ctx.dir, "..", `${escaped}.cfg`)); // only if it leaked
    } catch {
      // not written: as it should be
    }
    w.ctx.cleanup();
  }
});

Deno.test("a reload that adds or removes a plain check re-exports this node's services", async () => {
  const clock = new VirtualClock();
  const w = world("nagios", clock);
  let checks = [{ id: "linux/cpu", state_id: 0, output: "CPU 1%" }];
  const s = createShinken(w.ctx, {
    membership: { self: () => w.members[0], members: () => w.members },
    localChecks: () => checks,
  });
  const self = join(w.cfgPath, `${w.members[0].uuid}.cfg`);
  try {
    await s.start();
    assert.match(Deno.readTextFileSync(self), /service_description\s+agent-cpu\n/);
    checks = [{ id: "linux/disk", state_id: 0, output: "DISK OK" }];
    w.ctx.bus.emit("config.reloaded", { files: [] });
    await clock.advance(600);
    await until(
      "the host file follows the checks",
      () => {
        const text = Deno.readTextFileSync(self);
        return /agent-disk/.test(text) && !/agent-cpu/.test(text);
      },
      5_000,
      20,
    );
    // the reload command runs after the file is written: waited for, not read at once
    await until("Nagios is reloaded", () => reloads(w) === 2, 5_000, 20);
    await s.stop();
    assert.equal(reloads(w), 2, "and only once");
  } finally {
    w.ctx.cleanup();
  }
});
