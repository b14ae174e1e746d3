/**
 * Service collectors against real servers started here on loopback test ports: redis-server and
 * MariaDB (`.ci/run` installs both), plus a fake mod_status/stub_status HTTP server and a closed
 * MongoDB port.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { CollectorRuntime, defaultGroups } from "../../lib/collectors/mod.ts";
import { Sandbox } from "../../lib/sandbox/mod.ts";
import { RealClock } from "../../lib/clock/mod.ts";
import { silentLogger } from "../../lib/log/mod.ts";
import { freePort, tempDir, until } from "../helpers.ts";

const params = { interval: 10_000, timeout: 30_000, disabled: [], intervals: {} };

/** Resolves once 127.0.0.1:`port` accepts a connection (the last refusal is in the timeout error). */
function waitPort(port: number, ms = 15_000): Promise<true> {
  return until(`port ${port} to open`, async () => {
    (await Deno.connect({ hostname: "127.0.0.1", port })).close();
    return true as const;
  }, ms);
}

async function redisCommands(port: number, n: number): Promise<void> {
  const c = await Deno.connect({ hostname: "127.0.0.1", port });
  const buf = new Uint8Array(4096);
  for (let i = 0; i < n; i++) {
    await c.write(new TextEncoder().encode("*1\r\n$4\r\nPING\r\n"));
    await c.read(buf);
  }
  c.close();
}

function spawn(cmd: string, args: string[]): Deno.ChildProcess {
  return new Deno.Command(cmd, { args, stdout: "null", stderr: "null", stdin: "null" }).spawn();
}

async function stopProc(p: Deno.ChildProcess): Promise<void> {
  try {
    p.kill("SIGTERM");
  } catch { /* already gone */ }
  await p.status;
}

Deno.test("services: redis and MariaDB report real values that move; MongoDB and unset URLs are inactive with reasons", async () => {
  const tmp = tempDir("kunai-svc-");
  const redisPort = freePort();
  const mysqlPort = freePort();
  const mongoPort = freePort();
  const httpPort = freePort();
  const redis = spawn("redis-server", [
    "--port",
    String(redisPort),
    "--bind",
    "127.0.0.1",
    "--save",
    "",
    "--appendonly",
    "no",
    "--dir",
    tmp.dir,
    "--daemonize",
    "no",
  ]);
  const datadir = join(tmp.dir, "mysql");
  // the server's temporary tables in the test's own directory: two runs at once (CI and a local
  // `deno task test`) clashed on /tmp/#sql-temptable-<pid> names
  const tmpdir = `--tmpdir=${tmp.dir}`;
  const install = await new Deno.Command("mariadb-install-db", {
    args: [
      "--no-defaults",
      `--datadir=${datadir}`,
      tmpdir,
      "--user=root",
      "--auth-root-authentication-method=normal",
      "--skip-test-db",
    ],
    stdout: "null",
    stderr: "piped",
  }).output();
  assert.equal(install.code, 0, new TextDecoder().decode(install.stderr));
  const maria = spawn("mariadbd", [
    "--no-defaults",
    `--datadir=${datadir}`,
    tmpdir,
    `--socket=${join(tmp.dir, "mysql.sock")}`,
    `--port=${mysqlPort}`,
    "--bind-address=127.0.0.1",
    "--user=root",
    "--skip-log-bin",
    "--innodb-buffer-pool-size=16M",
    `--pid-file=${join(tmp.dir, "mysql.pid")}`,
  ]);
  let accesses = 100;
  let requests = 10;
  const http = Deno.serve({ hostname: "127.0.0.1", port: httpPort, onListen() {} }, (req) => {
    const u = new URL(req.url);
    if (u.pathname === "/server-status") {
      accesses += 50;
      return new Response(`Total Accesses: ${accesses}\nBusyWorkers: 3\nIdleWorkers: 7\n`);
    }
    requests += 20;
    return new Response(
      `Active connections: 2 \nserver accepts handled requests\n 5 5 ${requests} \nReading: 0 Writing: 1 Waiting: 1 \n`,
    );
  });
  const data = {
    redis_port: redisPort,
    mysql_port: mysqlPort,
    mysql_password: "",
    mongodb_server: `mongodb://127.0.0.1:${mongoPort}`,
    apacheStatusUrl: `http://127.0.0.1:${httpPort}/server-status`,
    nginxStatusUrl: `http://127.0.0.1:${httpPort}/nginx_status`,
  };
  const sandbox = new Sandbox();
  const groups = defaultGroups(data).filter((g) => g.name === "collectors-services");
  assert.deepEqual(groups[0].permissions.net, [
    `127.0.0.1:${redisPort}`,
    `127.0.0.1:${mysqlPort}`,
    `127.0.0.1:${mongoPort}`,
    `127.0.0.1:${httpPort}`,
  ]);
  const rt = new CollectorRuntime({
    sandbox,
    clock: new RealClock(),
    log: silentLogger,
    params,
    data,
    groups,
  });
  try {
    await Promise.all([waitPort(redisPort), waitPort(mysqlPort)]);

    // redis: real INFO, commands processed rises after we send commands
    const r1 = await rt.runOnce("redis");
    assert.equal(r1.active, true, r1.log);
    const i1 = r1.results as Record<string, number | string | boolean>;
    assert.equal(i1.available, true);
    assert.match(String(i1.redis_version), /^\d+\.\d+/);
    assert.equal(typeof i1.connexion_latency_ms, "number");
    await redisCommands(redisPort, 25);
    const i2 = (await rt.runOnce("redis")).results as Record<string, number>;
    assert.ok(i2.total_commands_processed >= (i1.total_commands_processed as number) + 25);
    assert.ok(i2["total_commands_processed/s"] > 0);
    assert.ok(r1.metrics.some(([k]) => k === "available"));

    // mysql: connections and questions rise between runs
    const m1 = await rt.runOnce("mysql");
    assert.equal(m1.active, true, m1.log);
    const s1 = m1.results as Record<string, number | string | null>;
    assert.match(String(s1.version), /MariaDB/);
    assert.ok((s1.threadsConnected as number) >= 1);
    const s2 = (await rt.runOnce("mysql")).results as Record<string, number>;
    assert.ok(s2.connections_total > (s1.connections_total as number));
    assert.ok(s2.questions > (s1.questions as number));
    assert.ok(s2.connections > 0, "connections per second since the last run");
    assert.equal(s2.secondsBehindMaster, null, "not a replica");

    // mongodb: nothing listens
    const mg = await rt.runOnce("mongodb");
    assert.equal(mg.active, false);
    assert.match(mg.log, new RegExp(`no MongoDB server reachable at 127.0.0.1:${mongoPort}`));
    assert.deepEqual(mg.results, { available: false });

    // status pages
    await rt.runOnce("apache");
    const ap = await rt.runOnce("apache");
    assert.equal(ap.active, true, ap.log);
    assert.equal(ap.results!.busyWorkers, 3);
    assert.ok((ap.results!.reqPerSec as number) > 0);
    await rt.runOnce("nginx");
    const ng = await rt.runOnce("nginx");
    assert.equal(ng.results!.connections, 2);
    assert.ok((ng.results!.reqPerSec as number) > 0);
    const rb = await rt.runOnce("rabbitmq");
    assert.equal(rb.active, false);
    assert.match(rb.log, /rabbitMQStatusUrl is not set/);

    // redis goes away: inactive with the reason, available false
    await stopProc(redis);
    const r3 = await rt.runOnce("redis");
    assert.equal(r3.active, false);
    assert.match(r3.log, new RegExp(`no redis server reachable at 127.0.0.1:${redisPort}`));
    assert.equal(r3.results!.available, false);
    assert.equal(rt.workers().length, 1, "one Worker for every service collector");
  } finally {
    rt.stop();
    sandbox.stopAll();
    await http.shutdown();
    await stopProc(redis);
    await stopProc(maria);
    tmp.cleanup();
  }
});

Deno.test("services: the Worker cannot reach a server outside its net grant", async () => {
  const port = freePort();
  const l = Deno.listen({ hostname: "127.0.0.1", port });
  const sandbox = new Sandbox();
  // the grant names redis on another port; the collector is pointed at `port` anyway
  const groups = defaultGroups({ redis_port: port + 1 }).filter((g) => g.name === "collectors-services");
  const rt = new CollectorRuntime({
    sandbox,
    clock: new RealClock(),
    log: silentLogger,
    params,
    data: { redis_port: port },
    groups,
  });
  try {
    const e = await rt.runOnce("redis");
    assert.equal(e.active, false);
    assert.match(e.log, /net|NotCapable|permission/i);
  } finally {
    rt.stop();
    sandbox.stopAll();
    l.close();
  }
});
