/** MetricPaths and NamedPoints: the names of flattenMetrics, built once per metric. */
import assert from "node:assert/strict";
import { flattenMetrics, MetricPaths, NamedPoints } from "../../lib/collectors/flatten.ts";

function deep(n: number): Record<string, unknown> {
  let v: Record<string, unknown> = { leaf: 1, Flag: true };
  for (let i = 0; i < n; i++) v = { [`L${i}`]: v, n: i };
  return v;
}

const samples: unknown[] = [
  { cpuall: { "%idle": 97.5, "%USR": 1.25 }, up: true, down: false, name: "x", nan: NaN, inf: Infinity },
  {
    disks: [{ Read: 1, w: 2 }, { Read: 3 }],
    nested: { a: { B: { c: -4 } } },
    nothing: null,
    list: [1, "a", false],
  },
  [5, { X: 6 }],
  42,
  null,
  deep(40),
  deep(31),
];

Deno.test("MetricPaths.flatten gives what flattenMetrics gives, for every shape", () => {
  const paths = new MetricPaths();
  for (const s of samples) {
    assert.deepEqual(paths.flatten(s), flattenMetrics(s));
    assert.deepEqual(paths.flatten(s), flattenMetrics(s), "again, from the cache");
  }
});

Deno.test("MetricPaths: the same names run after run; a changed shape gets its new names", () => {
  const paths = new MetricPaths();
  const a = paths.flatten({ cpu: { Idle: 1, user: 2 } });
  const b = paths.flatten({ cpu: { Idle: 3, user: 4 } });
  assert.deepEqual(b, [["cpu.idle", 3], ["cpu.user", 4]]);
  assert.deepEqual(a, [["cpu.idle", 1], ["cpu.user", 2]]);
  assert.deepEqual(paths.flatten({ cpu: { Idle: 5, steal: 6 }, load: 1 }), [
    ["cpu.idle", 5],
    ["cpu.steal", 6],
    [
      "load",
      1,
    ],
  ]);
  // a key that was an object and is now a number (and back)
  assert.deepEqual(paths.flatten({ cpu: 7 }), [["cpu", 7]]);
  assert.deepEqual(paths.flatten({ cpu: { Idle: 8 } }), [["cpu.idle", 8]]);
});

Deno.test("NamedPoints: <prefix><metric> per point, run after run; a new prefix starts over", () => {
  const n = new NamedPoints();
  const m: Array<[string, number]> = [["cpu.idle", 1], ["load", 2]];
  const p1 = n.points("node.linux.", m, 100);
  assert.deepEqual(p1, [["node.linux.cpu.idle", 1, 100], ["node.linux.load", 2, 100]]);
  assert.deepEqual(n.points("node.linux.", m, 110)[0], ["node.linux.cpu.idle", 1, 110]);
  assert.deepEqual(n.points("other.linux.", m, 120)[1], ["other.linux.load", 2, 120]);
});
