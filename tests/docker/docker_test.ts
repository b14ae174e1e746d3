/**
 * Docker subsystem against a unix-socket HTTP server speaking the Engine API's JSON, with cgroup
 * v1 and v2 fixture trees (a hybrid host: memory v1 mount + unified v2 mount).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  createDocker,
  fromV1,
  fromV2,
  NO_SOCKET_RECHECK_MS,
  parseHttpResponse,
} from "../../lib/docker/mod.ts";
import { containerStats } from "../../lib/docker/stats.ts";
import { RealClock, VirtualClock } from "../../lib/clock/mod.ts";
import { makeTestCtx, tempDir } from "../helpers.ts";
import { buildApp } from "../../lib/http/mod.ts";
import { dockerCommands } from "../../cli/docker.ts";
import { Output } from "../../cli/output.ts";
import type { AgentClient } from "../../lib/client/mod.ts";

const FX = new URL("../fixtures/collectors/cgroups/", import.meta.url).pathname;
const fx = (n: string) => Deno.readTextFileSync(FX + n);
const ID1 = "a".repeat(64);
const ID2 = "b".repeat(64);
const ID3 = "a".repeat(8) + "c".repeat(56); // shares its first 8 characters with ID1

Deno.test("cgroups: v1 memory.stat/cpuacct.stat and v2 memory.stat/cpu.stat map to the same names", () => {
  const v1 = fromV1(fx("v1_memory.stat"), fx("v1_cpuacct.stat"));
  assert.equal(v1.memory.rss, 2048000);
  assert.equal(v1.memory.cache, 4096000);
  assert.equal(v1.memory.pgfault, 3000);
  assert.equal(v1.memory.total_rss, undefined);
  assert.deepEqual(v1.cpu, { user: 2.5, system: 0.5 });
  const v2 = fromV2(fx("v2_memory.stat"), fx("v2_cpu.stat"), "4096\n");
  assert.equal(v2.memory.rss, 3000000);
  assert.equal(v2.memory.cache, 1000000);
  assert.equal(v2.memory.mapped_file, 2048);
  assert.equal(v2.memory.swap, 4096);
  assert.deepEqual(v2.cpu, { user: 3, system: 0.5 });
  const first = containerStats(undefined, v1, 0);
  assert.deepEqual(first["memory.rss"], {
    type: "gauge",
    key: "memory.rss",
    value: 2048000,
    scope: "container",
  });
  assert.equal(first["memory.pgfault"].value, null, "first sample of a rate is null");
  const later = { ...v1, memory: { ...v1.memory, pgfault: 4000 }, cpu: { user: 3.5, system: 0.5 } };
  const s = containerStats(v1, later, 10);
  assert.equal(s["memory.pgfault"].value, 100);
  assert.equal(s["memory.pgfault"].raw_value, 4000);
  assert.equal(s["cpu.user"].value, 0.1);
});

Deno.test("http over unix: chunked and content-length replies parse", () => {
  const enc = (s: string) => new TextEncoder().encode(s);
  assert.deepEqual(parseHttpResponse(enc("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}xx")).body, "{}");
  const chunked = parseHttpResponse(
    enc("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n[1,\r\n2\r\n2]\r\n0\r\n\r\n"),
  );
  assert.equal(chunked.body, "[1,2]");
  assert.throws(() => parseHttpResponse(enc("garbage\r\n\r\n")), /status line/);
});

function writeTree(root: string, pgfault: number, userTicks: number): void {
  const v1 = join(root, "memory", "docker", ID1);
  const cpu = join(root, "cpuacct", "docker", ID1);
  const v2 = join(root, "unified", "system.slice", `docker-${ID2}.scope`);
  for (const d of [v1, cpu, v2]) Deno.mkdirSync(d, { recursive: true });
  Deno.writeTextFileSync(
    join(v1, "memory.stat"),
    fx("v1_memory.stat").replace("pgfault 3000", `pgfault ${pgfault}`),
  );
  Deno.writeTextFileSync(join(cpu, "cpuacct.stat"), `user ${userTicks}\nsystem 50\n`);
  Deno.writeTextFileSync(join(v2, "memory.stat"), fx("v2_memory.stat"));
  Deno.writeTextFileSync(join(v2, "cpu.stat"), fx("v2_cpu.stat"));
  Deno.writeTextFileSync(
    join(root, "mounts"),
    [
      `cgroup ${root}/memory cgroup rw,nosuid,relatime,memory 0 0`,
      `cgroup ${root}/cpuacct cgroup rw,nosuid,relatime,cpu,cpuacct 0 0`,
      `cgroup2 ${root}/unified cgroup2 rw,nosuid,relatime 0 0`,
      "",
    ].join("\n"),
  );
}

/** `opts` may be changed while it serves: `/events` answering another status, a container without cgroups. */
function fakeDocker(
  path: string,
  opts: { eventsStatus: number; orphan: boolean } = { eventsStatus: 200, orphan: false },
) {
  const seen: string[] = [];
  const server = Deno.serve({ path, onListen() {} }, (req) => {
    const u = new URL(req.url);
    seen.push(u.pathname + u.search);
    switch (u.pathname) {
      case "/version":
        return Response.json({ Version: "24.0.7", ApiVersion: "1.43", Os: "linux" });
      case "/containers/json":
        return Response.json([
          { Id: ID1, Names: ["/web"] },
          { Id: ID2, Names: ["/db"] },
          ...opts.orphan ? [{ Id: ID3, Names: ["/orphan"] }] : [],
        ]);
      case `/containers/${ID3}/json`:
        return Response.json({ Id: ID3, Name: "/orphan", Image: "sha256:111", State: { Running: true } });
      case `/containers/${ID1}/json`:
        return Response.json({
          Id: ID1,
          Name: "/web",
          Image: "sha256:111",
          State: { Running: true },
          Config: { Image: "nginx" },
        });
      case `/containers/${ID2}/json`:
        return Response.json({
          Id: ID2,
          Name: "/db",
          Image: "sha256:222",
          State: { Running: true },
          Path: "docker-entrypoint.sh",
          Args: ["redis-server", "--requirepass", "ARGSECRET1"],
          Config: {
            Image: "redis",
            Env: [
              "MYSQL_ROOT_PASSWORD=ENVSECRET1",
              "DATABASE_URL=postgres://app:ENVSECRET2@db/x",
              "PATH=/bin",
            ],
            Cmd: ["sh", "-c", "mysqladmin --password=CMDSECRET1 ping && curl http://u:CMDSECRET2@h/"],
            Entrypoint: ["docker-entrypoint.sh", "--api-key", "CMDSECRET3"],
            Healthcheck: { Test: ["CMD-SHELL", "redis-cli AUTH=CMDSECRET4 ping"] },
          },
          HostConfig: {
            NetworkMode: "bridge",
            LogConfig: {
              Type: "splunk",
              Config: { "splunk-token": "LOGSECRET1", "splunk-url": "https://s" },
            },
          },
        });
      case "/images/json":
        return Response.json([
          { Id: "sha256:111", RepoTags: ["nginx:latest"], Size: 100 },
          { Id: "sha256:222", RepoTags: ["redis:7"], Size: 200 },
        ]);
      case "/events":
        if (opts.eventsStatus !== 200) return new Response("daemon busy", { status: opts.eventsStatus });
        return new Response(
          JSON.stringify({ status: "start", id: ID1, Type: "container", Action: "start" }) + "\n",
        );
      default:
        return new Response("page not found", { status: 404 });
    }
  });
  return { server, seen };
}

/** A fake daemon on a socket of its own, cgroup files, and the docker subsystem pointed at both. */
function dockerRig(
  opts?: Parameters<typeof fakeDocker>[1],
  before?: (ctx: ReturnType<typeof makeTestCtx>) => void,
) {
  const sockDir = tempDir("kunai-dock-");
  const sock = join(sockDir.dir, "docker.sock");
  const ctx = makeTestCtx({
    clock: new RealClock(),
    params: { collectors: { docker_socket: sock, interval: "1h" } },
  });
  before?.(ctx);
  const root = join(ctx.dir, "cg");
  writeTree(root, 3000, 250);
  const { server, seen } = fakeDocker(sock, opts);
  const docker = createDocker(ctx, { mountsPath: join(root, "mounts"), cgroupAllow: [`${root}/**`] });
  return { sockDir, ctx, root, server, seen, docker };
}

Deno.test("docker: containers, images, events and v1/v2 cgroup stats through the socket; routes and docker show", async () => {
  const { sockDir, ctx, root, server, seen, docker } = dockerRig();
  try {
    await docker.refresh();
    const st = docker.state();
    assert.equal(st.connected, true, st.reason);
    assert.equal(st.version, "24.0.7");
    assert.deepEqual(docker.info(), {
      enabled: true,
      connected: true,
      version: "24.0.7",
      api: "1.43",
      containers: 2,
      images: 2,
      containers_without_stats: 0,
    });
    assert.equal(docker.containers()[0].name, "/web", "keys lower-cased");
    assert.equal((docker.containers()[0].state as Record<string, unknown>).running, true);
    let stats = docker.stats();
    assert.equal(stats.containers[ID1]["memory.rss"].value, 2048000);
    assert.equal(stats.containers[ID1]["memory.pgfault"].value, null);
    assert.equal(stats.containers[ID2]["memory.rss"].value, 3000000, "v2 anon reported as rss");
    assert.equal(stats.images["nginx:latest"]["memory.rss"].value, 2048000);
    assert.equal(stats.images["redis:7"]["memory.cache"].scope, "image");

    writeTree(root, 5000, 450);
    await new Promise((r) => setTimeout(r, 200));
    await docker.refresh();
    stats = docker.stats();
    const pf = stats.containers[ID1]["memory.pgfault"];
    assert.ok(pf.value !== null && pf.value > 0, "pgfault rate after the second sample");
    assert.ok((stats.containers[ID1]["cpu.user"].value ?? 0) > 0);
    assert.ok(docker.state().events.some((e) => e.Action === "start"), "events polled since the last poll");
    assert.ok(seen.some((s) => s.startsWith("/events?since=")));

    const app = docker.routes!();
    assert.equal(await (await app.request("/docker")).json(), true);
    assert.equal((await (await app.request(`/docker/containers/${ID1.slice(0, 12)}`)).json()).id, ID1);
    assert.equal(await (await app.request("/docker/containers/nope")).json(), null);
    assert.equal((await (await app.request("/docker/images/111")).json()).repotags[0], "nginx:latest");
    assert.equal((await (await app.request("/docker/containers/web")).json()).id, ID1, "by name");
    // `sha256:` alone names no image; a prefix of several names none of them
    assert.equal(await (await app.request("/docker/images/sha256:")).json(), null);
    assert.equal(await (await app.request("/docker/containers/")).status, 200, "the list, not a match");
    assert.equal((await (await app.request("/docker/images")).json()).length, 2);
    const body = await (await app.request("/docker/stats")).json();
    assert.deepEqual(Object.keys(body).sort(), ["containers", "images"]);

    // kunai docker show, against the same routes
    const out = new Output({ capture: true, colour: false });
    const client = {
      json: async (_m: string, p: string) => await (await app.request(p)).json(),
    } as unknown as AgentClient;
    const code = await dockerCommands.commands[0].run({
      options: {},
      positionals: [],
      out,
      client: () => client,
    });
    assert.equal(code, 0);
    const text = out.captured;
    assert.ok(text.some((l) => l.includes(`Container:${ID1.slice(0, 12)}`)));
    assert.ok(text.some((l) => l.includes("Image:nginx:latest (sum)")));
    assert.ok(text.some((l) => /memory\.rss: +2048000/.test(l)));
  } finally {
    await docker.stop();
    await server.shutdown();
    ctx.cleanup();
    sockDir.cleanup();
  }
});

Deno.test("docker: environment values and secret-looking arguments are not served by the read routes", async () => {
  const { sockDir, ctx, server, docker } = dockerRig();
  try {
    await docker.refresh();
    const app = docker.routes!();
    const list = await (await app.request("/docker/containers")).text();
    const one = await (await app.request("/docker/containers/db")).text();
    for (const body of [list, one]) {
      assert.doesNotMatch(body, /SECRET/, body);
    }
    const db = JSON.parse(one);
    // names, commands and non-secret words stay: what runs and how is still visible
    assert.deepEqual(db.config.env, [
      "MYSQL_ROOT_PASSWORD=********",
      "DATABASE_URL=********",
      "PATH=********",
    ]);
    assert.deepEqual(db.args, ["redis-server", "--requirepass", "********"]);
    assert.deepEqual(db.config.cmd, [
      "sh",
      "-c",
      "mysqladmin --password=******** ping && curl http://u:********@h/",
    ]);
    assert.deepEqual(db.config.entrypoint, ["docker-entrypoint.sh", "--api-key", "********"]);
    assert.equal(db.config.image, "redis");
    assert.equal(db.hostconfig.networkmode, "bridge");
    assert.equal(db.hostconfig.logconfig.type, "splunk");
    assert.equal(docker.stats().images["redis:7"]["memory.rss"].value, 3000000, "stats unchanged");
  } finally {
    await docker.stop();
    await server.shutdown();
    ctx.cleanup();
    sockDir.cleanup();
  }
});

Deno.test("docker: disabled with a clear reason when there is no socket; no Worker started", async () => {
  const ctx = makeTestCtx({
    clock: new RealClock(),
    params: { collectors: { docker_socket: "/nonexistent/docker.sock" } },
  });
  const docker = createDocker(ctx);
  try {
    await docker.refresh();
    const info = docker.info() as { enabled: boolean; connected: boolean; reason: string };
    assert.equal(info.enabled, false);
    assert.equal(info.connected, false);
    assert.match(info.reason, /no Docker socket at \/nonexistent\/docker.sock/);
    assert.equal(ctx.sandbox.workers().length, 0);
    assert.equal(await (await docker.routes!().request("/docker")).json(), false);
    assert.deepEqual(await (await docker.routes!().request("/docker/stats")).json(), {
      containers: {},
      images: {},
    });
  } finally {
    await docker.stop();
    ctx.cleanup();
  }
});

Deno.test("docker: without a socket it looks again every minute, not every collector interval, and notices one that appears", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "kunai-docker-absent-" });
  const sock = `${dir}/docker.sock`;
  const clock = new VirtualClock();
  const ctx = makeTestCtx({ clock, params: { collectors: { docker_socket: sock, interval: "10s" } } });
  const docker = createDocker(ctx);
  const reason = () => (docker.info() as { reason: string }).reason;
  try {
    await docker.start();
    await clock.advance(1);
    assert.match(reason(), /no Docker socket at .*not found/);
    // something appears at the path (a plain file: the reason changes when it is looked at again)
    Deno.writeTextFileSync(sock, "");
    await clock.advance(30_000);
    assert.match(reason(), /not found/, "looked again before a minute had passed");
    await clock.advance(NO_SOCKET_RECHECK_MS);
    assert.match(reason(), /not a socket/);
  } finally {
    await docker.stop();
    ctx.cleanup();
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("docker: containers without stats are counted and said; events the daemon refused are asked for again", async () => {
  const warned: string[] = [];
  const opts = { eventsStatus: 200, orphan: true };
  const { sockDir, ctx, server, seen, docker } = dockerRig(opts, (ctx) => {
    ctx.log = { ...ctx.log, warn: (m: string) => warned.push(m) };
  });
  try {
    await docker.refresh();
    assert.equal(docker.info().containers_without_stats, 1);
    assert.match(
      warned.join("\n"),
      /docker: no stats for 1 container\(s\): aaaaaaaacccc: no cgroup directory found/,
    );
    await docker.refresh();
    assert.equal(warned.filter((w) => /no stats/.test(w)).length, 1, "said once, not at every poll");
    // a prefix two containers share names neither: a 400 that says so, not the first of them
    const app = buildApp([docker.routes!()], {
      token: "",
      maxBody: 1 << 20,
      log: ctx.log,
      counters: ctx.counters,
    });
    const both = await app.request("/docker/containers/aaaa");
    assert.equal(both.status, 400);
    assert.match((await both.json()).error, /2 containers have an id starting with "aaaa"/);
    assert.equal((await (await app.request("/docker/containers/aaaaaaaac")).json()).id, ID3);

    // the daemon refuses /events once: the same window is asked for at the next poll
    opts.eventsStatus = 500;
    await new Promise((r) => setTimeout(r, 1100)); // a new second: a window of its own
    await docker.refresh();
    assert.match(warned.join("\n"), /docker: events not read \(HTTP 500: daemon busy\)/);
    const refused = seen.filter((s) => s.startsWith("/events?since=")).at(-1)!;
    opts.eventsStatus = 200;
    await docker.refresh();
    const again = seen.filter((s) => s.startsWith("/events?since=")).at(-1)!;
    assert.equal(
      again.match(/since=(\d+)/)![1],
      refused.match(/since=(\d+)/)![1],
      "asked again from the same time",
    );
  } finally {
    await docker.stop();
    await server.shutdown();
    ctx.cleanup();
    sockDir.cleanup();
  }
});
