import assert from "node:assert/strict";
import { join } from "node:path";
import { startAgent, until } from "../helpers.ts";

Deno.test("kunai agent reload and SIGHUP apply new files; a broken file is refused and the agent keeps its configuration", async () => {
  const a = await startAgent({ name: "reload1", params: { tags: ["web"] } });
  try {
    const checkIds = async () => Object.keys(JSON.parse((await a.cli(["checks", "list", "--json"])).stdout));
    assert.ok(!(await checkIds()).includes("extra/ping"));

    // a new check file and a new tag, then `kunai agent reload`
    Deno.mkdirSync(join(a.cfgDir, "extra"));
    Deno.writeTextFileSync(
      join(a.cfgDir, "extra", "ping.json"),
      JSON.stringify({ check: { critical_if: "1 > 2", apply_on: "*", handlers: ["mial"] } }),
    );
    const local = JSON.parse(Deno.readTextFileSync(a.configFile));
    Deno.writeTextFileSync(a.configFile, JSON.stringify({ ...local, tags: ["web", "db"], port: a.port + 1 }));
    const r = await a.cli(["agent", "reload", "--json"]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout).restart_needed, ["port"]);
    // the configuration's warnings come back to whoever reloads, not only to the log
    assert.match(
      JSON.parse(r.stdout).warnings.join("\n"),
      /extra\/ping\.json: check\.handlers: handler "mial" matches no handler/,
    );
    assert.ok((await checkIds()).includes("extra/ping"));
    const info = JSON.parse((await a.cli(["info", "--json"])).stdout);
    assert.ok(info.tags.includes("db"), `tags ${info.tags}`);
    assert.equal(info.port, a.port, "the port changes only at restart");
    assert.deepEqual(info.restart_needed, ["port"]);
    assert.match((await a.cli(["info"])).stdout, /Restart needed: +port\n/);

    const text = await a.cli(["agent", "reload"]);
    assert.equal(text.code, 0, text.stderr);
    assert.match(
      text.stderr,
      /^kunai: warning: .*ping\.json: check\.handlers: handler "mial" matches no handler/m,
    );
    // a broken file: refused with the file named, nothing changes
    Deno.writeTextFileSync(join(a.cfgDir, "extra", "bad.json"), '{"check": {"interval": 5x}}');
    const bad = await a.cli(["agent", "reload"]);
    assert.equal(bad.code, 2, "a configuration error (the agent's 400)");
    assert.match(bad.stderr, /extra\/bad\.json:1:\d+: invalid JSON/);
    assert.ok((await checkIds()).includes("extra/ping"));

    // SIGHUP does the same as `kunai agent reload`, and reopens daemon.log (logrotate moved it away)
    const log = join(a.dir, "log", "daemon.log");
    Deno.renameSync(log, `${log}.moved`);
    Deno.removeSync(join(a.cfgDir, "extra", "bad.json"));
    Deno.removeSync(join(a.cfgDir, "extra", "ping.json"));
    a.child.kill("SIGHUP");
    await until(
      "check removed after SIGHUP",
      async () => !(await checkIds()).includes("extra/ping"),
      10_000,
      100,
    );
    assert.equal((await a.cli(["info", "--json"])).code, 0, "still running");
    const reloads = (file: string) =>
      Deno.readTextFileSync(file).match(/INFO: configuration reloaded/g)?.length ?? 0;
    assert.equal(reloads(`${log}.moved`), 2, "the first two reloads' lines stay in the moved file");
    assert.equal(reloads(log), 1, "SIGHUP's reload is logged in the new file");
  } finally {
    await a.stop();
    Deno.removeSync(a.dir, { recursive: true });
  }
});
