import assert from "node:assert/strict";
import { join } from "node:path";
import { runCli } from "../../cli/mod.ts";
import { excerpt, EXCERPT_WIDTH } from "../../lib/excerpt.ts";
import { Output } from "../../cli/output.ts";
import { type EvalEnv, evaluateRaw, evaluatorRoutes, functionNames } from "../../lib/evaluator/mod.ts";
import { buildApp } from "../../lib/http/mod.ts";
import { silentLogger } from "../../lib/log/mod.ts";
import { Counters } from "../../lib/counters.ts";
import { tempDir } from "../helpers.ts";

/** Serves the evaluator routes on a unix socket and runs `kunai -c <cfg> ...args` against it. */
async function withAgent(
  fn: (run: (...args: string[]) => Promise<{ code: number; out: Output }>) => Promise<void>,
) {
  const { dir, cleanup } = tempDir();
  const socket = join(dir, "kunai.sock");
  const cfg = join(dir, "local.json");
  Deno.writeTextFileSync(cfg, JSON.stringify({ socket }));
  const env: EvalEnv = {
    collectors: {
      get: (n) => (n === "cpustats" ? { cpuall: { "%idle": 97.5 } } : undefined),
      names: () => ["cpustats"],
    },
  };
  const app = buildApp([evaluatorRoutes(() => env, { evaluateRaw, functionNames })], {
    token: "",
    maxBody: 1 << 20,
    log: silentLogger,
    counters: new Counters(),
  });
  const server = Deno.serve(
    { path: socket, onListen: () => {} },
    (req) => app.fetch(req, { transport: "unix" }),
  );
  try {
    await fn(async (...args) => {
      const out = new Output({ capture: true, colour: false });
      const code = await runCli(["-c", cfg, ...args], out);
      return { code, out };
    });
  } finally {
    await server.shutdown();
    cleanup();
  }
}

Deno.test("kunai evaluator list prints the functions, --json the array", async () => {
  await withAgent(async (run) => {
    let { code, out } = await run("evaluator", "list");
    assert.equal(code, 0);
    assert.equal(out.captured[0], "========== [Functions]:");
    assert.deepEqual(out.captured.slice(1), [...out.captured.slice(1)].sort());
    assert.ok(out.captured.includes("grep"));
    ({ code, out } = await run("evaluator", "list", "--json"));
    assert.equal(code, 0);
    assert.equal(JSON.parse(out.captured.join("\n")).length, 13);
  });
});

Deno.test("kunai evaluator eval echoes the expression and prints the JSON result", async () => {
  await withAgent(async (run) => {
    let { code, out } = await run(
      "evaluator",
      "eval",
      "'OK: cpu is great: %s%%' % (100-{collector.cpustats.cpuall.%idle})",
    );
    assert.equal(code, 0);
    assert.deepEqual(out.captured, [
      "'OK: cpu is great: %s%%' % (100-{collector.cpustats.cpuall.%idle})",
      "========== [Result]:",
      '"OK: cpu is great: 2.5%"',
    ]);
    ({ code, out } = await run("evaluator", "eval", "--json", "7 // 2"));
    assert.equal(code, 0);
    assert.deepEqual(JSON.parse(out.captured.join("\n")), { expr: "7 // 2", result: 3 });
    ({ code, out } = await run("evaluator", "eval", "1", "<", "2"));
    assert.equal(out.captured.at(-1), "true");
  });
});

Deno.test("kunai evaluator eval shows the error kind and a caret under the column, exit 1", async () => {
  await withAgent(async (run) => {
    let { code, out } = await run("evaluator", "eval", "1 + (2 *");
    assert.equal(code, 1);
    assert.deepEqual(out.captured, ["1 + (2 *", "        ^"]);
    assert.match(out.capturedErrors.join("\n"), /syntax error: unexpected end of expression \(column 9\)/);
    ({ code, out } = await run("evaluator", "eval", "--json", "{collector.redis.available}"));
    assert.equal(code, 1);
    assert.equal(JSON.parse(out.captured.join("\n")).detail.kind, "missing");
    ({ code, out } = await run("evaluator", "eval"));
    assert.equal(code, 2, "a missing expression is a usage error");
  });
});

Deno.test("kunai evaluator eval shows a long expression's error as an excerpt around the caret", async () => {
  await withAgent(async (run) => {
    // an error in the middle: 60 characters before it, the rest cut, each cut end marked
    const mid = "1 + ".repeat(100) + ") + " + "2 + ".repeat(100) + "3";
    let { code, out } = await run("evaluator", "eval", mid);
    assert.equal(code, 1);
    assert.equal(out.captured.length, 2);
    const [text, caretLine] = out.captured;
    assert.ok(text.startsWith("…") && text.endsWith("…"), text);
    assert.equal(text.length, EXCERPT_WIDTH + 2);
    const caret = caretLine.indexOf("^");
    assert.equal(caretLine, " ".repeat(caret) + "^");
    assert.equal(text[caret], ")", "the caret is under the character the error names");
    assert.equal(text.slice(caret - 4, caret + 4), "1 + ) + ");
    assert.match(out.capturedErrors.join("\n"), /column 401/);
    // at the very end: the last characters, the caret one past them
    ({ code, out } = await run("evaluator", "eval", "1 + ".repeat(300) + "(2 *"));
    assert.equal(code, 1);
    assert.ok(out.captured[0].startsWith("…") && out.captured[0].endsWith("(2 *"), out.captured[0]);
    assert.equal(out.captured[1].indexOf("^"), out.captured[0].length);
    // over the length limit: no column, the beginning only
    ({ code, out } = await run("evaluator", "eval", "1 + ".repeat(2000) + "1"));
    assert.equal(code, 1);
    assert.deepEqual(out.captured, ["1 + ".repeat(25) + "…"]);
    assert.match(out.capturedErrors.join("\n"), /limit error: expression is 8001 characters long/);
    // line breaks and tabs show as spaces, so the caret stays under its character
    ({ code, out } = await run("evaluator", "eval", "1 +\n(2\t*"));
    assert.deepEqual(out.captured, ["1 + (2 *", "        ^"]);
  });
});

Deno.test("excerpt keeps short inputs whole and cuts long ones around the position", () => {
  assert.deepEqual(excerpt("1 + (2 *", 8), { text: "1 + (2 *", caret: 8 });
  assert.deepEqual(excerpt("1 +", null), { text: "1 +", caret: null });
  const long = "a".repeat(50) + "X" + "b".repeat(200);
  const e = excerpt(long, 50);
  assert.equal(e.text, "a".repeat(50) + "X" + "b".repeat(49) + "…", "near the start: nothing cut before");
  assert.equal(e.text[e.caret!], "X");
  const far = "a".repeat(200) + "X" + "b".repeat(200);
  const f = excerpt(far, 200);
  assert.equal(f.text[f.caret!], "X");
  assert.equal(f.caret, 61);
  assert.equal(f.text, "…" + "a".repeat(60) + "X" + "b".repeat(39) + "…");
  assert.deepEqual(excerpt(far, null), { text: "a".repeat(100) + "…", caret: null });
});

Deno.test("kunai evaluator eval without an agent fails with exit 1 and says why", async () => {
  const { dir, cleanup } = tempDir();
  try {
    const cfg = join(dir, "local.json");
    Deno.writeTextFileSync(cfg, JSON.stringify({ socket: join(dir, "none.sock") }));
    const out = new Output({ capture: true, colour: false });
    assert.equal(await runCli(["-c", cfg, "evaluator", "eval", "1"], out), 1);
    assert.match(out.capturedErrors.join("\n"), /cannot reach the kunai agent/);
  } finally {
    cleanup();
  }
});
