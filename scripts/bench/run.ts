/**
 * `deno task bench`: runs every scripts/bench/*_bench.ts (or those named on the command line) one
 * after the other and writes each one's JSON result to bench-results/<name>.json.
 */
import { basename, join } from "node:path";
import { denoRun } from "../../tests/helpers.ts";

const dir = new URL(".", import.meta.url).pathname;
const root = join(dir, "..", "..");
const only = Deno.args;
const files = [...Deno.readDirSync(dir)]
  .map((e) => e.name)
  .filter((n) => n.endsWith("_bench.ts") && (only.length === 0 || only.some((o) => n.includes(o))))
  .sort();
Deno.mkdirSync(join(root, "bench-results"), { recursive: true });
const summary: Record<string, unknown> = {};
for (const f of files) {
  const name = basename(f, ".ts");
  console.error(`== ${name}`);
  const out = await new Deno.Command(Deno.execPath(), {
    args: denoRun(`scripts/bench/${f}`),
    stdout: "piped",
    stderr: "inherit",
  }).output();
  const text = new TextDecoder().decode(out.stdout).trim();
  const last = text.split("\n").filter(Boolean).at(-1) ?? "";
  let result: unknown;
  try {
    result = JSON.parse(last);
  } catch {
    result = { error: `no JSON result (exit ${out.code})`, output: text.slice(-500) };
  }
  summary[name] = result;
  Deno.writeTextFileSync(join(root, "bench-results", `${name}.json`), JSON.stringify(result, null, 2) + "\n");
  console.log(JSON.stringify({ [name]: result }));
}
Deno.writeTextFileSync(join(root, "bench-results", "summary.json"), JSON.stringify(summary, null, 2) + "\n");
