import assert from "node:assert/strict";
import { lagNote, lagProbeOn, startLagProbe } from "../../lib/process_metrics/lag.ts";
import { tempDir } from "../helpers.ts";

Deno.test("lag probe: off without a prefix; with one, slow steps land in <prefix>.<pid>.jsonl", () => {
  const t = tempDir("kunai-lag-");
  try {
    startLagProbe(undefined)();
    assert.equal(lagProbeOn(), false);
    lagNote("commit", 50); // off: dropped
    const stop = startLagProbe(`${t.dir}/lag`);
    assert.equal(lagProbeOn(), true);
    lagNote("commit", 23.44, { n: 4 });
    lagNote("commit", 2); // under the bound
    stop();
    assert.equal(lagProbeOn(), false);
    const lines = Deno.readTextFileSync(`${t.dir}/lag.${Deno.pid}.jsonl`).trim().split("\n").map((l) =>
      JSON.parse(l)
    );
    const commits = lines.filter((l) => l.kind === "commit");
    assert.equal(commits.length, 1);
    assert.equal(commits[0].ms, 23.4);
    assert.equal(commits[0].n, 4);
  } finally {
    t.cleanup();
  }
});
