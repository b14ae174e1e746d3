import assert from "node:assert/strict";
import { join } from "node:path";
import {
  commandList,
  findCommand,
  GROUP_MODULES,
  joinDashValues,
  loadGroups,
  runCli,
} from "../../cli/mod.ts";
import { Output } from "../../cli/output.ts";
import { show as showRaftGroup } from "../../cli/raft.ts";
import { newKey } from "../../cli/global.ts";
import { VERSION } from "../../lib/version.ts";
import { resolveTarget } from "../../cli/connect.ts";
import { staticImports, tempDir } from "../helpers.ts";

async function run(args: string[]) {
  const out = new Output({ capture: true, colour: false });
  const code = await runCli(args, out);
  return { code, out: out.captured.join("\n"), err: out.capturedErrors.join("\n") };
}

Deno.test("kunai version prints the version; --json gives JSON", async () => {
  assert.deepEqual(await run(["version"]), { code: 0, out: VERSION, err: "" });
  const j = await run(["version", "--json"]);
  assert.equal(JSON.parse(j.out).version, VERSION);
});

Deno.test("unknown commands and options exit 2 with usage", async () => {
  const a = await run(["frobnicate"]);
  assert.equal(a.code, 2);
  assert.match(a.err, /unknown command 'frobnicate'/);
  const b = await run(["version", "--bogus"]);
  assert.equal(b.code, 2);
  assert.match(b.err, /Unknown option '--bogus'/);
  const c = await run(["agent"]);
  assert.equal(c.code, 2);
  assert.match(c.err, /needs a command/);
  const d = await run(["agent", "explode"]);
  assert.equal(d.code, 2);
  const e = await run(["--weird", "info"]);
  assert.equal(e.code, 2);
  const f = await run(["version", "extra"]);
  assert.equal(f.code, 2);
  assert.match(f.err, /unexpected argument 'extra'/);
});

Deno.test("a string option's value may start with a dash and a digit (--from -2min)", async () => {
  const opts = { from: { type: "string" }, until: { type: "string" }, json: { type: "boolean" } };
  assert.deepEqual(
    joinDashValues(["--from", "-2min", "--until", "-1h", "--json", "-5", "x", "--", "--from", "-3"], opts),
    ["--from=-2min", "--until=-1h", "--json", "-5", "x", "--", "--from", "-3"],
  );
  // an option or a dash word stays what it was: parseArgs still says what is wrong
  assert.deepEqual(joinDashValues(["--from", "--json"], opts), ["--from", "--json"]);
  assert.deepEqual(joinDashValues(["--from", "-h"], opts), ["--from", "-h"]);
  // end to end: the ambiguity error no longer comes before the command runs
  const r = await run(["metrics", "get", "x", "--from", "-2min", "--http-addr", "127.0.0.1:1"]);
  assert.doesNotMatch(r.err, /ambiguous/);
  assert.equal(r.code, 1, r.err); // no agent there: a runtime failure, not a usage error
});

Deno.test("raft state: a group no node votes in says which tag is missing", () => {
  const view = (member: boolean, voters: string[]) => {
    const out = new Output({ colour: false, capture: true });
    showRaftGroup(out, {
      group: "db",
      self: "u1",
      member,
      role: "follower",
      term: 3,
      leader: null,
      leader_name: null,
      quorum: 2,
      voters_detail: voters.map((name) => ({ uuid: name, name, state: "alive" })),
    });
    return out.captured.join("\n");
  };
  const none = view(false, []);
  assert.match(none, /not a member \(this node does not carry the tag "db"\)/);
  assert.match(none, /2 of 0 voter\(s\): no leader can be elected/);
  assert.match(none, /\(none: no node carries the tag "db"\)/);
  const three = view(true, ["a", "b", "c"]);
  assert.match(three, /follower\n/);
  assert.match(three, /2 of 3 voter\(s\)\n/);
  assert.match(three, /a\(alive\) b\(alive\) c\(alive\)/);
});

Deno.test("help: global, per group and per command", async () => {
  const g = await run(["--help"]);
  assert.equal(g.code, 0);
  assert.match(g.out, /agent start/);
  const grp = await run(["agent", "--help"]);
  assert.equal(grp.code, 0);
  assert.match(grp.out, /kunai agent stop/);
  const cmd = await run(["agent", "start", "--help"]);
  assert.equal(cmd.code, 0);
  assert.match(cmd.out, /--daemon/);
  assert.match(await commandList(), /keygen/);
  // what other tools answer to
  assert.deepEqual(await run(["--version"]), { code: 0, out: VERSION, err: "" });
  // an option too long for the column keeps its description apart (it was glued: "VALUEread the keys")
  const long = await run(["kv", "export", "--help"]);
  assert.match(long.out, /^ {6}--from-original VALUE\n {26}read the keys/m);
  assert.match(long.out, /^ {6}--json {14}JSON output/m);
  const helpOf = await run(["help", "agent", "start"]);
  assert.equal(helpOf.code, 0);
  assert.match(helpOf.out, /--daemon/);
  assert.match((await run(["help"])).out, /agent start/);
  // a bare `kunai` is a usage error: on stderr, exit 2, stdout left alone
  const bare = await run([]);
  assert.deepEqual([bare.code, bare.out], [2, ""]);
  assert.match(bare.err, /kunai needs a command/);
});

Deno.test("commands are found by group and subcommand words", async () => {
  assert.equal((await findCommand(["agent", "start"]))?.cmd.name, "start");
  assert.equal((await findCommand(["info", "--json"]))?.cmd.name, "");
  assert.equal((await findCommand(["keys", "list"]))?.group.group, "keys");
  assert.equal(await findCommand(["nope"]), null);
});

Deno.test("each command group is loaded by the words of its module, and the list names every group once", async () => {
  const groups = (await loadGroups()).map((g) => g.group);
  assert.equal(new Set(groups).size, groups.length, `a group twice: ${groups}`);
  assert.deepEqual(groups.toSorted(), GROUP_MODULES.flatMap((m) => m.words).toSorted());
  for (const m of GROUP_MODULES) {
    const loaded = (await m.load()).map((g) => g.group);
    for (const w of m.words) assert.ok(loaded.includes(w), `${w}: not in what its module loads (${loaded})`);
  }
});

Deno.test("cli/mod.ts imports no command group statically (a command loads only its own)", async () => {
  const cliFiles = (await staticImports(new URL("../../cli/mod.ts", import.meta.url)))
    .filter((s) => s.includes("/cli/")).map((s) => s.replace(/^.*\/cli\//, "")).sort();
  assert.deepEqual(cliFiles, ["connect.ts", "mod.ts", "output.ts", "types.ts"]);
});

Deno.test("keygen prints a 32-byte base64 key", async () => {
  const r = await run(["keygen", "--json"]);
  const key = JSON.parse(r.out).encryption_key;
  assert.equal(atob(key).length, 32);
  assert.notEqual(newKey(), newKey());
});

Deno.test("keygen --exec --dir writes the pair once: never over an existing key, clear errors", async () => {
  using t = tempDir();
  const r = await run(["keygen", "--exec", "--dir", t.dir, "--json"]);
  assert.equal(r.code, 0, r.err);
  assert.deepEqual(JSON.parse(r.out), {
    master_key_priv: `${t.dir}/exec.key`,
    master_key_pub: `${t.dir}/exec.pub`,
  });
  assert.equal(Deno.statSync(`${t.dir}/exec.key`).mode! & 0o777, 0o600);
  assert.deepEqual([...Deno.readDirSync(t.dir)].map((e) => e.name).sort(), ["exec.key", "exec.pub"]);
  const key = Deno.readTextFileSync(`${t.dir}/exec.key`);
  // a second run would lock every node out of the old pair: refused, the files untouched
  const again = await run(["keygen", "--exec", "--dir", t.dir]);
  assert.equal(again.code, 1);
  assert.match(again.err, /exec\.key already exists/);
  assert.equal(Deno.readTextFileSync(`${t.dir}/exec.key`), key);
  const missing = await run(["keygen", "--exec", "--dir", `${t.dir}/nope`]);
  assert.equal(missing.code, 1);
  assert.match(missing.err, /^kunai: cannot write .*nope\/exec\.key: /);
  const noExec = await run(["keygen", "--dir", t.dir]);
  assert.equal(noExec.code, 2, "--dir without --exec");
  assert.match(noExec.err, /--dir goes with --exec/);
});

Deno.test("no running agent: one clear line and exit 1", async () => {
  const { dir, cleanup } = tempDir();
  try {
    Deno.writeTextFileSync(`${dir}/local.json`, JSON.stringify({ data: dir }));
    const r = await run(["-c", `${dir}/local.json`, "info"]);
    assert.equal(r.code, 1);
    assert.match(r.err, /cannot reach the kunai agent at unix:.*kunai\.sock: the socket does not exist/);
    assert.equal(r.err.split("\n").length, 1);
  } finally {
    cleanup();
  }
});

Deno.test("the CLI finds the socket from -c FILE, $data$ and KUNAI_CONFIG", () => {
  const { dir, cleanup } = tempDir();
  try {
    Deno.writeTextFileSync(`${dir}/a.json`, JSON.stringify({ data: "/srv/k", socket: "$data$/x.sock" }));
    Deno.writeTextFileSync(`${dir}/b.yml`, "socket: /run/k.sock\n");
    assert.equal(resolveTarget(`${dir}/a.json`, {}).socket, "/srv/k/x.sock");
    assert.equal(resolveTarget(undefined, { KUNAI_CONFIG: `${dir}/b.yml` }).socket, "/run/k.sock");
    assert.equal(resolveTarget(undefined, { KUNAI_SOCKET: "/s.sock" }).socket, "/s.sock");
    assert.throws(() => resolveTarget(`${dir}/missing.json`, {}), /cannot read configuration file/);
    // a socket or data of the wrong type is named, not replaced by the default agent's
    Deno.writeTextFileSync(`${dir}/c.json`, JSON.stringify({ socket: 42 }));
    assert.throws(() => resolveTarget(`${dir}/c.json`, {}), /c\.json: socket: expected a string, got 42/);
    Deno.writeTextFileSync(`${dir}/d.json`, JSON.stringify({ data: ["x"] }));
    assert.throws(() => resolveTarget(`${dir}/d.json`, {}), /d\.json: data: expected a string/);
  } finally {
    cleanup();
  }
});

Deno.test("-c DIR: the agent's configuration directory is read whole, as agent start --cfg-dir reads it", () => {
  const { dir, cleanup } = tempDir();
  try {
    // the socket set in another file of the directory than local.json, and relative to data
    Deno.mkdirSync(`${dir}/etc`);
    Deno.writeTextFileSync(`${dir}/etc/local.json`, JSON.stringify({ data: `${dir}/data` }));
    Deno.writeTextFileSync(`${dir}/etc/zz-socket.json`, JSON.stringify({ socket: "$data$/other.sock" }));
    const t = resolveTarget(`${dir}/etc`, {});
    assert.equal(t.socket, `${dir}/data/other.sock`);
    assert.match(t.source, /configuration directory/);
    assert.equal(resolveTarget(undefined, { KUNAI_CONFIG: `${dir}/etc` }).socket, `${dir}/data/other.sock`);
    // a directory the agent would refuse is refused the same way, naming the file
    Deno.writeTextFileSync(`${dir}/etc/bad.json`, "{ nope");
    assert.throws(() => resolveTarget(`${dir}/etc`, {}), /cannot read configuration directory .*bad\.json/);
  } finally {
    cleanup();
  }
});

Deno.test("agent start --daemon hands the child absolute directories (it runs from /)", async () => {
  const { absoluteDirArgs } = await import("../../cli/agent.ts");
  const cwd = Deno.cwd();
  assert.deepEqual(
    absoluteDirArgs(["agent", "start", "--cfg-dir", "k1/etc", "--data-dir=k1", "--name", "n1"]),
    ["agent", "start", "--cfg-dir", `${cwd}/k1/etc`, `--data-dir=${cwd}/k1`, "--name", "n1"],
  );
});

Deno.test("global options are taken from anywhere on the line", async () => {
  const { splitGlobals } = await import("../../cli/mod.ts");
  const r = splitGlobals([
    "kv",
    "get",
    "--json",
    "k",
    "-c",
    "f.json",
    "--http-addr=http://h:1",
    "--no-color",
  ]);
  assert.deepEqual(r.rest, ["kv", "get", "k"]);
  assert.equal(r.globals.json, true);
  assert.equal(r.globals.configFile, "f.json");
  assert.equal(r.globals.httpAddr, "http://h:1");
  assert.equal(r.globals.colour, false);
  assert.deepEqual(splitGlobals(["kv", "put", "k", "--", "--json"]).rest, ["kv", "put", "k", "--", "--json"]);
  assert.throws(() => splitGlobals(["members", "--token"]), /--token needs a value/);
  // the short ones only before the command: after it they are the command's (`ls -l`, `uname -v`)
  assert.equal(splitGlobals(["-l"]).globals.list, true);
  const ls = splitGlobals(["exec", "web", "ls", "-l"]);
  assert.deepEqual([ls.rest, ls.globals.list], [["exec", "web", "ls", "-l"], false]);
  assert.deepEqual(splitGlobals(["-v", "exec", "web", "uname", "-v"]).rest, ["exec", "web", "uname", "-v"]);
});

Deno.test("--proxy URI before the command is accepted and ignored with one warning, as the original ignored it", async () => {
  for (
    const args of [["--proxy", "http://proxy:3128", "version"], ["--proxy=http://proxy:3128", "version"]]
  ) {
    const r = await run(args);
    assert.deepEqual([r.code, r.out], [0, VERSION], args.join(" "));
    assert.equal(r.err, "kunai: warning: --proxy is ignored (the original never used it either)");
  }
  const missing = await run(["--proxy"]);
  assert.equal(missing.code, 2);
  assert.match(missing.err, /option --proxy needs a value/);
});

Deno.test("exec: an unquoted command's dash words are refused with the way to pass them, not dropped", async () => {
  for (
    const argv of [["exec", "web", "ls", "-l"], ["exec", "web", "uname", "-v"], ["lock", "l", "ls", "-l"]]
  ) {
    const r = await run(argv);
    assert.equal(r.code, 2, argv.join(" "));
    assert.match(r.err, /Unknown option '-[lv]' \(an argument that starts with '-' goes after '--'\)/);
  }
  const wait = await run(["exec", "web", "--wait", "abc", "--", "ls", "-la"]);
  assert.equal(wait.code, 2);
  assert.match(wait.err, /--wait: expected a duration/);
});

Deno.test("kv import checks every entry's key and flags before anything is written, naming the entry", async () => {
  const { parseExport } = await import("../../cli/kv.ts");
  const good = { key: "app/a", flags: 0, value: "eA==" };
  for (
    const [bad, re] of [
      [{ key: "bad//k", value: "eA==" }, /f\.json: entry 1 \(bad\/\/k\): invalid key: empty segment 2/],
      [{ key: "/abs", value: "eA==" }, /entry 1 \(\/abs\): invalid key: it starts with '\/'/],
      [{ key: "a/../b", value: "eA==" }, /entry 1 \(a\/\.\.\/b\): invalid key: segment 2 is '\.\.'/],
      [{ key: "k", flags: 2 ** 32, value: "eA==" }, /entry 1 \(k\): "flags" must be an integer 0-4294967295/],
    ] as const
  ) {
    assert.throws(() => parseExport(JSON.stringify([good, bad]), "f.json"), re);
  }
  assert.deepEqual(parseExport(JSON.stringify([good]), "f.json"), [good]);
});

Deno.test("flags the agent would refuse are refused here first, naming the flag (exit 2, no agent needed)", async () => {
  const at = ["--http-addr", "unix:/nonexistent/kunai.sock"];
  for (
    const [argv, re] of [
      [["members", "history", "--limit", "abc"], /--limit: expected 1-10000, got abc/],
      [["ping", "n", "--timeout", "5m"], /--timeout: expected a duration between 10ms and 10s/],
      [["event", "query", "q", "--timeout", "abc"], /--timeout: expected a duration between 100ms and 60s/],
      [["kv", "put", "k", "v", "--ttl", "abc"], /--ttl: expected a duration/],
      [["checks", "silence", "c", "--for", "abc"], /--for: expected a duration from 1s to 366d/],
      [["maintenance", "enable", "--for", "0s"], /--for: expected a duration from 1s to 366d/],
    ] as const
  ) {
    const r = await run([...argv, ...at]);
    assert.equal(r.code, 2, `${argv.join(" ")}: ${r.err}`);
    assert.match(r.err, re);
  }
  // a good value gets as far as the agent (here: none)
  const ok = await run(["maintenance", "enable", "--for", "2h", ...at]);
  assert.equal(ok.code, 1);
  assert.match(ok.err, /cannot reach the kunai agent/);
});

Deno.test("without a configuration, the CLI of a user who has no agent finds the system's agent", () => {
  const { dir, cleanup } = tempDir();
  const listeners: Deno.Listener[] = [];
  const listen = (path: string) => {
    Deno.mkdirSync(join(path, ".."), { recursive: true });
    listeners.push(Deno.listen({ transport: "unix", path }));
  };
  try {
    Deno.mkdirSync(join(dir, "etc"));
    const env = { HOME: dir, KUNAI_CFG_DIR: join(dir, "etc"), KUNAI_DATA_DIR: join(dir, "mine") };
    const system = join(dir, "var", "kunai.sock");
    assert.equal(
      resolveTarget(undefined, env, system).socket,
      join(dir, "mine", "kunai.sock"),
      "none anywhere",
    );
    listen(system);
    const t = resolveTarget(undefined, env, system);
    assert.equal(t.socket, system);
    assert.match(t.source, /the system's agent; none at .*mine\/kunai\.sock/);
    listen(join(dir, "mine", "kunai.sock"));
    assert.equal(
      resolveTarget(undefined, env, system).socket,
      join(dir, "mine", "kunai.sock"),
      "the user's own first",
    );
  } finally {
    for (const l of listeners) l.close();
    cleanup();
  }
});

Deno.test("-v says which agent is asked and each request, on stderr; stdout stays the command's", async () => {
  using t = tempDir();
  const out = new Output({ colour: false });
  const lines: string[] = [];
  out.error = (m: string) => void lines.push(m);
  const socket = join(t.dir, "none.sock");
  const code = await runCli(["-v", "-c", writeConfig(t.dir, { socket }), "info"], out);
  assert.equal(code, 1, "no agent there");
  assert.match(lines[0], new RegExp(`^kunai: asking unix:${socket} \\(from .*local\\.json\\)$`));
  assert.match(lines[1], /^kunai: GET \/agent\/info -> /);
});

function writeConfig(dir: string, v: Record<string, unknown>): string {
  const f = join(dir, "local.json");
  Deno.writeTextFileSync(f, JSON.stringify(v));
  return f;
}

Deno.test("the help of a group's bare command names the group's other commands", async () => {
  const out = new Output({ colour: false });
  const lines: string[] = [];
  out.line = (m: string) => void lines.push(m);
  assert.equal(await runCli(["members", "--help"], out), 0);
  assert.match(lines.join("\n"), /Other commands of this group:\n {2}kunai members history/);
});
