import assert from "node:assert/strict";
import { sparkline } from "../../cli/metrics.ts";

Deno.test("sparkline scales between min and max and leaves gaps blank", () => {
  assert.equal(sparkline([0, 1, 2, 3, 4, 5, 6, 7]), "▁▂▃▄▅▆▇█");
  assert.equal(sparkline([1, null, 1]), "▄ ▄");
  assert.equal(sparkline([null, null]), "");
  assert.equal(sparkline([]), "");
});
