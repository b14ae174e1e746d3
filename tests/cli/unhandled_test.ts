/**
 * The agent's guard against bugs that Deno would end the process for: a promise nobody awaits that
 * fails, a throw in a timer's callback. Logged (one line every 10 s at most), counted; the process
 * goes on.
 */
import assert from "node:assert/strict";
import { guardUnhandled } from "../../cli/agent.ts";

Deno.test("an unhandled rejection or a throw in a timer is logged and counted, and the process goes on", async () => {
  const lines: string[] = [];
  let counted = 0;
  const stop = guardUnhandled({ log: { error: (m) => lines.push(m) }, counters: { inc: () => counted++ } });
  try {
    void Promise.reject(new RangeError("Invalid string length"));
    setTimeout(() => {
      throw new Error("boom in a timer");
    }, 0);
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(counted, 2);
    assert.equal(lines.length, 1, "the second within 10 s is counted, not logged");
    assert.match(
      lines[0],
      /^unhandled rejection \(a bug; the agent goes on\): RangeError: Invalid string length/,
    );
  } finally {
    stop();
  }
});
