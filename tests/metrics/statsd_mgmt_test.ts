/**
 * etsy statsd's management console (`statsd.mgmt_port`) over real TCP against a real statsd
 * listener: every command's answer compared byte for byte with etsy statsd 0.9.0's own console
 * (the npm package run with node on loopback) after the same datagrams, then kunai's own limits:
 * bad and blank commands, pipelined lines, over-long lines, the connection cap, idle close, a taken
 * port, etsy's Nagios check (`utils/check_statsd.pl`) as a client, `health down`, and a deleted
 * gauge that the next flush no longer writes.
 */
import assert from "node:assert/strict";
import { freePort, makeTestCtx, tempDir, until } from "../helpers.ts";
import { createMetrics } from "../../lib/metrics/mod.ts";
import { VirtualClock } from "../../lib/clock/mod.ts";
import { mergeAnswers } from "../../lib/metrics/statsd_mgmt.ts";

const HOST = "127.0.0.14";

/** etsy statsd 0.9.0 as the npm package ships it (the dependency tests already import). */
async function etsyDir(): Promise<string> {
  const out = await new Deno.Command("deno", { args: ["info", "--json"], stdout: "piped" }).output();
  const npmCache = JSON.parse(new TextDecoder().decode(out.stdout)).npmCache as string;
  const dir = `${npmCache}/registry.npmjs.org/statsd/0.9.0`;
  Deno.statSync(`${dir}/stats.js`); // throws when the package is missing: `deno install`
  return dir;
}

/** One command on its own connection; the answer once `done` says it is complete (5 s at most). */
async function ask(port: number, cmd: string, done = complete): Promise<string> {
  const conn = await Deno.connect({ hostname: HOST, port });
  try {
    await conn.write(new TextEncoder().encode(cmd + "\n"));
    return await readUntil(conn, done);
  } finally {
    conn.close();
  }
}

function complete(s: string): boolean {
  return s.endsWith("END\n\n") || s === "ERROR\n" || /^health: \w+\n$/.test(s) || s.startsWith("Commands:") &&
      s.endsWith("\n\n");
}

async function readUntil(conn: Deno.Conn, done: (s: string) => boolean, timeoutMs = 5000): Promise<string> {
  const buf = new Uint8Array(65_536);
  let text = "";
  const timer = setTimeout(() => conn.close(), timeoutMs);
  try {
    while (!done(text)) {
      const n = await conn.read(buf);
      if (n === null) break;
      text += new TextDecoder().decode(buf.subarray(0, n));
    }
  } catch {
    /* closed by the timer: the caller sees what came */
  } finally {
    clearTimeout(timer);
  }
  return text;
}

/** The same datagrams for both: every type, sampling, multi-group lines, deltas, bad lines, long timers. */
function datagrams(): string[] {
  const big = Array.from({ length: 150 }, (_, i) => `rt.big:${(i * 37) % 1000}|ms`);
  return [
    [
      "api.hits:1|c",
      "api.hits:4|c",
      "api.hits:2|c|@0.5",
      "api.errors:3|c|@0.1",
      "frac:3|c|@0.3",
      "frac:1|c|@0.7",
      "5:1|c",
      "12:2|c",
      "a b/c!:7|c",
      "ms.x:1|c:2|c",
      "db.query:12|ms",
      "db.query:15|ms|@0.5",
      "q.len:10|g",
      "q.len:+5|g",
      "q.len:-3|g",
      "q.zero:0|g",
      "q.zero:-2|g",
      "temp:-4|g",
      "temp:0.25|g",
      "users:alice|s",
      "nocolon",
      "x:abc|c",
      "y:1|c|@bad",
    ].join("\n"),
    big.join("\n"),
    [
      "rt.mid:3|ms",
      "rt.mid:14|ms",
      "rt.mid:159|ms",
      "rt.mid:2653|ms",
      "rt.mid:5|ms",
      "rt.mid:89|ms",
      "rt.mid:7|ms",
    ]
      .concat(["rt.wide:0.125|ms", "rt.wide:1234.5|ms", "rt.wide:3|ms", "rt.wide:99999|ms", "rt.wide:42|ms"])
      .concat(["rt.wide:7.75|ms", "rt.wide:1|ms", "rt.wide:65536|ms"]).join("\n"),
  ];
}

async function sendAll(port: number, packets: string[]): Promise<void> {
  const sock = Deno.listenDatagram({ hostname: HOST, port: 0, transport: "udp" });
  try {
    for (const p of packets) {
      await sock.send(new TextEncoder().encode(p), { hostname: HOST, port, transport: "udp" });
      await new Promise((r) => setTimeout(r, 20)); // in order, one at a time
    }
  } finally {
    sock.close();
  }
}

Deno.test("every console command answers as etsy statsd 0.9.0's console does after the same datagrams", async () => {
  const dir = await etsyDir();
  const tmp = tempDir();
  const etsyPort = freePort(HOST), etsyMgmt = freePort(HOST);
  Deno.writeTextFileSync(
    `${tmp.dir}/config.js`,
    `{ port: ${etsyPort}, address: "${HOST}", mgmt_port: ${etsyMgmt}, mgmt_address: "${HOST}",
       flushInterval: 3600000, backends: [], automaticConfigReload: false }`,
  );
  const etsy = new Deno.Command("node", {
    args: [`${dir}/stats.js`, `${tmp.dir}/config.js`],
    stdout: "null",
    stderr: "null",
  }).spawn();
  const port = freePort(HOST), mgmt = freePort(HOST);
  const ctx = makeTestCtx({
    clock: new VirtualClock(1_700_000_000_000),
    files: { "l.json": { statsd: { enabled: true, port, bind: HOST, interval: 3600, mgmt_port: mgmt } } },
  });
  const m = createMetrics(ctx);
  try {
    await m.start();
    await until(
      "etsy's console",
      async () => (await ask(etsyMgmt, "health").catch(() => "")) === "health: up\n",
    );
    const packets = datagrams();
    const lines = packets.reduce((n, p) => n + p.split("\n").length, 0);
    await sendAll(etsyPort, packets);
    await sendAll(port, packets);
    await until("etsy took every line", async () => {
      const c = await ask(etsyMgmt, "counters");
      return c.includes(`'statsd.metrics_received': ${lines}`);
    });
    await until("kunai took every datagram", () => m.service.statsdStats().packets >= packets.length);
    // etsy's own statsd.* counters (kunai counts in `stats` instead, and does not flush them)
    assert.match(await ask(etsyMgmt, "delcounters statsd.*"), /deleted: statsd.metrics_received\n/);

    const commands = [
      "counters",
      "timers",
      "gauges",
      "help",
      "health",
      "health down",
      "health",
      "health UP",
      "health sideways",
      "bogus",
      "sets",
      "COUNTERS",
      "  counters  ",
      "delcounters api.* nope 5",
      "delcounters api.hits",
      "deltimers db.query rt.",
      "delgauges q.* temp",
      "delgauges",
      "delcounters  frac",
      "counters",
      "timers",
      "gauges",
    ];
    for (const cmd of commands) {
      const want = await ask(etsyMgmt, cmd);
      const got = await ask(mgmt, cmd);
      assert.equal(got, want, `answer to ${JSON.stringify(cmd)}`);
    }
    const [etsyStats, ours] = [await ask(etsyMgmt, "stats"), await ask(mgmt, "stats")];
    const head = (s: string) => s.split("\n").slice(0, 3).map((l) => l.replace(/: \d+$/, ""));
    assert.deepEqual(head(ours), head(etsyStats));
    const badLines = (s: string) => /messages\.bad_lines_seen: (\d+)/.exec(s)?.[1];
    assert.equal(badLines(ours), badLines(etsyStats));
    assert.equal(badLines(ours), "3");
    assert.ok(ours.endsWith("END\n\n") && etsyStats.endsWith("END\n\n"));
  } finally {
    etsy.kill("SIGTERM");
    await etsy.status;
    await m.stop();
    ctx.cleanup();
    tmp.cleanup();
  }
});

async function startKunai(extra: Record<string, unknown> = {}) {
  const clock = new VirtualClock(1_700_000_000_000);
  const port = freePort(HOST), mgmt = freePort(HOST);
  const ctx = makeTestCtx({
    clock,
    files: {
      "l.json": { statsd: { enabled: true, port, bind: HOST, interval: 10, mgmt_port: mgmt, ...extra } },
    },
  });
  const m = createMetrics(ctx);
  await m.start();
  return { clock, port, mgmt, ctx, m };
}

function mgmtInfo(m: { info(): Record<string, unknown> }): Record<string, number | string> {
  return (m.info().statsd as { mgmt: Record<string, number | string> }).mgmt;
}

Deno.test("pipelined, blank, \\r\\n and bad lines; over-long lines; quit; stats; health down", async () => {
  const { clock, port, mgmt, ctx, m } = await startKunai({ interval: 60 });
  try {
    const conn = await Deno.connect({ hostname: HOST, port: mgmt });
    const w = (s: string) => conn.write(new TextEncoder().encode(s));
    // several commands in one write, CRLF (telnet, check_statsd.pl) and the blank line `echo -e "health\n"` adds
    await w("health\r\n\nhealth down\nnope\n\thealth\t\n");
    assert.equal(
      await readUntil(conn, (s) => s.split("\n").length > 4),
      "health: up\nhealth: down\nERROR\nhealth: down\n",
    );
    // a line over 64 KiB, in pieces: one ERROR, and the connection still answers
    await w("x".repeat(40_000));
    await w("y".repeat(40_000));
    await w("z".repeat(10) + "\nhealth up\n");
    assert.equal(await readUntil(conn, (s) => s.includes("health")), "ERROR\nhealth: up\n");
    await w("quit\nhealth\n");
    assert.equal(
      await readUntil(conn, () => false),
      "",
      "quit closes the connection; later lines are not read",
    );
    conn.close();

    // stats: before any message last_msg_seen is the uptime (etsy), then the time since the last one
    await clock.advance(7_000);
    let stats = await ask(mgmt, "stats");
    assert.match(stats, /^uptime: 7\nmessages\.last_msg_seen: 7\nmessages\.bad_lines_seen: 0\n/);
    await sendAll(port, ["a:1|c\nb:2|g\nbad line"]);
    await until("the datagram", () => m.service.statsdStats().packets >= 1);
    await clock.advance(1_000); // the console's one-second look at the message count
    await clock.advance(3_000);
    stats = await ask(mgmt, "stats");
    assert.match(stats, /^uptime: 11\nmessages\.last_msg_seen: 3\nmessages\.bad_lines_seen: 1\n/);
    assert.match(stats, /\nkunai\.metrics_received: 2\n/);
    assert.match(stats, /\nkunai\.counters: 1\nkunai\.timers: 0\nkunai\.gauges: 1\nkunai\.sets: 0\nEND\n\n$/);
    const info = mgmtInfo(m);
    assert.equal(info.health, "up");
    assert.equal(info.errors, 2); // `nope` and the long line
    assert.equal((m.info().statsd as { listening: { mgmt: number } }).listening.mgmt, mgmt);
    assert.equal(await ask(mgmt, "health down"), "health: down\n");
    assert.equal(mgmtInfo(m).health, "down");
    assert.equal(await ask(mgmt, "health"), "health: down\n", "health is the agent's, not the connection's");
    // config: etsy's dump of its settings (here the statsd object), a blank line first and no END
    const config = await ask(mgmt, "config", (s) => s.includes("mgmt_port"));
    assert.ok(
      config.startsWith(`\nenabled: true\nport: ${port}\ninterval: 60\nbind: ${HOST}\ntcp: false\n`),
      config,
    );
    assert.match(config, /\npercentiles > 0: 90\npercentiles > 1: 99\n/);
  } finally {
    await m.stop();
    ctx.cleanup();
  }
});

Deno.test("etsy's Nagios check (utils/check_statsd.pl) reads kunai's stats", async () => {
  const dir = await etsyDir();
  const { mgmt, ctx, m } = await startKunai();
  try {
    const run = async (metric: string) => {
      const out = await new Deno.Command("perl", {
        args: [
          `${dir}/utils/check_statsd.pl`,
          "-H",
          HOST,
          "-P",
          String(mgmt),
          "-m",
          metric,
          "-w",
          "10",
          "-c",
          "20",
        ],
        stdout: "piped",
      }).output();
      return { code: out.code, text: new TextDecoder().decode(out.stdout) };
    };
    assert.deepEqual(await run("messages.bad_lines_seen"), {
      code: 0,
      text: "OK: messages.bad_lines_seen = 0",
    });
    assert.deepEqual(await run("kunai.flushes"), { code: 0, text: "OK: kunai.flushes = 0" });
    assert.equal((await run("nope")).code, 2);
  } finally {
    await m.stop();
    ctx.cleanup();
  }
});

Deno.test('etsy\'s check_statsd_health (echo -e "health\\n" | nc) passes, and fails once health is down', async () => {
  const dir = await etsyDir();
  const { mgmt, ctx, m } = await startKunai();
  const bin = tempDir();
  // the script's nc, by socat (the box has no netcat): stdin to the port, the answer to stdout
  Deno.writeTextFileSync(`${bin.dir}/nc`, '#!/bin/sh\nexec socat - "TCP:$1:$2"\n', { mode: 0o755 });
  // the package ships the script with CRLF line ends, which bash does not run: the same lines with LF
  const script = Deno.readTextFileSync(`${dir}/utils/check_statsd_health`).replaceAll("\r\n", "\n");
  Deno.writeTextFileSync(`${bin.dir}/check_statsd_health`, script);
  const check = async () => {
    const out = await new Deno.Command("bash", {
      args: [`${bin.dir}/check_statsd_health`, "-H", HOST, "-P", String(mgmt)],
      env: { PATH: `${bin.dir}:${Deno.env.get("PATH")}` },
      stdout: "piped",
    }).output();
    return { code: out.code, text: new TextDecoder().decode(out.stdout).trim() };
  };
  try {
    assert.deepEqual(await check(), { code: 0, text: `Statsd '${HOST}:${mgmt}' responded: 'health: up'` });
    assert.equal(await ask(mgmt, "health down"), "health: down\n");
    assert.deepEqual(await check(), { code: 2, text: `Statsd '${HOST}:${mgmt}' responded: 'health: down'` });
  } finally {
    await m.stop();
    ctx.cleanup();
    bin.cleanup();
  }
});

Deno.test("a client that never reads its long answers holds up neither the others nor the statsd socket", async () => {
  const { port, mgmt, ctx, m } = await startKunai({ interval: 3600 });
  const svc = m.service;
  try {
    const names = Array.from({ length: 5000 }, (_, i) => `load.counter_${i}:1|c`);
    for (let i = 0; i < names.length; i += 200) await sendAll(port, [names.slice(i, i + 200).join("\n")]);
    await until("5000 counters", () => svc.statsdStats().metrics >= 5000);
    const listing = await ask(mgmt, "counters");
    assert.equal(listing.split("\n").length, 5000 + 5, "{, 5000 names, }, END, blank");
    // ~130 KB an answer, 100 asked, nothing read: the kernel's buffers fill and its writes wait
    const slow = await Deno.connect({ hostname: HOST, port: mgmt });
    await slow.write(new TextEncoder().encode("counters\n".repeat(100)));
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(await ask(mgmt, "health"), "health: up\n");
    await sendAll(port, ["after.slow:1|c"]);
    await until("the datagram after", () => svc.statsdStats().metrics >= 5001);
    assert.match(await ask(mgmt, "stats"), /\nkunai\.counters: 5001\n/);
    slow.close();
  } finally {
    await m.stop();
    ctx.cleanup();
  }
});

Deno.test("at most 64 connections (more are closed at once); idle ones are closed after 60 s", async () => {
  const { clock, mgmt, ctx, m } = await startKunai();
  const conns: Deno.TcpConn[] = [];
  try {
    for (let i = 0; i < 64; i++) conns.push(await Deno.connect({ hostname: HOST, port: mgmt }));
    await until("64 open", () => mgmtInfo(m).connections === 64);
    const extra = await Deno.connect({ hostname: HOST, port: mgmt });
    assert.equal(await readUntil(extra, () => false).catch(() => ""), "", "the 65th is closed");
    extra.close();
    assert.equal(mgmtInfo(m).refused, 1);
    assert.equal(await ask(mgmt, "health").catch(() => ""), "", "still full");
    // the 64 say nothing for a minute: closed, and the console answers again
    await clock.advance(61_000);
    await until("idle ones closed", () => mgmtInfo(m).connections === 0);
    assert.equal(mgmtInfo(m).idle_closed, 64);
    assert.equal(await ask(mgmt, "health"), "health: up\n");
  } finally {
    for (const c of conns) c.close();
    await m.stop();
    ctx.cleanup();
  }
});

Deno.test("delgauges: a deleted gauge is no longer written at the next flush; a new value brings it back", async () => {
  const { clock, port, mgmt, ctx, m } = await startKunai();
  const svc = m.service;
  try {
    await sendAll(port, ["old.g:5|g\nkeep.g:1|g"]);
    await until("two gauges", () => svc.statsdStats().metrics >= 2);
    await clock.advance(10_000);
    await until("first flush", () => svc.store.has("stats.gauges.old.g"));
    assert.equal(await ask(mgmt, "gauges"), "{ 'old.g': 5, 'keep.g': 1 }\nEND\n\n");
    assert.equal(await ask(mgmt, "delgauges old.*"), "deleted: old.g\nEND\n\n");
    assert.equal(await ask(mgmt, "gauges"), "{ 'keep.g': 1 }\nEND\n\n");
    const points = (name: string) => {
      const now = Math.floor(clock.now() / 1000);
      return svc.store.fetch(name, now - 3600, now).values.filter((v) => v !== null).length;
    };
    const before = points("stats.gauges.old.g");
    await clock.advance(10_000);
    await until("second flush", () => points("stats.gauges.keep.g") === 2);
    assert.equal(points("stats.gauges.old.g"), before, "the deleted gauge is not flushed");
    assert.equal(await ask(mgmt, "delcounters nope.*"), "metric nope.* not found\nEND\n\n");
    await sendAll(port, ["old.g:-1|g"]);
    await until("the new value", () => svc.statsdStats().metrics >= 3);
    assert.equal(await ask(mgmt, "gauges"), "{ 'keep.g': 1, 'old.g': -1 }\nEND\n\n");
  } finally {
    await m.stop();
    ctx.cleanup();
  }
});

Deno.test("stats counts the datagrams the Worker has taken when asked, not its last 250 ms report", async () => {
  const { port, mgmt, ctx, m } = await startKunai();
  try {
    for (let round = 1; round <= 3; round++) {
      await sendAll(port, [`n${round}:1|c\nbad line`]);
      // the counters answer shows the datagram taken; stats right after must count it (etsy's are live)
      await until("the datagram", async () => (await ask(mgmt, "counters")).includes(`n${round}`));
      const stats = await ask(mgmt, "stats");
      assert.match(stats, new RegExp(`\\nmessages\\.bad_lines_seen: ${round}\\n`), stats);
      assert.match(stats, new RegExp(`\\nkunai\\.packets_received: ${round}\\n`), stats);
    }
  } finally {
    await m.stop();
    ctx.cleanup();
  }
});

Deno.test("statsd.mgmt_port on a port already taken: the start fails naming the setting", async () => {
  const port = freePort(HOST);
  const ctx = makeTestCtx({
    files: { "l.json": { statsd: { enabled: true, port, bind: HOST, tcp: true, mgmt_port: port } } },
  });
  const m = createMetrics(ctx);
  try {
    await assert.rejects(
      m.start(),
      new RegExp(`^Error: statsd\\.mgmt_port: cannot listen on ${HOST}:${port}: `),
    );
    assert.equal((m.info().statsd as { enabled: boolean }).enabled, false, "nothing left listening");
  } finally {
    await m.stop();
    ctx.cleanup();
  }
});

Deno.test("under ts routing both aggregators answer as one: counters add, the Worker's gauge wins, timers join", () => {
  const sizes = { counters: 1, timers: 1, gauges: 1, sets: 0 };
  const c = mergeAnswers(
    { sizes, dump: { kind: "counters", entries: [["a", 1], ["b", 2]] } },
    { sizes, dump: { kind: "counters", entries: [["c", 5], ["a", 3]] } },
  );
  assert.deepEqual(c.dump, { kind: "counters", entries: [["a", 4], ["b", 2], ["c", 5]] });
  assert.deepEqual(c.sizes, { counters: 2, timers: 2, gauges: 2, sets: 0 });
  const g = mergeAnswers(
    { sizes, dump: { kind: "gauges", entries: [["g", 1]] } },
    { sizes, dump: { kind: "gauges", entries: [["g", 7]] } },
  );
  assert.deepEqual(g.dump, { kind: "gauges", entries: [["g", 7]] });
  const t = mergeAnswers(
    { sizes, dump: { kind: "timers", entries: [["t", Array(80).fill(1), 80]] } },
    { sizes, dump: { kind: "timers", entries: [["t", Array(100).fill(2), 300]] } },
  );
  assert.deepEqual(t.dump, {
    kind: "timers",
    entries: [["t", [...Array(80).fill(1), ...Array(20).fill(2)], 380]],
  });
  const d = mergeAnswers({ sizes, deleted: [["x.a"], []] }, { sizes, deleted: [["x.a", "x.b"], []] });
  assert.deepEqual(d.deleted, [["x.a", "x.b"], []]);
});
