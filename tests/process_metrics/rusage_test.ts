import assert from "node:assert/strict";
import process from "node:process";
import { cpuUsage, procStatUsage } from "../../lib/process_metrics/mod.ts";

Deno.test("cpuUsage: getrusage's figures, as process.cpuUsage reports them, and growing with work", () => {
  const a = cpuUsage();
  const n = process.cpuUsage();
  let x = 0;
  for (let i = 0; i < 3e7; i++) x += i % 7;
  const b = cpuUsage();
  assert.ok(x > 0);
  // same clock: node's reading taken between ours
  assert.ok(a.user + a.system <= n.user + n.system + 1, JSON.stringify({ a, n }));
  assert.ok(n.user + n.system <= b.user + b.system + 1, JSON.stringify({ b, n }));
  assert.ok(b.user > a.user, JSON.stringify({ a, b }));
});

Deno.test("procStatUsage: utime and stime after a command name holding spaces and parentheses", () => {
  const line = "4242 (deno (x) y) S 1 4242 4242 0 -1 4194560 900 0 0 0 123 45 0 0 20 0 9 0 100 0 0";
  assert.deepEqual(procStatUsage(line), { user: 1_230_000, system: 450_000 });
});
