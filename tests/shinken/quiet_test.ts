/**
 * Node maintenance as Nagios host downtimes and check silences as acknowledgements: the lines
 * (syntax, sanitizing), the plans, and the exporter writing each transition once into a FIFO, also
 * across a restart. The same against a running nagios4: nagios_e2e_test.ts.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import { join } from "node:path";
import {
  ackServiceLine,
  cmdField,
  createShinken,
  delHostDowntimeLine,
  hostDowntimeLine,
  LEFT_GRACE_MS,
  OPEN_DOWNTIME_S,
  planAck,
  planDowntime,
  removeAckLine,
} from "../../lib/shinken/mod.ts";
import { loadNotes } from "../../lib/shinken/quiet.ts";
import type { Maintenance, MemberRecord } from "../../lib/types.ts";
import { VirtualClock } from "../../lib/clock/mod.ts";
import { makeTestCtx, type TestCtx } from "../helpers.ts";
import { member as baseMember } from "./fixtures.ts";

const INJECT = "disk swap; rack 4\n[123] SHUTDOWN_PROGRAM\r\n[124] DISABLE_NOTIFICATIONS";

Deno.test("downtime and acknowledgement lines have Nagios 4's external command syntax", () => {
  assert.equal(
    hostDowntimeLine(100, "h1", 90, 3690, "kunai maintenance: kernel"),
    "[100] SCHEDULE_HOST_DOWNTIME;h1;90;3690;1;0;3600;kunai;kunai maintenance: kernel\n",
  );
  assert.equal(
    delHostDowntimeLine(200, "h1", 90, "kunai maintenance: kernel"),
    "[200] DEL_DOWNTIME_BY_HOST_NAME;h1;;90;kunai maintenance: kernel\n",
  );
  assert.equal(
    ackServiceLine(300, "h1", "agent-cpu", "kunai silence (until OK)"),
    "[300] ACKNOWLEDGE_SVC_PROBLEM;h1;agent-cpu;2;0;0;kunai;kunai silence (until OK)\n",
  );
  assert.equal(removeAckLine(400, "h1", "agent-cpu"), "[400] REMOVE_SVC_ACKNOWLEDGEMENT;h1;agent-cpu\n");
});

Deno.test("a reason from the network cannot end the line or add a field: no command is injected", () => {
  assert.equal(cmdField(INJECT), "disk swap rack 4 [123] SHUTDOWN_PROGRAM [124] DISABLE_NOTIFICATIONS");
  assert.equal(cmdField("a\u0000b\u0085c\u2028d\u2029e\u007ff\tg"), "a b c d e f g");
  assert.equal(new TextEncoder().encode(cmdField("é".repeat(600), 1000)).length, 1000, "cut on a character");
  const m: Maintenance = { reason: INJECT, since: 1_000_000, until: 9_000_000 };
  const p = planDowntime("h1", m, undefined, 500)!;
  const later = planDowntime("h1", null, p.next!, 600)!;
  const lines = [...p.lines, ...later.lines, ackServiceLine(1, "h1", "s", INJECT)];
  for (const line of lines) {
    assert.equal(line.indexOf("\n"), line.length - 1, JSON.stringify(line));
    assert.doesNotMatch(line, /\r/);
  }
  // every field where Nagios expects it: the comment is one field, without `;`
  assert.deepEqual(p.lines[0].trimEnd().split(";"), [
    "[500] SCHEDULE_HOST_DOWNTIME",
    "h1",
    "1000",
    "9000",
    "1",
    "0",
    "8000",
    "kunai",
    "kunai maintenance: disk swap rack 4 [123] SHUTDOWN_PROGRAM [124] DISABLE_NOTIFICATIONS",
  ]);
  assert.equal(later.lines[0].trimEnd().split(";").length, 5);
  assert.equal(
    later.lines[0].trimEnd().split(";")[4],
    p.next!.comment,
    "the delete matches the comment sent",
  );
});

Deno.test("planDowntime: schedules once, replaces a changed one, deletes one that ends early", () => {
  const m: Maintenance = { reason: "kernel", since: 1_000_000, until: 5_000_000 };
  const p = planDowntime("h1", m, undefined, 2000)!;
  assert.deepEqual(p.lines, [
    "[2000] SCHEDULE_HOST_DOWNTIME;h1;1000;5000;1;0;4000;kunai;kunai maintenance: kernel\n",
  ]);
  assert.equal(planDowntime("h1", m, p.next!, 2100), null, "the same maintenance again: nothing");
  assert.equal(planDowntime("h1", null, undefined, 2100), null, "no maintenance, nothing of ours: nothing");
  // enabled again with a later end: ours is replaced (delete first)
  const longer = { ...m, until: 8_000_000 };
  const r = planDowntime("h1", longer, p.next!, 2200)!;
  assert.deepEqual(r.lines, [
    "[2200] DEL_DOWNTIME_BY_HOST_NAME;h1;;1000;kunai maintenance: kernel\n",
    "[2200] SCHEDULE_HOST_DOWNTIME;h1;1000;8000;1;0;7000;kunai;kunai maintenance: kernel\n",
  ]);
  // disabled before its end: deleted
  assert.deepEqual(planDowntime("h1", null, r.next!, 3000), {
    lines: ["[3000] DEL_DOWNTIME_BY_HOST_NAME;h1;;1000;kunai maintenance: kernel\n"],
    next: null,
  });
  // ended at its end: Nagios ended the downtime there itself; only forgotten
  assert.deepEqual(planDowntime("h1", null, r.next!, 8000), { lines: [], next: null });
  // still gossiped after its end (its node is down): nothing Nagios would accept
  assert.equal(planDowntime("h1", m, undefined, 6000), null);
});

Deno.test("planDowntime: a maintenance without an end gets 366 days, then a new downtime from now", () => {
  const m: Maintenance = { reason: "", since: 1_000_000, until: null };
  const p = planDowntime("h1", m, undefined, 2000)!;
  assert.deepEqual(p.next, {
    sig: "1000000|null|",
    start: 1000,
    end: 1000 + OPEN_DOWNTIME_S,
    comment: "kunai maintenance",
  });
  const late = 1000 + OPEN_DOWNTIME_S + 5;
  const again = planDowntime("h1", m, p.next!, late)!;
  assert.deepEqual(again.lines, [
    `[${late}] SCHEDULE_HOST_DOWNTIME;h1;${late};${
      late + OPEN_DOWNTIME_S
    };1;0;${OPEN_DOWNTIME_S};kunai;kunai maintenance\n`,
  ]);
});

Deno.test("planAck: an ack only on a problem Nagios knows of; removed on unsilence; an OK removes it in Nagios", () => {
  const s = { reason: "known; ticket 42", until: null };
  assert.equal(planAck("h1", "agent-cpu", s, undefined, undefined, 10), null, "no state sent yet: wait");
  assert.equal(planAck("h1", "agent-cpu", s, 0, undefined, 10), null, "Nagios ignores an ack for OK");
  const p = planAck("h1", "agent-cpu", s, 2, undefined, 10)!;
  assert.deepEqual(p.lines, [
    "[10] ACKNOWLEDGE_SVC_PROBLEM;h1;agent-cpu;2;0;0;kunai;kunai silence (until OK): known ticket 42\n",
  ]);
  assert.equal(
    planAck("h1", "agent-cpu", s, 1, p.next!, 11),
    null,
    "WARNING after CRITICAL: the sticky ack holds",
  );
  assert.deepEqual(planAck("h1", "agent-cpu", null, 2, p.next!, 12), {
    lines: ["[12] REMOVE_SVC_ACKNOWLEDGEMENT;h1;agent-cpu\n"],
    next: null,
  });
  assert.deepEqual(planAck("h1", "agent-cpu", s, 0, p.next!, 13), { lines: [], next: null }, "OK: forgotten");
  const timed = { reason: "", until: Date.UTC(2030, 0, 2, 3, 4, 5) };
  const r = planAck("h1", "agent-cpu", timed, 2, p.next!, 14)!;
  assert.deepEqual(r.lines, [
    "[14] REMOVE_SVC_ACKNOWLEDGEMENT;h1;agent-cpu\n",
    "[14] ACKNOWLEDGE_SVC_PROBLEM;h1;agent-cpu;2;0;0;kunai;kunai silence (until 2030-01-02T03:04:05Z)\n",
  ]);
});

// ---------- the exporter writing into a FIFO ----------

function member(i: number, maintenance?: Maintenance): MemberRecord {
  return baseMember(i, {
    services: {
      http: {
        name: "http",
        state_id: 0,
        check: { id: "service:http", state: "ok", state_id: 0, output: "HTTP OK" },
      },
    },
    ...(maintenance ? { maintenance } : {}),
  });
}

interface Local {
  id: string;
  state_id: number;
  output: string;
  silenced: { reason: string; until: number | null } | null;
}

interface World {
  ctx: TestCtx;
  clock: VirtualClock;
  cmdFile: string;
  members: MemberRecord[];
  cpu: Local;
  fd: number;
}

function world(opts: { commandFile?: boolean } = {}): World {
  const clock = new VirtualClock();
  const ctx = makeTestCtx({ clock });
  const cmdFile = join(ctx.dir, "nagios.cmd");
  ctx.config.listeners.shinken = {
    enabled: true,
    cfg_path: join(ctx.dir, "agent"),
    external_command_file: opts.commandFile === false ? "" : cmdFile,
    reload_command: "",
    monitoring_tool: "nagios",
    host_templates: ["agent", "kunai"],
    reload_delay: 500,
  };
  assert.equal(new Deno.Command("mkfifo", { args: [cmdFile] }).outputSync().code, 0);
  const fd = fs.openSync(cmdFile, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  return {
    ctx,
    clock,
    cmdFile,
    members: [member(1), member(2), member(3)],
    cpu: { id: "linux/cpu", state_id: 2, output: "CPU 99%", silenced: null },
    fd,
  };
}

function exporter(w: World) {
  return createShinken(w.ctx, {
    membership: { self: () => w.members[0], members: () => w.members },
    // a silence whose end passed is gone, as the checks subsystem reports it
    localChecks: () => [{
      ...w.cpu,
      silenced: w.cpu.silenced && (w.cpu.silenced.until ?? Infinity) > w.clock.now() ? w.cpu.silenced : null,
    }],
  });
}

/** The command lines written since the last read (without their `[epoch] `). */
function read(w: World): string[] {
  const buf = new Uint8Array(1 << 16);
  let text = "";
  for (;;) {
    let n = 0;
    try {
      n = fs.readSync(w.fd, buf);
    } catch (err) {
      if ((err as { code?: string }).code === "EAGAIN") break;
      throw err;
    }
    if (n === 0) break;
    text += new TextDecoder().decode(buf.subarray(0, n));
  }
  return text.split("\n").filter(Boolean).map((l) => l.replace(/^\[\d+\] /, ""));
}

const quiet = (lines: string[]) => lines.filter((l) => !/^PROCESS_(SERVICE|HOST)_CHECK_RESULT/.test(l));

function done(w: World): void {
  fs.closeSync(w.fd);
  w.ctx.cleanup();
}

Deno.test("exporter: a maintenance is scheduled once, deleted once; other updates write no downtime", async () => {
  const w = world();
  try {
    const s = exporter(w);
    await s.start();
    assert.deepEqual(quiet(read(w)), [], "nobody in maintenance, nothing silenced");
    const t0 = w.clock.now();
    const host = w.members[1].uuid;
    w.members[1] = member(2, { reason: INJECT, since: t0, until: t0 + 3_600_000 });
    w.ctx.bus.emit("member.updated", w.members[1]);
    const start = Math.floor(t0 / 1000);
    assert.deepEqual(quiet(read(w)), [
      `SCHEDULE_HOST_DOWNTIME;${host};${start};${start + 3600};1;0;3600;kunai;` +
      "kunai maintenance: disk swap rack 4 [123] SHUTDOWN_PROGRAM [124] DISABLE_NOTIFICATIONS",
    ]);
    w.ctx.bus.emit("member.updated", w.members[1]);
    w.members[1] = { ...w.members[1], tags: ["linux", "web"], incarnation: 2 };
    w.ctx.bus.emit("member.updated", w.members[1]);
    assert.deepEqual(quiet(read(w)), [], "the same maintenance: written once");
    assert.equal(s.info().downtimes, 1);
    w.members[1] = member(2);
    w.ctx.bus.emit("member.updated", w.members[1]);
    assert.deepEqual(quiet(read(w)), [
      `DEL_DOWNTIME_BY_HOST_NAME;${host};;${start};` +
      "kunai maintenance: disk swap rack 4 [123] SHUTDOWN_PROGRAM [124] DISABLE_NOTIFICATIONS",
    ]);
    w.ctx.bus.emit("member.updated", w.members[1]);
    assert.deepEqual(quiet(read(w)), []);
    assert.equal(s.info().downtimes, 0);
    await s.stop();
  } finally {
    done(w);
  }
});

Deno.test("exporter: a member event reads no whole membership; a node reaped in maintenance loses its downtime", async () => {
  const w = world();
  try {
    let reads = 0;
    const s = createShinken(w.ctx, {
      membership: { self: () => w.members[0], members: () => (reads++, w.members) },
      localChecks: () => [{ ...w.cpu }],
    });
    await s.start();
    read(w);
    reads = 0;
    const t0 = w.clock.now();
    const host = w.members[1].uuid;
    // (the host files are written after reload_delay, on the virtual clock, not advanced here)
    w.members[1] = member(2, { reason: "kernel", since: t0, until: null });
    w.ctx.bus.emit("member.updated", w.members[1]);
    assert.equal(quiet(read(w)).length, 1, "scheduled");
    w.members[1] = { ...w.members[1], state: "dead", incarnation: 2 };
    w.ctx.bus.emit("member.dead", w.members[1]);
    assert.deepEqual(quiet(read(w)), [], "a dead node keeps its downtime");
    // reaped: gone from the membership, then told
    const [reaped] = w.members.splice(1, 1);
    w.ctx.bus.emit("member.reaped", reaped);
    assert.deepEqual(quiet(read(w)), [
      `DEL_DOWNTIME_BY_HOST_NAME;${host};;${Math.floor(t0 / 1000)};kunai maintenance: kernel`,
    ]);
    assert.equal(s.info().downtimes, 0);
    assert.equal(reads, 0, "members() read by a member event");
    await s.stop();
  } finally {
    done(w);
  }
});

Deno.test("exporter: a restart schedules nothing twice and deletes what ended while it was down", async () => {
  const w = world();
  try {
    const t0 = w.clock.now();
    w.members[1] = member(2, { reason: "kernel", since: t0, until: null });
    w.members[2] = member(3, { reason: "disk", since: t0, until: t0 + 7_200_000 });
    const a = exporter(w);
    await a.start();
    assert.equal(quiet(read(w)).filter((l) => l.startsWith("SCHEDULE_HOST_DOWNTIME")).length, 2);
    await a.stop();
    // same maintenance at the next start: results again, no downtime again
    const b = exporter(w);
    await b.start();
    const again = read(w);
    assert.ok(again.some((l) => l.startsWith("PROCESS_SERVICE_CHECK_RESULT")), again.join("\n"));
    assert.deepEqual(quiet(again), []);
    await b.stop();
    // node-3's maintenance was disabled while we were down; node-2's went on
    w.members[2] = member(3);
    await w.clock.advance(60_000);
    const c = exporter(w);
    await c.start();
    assert.deepEqual(quiet(read(w)), [
      `DEL_DOWNTIME_BY_HOST_NAME;${w.members[2].uuid};;${Math.floor(t0 / 1000)};kunai maintenance: disk`,
    ]);
    await c.stop();
  } finally {
    done(w);
  }
});

Deno.test("exporter: a node that left loses its downtime after LEFT_GRACE_MS; a dropped line is written at the next event", async () => {
  const w = world();
  try {
    const s = exporter(w);
    await s.start();
    read(w);
    const t0 = w.clock.now();
    const host = w.members[2].uuid;
    // no reader: the command is dropped and not remembered
    fs.closeSync(w.fd);
    w.members[2] = member(3, { reason: "", since: t0, until: null });
    w.ctx.bus.emit("member.updated", w.members[2]);
    assert.equal(s.info().downtimes, 0);
    assert.ok((s.info().dropped as number) >= 1);
    w.fd = fs.openSync(w.cmdFile, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
    w.ctx.bus.emit("member.updated", w.members[2]);
    assert.deepEqual(quiet(read(w)), [
      `SCHEDULE_HOST_DOWNTIME;${host};${Math.floor(t0 / 1000)};${
        Math.floor(t0 / 1000) + OPEN_DOWNTIME_S
      };1;0;${OPEN_DOWNTIME_S};kunai;kunai maintenance`,
    ]);
    w.members[2] = { ...w.members[2], state: "leave" };
    w.ctx.bus.emit("member.left", w.members[2]);
    assert.deepEqual(quiet(read(w)), [], "left moments ago (a restart): the downtime stays");
    await w.clock.advance(LEFT_GRACE_MS + 1_000);
    assert.deepEqual(quiet(read(w)), [
      `DEL_DOWNTIME_BY_HOST_NAME;${host};;${Math.floor(t0 / 1000)};kunai maintenance`,
    ], "gone for good");
    await s.stop();
  } finally {
    done(w);
  }
});

Deno.test("exporter: a silenced check is acknowledged after its problem result, and un-acknowledged", async () => {
  const w = world();
  try {
    const self = w.members[0].uuid;
    w.cpu.silenced = { reason: "known; ticket 42", until: null };
    const s = exporter(w);
    await s.start();
    const first = read(w).filter((l) => l.includes(";agent-cpu"));
    assert.deepEqual(first, [
      `PROCESS_SERVICE_CHECK_RESULT;${self};agent-cpu;2;CPU 99%`,
      `ACKNOWLEDGE_SVC_PROBLEM;${self};agent-cpu;2;0;0;kunai;kunai silence (until OK): known ticket 42`,
    ], "the result first: Nagios ignores an ack for an OK service");
    // un-silenced over the API
    w.cpu.silenced = null;
    w.ctx.bus.emit("check.silenced", { id: "linux/cpu", silenced: null });
    assert.deepEqual(read(w), [`REMOVE_SVC_ACKNOWLEDGEMENT;${self};agent-cpu`]);
    w.ctx.bus.emit("check.silenced", { id: "linux/cpu", silenced: null });
    assert.deepEqual(read(w), []);
    // silenced for 10 min while CRITICAL: acknowledged at once
    const until = w.clock.now() + 600_000;
    w.cpu.silenced = { reason: "", until };
    w.ctx.bus.emit("check.silenced", {
      id: "linux/cpu",
      silenced: { reason: "", since: w.clock.now(), until },
    });
    assert.deepEqual(read(w), [
      `ACKNOWLEDGE_SVC_PROBLEM;${self};agent-cpu;2;0;0;kunai;kunai silence (until ${
        new Date(until).toISOString().slice(0, 19)
      }Z)`,
    ]);
    // recovers: the OK result removes the ack in Nagios; nothing else is written
    const change = (state_id: number, output: string) => {
      w.cpu.state_id = state_id;
      w.cpu.output = output;
      w.ctx.bus.emit("check.changed", {
        id: "linux/cpu",
        name: "linux/cpu",
        state: state_id === 0 ? "ok" : "critical",
        state_id,
        old_state: "critical",
        old_state_id: 2,
        output,
        last_check: 1,
        handlers: [],
      });
    };
    change(0, "CPU 10%");
    assert.deepEqual(read(w), [`PROCESS_SERVICE_CHECK_RESULT;${self};agent-cpu;0;CPU 10%`]);
    assert.equal(s.info().acknowledgements, 0);
    // a problem again within the silence: result, then a new ack
    change(2, "CPU 98%");
    const again = read(w);
    assert.equal(again.length, 2, again.join("\n"));
    assert.match(again[0], /^PROCESS_SERVICE_CHECK_RESULT;\S+;agent-cpu;2;CPU 98%$/);
    assert.match(again[1], /^ACKNOWLEDGE_SVC_PROBLEM;\S+;agent-cpu;2;0;0;kunai;/);
    // the silence ends: the timer removes the ack
    await w.clock.advance(600_001);
    assert.deepEqual(read(w), [`REMOVE_SVC_ACKNOWLEDGEMENT;${self};agent-cpu`]);
    assert.equal(s.info().acknowledgements, 0);
    await s.stop();
  } finally {
    done(w);
  }
});

Deno.test("exporter: an acknowledgement is not set twice across a restart", async () => {
  const w = world();
  try {
    w.cpu.silenced = { reason: "known", until: null };
    const a = exporter(w);
    await a.start();
    assert.equal(read(w).filter((l) => l.startsWith("ACKNOWLEDGE_SVC_PROBLEM")).length, 1);
    await a.stop();
    const b = exporter(w);
    await b.start();
    assert.deepEqual(quiet(read(w)), []);
    await b.stop();
  } finally {
    done(w);
  }
});

Deno.test("exporter: without external_command_file nothing is planned or remembered", async () => {
  const w = world({ commandFile: false });
  try {
    w.members[1] = member(2, { reason: "x", since: w.clock.now(), until: null });
    w.cpu.silenced = { reason: "y", until: null };
    const s = exporter(w);
    await s.start();
    w.ctx.bus.emit("member.updated", w.members[1]);
    assert.deepEqual(read(w), []);
    assert.equal(s.info().downtimes, 0);
    assert.throws(() => Deno.statSync(join(w.ctx.store.dir, "shinken-notes.json")), Deno.errors.NotFound);
    await s.stop();
  } finally {
    done(w);
  }
});

Deno.test("exporter: a node whose uuid is not a safe host name is neither written nor commanded", async () => {
  const w = world();
  // cfg_path is <dir>/agent: "../../x" would land beside the test's own temp dir
  const escaped = `kunai-escaped-${crypto.randomUUID().slice(0, 8)}`;
  try {
    const evil = [`../../${escaped}`, "x\n[1] SHUTDOWN_PROGRAM", "a;b"];
    for (const uuid of evil) {
      w.members.push({ ...member(4, { reason: "r", since: w.clock.now(), until: null }), uuid });
    }
    const s = exporter(w);
    await s.start();
    for (const m of w.members.slice(3)) w.ctx.bus.emit("member.updated", m);
    const lines = read(w);
    assert.ok(lines.length > 0);
    for (const l of lines) assert.doesNotMatch(l, /escaped|SHUTDOWN|a;b/, l);
    assert.deepEqual(Object.keys(s.files()).sort(), w.members.slice(0, 3).map((m) => `${m.uuid}.cfg`).sort());
    assert.throws(() => Deno.statSync(join(w.ctx.dir, "..", `${escaped}.cfg`)), Deno.errors.NotFound);
    assert.equal(w.ctx.sink.recent.WARNING.filter((l) => l.includes("not exported")).length, 3);
    await s.stop();
  } finally {
    try {
      Deno.removeSync(join(w.ctx.dir, "..", `${escaped}.cfg`)); // only if it leaked
    } catch {
      // not written: as it should be
    }
    done(w);
  }
});

Deno.test("damaged or unreadable notes of what Nagios was told are said, and a damaged file kept aside", () => {
  const dir = Deno.makeTempDirSync({ prefix: "kunai-notes-" });
  try {
    const file = join(dir, "shinken-notes.json");
    const said: string[] = [];
    const warn = (m: string) => said.push(m);
    assert.deepEqual(loadNotes(dir, warn), { downtimes: {}, acks: {} }, "none yet");
    assert.equal(said.length, 0, said.join("\n"));
    Deno.writeTextFileSync(file, '{"acks": {"web/http": {"comment": "x", "until": nu');
    assert.deepEqual(loadNotes(dir, warn), { downtimes: {}, acks: {} });
    assert.match(
      said.join("\n"),
      /shinken-notes\.json is damaged \(kept as .*\.damaged\).*removed there by hand/,
    );
    assert.ok(Deno.statSync(`${file}.damaged`).isFile);
    Deno.mkdirSync(file); // a directory stands for any read error
    loadNotes(dir, warn);
    assert.match(said.at(-1)!, /cannot read .*shinken-notes\.json/);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
