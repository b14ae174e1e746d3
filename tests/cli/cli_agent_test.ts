/**
 * The CLI against a real agent, with Consul/Serf/etcdctl habits: global options anywhere,
 * --http-addr/--token (and their KUNAI_HTTP_* variables) over TCP, members filters and JSON,
 * kv recurse/export/import, flat collector tables, detector ids, `kunai api`, one error style.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { type AgentProc, freePort, runKunai, startAgent, tempDir } from "../helpers.ts";
import { startFailure } from "../../cli/agent.ts";

if (!Deno.env.get("DENO_DIR")) {
  const home = Deno.env.get("HOME");
  if (home) Deno.env.set("DENO_DIR", `${home}/.cache/deno`);
}

const HOST = "127.0.0.81";
const TOKEN = "cli-test-token";

Deno.test({
  name: "CLI against a TCP agent: --http-addr, --token, members, kv, collectors, detectors, api",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const port = freePort(HOST);
    const a: AgentProc = await startAgent({
      name: "cli1",
      addr: HOST,
      port,
      params: { bootstrap: true, tags: ["kv", "web"], http: { token: TOKEN } },
    });
    const t = tempDir("kunai-cli-");
    const addr = `http://${HOST}:${port}`;
    const tcp = (args: string[], env: Record<string, string> = {}) => runKunai(args, { HOME: t.dir, ...env });
    try {
      // read over TCP, global options anywhere on the line
      let r = await tcp(["members", "--http-addr", addr, "--json"]);
      assert.equal(r.code, 0, r.stderr);
      const list = JSON.parse(r.stdout);
      assert.ok(Array.isArray(list));
      assert.equal(list[0].name, "cli1");
      for (const svc of Object.values(list[0].services) as Array<Record<string, unknown>>) {
        assert.ok(!String(svc.from ?? "").startsWith("file:"), "local file path in members --json");
      }
      r = await tcp(["--json", "members"], { KUNAI_HTTP_ADDR: `${HOST}:${port}` });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(JSON.parse(r.stdout)[0].addr, HOST);
      r = await tcp(["members", "--http-addr", addr, "--no-color"]);
      assert.match(r.stdout, /^Node\s+Address\s+Status\s+Zone\s+Tags$/m);
      assert.match(r.stdout, /^cli1\s+127\.0\.0\.81:\d+\s+alive\s+-\s+kv,web/m);
      r = await tcp(["members", "--http-addr", addr, "--status", "^dead$"]);
      assert.equal(r.stdout.trim(), "No members");
      r = await tcp(["members", "--http-addr", addr, "--name", "^cli", "--detailed"]);
      assert.match(r.stdout, /Uuid\s+Incarnation\s+Services/);
      r = await tcp(["members", "--http-addr", addr, "--status", "("]);
      assert.equal(r.code, 2);
      assert.match(r.stderr, /^kunai: --status: invalid regular expression/);

      // write routes need the token over TCP
      r = await tcp(["keys", "list", "--http-addr", addr]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /^kunai: .*Authorization: Bearer/);
      r = await tcp(["keys", "list", "--http-addr", addr, "--token", "wrong"]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /^kunai: invalid token/);
      r = await tcp(["keys", "list", "--http-addr", addr, "--token", TOKEN, "--json"]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(JSON.parse(r.stdout).enabled, false);
      r = await tcp(["keys", "list", "--json"], { KUNAI_HTTP_ADDR: addr, KUNAI_HTTP_TOKEN: TOKEN });
      assert.equal(r.code, 0, r.stderr);
      // an agent without RAFT groups has no /raft routes: the CLI says so instead of "not found"
      r = await tcp(["raft", "state", "--http-addr", addr]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout.trim(), "no RAFT group configured on this agent (raft.groups)");
      r = await tcp(["raft", "state", "--http-addr", addr, "--json"]);
      assert.deepEqual(JSON.parse(r.stdout), {});
      for (const cmd of [["raft", "state", "db"], ["raft", "is-leader", "db"]]) {
        r = await tcp([...cmd, "--http-addr", addr]);
        assert.equal(r.code, 2, cmd.join(" "));
        assert.match(r.stderr, /^kunai: no RAFT group "db": this agent has none configured \(raft\.groups\)/);
      }
      // a failed join says why (it used to print a bare FAILED and leave the reason in the agent's log)
      const closed = freePort(HOST);
      r = await tcp(["join", `${HOST}:${closed}`, "--http-addr", addr, "--token", TOKEN, "--no-color"]);
      assert.equal(r.code, 1);
      assert.match(r.stdout, new RegExp(`^Joining ${HOST}:${closed} : FAILED \\(.*refused.*\\)$`, "m"));
      r = await tcp(["join", `${HOST}:${closed}`, "--http-addr", addr, "--token", TOKEN, "--json"]);
      assert.equal(r.code, 1);
      const failed = JSON.parse(r.stdout);
      assert.equal(failed.joined, false);
      assert.match(failed.error, /refused/i);

      // bad addresses are configuration errors: exit 2
      r = await tcp(["members", "--http-addr", "ftp://x"]);
      assert.equal(r.code, 2);
      assert.match(r.stderr, /^kunai: --http-addr: scheme must be http, https or unix/);
      r = await tcp(["members"], { KUNAI_HTTP_ADDR: "http://[bad" });
      assert.equal(r.code, 2);
      assert.match(r.stderr, /^kunai: KUNAI_HTTP_ADDR: not a URL/);
      r = await tcp(["members", "--http-addr"]);
      assert.equal(r.code, 2);
      r = await tcp(["-c", join(t.dir, "missing.json"), "members"]);
      assert.equal(r.code, 2);
      assert.match(r.stderr, /^kunai: cannot read configuration file/);
      r = await tcp(["version", "--frobnicate"]);
      assert.equal(r.code, 2);
      assert.match(r.stderr, /^kunai: /);

      // kv over the unix socket (-c after the command)
      const kv = (args: string[]) => a.cli(["kv", ...args]);
      for (const [k, v] of [["app/a", "1"], ["app/b", "2"], ["other", "3"]]) {
        r = await kv(["put", k, v, "--json"]);
        assert.equal(r.code, 0, r.stderr);
        assert.equal(JSON.parse(r.stdout).ok, true);
      }
      r = await kv(["get", "app/", "--recurse"]);
      assert.deepEqual(r.stdout.trim().split("\n"), ["app/a:1", "app/b:2"]);
      r = await kv(["get", "app/", "--prefix", "--json"]);
      assert.deepEqual(JSON.parse(r.stdout).map((e: { key: string }) => e.key), ["app/a", "app/b"]);
      r = await kv(["export", "app/"]);
      assert.equal(r.code, 0, r.stderr);
      const exported = JSON.parse(r.stdout);
      assert.deepEqual(exported, [{ key: "app/a", flags: 0, value: btoa("1") }, {
        key: "app/b",
        flags: 0,
        value: btoa("2"),
      }]);
      r = await kv(["delete", "app/", "--recurse", "--json"]);
      assert.deepEqual(JSON.parse(r.stdout), { prefix: "app/", deleted: ["app/a", "app/b"] });
      r = await kv(["get", "app/a"]);
      assert.equal(r.code, 1);
      const file = join(t.dir, "export.json");
      Deno.writeTextFileSync(
        file,
        JSON.stringify([...exported, { key: "app/c", flags: 7, value: btoa("x") }]),
      );
      r = await kv(["import", file, "--json"]);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(JSON.parse(r.stdout).imported, ["app/a", "app/b", "app/c"]);
      r = await kv(["get", "app/c", "--json"]);
      assert.equal(JSON.parse(r.stdout).flags, 7);
      Deno.writeTextFileSync(file, JSON.stringify([{ key: "z", value: "not base64!" }]));
      r = await kv(["import", file]);
      assert.equal(r.code, 2);
      assert.match(r.stderr, /export\.json: entry 0 \(z\): "value" must be base64/);
      r = await kv(["delete", "nope"]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /^kunai: key nope not found/);
      r = await kv(["delete", "other", "--json"]);
      assert.equal(JSON.parse(r.stdout).deleted, true);
      r = await kv(["list", "app/", "--json"]);
      assert.equal(JSON.parse(r.stdout).length, 3);
      // watch --json: one JSON object per change
      const watching = kv(["watch", "app/", "--count", "1", "--json"]);
      let seenChange = false;
      for (let i = 0; i < 40 && !seenChange; i++) {
        await new Promise((res) => setTimeout(res, 250));
        await kv(["put", "app/w", `v${i}`]);
        const done = await Promise.race([
          watching.then(() => true),
          new Promise((res) => setTimeout(() => res(false), 50)),
        ]);
        seenChange = done as boolean;
      }
      const w = await watching;
      assert.equal(w.code, 0, w.stderr);
      const change = JSON.parse(w.stdout.trim().split("\n")[0]);
      assert.equal(change.key, "app/w");

      // collectors show NAME: aligned key/value rows, not JSON
      let shown = "";
      for (let i = 0; i < 50 && !/results\./.test(shown); i++) {
        shown = (await a.cli(["collectors", "show", "loadaverage"])).stdout;
        if (!/results\./.test(shown)) await new Promise((res) => setTimeout(res, 200));
      }
      assert.match(shown, /^active\s+true$/m);
      assert.match(shown, /^results\.load1\s+[\d.]+$/m);
      assert.doesNotMatch(shown, /[{}]/);

      // detectors list ids are accepted by detectors run
      r = await a.cli(["detectors", "list", "--json"]);
      const ids = JSON.parse(r.stdout).map((d: { id: string }) => d.id);
      assert.ok(ids.length > 0);
      r = await a.cli(["detectors", "list"]);
      assert.match(r.stdout, /^Id\s+Matched\s+Tags$/m);
      assert.match(r.stdout, new RegExp(`^${ids[0]}\\s`, "m"));
      r = await a.cli(["detectors", "run", ids[0], "--json"]);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(Object.keys(JSON.parse(r.stdout)), [ids[0]]);

      // kunai api: the route table
      r = await tcp(["api", "--http-addr", addr]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^Method\s+Path\s+Access\s+Owner\s+Summary$/m);
      assert.match(r.stdout, /^GET\s+\/ws\s+read\s+websocket\s+live feed/m);
      r = await tcp(["--json", "api", "--http-addr", addr]);
      assert.ok(JSON.parse(r.stdout).some((x: { path: string }) => x.path === "/api/openapi.json"));

      // kunai packs list: the default pack shipped at first start
      r = await tcp(["packs", "list", "--http-addr", addr]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^Pack\s+Version\s+Level\s+Description$/m);
      assert.match(r.stdout, /^linux\s+\d+\.\d+\.\d+\s+global\s+Linux basics/m);
      r = await tcp(["packs", "list", "--http-addr", addr, "--json"]);
      assert.ok(JSON.parse(r.stdout).some((p: { name: string }) => p.name === "redis"));

      // kunai zone change (the reference's command): a write, saved in local.json, seen in members
      r = await tcp(["zone", "change", "paris", "--http-addr", addr]);
      assert.equal(r.code, 1, "a write route: refused over TCP without the token");
      assert.match(r.stderr, /cannot switch to zone "paris": .*token/);
      r = await a.cli(["zone", "change", "paris"]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout.trim(), "Switching to zone paris : OK");
      assert.equal(JSON.parse(Deno.readTextFileSync(a.configFile)).zone, "paris");
      r = await tcp(["members", "--http-addr", addr, "--json"]);
      assert.equal(JSON.parse(r.stdout)[0].zone, "paris");
      r = await a.cli(["zone", "change", "not a zone"]);
      assert.equal(r.code, 2);
      assert.match(r.stderr, /expected a zone name/);
    } finally {
      await a.stop();
      t.cleanup();
    }
  },
});

Deno.test("completion: bash and zsh scripts know every group and command option", async () => {
  const bash = await runKunai(["completion", "bash"]);
  assert.equal(bash.code, 0, bash.stderr);
  assert.match(bash.stdout, /complete -F _kunai kunai/);
  // run the function the way bash would for `kunai kv g<TAB>` and `kunai kv get --re<TAB>`
  const probe = (line: string) =>
    `${bash.stdout}\nCOMP_WORDS=(${line}); COMP_CWORD=$((\${#COMP_WORDS[@]}-1)); _kunai; echo "\${COMPREPLY[*]}"`;
  for (
    const [line, want] of [
      ["kunai kv g", "get"],
      ["kunai kv get --re", "--recurse"],
      ["kunai mem", "members"],
      ["kunai --no-color members --st", "--status"],
    ]
  ) {
    const out = await new Deno.Command("bash", { args: ["-c", probe(line)], stdout: "piped" }).output();
    assert.equal(new TextDecoder().decode(out.stdout).trim(), want, line);
  }
  const zsh = await runKunai(["completion", "zsh"]);
  assert.match(zsh.stdout, /^#compdef kunai/);
  const bad = await runKunai(["completion", "fish"]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /^kunai: unknown shell "fish"/);
});

Deno.test("agent start --daemon: a start that failed prints its reason from daemon.log (that run's only)", () => {
  using t = tempDir();
  const log = join(t.dir, "daemon.log");
  Deno.writeTextFileSync(
    log,
    [
      "n1 [2026-12-05T07:00:00.000Z][agent] INFO: starting kunai 1.0 (pid 11), configuration from /etc/kunai",
      "n1 [2026-12-05T07:00:00.100Z][agent] ERROR: start failed: an old reason",
      "n1 [2026-12-05T07:10:00.000Z][agent] INFO: starting kunai 1.0 (pid 42), configuration from /etc/kunai",
      "n1 [2026-12-05T07:10:00.100Z][agent] ERROR: start failed: /d/kv.db: file is not a database; the file is damaged",
      "",
    ].join("\n"),
  );
  assert.equal(startFailure(log, 42), "/d/kv.db: file is not a database; the file is damaged");
  assert.equal(startFailure(log, 77), null, "not this run's line");
  assert.equal(startFailure(join(t.dir, "none.log"), 42), null);
});
