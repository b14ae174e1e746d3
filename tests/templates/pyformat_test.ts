/**
 * `str.format()`'s format specs against CPython's own `format()` (python3 as the oracle): random fills,
 * alignments, signs, `#`, `0`, widths, grouping, precisions and types over ints, floats, strings and bools.
 * Skipped, and reported as ignored, only where no python3 exists.
 */
import assert from "node:assert/strict";
import { formatSpec } from "../../lib/templates/pyformat.ts";
import { pyStr } from "../../lib/templates/jinja.ts";
import { join } from "node:path";
import { tempDir } from "../helpers.ts";

function hasPython(): boolean {
  try {
    return new Deno.Command("python3", { args: ["-c", "pass"], stderr: "null" }).outputSync().success;
  } catch {
    return false;
  }
}

Deno.test({
  name: "format specs render as CPython's format() does (1 000 random value/spec pairs)",
  ignore: !hasPython(),
  fn() {
    let seed = 4242;
    const rnd = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const pick = <T>(a: T[]) => a[Math.floor(rnd() * a.length)];
    const values: unknown[] = [
      0,
      7,
      -42,
      255,
      1234567,
      3.14159,
      -0.5,
      0.000123456,
      1500000.5,
      2.5,
      "ab",
      "héllo",
      true,
    ];
    const cases: Array<[unknown, string]> = [];
    for (let i = 0; i < 1000; i++) {
      const v = pick(values);
      const spec = (rnd() < 0.3
        ? pick(["*", "0", "-", "x"]) + pick(["<", ">", "^", "="])
        : rnd() < 0.4
        ? pick(["<", ">", "^"])
        : "") +
        (rnd() < 0.3 ? pick(["+", "-", " "]) : "") + (rnd() < 0.15 ? "#" : "") + (rnd() < 0.15 ? "0" : "") +
        (rnd() < 0.6 ? String(Math.floor(rnd() * 14)) : "") + (rnd() < 0.2 ? pick([",", "_"]) : "") +
        (rnd() < 0.4 ? "." + Math.floor(rnd() * 6) : "") +
        (rnd() < 0.7 ? pick(["", "s", "d", "b", "o", "x", "X", "e", "E", "f", "F", "g", "G", "%"]) : "");
      cases.push([v, spec]);
    }
    const script = "import json,sys\nout=[]\nfor v,spec in json.load(open(sys.argv[1])):\n" +
      "  try: out.append(format(v, spec))\n  except Exception: out.append('ERROR')\nprint(json.dumps(out))";
    using t = tempDir("kunai-pyformat-");
    const file = join(t.dir, "cases.json");
    Deno.writeTextFileSync(file, JSON.stringify(cases));
    const res = new Deno.Command("python3", { args: ["-c", script, file], stdout: "piped", stderr: "piped" })
      .outputSync();
    assert.ok(res.success, new TextDecoder().decode(res.stderr));
    const want = JSON.parse(new TextDecoder().decode(res.stdout)) as string[];
    const py = { str: (v: unknown) => String(pyStr(v) ?? ""), repr: (v: unknown) => JSON.stringify(v) };
    const diffs: string[] = [];
    cases.forEach(([v, spec], i) => {
      let got: string;
      try {
        got = formatSpec(v, spec, py);
      } catch {
        got = "ERROR";
      }
      if (got !== want[i]) {
        diffs.push(
          `format(${JSON.stringify(v)}, ${JSON.stringify(spec)}): python ${JSON.stringify(want[i])}, kunai ${
            JSON.stringify(got)
          }`,
        );
      }
    });
    assert.ok(want.filter((x) => x !== "ERROR").length > 400, "most cases are valid specs");
    assert.deepEqual(diffs, []);
  },
});
