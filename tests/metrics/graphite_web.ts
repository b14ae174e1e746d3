/**
 * Debian's graphite-web as a test oracle: whether it can be imported (with the module a test needs),
 * and a run of graphite_conformance.py (graphite-web's own code) on a spec, answering its JSON.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { tempDir } from "../helpers.ts";

const ENV = { DJANGO_SETTINGS_MODULE: "graphite.settings" };

/** True when `/usr/bin/python3` can set graphite-web up and import `module`. */
export function hasGraphiteWeb(module: string): boolean {
  try {
    return new Deno.Command("/usr/bin/python3", {
      args: ["-c", `import django; django.setup(); import ${module}`],
      env: ENV,
      stderr: "null",
    }).outputSync().success;
  } catch {
    return false;
  }
}

/** Runs graphite_conformance.py on `spec`; its JSON answer. */
export async function graphiteWeb<T>(spec: unknown): Promise<T> {
  const t = tempDir("kunai-graphite-");
  try {
    const file = join(t.dir, "spec.json");
    Deno.writeTextFileSync(file, JSON.stringify(spec));
    const script = new URL("./graphite_conformance.py", import.meta.url).pathname;
    const res = await new Deno.Command("/usr/bin/python3", {
      args: [script, file],
      env: ENV,
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.ok(res.success, new TextDecoder().decode(res.stderr));
    return JSON.parse(new TextDecoder().decode(res.stdout));
  } finally {
    t.cleanup();
  }
}
