import assert from "node:assert/strict";
import { Counters } from "../../lib/counters.ts";

Deno.test("counters render Prometheus text with labels and help", () => {
  const c = new Counters();
  c.describe("packets_total", "counter", "packets seen");
  c.inc("packets_total", { kind: "ping" });
  c.inc("packets_total", { kind: "ping" }, 2);
  c.set("members", 3, { state: 'a"b' });
  const text = c.render();
  assert.match(text, /# TYPE kunai_packets_total counter/);
  assert.match(text, /kunai_packets_total\{kind="ping"\} 3/);
  assert.match(text, /kunai_members\{state="a\\"b"\} 3/);
});
