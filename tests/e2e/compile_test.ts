/**
 * `deno compile` cannot download its denort runtime here, but with DENORT_BIN pointing at deno it
 * runs the whole pipeline and prints the embedded file tree. This checks that the real
 * `deno task compile` embeds ui/, templates/ and every Worker module the agent loads.
 */
import assert from "node:assert/strict";
import { join, relative } from "node:path";
import { REPO, tempDir } from "../helpers.ts";

/** Worker modules referenced in lib/ as `new URL("...", import.meta.url)` passed to spawn/Worker. */
function workerModules(): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const e of Deno.readDirSync(dir)) {
      const p = join(dir, e.name);
      if (e.isDirectory) walk(p);
      else if (p.endsWith(".ts")) {
        const text = Deno.readTextFileSync(p);
        if (!/spawn\(|new Worker\(/.test(text)) continue;
        for (const m of text.matchAll(/new URL\(\s*"([^"]+\.ts)",\s*import\.meta\.url\s*\)/g)) {
          out.push(relative(REPO, join(dir, m[1])));
        }
      }
    }
  };
  walk(join(REPO, "lib"));
  return [...new Set(out)].filter((p) => !p.startsWith("tests/"));
}

/** Embedded paths from the printed tree: "a/b/*" entries mean the whole folder. */
function embeddedPaths(tree: string): string[] {
  // deno-lint-ignore no-control-regex
  const clean = tree.replace(/\x1b\[[0-9;]*m/g, "");
  const stack: string[] = [];
  const out: string[] = [];
  for (const line of clean.split("\n")) {
    const m = /^([│ ]*)[├└]─[─┬] (.+?) \(/.exec(line);
    if (!m) continue;
    const depth = m[1].length / 2;
    stack.length = depth;
    stack.push(m[2]);
    out.push(stack.join("/"));
  }
  return out;
}

function covered(paths: string[], file: string): boolean {
  return paths.some((p) => p === file || (p.endsWith("/*") && file.startsWith(p.slice(0, -1))));
}

Deno.test("deno task compile embeds ui/, templates/ and every Worker module", async () => {
  const task: string = JSON.parse(Deno.readTextFileSync(join(REPO, "deno.json"))).tasks.compile;
  const args = task.split(/\s+/);
  assert.equal(args.shift(), "deno");
  const { dir, cleanup } = tempDir();
  try {
    const i = args.indexOf("--output");
    args[i + 1] = join(dir, "kunai");
    const r = await new Deno.Command(Deno.execPath(), {
      args,
      cwd: REPO,
      env: { DENORT_BIN: Deno.execPath(), NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(r.stdout) + new TextDecoder().decode(r.stderr);
    assert.equal(r.code, 0, text);
    const paths = embeddedPaths(text);
    assert.ok(paths.some((p) => p === "ui/*" || p.startsWith("ui/")), `ui/ embedded:\n${text}`);
    assert.ok(paths.some((p) => p === "templates/*" || p.startsWith("templates/")), "templates/ embedded");
    const workers = workerModules();
    for (const w of workers) {
      assert.ok(
        task.includes(`--include ${w}`) || covered(paths, w),
        `${w} is in the compile task's --include list`,
      );
      assert.ok(covered(paths, w), `${w} embedded (tree:\n${paths.join("\n")})`);
    }
  } finally {
    cleanup();
  }
});
