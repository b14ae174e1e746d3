/**
 * `agent start` from a checkout runs from a JavaScript copy of its modules (lib/jscopy.ts): made
 * by `deno bundle` once per version of the sources, without TypeScript's inline source maps, and
 * the agent finds its assets in the checkout, not in the copy.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { COPY_DIR, ensureJsCopy, rewriteSpecifiers, sourceFiles } from "../../lib/jscopy.ts";
import { projectRoot, runsFromCopy } from "../../lib/root.ts";
import { REPO, startAgent, tempDir } from "../helpers.ts";
import { pathExists } from "../../lib/fs/mod.ts";

Deno.test("relative .ts specifiers become .js; packages, URLs and other strings stay", () => {
  const src = [
    `import { a } from "./a.ts";`,
    `export * from '../lib/b.ts';`,
    `const m = await import("./cli/c.ts");`,
    `new Worker(new URL("./workers/linux.ts", import.meta.url).href);`,
    `import { Hono } from "hono";`,
    `import x from "npm:yaml@2";`,
    `const s = "lib/d.ts", t = "./e.tsx", u = "./f.ts.bak";`,
  ].join("\n");
  assert.equal(
    rewriteSpecifiers(src),
    [
      `import { a } from "./a.js";`,
      `export * from '../lib/b.js';`,
      `const m = await import("./cli/c.js");`,
      `new Worker(new URL("./workers/linux.js", import.meta.url).href);`,
      `import { Hono } from "hono";`,
      `import x from "npm:yaml@2";`,
      `const s = "lib/d.ts", t = "./e.tsx", u = "./f.ts.bak";`,
    ].join("\n"),
  );
});

Deno.test("a module in a copy finds the checkout it was made from", () => {
  const key = "0123456789abcdef01234567";
  assert.equal(projectRoot(`file:///opt/kunai/.cache/js/${key}/lib/root.js`).href, "file:///opt/kunai/");
  assert.equal(projectRoot("file:///opt/kunai/lib/root.ts").href, "file:///opt/kunai/");
  assert.ok(runsFromCopy(`file:///opt/kunai/.cache/js/${key}/main.js`));
  assert.ok(!runsFromCopy("file:///opt/kunai/main.ts"));
  // the running test's own modules: the checkout
  assert.equal(projectRoot().href, new URL(`file://${REPO}/`).href);
});

/** A checkout of three modules: types, a relative import, a Worker module URL. */
function miniCheckout(dir: string): void {
  Deno.mkdirSync(join(dir, "lib"), { recursive: true });
  Deno.mkdirSync(join(dir, "cli"), { recursive: true });
  Deno.writeTextFileSync(
    join(dir, "main.ts"),
    [
      `/** a comment that must not survive */`,
      `import { greet } from "./lib/greet.ts";`,
      `const n: number = 2;`,
      `console.log(greet("copy", n), new URL("./lib/greet.ts", import.meta.url).pathname.endsWith("/lib/greet.js"));`,
    ].join("\n"),
  );
  Deno.writeTextFileSync(join(dir, "mod.ts"), `export * from "./lib/greet.ts";\n`);
  Deno.writeTextFileSync(
    join(dir, "lib", "greet.ts"),
    `export interface T { x: string }\nexport function greet(s: string, n: number): string { return s.repeat(n); }\n`,
  );
  Deno.writeTextFileSync(join(dir, "lib", "greet_test.ts"), `throw new Error("tests are not copied");\n`);
  Deno.writeTextFileSync(join(dir, "cli", "x.ts"), `export const x: string = "x";\n`);
}

Deno.test("a copy is made once per version of the sources and runs without TypeScript", async () => {
  using t = tempDir("jscopy-");
  const dir = t.dir;
  {
    miniCheckout(dir);
    assert.deepEqual(sourceFiles(dir).map((f) => f.slice(dir.length + 1)), [
      "cli/x.ts",
      "lib/greet.ts",
      "main.ts",
      "mod.ts",
    ]);
    const first = await ensureJsCopy(dir);
    assert.ok("script" in first, JSON.stringify(first));
    assert.ok(first.built);
    assert.equal(first.script, join(dir, COPY_DIR, first.key, "main.js"));
    const js = Deno.readTextFileSync(first.script);
    assert.ok(!js.includes("sourceMappingURL"), js);
    assert.ok(!js.includes("must not survive"), js);
    assert.ok(js.includes(`"./lib/greet.js"`), js);
    const run = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", first.script],
      stderr: "piped",
    })
      .output();
    assert.equal(
      new TextDecoder().decode(run.stdout).trim(),
      "copycopy true",
      new TextDecoder().decode(run.stderr),
    );

    const again = await ensureJsCopy(dir);
    assert.ok("script" in again && !again.built && again.key === first.key, JSON.stringify(again));

    // any edit: a new copy, the old one left for agents still running from it; builds left by a
    // killed agent go once an hour old (a recent one may be another agent's, still building)
    Deno.writeTextFileSync(
      join(dir, "lib", "greet.ts"),
      `export function greet(s: string): string { return s; }\n`,
    );
    const stale = join(dir, COPY_DIR, ".build-killed");
    const recent = join(dir, COPY_DIR, ".build-running");
    for (const d of [stale, recent]) Deno.mkdirSync(join(d, "lib"), { recursive: true });
    Deno.utimeSync(stale, new Date(Date.now() - 2 * 3_600_000), new Date(Date.now() - 2 * 3_600_000));
    const edited = await ensureJsCopy(dir);
    assert.ok(!pathExists(stale), "the killed build is removed");
    assert.ok(pathExists(recent));
    Deno.removeSync(recent, { recursive: true });
    assert.ok("script" in edited && edited.built && edited.key !== first.key, JSON.stringify(edited));
    assert.ok(Deno.statSync(first.script).isFile);
    assert.deepEqual(
      [...Deno.readDirSync(join(dir, COPY_DIR))].map((e) => e.name).sort(),
      [first.key, edited.key].sort(),
    );
  }
});

Deno.test("a copy that cannot be made says why and leaves nothing half-made", async () => {
  using t = tempDir("jscopy-bad-");
  const dir = t.dir;
  {
    miniCheckout(dir);
    Deno.writeTextFileSync(join(dir, "lib", "greet.ts"), `export function greet(: string {\n`);
    const r = await ensureJsCopy(dir);
    assert.ok("reason" in r, JSON.stringify(r));
    assert.match(r.reason, /deno bundle failed/);
    assert.deepEqual([...Deno.readDirSync(join(dir, COPY_DIR))], [], "the build directory is removed");

    // a checkout where the copy's directory cannot be made
    using t2 = tempDir("jscopy-ro-");
    const ro = t2.dir;
    miniCheckout(ro);
    Deno.writeTextFileSync(join(ro, ".cache"), "a file, not a directory");
    const r2 = await ensureJsCopy(ro);
    assert.ok("reason" in r2, JSON.stringify(r2));
  }
});

Deno.test("`agent start` runs from the copy and serves the checkout's UI and pack; KUNAI_JS_COPY=0 runs the TypeScript", async () => {
  for (const copy of [true, false]) {
    const a = await startAgent({ name: copy ? "jscopy" : "jsts", env: copy ? {} : { KUNAI_JS_COPY: "0" } });
    try {
      const cmdline = Deno.readTextFileSync(`/proc/${a.child.pid}/cmdline`).split("\0");
      const script = cmdline.find((x) => /\/main\.(ts|js)$/.test(x)) ?? "";
      if (copy) {
        assert.match(script, new RegExp(`^${REPO}/\\.cache/js/[0-9a-f]{24}/main\\.js$`), cmdline.join(" "));
      } else assert.match(script, /(^|\/)main\.ts$/, cmdline.join(" "));
      const client = Deno.createHttpClient({ proxy: { transport: "unix", path: a.socket } });
      try {
        const ui = await fetch("http://kunai/ui/", { client });
        assert.equal(ui.status, 200);
        assert.match(await ui.text(), /<html/i);
        const checks = await (await fetch("http://kunai/agent/checks", { client })).json();
        // the default pack's checks, read from the checkout's etc/packs
        assert.ok("nagios/procs" in checks, Object.keys(checks).join(", "));
      } finally {
        client.close();
      }
    } finally {
      await a.stop();
      Deno.removeSync(a.dir, { recursive: true });
    }
  }
});
