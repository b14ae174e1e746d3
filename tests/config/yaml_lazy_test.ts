import assert from "node:assert/strict";
import { join } from "node:path";
import { denoRun, SHARED_DENO_DIR, tempDir } from "../helpers.ts";

/** Resolves `files` in a fresh process (yaml_lazy_probe.ts) and returns what it printed. */
async function probe(files: Record<string, string>): Promise<Record<string, unknown>> {
  const { dir, cleanup } = tempDir();
  try {
    const cfgDir = join(dir, "etc");
    Deno.mkdirSync(cfgDir);
    for (const [rel, text] of Object.entries(files)) Deno.writeTextFileSync(join(cfgDir, rel), text);
    const out = await new Deno.Command(Deno.execPath(), {
      args: denoRun("tests/config/yaml_lazy_probe.ts", cfgDir),
      env: { ...SHARED_DENO_DIR, HOME: dir },
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    return JSON.parse(new TextDecoder().decode(out.stdout));
  } finally {
    cleanup();
  }
}

Deno.test("a JSON-only configuration never loads the YAML parser", async () => {
  const r = await probe({ "local.json": JSON.stringify({ name: "json-only", data: "../data" }) });
  assert.deepEqual(r, { sync: "ok json-only", loadedAfterSync: false, name: "json-only", loaded: false });
});

Deno.test("a YAML file is read once the parser is loaded: resolveConfigAsync loads it and reads again", async () => {
  const r = await probe({
    "local.json": JSON.stringify({ data: "../data" }),
    "node.yaml": "name: from-yaml\n",
  });
  assert.deepEqual(r, { sync: "YamlNotLoaded", loadedAfterSync: false, name: "from-yaml", loaded: true });
});
