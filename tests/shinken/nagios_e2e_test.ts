/**
 * The Shinken/Nagios export against a running Nagios 4 (Debian's /usr/sbin/nagios4): the exporter
 * writes the host files and talks to Nagios' own command pipe; what Nagios did is read from its
 * status.dat. Node maintenance becomes a host downtime (and goes away when it ends early, leaving an
 * admin's own downtime alone), a silenced CRITICAL check an acknowledgement, and a reason carrying a
 * newline and a command injects nothing.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { createShinken, pushLines } from "../../lib/shinken/mod.ts";
import { RealClock } from "../../lib/clock/mod.ts";
import { makeTestCtx } from "../helpers.ts";
import type { MemberRecord } from "../../lib/types.ts";
import { member, nagiosMainConfig, type NagiosProc, startNagios } from "./fixtures.ts";

const INJECT = "disk swap; rack 4\n[1] SHUTDOWN_PROGRAM";
const DEADLINE_MS = 20_000;
/** What the notification test adds: Debian's default, stripped from output macros ($SERVICEOUTPUT$...) only. */
const NOTIFY_EXTRA = [
  "status_update_interval=1",
  "retain_state_information=0",
  "illegal_macro_output_chars=`~$&|'\"<>",
];

type Block = { type: string; f: Record<string, string> };

/** status.dat as blocks (`hoststatus {`, `key=value` lines, `}`). */
function statusBlocks(path: string): Block[] {
  let text: string;
  try {
    text = Deno.readTextFileSync(path);
  } catch {
    return [];
  }
  const out: Block[] = [];
  let cur: Block | null = null;
  for (const line of text.split("\n")) {
    const open = /^(\w+) \{$/.exec(line);
    if (open) cur = { type: open[1], f: {} };
    else if (line.trim() === "}" && cur) {
      out.push(cur);
      cur = null;
    } else if (cur) {
      const i = line.indexOf("=");
      if (i > 0) cur.f[line.slice(0, i).trim()] = line.slice(i + 1);
    }
  }
  return out;
}

/** Polls status.dat until `pred` holds (a deadline, no fixed sleep); returns the blocks that satisfied it. */
async function until(
  statusFile: string,
  what: string,
  pred: (b: Block[]) => boolean,
  alive: () => boolean,
): Promise<Block[]> {
  const end = Date.now() + DEADLINE_MS;
  for (;;) {
    const b = statusBlocks(statusFile);
    if (pred(b)) return b;
    if (!alive()) throw new Error(`nagios4 exited while waiting for: ${what}`);
    if (Date.now() > end) throw new Error(`no ${what} in ${statusFile} after ${DEADLINE_MS} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const ours = (b: Block[], host: string) =>
  b.filter((x) => x.type === "hostdowntime" && x.f.host_name === host && x.f.author === "kunai");
const statusFile = (nagiosDir: string) => join(nagiosDir, "status.dat");
const svc = (b: Block[], host: string, service: string) =>
  b.find((x) => x.type === "servicestatus" && x.f.host_name === host && x.f.service_description === service);

Deno.test("a running nagios4 gets host downtimes for maintenance and acknowledgements for silences", async () => {
  const ctx = makeTestCtx({ clock: new RealClock() });
  const nagiosDir = join(ctx.dir, "nagios");
  Deno.mkdirSync(nagiosDir, { recursive: true });
  const cfgPath = join(ctx.dir, "agent");
  const cmdFile = join(nagiosDir, "nagios.cmd");
  const statusFile = join(nagiosDir, "status.dat");
  ctx.config.listeners.shinken = {
    enabled: true,
    cfg_path: cfgPath,
    external_command_file: cmdFile,
    reload_command: "",
    monitoring_tool: "nagios",
    host_templates: ["agent", "kunai"],
    reload_delay: 100,
  };
  const members = [member(1), member(2), member(3)];
  const cpu = {
    id: "linux/cpu",
    state_id: 0,
    output: "CPU 10%",
    silenced: null as { reason: string; until: number | null } | null,
  };
  const exporter = () =>
    createShinken(ctx, {
      membership: { self: () => members[0], members: () => members },
      localChecks: () => [{ ...cpu }],
    });
  // the files first (Nagios reads them at its start); its pipe does not exist yet: lines are dropped
  let s = exporter();
  await s.start();
  let nagios: NagiosProc | null = null;
  try {
    nagios = startNagios(
      nagiosMainConfig(nagiosDir, cfgPath, ["status_update_interval=1", "retain_state_information=0"]),
    );
    const alive = nagios.alive;
    const [self, maint, other] = members.map((m) => m.uuid);
    await until(
      statusFile,
      "the 3 exported hosts",
      (b) => b.filter((x) => x.type === "hoststatus").length === 3,
      alive,
    );

    // --- a node enters maintenance (its reason carries a newline and a command)
    const since = Date.now();
    members[1] = {
      ...members[1],
      incarnation: 2,
      maintenance: { reason: INJECT, since, until: since + 3_600_000 },
    };
    ctx.bus.emit("member.updated", members[1]);
    // an admin's own downtime on the same host, through the same pipe
    const now = Math.floor(Date.now() / 1000);
    pushLines(cmdFile, [
      `[${now}] SCHEDULE_HOST_DOWNTIME;${maint};${now};${now + 7200};1;0;7200;admin;planned by hand\n`,
    ]);
    // both downtimes: ours, and the admin's (its line may come in a later status.dat than ours)
    const depth = (b: Block[]) =>
      b.find((x) => x.type === "hoststatus" && x.f.host_name === maint)?.f.scheduled_downtime_depth;
    let b = await until(
      statusFile,
      "our host downtime and the admin's",
      (b) => ours(b, maint).length === 1 && depth(b) === "2",
      alive,
    );
    const dt = ours(b, maint)[0];
    assert.equal(dt.f.comment, "kunai maintenance: disk swap rack 4 [1] SHUTDOWN_PROGRAM");
    assert.equal(dt.f.fixed, "1");
    assert.equal(Number(dt.f.start_time), Math.floor(since / 1000));
    assert.equal(Number(dt.f.end_time), Math.floor(since / 1000) + 3600);

    // --- a silenced check turns CRITICAL: its result, then the acknowledgement
    cpu.state_id = 2;
    cpu.output = "CPU 99%";
    cpu.silenced = { reason: "known; ticket 42", until: null };
    ctx.bus.emit("check.changed", {
      id: "linux/cpu",
      name: "linux/cpu",
      state: "critical",
      state_id: 2,
      old_state: "ok",
      old_state_id: 0,
      output: "CPU 99%",
      last_check: now,
      handlers: [],
    });
    b = await until(
      statusFile,
      "the acknowledgement",
      (b) => svc(b, self, "agent-cpu")?.f.problem_has_been_acknowledged === "1",
      alive,
    );
    assert.equal(svc(b, self, "agent-cpu")!.f.current_state, "2");
    assert.equal(svc(b, self, "agent-cpu")!.f.acknowledgement_type, "2", "sticky");
    const ack = b.find((x) =>
      x.type === "servicecomment" && x.f.host_name === self && x.f.entry_type === "4"
    );
    assert.equal(ack?.f.comment_data, "kunai silence (until OK): known ticket 42");
    assert.equal(ack?.f.author, "kunai");

    // --- the agent restarts: nothing is scheduled or acknowledged twice
    await s.stop();
    s = exporter();
    await s.start();
    // Nagios reads its pipe in order: once this marker is in, every earlier line was processed
    pushLines(cmdFile, [
      `[${now}] SCHEDULE_HOST_DOWNTIME;${other};${now};${now + 60};1;0;60;marker;after the restart\n`,
    ]);
    b = await until(
      statusFile,
      "the marker",
      (b) => b.some((x) => x.type === "hostdowntime" && x.f.author === "marker"),
      alive,
    );
    assert.equal(ours(b, maint).length, 1, "one downtime after the restart");
    assert.equal(
      b.filter((x) => x.type === "servicecomment" && x.f.host_name === self && x.f.entry_type === "4").length,
      1,
      "one acknowledgement comment after the restart",
    );

    // --- maintenance disabled early: our downtime goes, the admin's stays
    const { maintenance: _, ...back } = members[1];
    members[1] = { ...back, incarnation: 3 };
    ctx.bus.emit("member.updated", members[1]);
    b = await until(statusFile, "our downtime deleted", (b) => ours(b, maint).length === 0, alive);
    assert.equal(
      b.filter((x) => x.type === "hostdowntime" && x.f.author === "admin").length,
      1,
      "admin's kept",
    );

    // --- un-silenced: the acknowledgement goes
    cpu.silenced = null;
    ctx.bus.emit("check.silenced", { id: "linux/cpu", silenced: null });
    b = await until(
      statusFile,
      "the acknowledgement removed",
      (b) => svc(b, self, "agent-cpu")?.f.problem_has_been_acknowledged === "0",
      alive,
    );
    assert.equal(b.filter((x) => x.type === "servicecomment" && x.f.entry_type === "4").length, 0);

    // the reason's "[1] SHUTDOWN_PROGRAM" never reached Nagios as a command
    assert.ok(alive(), "nagios4 still running");
    const log = Deno.readTextFileSync(join(nagiosDir, "nagios.log"));
    assert.doesNotMatch(log, /EXTERNAL COMMAND: SHUTDOWN_PROGRAM/);
    assert.match(log, /EXTERNAL COMMAND: DEL_DOWNTIME_BY_HOST_NAME;/);
  } finally {
    await s.stop();
    await nagios?.stop();
    ctx.cleanup();
  }
});

Deno.test("a node's name, tags and check ids reach Nagios macros without shell syntax: notifying runs nothing", async () => {
  // Debian's notify-service-by-email puts $HOSTALIAS$ (the node's name) in a double-quoted /bin/sh line,
  // and Nagios strips its illegal_macro_output_chars from output macros only: a forged record's name
  // `$(touch ...)` ran on the Nagios server at the first notification about that node
  const ctx = makeTestCtx({ clock: new RealClock() });
  const nagiosDir = join(ctx.dir, "nagios");
  Deno.mkdirSync(nagiosDir, { recursive: true });
  const cfgPath = join(ctx.dir, "agent");
  const cmdFile = join(nagiosDir, "nagios.cmd");
  const notified = join(nagiosDir, "notified.txt");
  const pwned = (what: string) => join(nagiosDir, `pwned-${what}`);
  const run = (what: string) => `$(touch ${pwned(what)})\`touch ${pwned(`${what}-bt`)}\``;
  ctx.config.listeners.shinken = {
    enabled: true,
    cfg_path: cfgPath,
    external_command_file: cmdFile,
    reload_command: "",
    monitoring_tool: "nagios",
    host_templates: ["agent", "kunai", "notified"],
    reload_delay: 100,
  };
  const forged: MemberRecord = {
    ...member(2),
    name: `web "${run("name")}" 'x' <b> & | ~ \\`,
    tags: [`db${run("tag")}`],
    zone: `eu${run("zone")}`,
    services: { http: { check: { id: `service:http${run("check")}`, state_id: 0, output: "ok" } } },
  };
  const members = [member(1), forged];
  const s = createShinken(ctx, { membership: { self: () => members[0], members: () => members } });
  await s.start();
  let nagios: NagiosProc | null = null;
  try {
    const macros = "$HOSTALIAS$#$HOSTDISPLAYNAME$#$_HOSTKUNAI_TAGS$#$_HOSTKUNAI_ZONE$#$_SERVICEKUNAI_CHECK$";
    nagios = startNagios(
      nagiosMainConfig(nagiosDir, cfgPath, NOTIFY_EXTRA, {
        file: notified,
        command: `/usr/bin/printf "%b" "${macros}\\n"`,
      }),
    );
    const alive = nagios.alive;
    await until(
      statusFile(nagiosDir),
      "the exported hosts",
      (b) => b.filter((x) => x.type === "hoststatus").length === 2,
      alive,
    );
    // the node's service turns CRITICAL: Nagios notifies the contact
    members[1] = {
      ...forged,
      incarnation: 2,
      services: { http: { check: { ...(forged.services.http as { check: object }).check, state_id: 2 } } },
    };
    ctx.bus.emit("member.updated", members[1]);
    const end = Date.now() + DEADLINE_MS;
    let text = "";
    while (!text.includes("\n")) {
      if (!alive()) throw new Error("nagios4 exited");
      if (Date.now() > end) throw new Error(`no notification in ${notified}`);
      await new Promise((r) => setTimeout(r, 100));
      try {
        text = Deno.readTextFileSync(notified);
      } catch { /* not yet */ }
    }
    const made = [...Deno.readDirSync(nagiosDir)].map((e) => e.name).filter((n) => n.startsWith("pwned"));
    assert.deepEqual(made, [], `the notification command ran: ${text}`);
    const [alias, display, tags, zone, check] = text.trim().split("#");
    assert.equal(alias, display);
    assert.match(alias, /^web +\(touch \S+pwned-name\) +touch \S+pwned-name-bt +x +b$/);
    assert.doesNotMatch(text, /[`$"'<>&|~\\]/);
    assert.match(tags, /^db +\(touch/);
    assert.match(zone, /^eu +\(touch/);
    assert.match(check, /^service:http +\(touch/);
  } finally {
    await s.stop();
    await nagios?.stop();
    ctx.cleanup();
  }
});
