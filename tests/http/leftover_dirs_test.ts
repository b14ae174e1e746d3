/**
 * A unix socket is bound in a private `.kunai-XXXXXX` directory beside its path and renamed onto it
 * (serve.ts); a kill -9 between the mkdir and the rmdir left that directory behind for good. The
 * next start removes such leftovers, and nothing else.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { buildApp, HttpServer } from "../../lib/http/mod.ts";
import { RouteTable } from "../../lib/routing/mod.ts";
import { LEFTOVER_MIN_AGE_MS, removeLeftoverDirs } from "../../lib/http/serve.ts";
import { type Logger, silentLogger } from "../../lib/log/mod.ts";
import { Counters } from "../../lib/counters.ts";
import { AgentClient } from "../../lib/client/mod.ts";
import { freePort, tempDir } from "../helpers.ts";

function recordingLogger(): Logger & { infos: string[]; warnings: string[] } {
  const infos: string[] = [], warnings: string[] = [];
  const log = {
    ...silentLogger,
    infos,
    warnings,
    info: (m: string) => void infos.push(m),
    warn: (m: string) => void warnings.push(m),
  };
  return { ...log, child: () => log };
}

/** A socket file that nobody listens on any more, as a killed server leaves it. */
function deadSocket(path: string): void {
  // Deno removes its socket file at close: a second link to it stays
  const bound = `${path}.bound`;
  const listener = Deno.listen({ transport: "unix", path: bound });
  Deno.linkSync(bound, path);
  listener.close();
  try {
    Deno.removeSync(bound);
  } catch { /* removed at close */ }
  assert.ok(Deno.lstatSync(path).isSocket);
}

/** Dates the directory back past the age below which it may be another server's, binding now. */
function age(dir: string): void {
  const past = new Date(Date.now() - LEFTOVER_MIN_AGE_MS - 60_000);
  Deno.utimeSync(dir, past, past);
}

const exists = (p: string) => {
  try {
    Deno.lstatSync(p);
    return true;
  } catch {
    return false;
  }
};

Deno.test("leftover socket directories beside a socket path are removed; nothing else is", async () => {
  using t = tempDir();
  const path = join(t.dir, "api.sock");
  const at = (name: string) => join(t.dir, name);
  // leftovers: a dead socket inside, or nothing at all
  Deno.mkdirSync(at(".kunai-0a1b2c"));
  deadSocket(join(at(".kunai-0a1b2c"), "s"));
  Deno.mkdirSync(at(".kunai-ffffff"));
  // to be left alone: a live socket, other content, other names, a symlink, a directory changed just now
  Deno.mkdirSync(at(".kunai-abcdef"));
  const live = Deno.listen({ transport: "unix", path: join(at(".kunai-abcdef"), "s") });
  Deno.mkdirSync(at(".kunai-123456"));
  Deno.writeTextFileSync(join(at(".kunai-123456"), "s"), "a file, not a socket");
  Deno.mkdirSync(at(".kunai-654321"));
  deadSocket(join(at(".kunai-654321"), "s"));
  Deno.writeTextFileSync(join(at(".kunai-654321"), "notes"), "x");
  Deno.mkdirSync(at(".kunai-777777"));
  deadSocket(join(at(".kunai-777777"), "other"));
  for (const name of [".kunai-ABCDEF", ".kunai-1234567", ".kunai-12345", "kunai-123456", ".kunai-12345g"]) {
    Deno.mkdirSync(at(name));
  }
  Deno.mkdirSync(at("target"));
  Deno.symlinkSync(at("target"), at(".kunai-fedcba"));
  Deno.mkdirSync(at(".kunai-eeeeee")); // young: maybe another server's, binding right now
  try {
    for (const e of Deno.readDirSync(t.dir)) if (e.name !== ".kunai-eeeeee") age(at(e.name));
    const log = recordingLogger();
    assert.equal(await removeLeftoverDirs(path, log), 2);
    assert.ok(!exists(at(".kunai-0a1b2c")));
    assert.ok(!exists(at(".kunai-ffffff")));
    const left = [...Deno.readDirSync(t.dir)].map((e) => e.name).sort();
    assert.deepEqual(left, [
      ".kunai-12345",
      ".kunai-123456",
      ".kunai-1234567",
      ".kunai-12345g",
      ".kunai-654321",
      ".kunai-777777",
      ".kunai-ABCDEF",
      ".kunai-abcdef",
      ".kunai-eeeeee",
      ".kunai-fedcba",
      "kunai-123456",
      "target",
    ]);
    assert.ok(Deno.lstatSync(join(at(".kunai-abcdef"), "s")).isSocket, "the live socket stays");
    assert.deepEqual([...Deno.readDirSync(at(".kunai-654321"))].map((e) => e.name).sort(), ["notes", "s"]);
    // each removal said with its path; each refusal a warning saying why
    assert.deepEqual(log.infos.map((m) => m.match(/^removed (\S+),/)?.[1]).sort(), [
      at(".kunai-0a1b2c"),
      at(".kunai-ffffff"),
    ]);
    const why = (name: string) => log.warnings.find((w) => w.includes(`${at(name)} alone`)) ?? "";
    assert.match(why(".kunai-abcdef"), /a server is listening/);
    assert.match(why(".kunai-123456"), /is not a socket/);
    assert.match(why(".kunai-654321"), /it holds notes, s/);
    assert.match(why(".kunai-777777"), /it holds other/);
    assert.match(why(".kunai-fedcba"), /not a directory/);
    assert.equal(log.warnings.length, 5, log.warnings.join("\n"));
  } finally {
    live.close();
  }
});

Deno.test({
  name: "a leftover socket directory of another user is left alone",
  ignore: Deno.uid() !== 0,
  async fn() {
    using t = tempDir();
    const dir = join(t.dir, ".kunai-00aa11");
    Deno.mkdirSync(dir);
    Deno.chownSync(dir, 65534, 65534);
    age(dir);
    const log = recordingLogger();
    assert.equal(await removeLeftoverDirs(join(t.dir, "api.sock"), log), 0);
    assert.ok(exists(dir));
    assert.match(log.warnings.join("\n"), /belongs to uid 65534/);
  },
});

Deno.test("no directory beside the socket path yet: nothing to do, nothing said", async () => {
  using t = tempDir();
  const log = recordingLogger();
  assert.equal(await removeLeftoverDirs(join(t.dir, "not-yet", "api.sock"), log), 0);
  assert.deepEqual([...log.infos, ...log.warnings], []);
});

Deno.test("the API server removes leftovers beside its socket and beside its TCP front's at start", async () => {
  using api = tempDir();
  using front = tempDir();
  const leftovers = [join(api.dir, ".kunai-a0a0a0"), join(front.dir, ".kunai-b1b1b1")];
  for (const dir of leftovers) {
    Deno.mkdirSync(dir);
    deadSocket(join(dir, "s"));
    age(dir);
  }
  const r = new RouteTable("test");
  r.read("GET", "/", "root", (c) => c.text("OK"));
  const log = recordingLogger();
  const counters = new Counters();
  const socket = join(api.dir, "api.sock");
  const srv = await HttpServer.start(buildApp([r], { token: "", maxBody: 100, log, counters }), {
    bind: "127.0.0.1",
    port: freePort(),
    socket,
    tcp: true,
    frontSocket: join(front.dir, "front.sock"),
    token: "",
    maxBody: 100,
    log,
    counters,
  });
  try {
    for (const dir of leftovers) assert.ok(!exists(dir), `${dir} is gone`);
    for (const dir of leftovers) assert.ok(log.infos.some((m) => m.startsWith(`removed ${dir},`)), dir);
    const c = new AgentClient({ socket });
    assert.equal(await c.text("GET", "/"), "OK");
    c.close();
  } finally {
    await srv.close();
  }
});
