/**
 * `deno run main.ts agent start` re-executes itself in place with the agent's V8 flags: same pid,
 * flags in the new image's environment, and the environment handed to its children is the one it
 * was started with.
 */
import assert from "node:assert/strict";
import {
  AGENT_ARENA_MAX,
  AGENT_V8_FLAGS,
  ARENA_MARKER,
  hasFlags,
  NO_CODE_CACHE,
  REEXEC_MARKER,
  wantedArenaMax,
  wantedV8Flags,
  withoutCodeCache,
  withScript,
} from "../../lib/v8flags.ts";
import { startAgent } from "../helpers.ts";

Deno.test("only `agent start` wants V8 flags; KUNAI_V8_FLAGS replaces them, empty disables", () => {
  const none = () => undefined;
  assert.equal(wantedV8Flags(["agent", "start", "--cfg-dir", "/x"], none), AGENT_V8_FLAGS);
  assert.equal(wantedV8Flags(["-c", "/x/local.json", "agent", "start"], none), AGENT_V8_FLAGS);
  assert.equal(wantedV8Flags(["agent", "stop"], none), "");
  assert.equal(wantedV8Flags(["kv", "get", "agent"], none), "");
  // the words "agent start" elsewhere on the line are a command's arguments, not `agent start`
  assert.equal(wantedV8Flags(["event", "send", "agent", "start"], none), "");
  assert.equal(wantedV8Flags(["kv", "put", "agent", "start"], none), "");
  assert.equal(wantedV8Flags(["--http-addr", "agent", "members"], none), "");
  assert.equal(wantedV8Flags(["--json", "--token", "t", "agent", "start"], none), AGENT_V8_FLAGS);
  const env = (v: string) => (k: string) => k === "KUNAI_V8_FLAGS" ? v : undefined;
  assert.equal(wantedV8Flags(["agent", "start"], env("--lite-mode")), "--lite-mode");
  assert.equal(wantedV8Flags(["agent", "start"], env("")), "");
  assert.ok(hasFlags("--foo,--max-semi-space-size=1", "--max-semi-space-size=1"));
  assert.ok(!hasFlags("--max-semi-space-size=2", "--max-semi-space-size=1"));
  assert.ok(hasFlags("", ""));
});

Deno.test("only `agent start` caps malloc's arenas; KUNAI_MALLOC_ARENA_MAX replaces the cap, empty disables", () => {
  const none = () => undefined;
  assert.equal(wantedArenaMax(["agent", "start"], none), AGENT_ARENA_MAX);
  assert.equal(wantedArenaMax(["agent", "stop"], none), "");
  assert.equal(wantedArenaMax(["members"], none), "");
  const env = (v: string) => (k: string) => k === "KUNAI_MALLOC_ARENA_MAX" ? v : undefined;
  assert.equal(wantedArenaMax(["agent", "start"], env("4")), "4");
  assert.equal(wantedArenaMax(["agent", "start"], env("")), "");
});

Deno.test("a `deno run` agent gets --no-code-cache once, right after `run`; KUNAI_CODE_CACHE=1 keeps the cache", () => {
  const none = () => undefined;
  const args = ["agent", "start", "--cfg-dir", "/x"];
  const argv = ["/usr/bin/deno", "run", "-A", "--config", "/r/deno.json", "/r/main.ts", ...args];
  assert.deepEqual(withoutCodeCache(argv, args, none), [
    "/usr/bin/deno",
    "run",
    NO_CODE_CACHE,
    "-A",
    "--config",
    "/r/deno.json",
    "/r/main.ts",
    ...args,
  ]);
  const again = withoutCodeCache(argv, args, none)!;
  assert.equal(withoutCodeCache(again, args, none), null, "already there: no second re-exec");
  assert.equal(withoutCodeCache(argv, args, (k) => k === "KUNAI_CODE_CACHE" ? "1" : undefined), null);
  assert.equal(
    withoutCodeCache(["/usr/bin/deno", "run", "-A", "m.ts", "agent", "stop"], ["agent", "stop"], none),
    null,
  );
  // a script argument spelled like the flag is not the flag
  const odd = ["agent", "start", "--no-code-cache"];
  assert.equal(withoutCodeCache(["/d", "run", "-A", "m.ts", ...odd], odd, none)?.[2], NO_CODE_CACHE);
  // a compiled binary (no `run`) is left alone
  assert.equal(withoutCodeCache(["/usr/bin/kunai", ...args], args, none), null);
});

Deno.test("the re-exec runs the JavaScript copy in main.ts's place, and only main.ts's", () => {
  const args = ["agent", "start", "--cfg-dir", "/x/main.ts"];
  const js = "/r/.cache/js/0123456789abcdef01234567/main.js";
  assert.deepEqual(
    withScript(["/usr/bin/deno", "run", NO_CODE_CACHE, "-A", "/r/main.ts", ...args], args, js),
    [
      "/usr/bin/deno",
      "run",
      NO_CODE_CACHE,
      "-A",
      js,
      ...args,
    ],
  );
  assert.deepEqual(withScript(["deno", "run", "-A", "main.ts", ...args], args, js), [
    "deno",
    "run",
    "-A",
    js,
    ...args,
  ]);
  // not `deno run`, or a script that is not main.ts: left alone
  assert.equal(withScript(["/usr/bin/kunai", ...args], args, js), null);
  assert.equal(withScript(["deno", "run", "-A", "/r/other.ts", ...args], args, js), null);
});

/**
 * Runs `reexecWithV8Flags(["agent", "start"])` in a child process started with `env`, and returns
 * the four variables as the child sees them afterwards (a test must not change its own process's
 * environment: test files share it, and agents started by another file meanwhile would inherit it).
 */
async function afterReexec(env: Record<string, string>): Promise<Record<string, string | null>> {
  const keys = ["DENO_V8_FLAGS", "MALLOC_ARENA_MAX", REEXEC_MARKER, ARENA_MARKER];
  const url = new URL("../../lib/v8flags.ts", import.meta.url).href;
  const code = [
    `import { reexecWithV8Flags } from ${JSON.stringify(url)};`,
    `reexecWithV8Flags(["agent", "start"]);`,
    `const seen = ${JSON.stringify(keys)}.map((k) => [k, Deno.env.get(k) ?? null]);`,
    `console.log(JSON.stringify(Object.fromEntries(seen)));`,
  ].join("\n");
  const vars = Deno.env.toObject();
  for (const k of keys) delete vars[k];
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--ext=ts", code],
    clearEnv: true,
    env: { ...vars, ...env },
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  return JSON.parse(new TextDecoder().decode(out.stdout));
}

Deno.test("the re-executed image hands its children the environment the agent was started with", async () => {
  // the agent's own additions are removed
  assert.deepEqual(
    await afterReexec({
      DENO_V8_FLAGS: AGENT_V8_FLAGS.replaceAll(" ", ","), // as the re-exec sets it
      MALLOC_ARENA_MAX: AGENT_ARENA_MAX,
      [REEXEC_MARKER]: "",
      [ARENA_MARKER]: "1",
    }),
    { DENO_V8_FLAGS: null, MALLOC_ARENA_MAX: null, [REEXEC_MARKER]: null, [ARENA_MARKER]: null },
  );
  // the user's own flags and arena count are kept
  assert.deepEqual(
    await afterReexec({
      DENO_V8_FLAGS: `--max-old-space-size=512,${AGENT_V8_FLAGS.replaceAll(" ", ",")}`,
      MALLOC_ARENA_MAX: "8",
      [REEXEC_MARKER]: "--max-old-space-size=512",
    }),
    {
      DENO_V8_FLAGS: "--max-old-space-size=512",
      MALLOC_ARENA_MAX: "8",
      [REEXEC_MARKER]: null,
      [ARENA_MARKER]: null,
    },
  );
});

Deno.test("a `deno run` agent runs under its V8 flags with the pid it was started with", async () => {
  const a = await startAgent({ name: "v8" });
  try {
    const client = Deno.createHttpClient({ proxy: { transport: "unix", path: a.socket } });
    const info = await (await fetch("http://kunai/agent/info", { client })).json();
    client.close();
    assert.equal(info.pid, a.child.pid, "re-executed in place, not in a child");
    const environ = Deno.readTextFileSync(`/proc/${a.child.pid}/environ`).split("\0");
    const flags = environ.find((e) => e.startsWith("DENO_V8_FLAGS="))?.slice("DENO_V8_FLAGS=".length) ?? "";
    assert.ok(hasFlags(flags, AGENT_V8_FLAGS), flags);
    assert.ok(environ.some((e) => e.startsWith(`${REEXEC_MARKER}=`)));
    assert.ok(environ.includes(`MALLOC_ARENA_MAX=${AGENT_ARENA_MAX}`), "glibc read the arena cap at exec");
    assert.ok(environ.includes(`${ARENA_MARKER}=1`), "and it is taken out again for the agent's children");
    const cmdline = Deno.readTextFileSync(`/proc/${a.child.pid}/cmdline`).split("\0");
    assert.equal(cmdline.filter((x) => x === NO_CODE_CACHE).length, 1, cmdline.join(" "));
  } finally {
    await a.stop();
    Deno.removeSync(a.dir, { recursive: true });
  }
});

Deno.test("deno.json's start and compile tasks carry exactly the agent's V8 flags", async () => {
  // three spellings of one set (AGENT_V8_FLAGS for `deno run`, --v8-flags for `deno task start` and
  // the compiled binary): a flag added to one and not the others is measured on one path only
  const cfg = JSON.parse(await Deno.readTextFile(new URL("../../deno.json", import.meta.url)));
  const want = AGENT_V8_FLAGS.split(" ").sort();
  for (const task of ["start", "compile"]) {
    const m = /--v8-flags=(\S+)/.exec(cfg.tasks[task]);
    assert.ok(m, `tasks.${task} has no --v8-flags`);
    assert.deepEqual(m[1].split(",").sort(), want, `tasks.${task}`);
  }
});
